//! A compact, lossless stored form of an event payload's canonical JSON
//! text: [`compact`] turns the text into bytes, [`expand`] turns those
//! bytes back into the very same text (the chain hashes the text, and
//! exports and verifiers pin its bytes).
//!
//! The format (version [`VERSION`]) is a version byte, then one entry per
//! member of the payload object, in the text's order:
//!
//! - the member's name: one byte, its index in a fixed table of the names
//!   the server writes, or [`NAME_RAW`] followed by the length (varint) and
//!   the bytes of the name's JSON text between its quotes;
//! - the value: a tag byte and what the tag needs —
//!   `null`, `true`, `false`; a string of a fixed table (one byte index);
//!   the same text as an earlier member's value (varint member index); a
//!   string of an ASCII prefix and lowercase hex of even length (prefix
//!   length, prefix, varint byte count, bytes); a lowercase canonical UUID
//!   (16 bytes); a timestamp `YYYY-MM-DDTHH:MM:SS.mmmZ` (varint
//!   milliseconds since 1970, or the zigzag varint difference from the
//!   payload's previous timestamp); an unsigned integer (varint); a string of
//!   an ASCII prefix and zero-padded decimal digits (prefix length, prefix,
//!   width, varint number); any other string (varint length, the bytes
//!   between its quotes); any other value (varint length, its JSON text).
//!
//! The tables are part of the format. Any change to them, an appended entry
//! too, makes a new [`VERSION`] and a new schema version of the store: a
//! build that knows the old tables must refuse a file written with the new
//! ones when it opens it, not fail on its events later (a test pins the
//! tables). [`compact`] checks that its bytes expand to the text, and gives
//! `None` (store the text) otherwise.
//!
//! [`expand`] is total: any byte string either expands or is an
//! [`ExpandError`], never a panic. Every length is checked against the
//! bytes left before anything is allocated, and the text made is never
//! longer than [`MAX_EXPANSION`] times the input (plus a little).

/// The format version, the first byte of every compacted payload.
pub const VERSION: u8 = 1;

/// The name byte that announces a name not in the table.
pub const NAME_RAW: u8 = 0xFF;

/// How many times longer than its compacted form an expanded text may be
/// (plus [`EXPANSION_SLACK`] bytes): the most any entry of the format
/// expands by, rounded up.
pub const MAX_EXPANSION: usize = 32;

/// The bytes an expanded text may hold beyond [`MAX_EXPANSION`] times the
/// input.
pub const EXPANSION_SLACK: usize = 64;

/// The member names the server writes (index = name byte). Part of
/// [`VERSION`] 1: a change is a new version.
const NAMES: &[&str] = &[
    "action",
    "actor_id",
    "agent",
    "already_revoked",
    "code",
    "consumed",
    "context_hash",
    "decision",
    "decision_id",
    "environment",
    "escalation_id",
    "execution_hash",
    "expires_at",
    "id",
    "key_id",
    "occurred_at",
    "org_id",
    "outcome",
    "policy_id",
    "reason",
    "request_id",
    "require_approval",
    "resource_id",
    "resource_type",
    "revoked",
    "rule_id",
    "sequence",
    "shape",
    "top_level",
    "type",
    "verified",
    "verify_error_code",
    "via",
];

/// Common string values (index = the byte after [`T_TABLE`]). Part of
/// [`VERSION`] 1: a change is a new version.
const VALUES: &[&str] = &[
    "evaluate.allow",
    "evaluate.deny",
    "evaluate.hold",
    "evaluate.escalate",
    "permit.verified",
    "permit.rejected",
    "permit.revoked",
    "allow",
    "deny",
    "hold",
    "escalate",
    "current",
    "legacy",
    "action",
    "verify",
    "by_id",
    "verified",
    "approval_missing",
    "not_found",
    "denied",
    "revoked",
    "consumed",
    "expired",
    "mismatch",
    "permit_not_found",
    "permit_revoked",
    "permit_consumed",
    "permit_expired",
    "permit_mismatch",
    "PERMIT_NOT_FOUND",
    "PERMIT_REVOKED",
    "PERMIT_CONSUMED",
    "PERMIT_EXPIRED",
    "ACTOR_MISMATCH",
    "ACTION_MISMATCH",
    "ENVIRONMENT_MISMATCH",
    "EXECUTION_HASH_MISMATCH",
    "CONTEXT_MISMATCH",
    "APPROVAL_LINKAGE_MISSING",
    "local",
    "",
    "the permit is valid; it is now used",
    "the permit was revoked",
    "the permit was already used",
    "production",
    "staging",
    "development",
];

/// Slots of a table's hash index (a power of two, several times the
/// entries).
const SLOTS: usize = 256;

/// A table's hash index, made once: slot → entry index + 1 (0: empty),
/// open addressing with linear probing.
type Index = std::sync::OnceLock<[u8; SLOTS]>;

static NAME_INDEX: Index = std::sync::OnceLock::new();
static VALUE_INDEX: Index = std::sync::OnceLock::new();

/// FNV-1a of `text`, as a first slot.
fn slot_of(text: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in text.as_bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as usize % SLOTS
}

/// The index of `text` in `table` (at most 255 entries).
fn index_of(table: &'static [&'static str], index: &Index, text: &str) -> Option<usize> {
    let slots = index.get_or_init(|| {
        let mut slots = [0u8; SLOTS];
        for (i, entry) in table.iter().enumerate() {
            let mut s = slot_of(entry);
            while slots[s] != 0 {
                s = (s + 1) % SLOTS;
            }
            slots[s] = (i + 1) as u8;
        }
        slots
    });
    let mut s = slot_of(text);
    loop {
        let entry = usize::from(slots[s]).checked_sub(1)?;
        if table[entry] == text {
            return Some(entry);
        }
        s = (s + 1) % SLOTS;
    }
}

const T_NULL: u8 = 0;
const T_TRUE: u8 = 1;
const T_FALSE: u8 = 2;
const T_TABLE: u8 = 3;
const T_BACKREF: u8 = 4;
const T_HEX: u8 = 5;
const T_UUID: u8 = 6;
const T_TIME: u8 = 7;
const T_TIME_DELTA: u8 = 8;
const T_UINT: u8 = 9;
const T_PADDED: u8 = 10;
const T_STRING: u8 = 11;
const T_RAW: u8 = 12;

/// The longest prefix before hex or padded digits.
const MAX_PREFIX: usize = 16;
/// The widest zero-padded number.
const MAX_WIDTH: usize = 20;
/// The longest value a back-reference may repeat.
const MAX_BACKREF: usize = 64;
/// The latest timestamp (9999-12-31T23:59:59.999Z).
const MAX_MS: u64 = 253_402_300_799_999;

/// Why bytes do not expand to a payload text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The first byte is not a known version.
    #[error("unknown compact payload version {0}")]
    Version(u8),
    /// No bytes at all.
    #[error("an empty compact payload")]
    Empty,
    /// The bytes end inside an entry.
    #[error("a compact payload cut short at byte {0}")]
    Truncated(usize),
    /// A name byte is not in the table.
    #[error("unknown member name {0} at byte {1}")]
    Name(u8, usize),
    /// A value tag is unknown.
    #[error("unknown value tag {0} at byte {1}")]
    Tag(u8, usize),
    /// A table index is out of range.
    #[error("unknown table value {0} at byte {1}")]
    Value(u8, usize),
    /// A back-reference names no earlier member.
    #[error("a back-reference to member {0} at byte {1}")]
    BackRef(u64, usize),
    /// A number is out of its range (a length, a timestamp, a width).
    #[error("a number out of range at byte {0}")]
    Range(usize),
    /// Bytes that are not UTF-8 text where text is expected.
    #[error("text that is not UTF-8 at byte {0}")]
    Utf8(usize),
    /// The text would be longer than the input allows.
    #[error("a compact payload that expands beyond {0} bytes")]
    TooLong(usize),
}

/// The compacted bytes of payload text `text`, or `None` when the codec
/// does not handle it or its bytes do not expand to exactly `text` (store
/// the text then).
pub fn compact(text: &str) -> Option<Vec<u8>> {
    let bytes = encode(text)?;
    match expand(&bytes) {
        Ok(back) if back == text => Some(bytes),
        _ => None,
    }
}

/// Append `n` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Zigzag: small magnitudes of either sign as small numbers.
fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// The end (exclusive) of the JSON value starting at `at` in canonical
/// text (no whitespace), or `None` if it does not end.
fn value_end(text: &str, at: usize) -> Option<usize> {
    let s = text.as_bytes();
    match *s.get(at)? {
        b'"' => string_end(text, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while i < s.len() {
                match s[i] {
                    b'"' => {
                        i = string_end(text, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let len = s[at..]
                .iter()
                .position(|&b| b == b',' || b == b'}')
                .unwrap_or(s.len() - at);
            (len > 0).then_some(at + len)
        }
    }
}

/// The end (exclusive, after the closing quote) of the string whose
/// opening quote is at `at`: the first quote after it that follows an even
/// number of backslashes (found with `str::find`, which uses `memchr`).
fn string_end(text: &str, at: usize) -> Option<usize> {
    let s = text.as_bytes();
    let mut from = at + 1;
    loop {
        let quote = from + text.get(from..)?.find('"')?;
        let escapes = s[at + 1..quote]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if escapes % 2 == 0 {
            return Some(quote + 1);
        }
        from = quote + 1;
    }
}

/// Bytes of `text`, or `None` for a text the codec does not handle.
fn encode(text: &str) -> Option<Vec<u8>> {
    let s = text.as_bytes();
    if s.first() != Some(&b'{') || s.last() != Some(&b'}') {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 2);
    out.push(VERSION);
    let mut values: Vec<&str> = Vec::new();
    let mut last_ms: Option<u64> = None;
    let mut at = 1;
    if s.len() == 2 {
        return Some(out);
    }
    loop {
        // The name.
        let name_end = string_end(text, at).filter(|_| s[at] == b'"')?;
        let name = &text[at + 1..name_end - 1];
        match index_of(NAMES, &NAME_INDEX, name) {
            Some(i) => out.push(i as u8),
            None => {
                out.push(NAME_RAW);
                put_varint(&mut out, name.len() as u64);
                out.extend_from_slice(name.as_bytes());
            }
        }
        if s.get(name_end) != Some(&b':') {
            return None;
        }
        let start = name_end + 1;
        let end = value_end(text, start)?;
        let value = &text[start..end];
        encode_value(&mut out, value, &values, &mut last_ms);
        values.push(value);
        match s.get(end) {
            Some(b',') => at = end + 1,
            Some(b'}') if end + 1 == s.len() => return Some(out),
            _ => return None,
        }
    }
}

/// Append the tag and bytes of member value `value` (its JSON text).
fn encode_value(out: &mut Vec<u8>, value: &str, earlier: &[&str], last_ms: &mut Option<u64>) {
    match value {
        "null" => return out.push(T_NULL),
        "true" => return out.push(T_TRUE),
        "false" => return out.push(T_FALSE),
        _ => {}
    }
    if value.len() > 2 && value.len() <= MAX_BACKREF {
        if let Some(i) = earlier.iter().position(|e| *e == value) {
            out.push(T_BACKREF);
            return put_varint(out, i as u64);
        }
    }
    let b = value.as_bytes();
    if b[0] != b'"' {
        if let Some(n) = canonical_uint(value) {
            out.push(T_UINT);
            return put_varint(out, n);
        }
        out.push(T_RAW);
        put_varint(out, b.len() as u64);
        return out.extend_from_slice(b);
    }
    let inner = &value[1..value.len() - 1];
    if !inner.contains('\\') {
        if let Some(i) = index_of(VALUES, &VALUE_INDEX, inner) {
            out.push(T_TABLE);
            return out.push(i as u8);
        }
        if let Some(ms) = parse_time(inner) {
            match *last_ms {
                Some(last) => {
                    out.push(T_TIME_DELTA);
                    put_varint(out, zigzag(ms as i64 - last as i64));
                }
                None => {
                    out.push(T_TIME);
                    put_varint(out, ms);
                }
            }
            *last_ms = Some(ms);
            return;
        }
        if let Some(bytes) = parse_uuid(inner) {
            out.push(T_UUID);
            return out.extend_from_slice(&bytes);
        }
        if let Some((prefix, width, n)) = split_padded(inner) {
            out.push(T_PADDED);
            out.push(prefix.len() as u8);
            out.extend_from_slice(prefix.as_bytes());
            out.push(width as u8);
            return put_varint(out, n);
        }
        if let Some((prefix, hex)) = split_hex(inner) {
            out.push(T_HEX);
            out.push(prefix.len() as u8);
            out.extend_from_slice(prefix.as_bytes());
            put_varint(out, (hex.len() / 2) as u64);
            for pair in hex.as_bytes().chunks(2) {
                out.push((nibble(pair[0]) << 4) | nibble(pair[1]));
            }
            return;
        }
    }
    out.push(T_STRING);
    put_varint(out, inner.len() as u64);
    out.extend_from_slice(inner.as_bytes());
}

/// A lowercase hex digit's value (the caller checked it is one).
fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

/// A prefix that may stand before hex or padded digits: short, printable
/// ASCII without quotes or backslashes.
fn good_prefix(prefix: &str) -> bool {
    prefix.len() <= MAX_PREFIX
        && prefix
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `text` as a decimal without sign or leading zeros that fits a `u64`.
fn canonical_uint(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 19
        && b.iter().all(u8::is_ascii_digit)
        && (b[0] != b'0' || b.len() == 1);
    ok.then(|| text.parse().ok()).flatten()
}

/// `(prefix, width, number)` of a string ending in zero-padded decimal
/// digits (at least 6; the prefix has none at its end).
fn split_padded(inner: &str) -> Option<(&str, usize, u64)> {
    let b = inner.as_bytes();
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if !(6..=MAX_WIDTH.min(19)).contains(&digits) {
        return None;
    }
    let prefix = &inner[..b.len() - digits];
    let n: u64 = inner[b.len() - digits..].parse().ok()?;
    good_prefix(prefix).then_some((prefix, digits, n))
}

/// `(prefix, hex)` of a string ending in lowercase hex of even length (at
/// least 8 digits).
fn split_hex(inner: &str) -> Option<(&str, &str)> {
    let b = inner.as_bytes();
    let mut digits = b.iter().rev().take_while(|&&c| is_hex(c)).count();
    digits -= digits % 2;
    if digits < 8 {
        return None;
    }
    let prefix = &inner[..b.len() - digits];
    good_prefix(prefix).then_some((prefix, &inner[b.len() - digits..]))
}

/// The 16 bytes of a lowercase canonical UUID (8-4-4-4-12).
fn parse_uuid(inner: &str) -> Option<[u8; 16]> {
    let b = inner.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut i = 0;
    while i < 36 {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b[i] != b'-' {
                return None;
            }
            i += 1;
            continue;
        }
        if !is_hex(b[i]) || !is_hex(b[i + 1]) {
            return None;
        }
        out[n] = (nibble(b[i]) << 4) | nibble(b[i + 1]);
        n += 1;
        i += 2;
    }
    Some(out)
}

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// Append `n` as exactly `width` decimal digits (zero-padded; the caller
/// checked it has no more), without the formatting machinery.
fn push_digits(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; MAX_WIDTH];
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &d in &digits[..width] {
        out.push(char::from(d));
    }
}

/// Append the lowercase hex of `bytes`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// Append `YYYY-MM-DDTHH:MM:SS.mmmZ` of `ms` (at most [`MAX_MS`]).
fn write_time(out: &mut String, ms: u64) {
    let (days, rem) = (ms / 86_400_000, ms % 86_400_000);
    // At most MAX_MS: a day of year 9999, which `time` represents.
    let (y, mo, d) = i32::try_from(days)
        .ok()
        .and_then(|days| time::Date::from_julian_day(UNIX_EPOCH_JULIAN_DAY + days).ok())
        .map_or((0, time::Month::January, 0), time::Date::to_calendar_date);
    let parts = [
        (y as u64, 4, '-'),
        (u8::from(mo).into(), 2, '-'),
        (d.into(), 2, 'T'),
        (rem / 3_600_000, 2, ':'),
        (rem / 60_000 % 60, 2, ':'),
        (rem / 1000 % 60, 2, '.'),
        (rem % 1000, 3, 'Z'),
    ];
    for (n, width, sep) in parts {
        push_digits(out, n, width);
        out.push(sep);
    }
}

/// The milliseconds of a timestamp `YYYY-MM-DDTHH:MM:SS.mmmZ` that writes
/// back as the same text (so no February 30, no second 60).
fn parse_time(inner: &str) -> Option<u64> {
    let b = inner.as_bytes();
    if b.len() != 24 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = &b[from..to];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) || b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s, f) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    let month = time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?);
    let days = i64::from(date.ok()?.to_julian_day() - UNIX_EPOCH_JULIAN_DAY);
    let ms = days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + f;
    let ms = u64::try_from(ms).ok().filter(|&ms| ms <= MAX_MS)?;
    let mut back = String::with_capacity(24);
    write_time(&mut back, ms);
    (back == inner).then_some(ms)
}

/// A reader of compacted bytes that checks every step.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, ExpandError> {
        let byte = *self.b.get(self.at).ok_or(ExpandError::Truncated(self.at))?;
        self.at += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64, ExpandError> {
        let start = self.at;
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let part = u64::from(byte & 0x7f);
            if shift == 63 && part > 1 {
                return Err(ExpandError::Range(start));
            }
            n |= part << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(ExpandError::Range(start))
    }

    /// `n` bytes (checked against the bytes left before anything else).
    fn take(&mut self, n: u64) -> Result<&'a [u8], ExpandError> {
        let left = (self.b.len() - self.at) as u64;
        if n > left {
            return Err(ExpandError::Truncated(self.b.len()));
        }
        let (start, b) = (self.at, self.b);
        self.at += n as usize;
        Ok(&b[start..self.at])
    }

    /// `n` bytes of UTF-8 text.
    fn text(&mut self, n: u64) -> Result<&'a str, ExpandError> {
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|_| ExpandError::Utf8(at))
    }

    /// A prefix: its length byte and its bytes.
    fn prefix(&mut self) -> Result<&'a str, ExpandError> {
        let at = self.at;
        let len = self.byte()?;
        if usize::from(len) > MAX_PREFIX {
            return Err(ExpandError::Range(at));
        }
        self.text(u64::from(len))
    }
}

/// The payload text of compacted `bytes` (see the module's documentation),
/// or why they are not a compacted payload.
pub fn expand(bytes: &[u8]) -> Result<String, ExpandError> {
    let version = *bytes.first().ok_or(ExpandError::Empty)?;
    if version != VERSION {
        return Err(ExpandError::Version(version));
    }
    let limit = bytes
        .len()
        .saturating_mul(MAX_EXPANSION)
        .saturating_add(EXPANSION_SLACK);
    let mut r = Reader { b: bytes, at: 1 };
    let mut out = String::with_capacity(bytes.len().saturating_mul(3).min(limit));
    out.push('{');
    // Each member value's span in `out`.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut last_ms: Option<u64> = None;
    while r.at < bytes.len() {
        if !spans.is_empty() {
            out.push(',');
        }
        let at = r.at;
        let name = r.byte()?;
        out.push('"');
        if name == NAME_RAW {
            let len = r.varint()?;
            out.push_str(r.text(len)?);
        } else {
            out.push_str(
                NAMES
                    .get(usize::from(name))
                    .ok_or(ExpandError::Name(name, at))?,
            );
        }
        out.push_str("\":");
        let start = out.len();
        let at = r.at;
        let tag = r.byte()?;
        match tag {
            T_NULL => out.push_str("null"),
            T_TRUE => out.push_str("true"),
            T_FALSE => out.push_str("false"),
            T_TABLE => {
                let i = r.byte()?;
                let value = VALUES
                    .get(usize::from(i))
                    .ok_or(ExpandError::Value(i, at))?;
                out.push('"');
                out.push_str(value);
                out.push('"');
            }
            T_BACKREF => {
                let i = r.varint()?;
                let &(from, to) = usize::try_from(i)
                    .ok()
                    .and_then(|i| spans.get(i))
                    .ok_or(ExpandError::BackRef(i, at))?;
                if to - from > MAX_BACKREF {
                    return Err(ExpandError::BackRef(i, at));
                }
                let copy = out[from..to].to_owned();
                out.push_str(&copy);
            }
            T_HEX => {
                let prefix = r.prefix()?;
                let n = r.varint()?;
                let hex = r.take(n)?;
                if out.len().saturating_add(hex.len().saturating_mul(2)) > limit {
                    return Err(ExpandError::TooLong(limit));
                }
                out.push('"');
                out.push_str(prefix);
                push_hex(&mut out, hex);
                out.push('"');
            }
            T_UUID => {
                let b = r.take(16)?;
                out.push('"');
                for (i, part) in [&b[..4], &b[4..6], &b[6..8], &b[8..10], &b[10..]]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        out.push('-');
                    }
                    push_hex(&mut out, part);
                }
                out.push('"');
            }
            T_TIME | T_TIME_DELTA => {
                let n = r.varint()?;
                let ms = if tag == T_TIME {
                    Some(n)
                } else {
                    last_ms
                        .and_then(|last| (last as i64).checked_add(unzigzag(n)))
                        .and_then(|ms| u64::try_from(ms).ok())
                }
                .filter(|&ms| ms <= MAX_MS)
                .ok_or(ExpandError::Range(at))?;
                last_ms = Some(ms);
                out.push('"');
                write_time(&mut out, ms);
                out.push('"');
            }
            T_UINT => {
                let n = r.varint()?;
                let width = n.checked_ilog10().map_or(1, |l| l as usize + 1);
                push_digits(&mut out, n, width);
            }
            T_PADDED => {
                let prefix = r.prefix()?;
                let width_at = r.at;
                let width = usize::from(r.byte()?);
                let n = r.varint()?;
                if width > MAX_WIDTH || n.checked_ilog10().unwrap_or(0) as usize >= width {
                    return Err(ExpandError::Range(width_at));
                }
                out.push('"');
                out.push_str(prefix);
                push_digits(&mut out, n, width);
                out.push('"');
            }
            T_STRING | T_RAW => {
                let len = r.varint()?;
                let text = r.text(len)?;
                if tag == T_STRING {
                    out.push('"');
                    out.push_str(text);
                    out.push('"');
                } else {
                    out.push_str(text);
                }
            }
            _ => return Err(ExpandError::Tag(tag, at)),
        }
        spans.push((start, out.len()));
        if out.len() > limit {
            return Err(ExpandError::TooLong(limit));
        }
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables as of [`VERSION`] 1. A failure here means the stored
    /// format changed: give it a new `VERSION` and the store a new schema
    /// version (an older build must refuse the file at open), then pin the
    /// new tables.
    #[test]
    fn the_tables_are_those_of_version_1() {
        use sha2::{Digest, Sha256};
        let text = format!("{}\n\n{}", NAMES.join("\n"), VALUES.join("\n"));
        assert_eq!(
            (
                VERSION,
                NAMES.len(),
                VALUES.len(),
                hex::encode(Sha256::digest(text))
            ),
            (
                1,
                33,
                47,
                "4cc01a5ca86187efce9aa085e07d67352d07ad82a2592e25da5d36c58f4a5abd".to_owned()
            ),
            "the codec's tables changed: that is a new format version"
        );
    }

    const EVALUATE: &str = r#"{"action":"deploy","actor_id":"bench-agent","agent":"bench-agent","code":null,"context_hash":"b3ddaf0777a34cf9450ce2cfe9d3d37e423598764effe8edb42a1cfc72e02e1f","decision":"allow","decision_id":"dec_7863e92b4af54dfd8c843ac3c3f67842","environment":"staging","escalation_id":null,"execution_hash":"6e4de8c8dcea5ef4d0794f3885b1b40ee1e3cc06877a35c604999d84992fdf8b","expires_at":"2026-11-28T05:59:15.452Z","id":"evt_000000000001","key_id":"key_3bae1863d8f8","occurred_at":"2026-11-28T04:59:15.452Z","org_id":"local","policy_id":"quickstart_demo","reason":"allowed by policy quickstart_demo rule allow_staging_deploys","request_id":"aa1fbf4c-ca8d-4fe7-9849-7ab136fed7e3","require_approval":false,"resource_id":"deploy","resource_type":"action","rule_id":"allow_staging_deploys","sequence":1,"shape":"current","type":"evaluate.allow"}"#;
    const VERIFY: &str = r#"{"action":"deploy","actor_id":"bench-agent","agent":"bench-agent","consumed":true,"context_hash":null,"decision":null,"decision_id":"dec_7863e92b4af54dfd8c843ac3c3f67842","environment":"staging","execution_hash":"6e4de8c8dcea5ef4d0794f3885b1b40ee1e3cc06877a35c604999d84992fdf8b","id":"evt_000000000002","key_id":"key_3bae1863d8f8","occurred_at":"2026-11-28T04:59:15.455Z","org_id":"local","outcome":"verified","request_id":"b5a469f4-6683-402f-ab3b-730521c98ee0","require_approval":false,"resource_id":"deploy","resource_type":"action","sequence":2,"shape":"current","type":"permit.verified","verified":true,"verify_error_code":null,"via":"verify"}"#;

    #[test]
    fn real_payloads_round_trip_and_shrink() {
        for (text, most) in [(EVALUATE, 330), (VERIFY, 190)] {
            let bytes = compact(text).expect("compacts");
            assert_eq!(expand(&bytes).expect("expands"), text);
            eprintln!("{} bytes of text, {} compacted", text.len(), bytes.len());
            assert!(bytes.len() <= most, "{} bytes for {text}", bytes.len());
        }
    }

    #[test]
    fn times_write_as_the_clock_does() {
        for ms in [
            0,
            1,
            951_782_400_000,
            1_776_420_000_123,
            4_107_542_399_999,
            MAX_MS as i64,
        ] {
            let mut text = String::new();
            write_time(&mut text, ms as u64);
            assert_eq!(text, crate::clock::rfc3339_ms(ms));
            assert_eq!(parse_time(&text), Some(ms as u64));
        }
    }

    #[test]
    fn look_alikes_are_not_taken_for_what_they_resemble() {
        for inner in [
            "2026-02-30T00:00:00.000Z",
            "2026-02-28T00:00:60.000Z",
            "2026-02-28T24:00:00.000Z",
            "+026-02-28T00:00:00.000Z",
            "2026-02-28T00:00:00.000z",
            "2026-02-28 00:00:00.000Z",
        ] {
            assert_eq!(parse_time(inner), None, "{inner}");
        }
        assert_eq!(parse_uuid("AA1FBF4C-CA8D-4FE7-9849-7AB136FED7E3"), None);
        assert_eq!(parse_uuid("aa1fbf4c-ca8d-4fe7-9849-7ab136fed7e"), None);
        assert_eq!(parse_uuid("aa1fbf4cxca8d-4fe7-9849-7ab136fed7e3"), None);
        assert_eq!(canonical_uint("01"), None);
        assert_eq!(canonical_uint("+1"), None);
        assert_eq!(canonical_uint("18446744073709551616"), None);
        assert_eq!(split_hex("key_ABCDEF0123"), None);
    }

    /// Hostile texts: each either compacts and expands to itself, or is
    /// left as text; none panics.
    #[test]
    fn hostile_texts_round_trip_or_stay_text() {
        let values = [
            r#""a \"b\" \\ c\n\u007f""#,
            "\"\u{2028} é 😀\"",
            "18446744073709551615",
            "18446744073709551616",
            "-9007199254740993",
            "1e+21",
            "10.5",
            "0",
            "-0",
            "[1,\"x\",{\"a\":[null],\"b\":1}]",
            r#"{"\u0000":{"z":{"y":"x"}},"😀":1}"#,
            "\"2026-02-30T00:00:00.000Z\"",
            "\"2026-02-28T00:00:60.000Z\"",
            "\"+2026-02-28T00:00:00.000Z\"",
            "\"ABCDEF0123456789\"",
            "\"abcdef012\"",
            "\"abcdef0123\"",
            "\"x_abcdef0123\"",
            "\"AA1FBF4C-CA8D-4FE7-9849-7AB136FED7E3\"",
            "\"evt_000000000001\"",
            "\"evt_99999999999999999999\"",
            "\"000000\"",
            "\"a prefix that is much longer than sixteen bytes 0123456789abcdef\"",
            "\"9999-12-31T23:59:59.999Z\"",
            "\"1969-12-31T23:59:59.999Z\"",
            "\"\"",
            "\"allow\"",
            "null",
            "true",
            "false",
        ];
        let names = ["action", "not_in_the_table", "é\\\"", "", "😀"];
        let mut n = 0;
        for (i, v) in values.iter().enumerate() {
            for (j, name) in names.iter().enumerate() {
                let other = values[(i * 7 + j) % values.len()];
                let text = format!(
                    "{{\"{name}\":{v},\"sequence\":{other},\"x{j}\":{v},\"occurred_at\":\"2026-11-28T04:59:15.455Z\",\"z\":{other}}}"
                );
                if let Some(bytes) = compact(&text) {
                    assert_eq!(expand(&bytes).as_deref(), Ok(text.as_str()));
                    n += 1;
                }
            }
        }
        assert!(n > values.len(), "most hostile texts compact ({n})");
        for text in [
            "",
            "{",
            "}",
            "[]",
            "{\"a\":1",
            "{\"a\"1}",
            "{\"a\":}",
            "{}",
            "{\"a\":1}x",
        ] {
            if let Some(bytes) = compact(text) {
                assert_eq!(expand(&bytes).as_deref(), Ok(text));
            }
        }
    }

    #[test]
    fn damaged_bytes_are_errors_not_panics() {
        let good = compact(EVALUATE).expect("compacts");
        // Every truncation.
        for len in 0..good.len() {
            if let Ok(text) = expand(&good[..len]) {
                assert_ne!(text, EVALUATE);
            }
        }
        assert_eq!(expand(&[]), Err(ExpandError::Empty));
        assert_eq!(expand(&[2]), Err(ExpandError::Version(2)));
        // Every single bit flipped: an error or another text, never a panic.
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                if let Ok(text) = expand(&bad) {
                    assert!(text.len() <= bad.len() * MAX_EXPANSION + EXPANSION_SLACK);
                }
            }
        }
        // Oversized lengths and numbers.
        let huge = [
            VERSION, NAME_RAW, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert!(matches!(expand(&huge), Err(ExpandError::Truncated(_))));
        let too_wide = [
            VERSION, 0, T_UINT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert!(matches!(expand(&too_wide), Err(ExpandError::Range(_))));
        let time = [
            VERSION, 0, T_TIME, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert!(matches!(expand(&time), Err(ExpandError::Range(_))));
        let hex = [VERSION, 0, T_HEX, 0, 0xff, 0xff, 0x03, 1, 2];
        assert!(matches!(expand(&hex), Err(ExpandError::Truncated(_))));
        assert!(matches!(
            expand(&[VERSION, 0, T_BACKREF, 0]),
            Err(ExpandError::BackRef(0, 2))
        ));
        assert!(matches!(
            expand(&[VERSION, 0, 99]),
            Err(ExpandError::Tag(99, 2))
        ));
        assert!(matches!(
            expand(&[VERSION, 200, 0]),
            Err(ExpandError::Name(200, 1))
        ));
        assert!(matches!(
            expand(&[VERSION, 0, T_STRING, 1, 0xc3]),
            Err(ExpandError::Utf8(4))
        ));
        // Back-references cannot blow up the text.
        let mut many =
            compact(r#"{"a":"0123456789012345678901234567890123456789012345678901234567890"}"#)
                .expect("compacts");
        for _ in 0..10_000 {
            many.extend_from_slice(&[0, T_BACKREF, 0]);
        }
        let text = expand(&many).expect("expands");
        assert!(text.len() <= many.len() * MAX_EXPANSION + EXPANSION_SLACK);
    }
}
