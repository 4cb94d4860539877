//! Strict JSON: a member name repeated in one object (after decoding
//! escapes, at any depth) is an error, never read first-wins or last-wins.
//!
//! RFC 8259 §4 leaves repeated names to the reader, and readers disagree:
//! serde's derived structs refuse some, `serde_json::Value`, `JSON.parse` and
//! Python's `json` keep the last copy, hand-written readers often the first.
//! Text that two readers can read differently must not carry a decision, so
//! every JSON text the SDK and the server parse goes through here (I-JSON,
//! RFC 7493 §2.3).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Why [`from_slice_strict`] or [`check_unique_members`] refused a JSON text:
/// a repeated member name (see [`is_duplicate`](Self::is_duplicate) and
/// [`path`](Self::path)), or serde_json's own syntax or shape error.
///
/// ```
/// let err = atlasent::wire::from_slice_strict::<serde_json::Value>(
///     br#"{"context": {"amount": 5, "amount": 5000000}}"#,
/// )
/// .unwrap_err();
/// assert!(err.is_duplicate());
/// assert_eq!(err.path(), Some("$.context"));
/// assert!(err.to_string().starts_with(r#"duplicate member "amount" at $.context"#));
/// ```
#[derive(Debug)]
pub struct StrictJsonError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A repeated member name; `at` is the error serde_json raised there
    /// (for its line and column).
    Duplicate {
        duplicate: Duplicate,
        at: serde_json::Error,
    },
    /// Not JSON, or not the expected shape.
    Json(serde_json::Error),
}

impl StrictJsonError {
    /// The text repeats a member name within one object.
    pub fn is_duplicate(&self) -> bool {
        matches!(self.kind, Kind::Duplicate { .. })
    }

    /// The JSON path of the object holding the repeated member (`$`,
    /// `$.context`, `$.events[3].payload`, `$["a b"]`); `None` when the error
    /// is not a repeated member.
    pub fn path(&self) -> Option<&str> {
        match &self.kind {
            Kind::Duplicate { duplicate, .. } => Some(duplicate.path()),
            Kind::Json(_) => None,
        }
    }

    /// The text is not JSON at all (bad syntax, or cut off): a client's
    /// error of a different kind than JSON of the wrong shape.
    pub fn is_syntax(&self) -> bool {
        match &self.kind {
            Kind::Json(e) => e.is_syntax() || e.is_eof(),
            Kind::Duplicate { .. } => false,
        }
    }

    fn json(e: serde_json::Error) -> Self {
        Self {
            kind: Kind::Json(e),
        }
    }
}

impl fmt::Display for StrictJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Duplicate { duplicate, at } => write!(
                f,
                "{duplicate} (line {}, column {})",
                at.line(),
                at.column()
            ),
            Kind::Json(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StrictJsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Json(e) => Some(e),
            Kind::Duplicate { .. } => None,
        }
    }
}

/// Deserialize `T` from JSON text that repeats no member name in any
/// object, at any depth (names compared after decoding escapes, so
/// `"permit\u0074ed"` repeats `"permitted"`). A repeated name is an error
/// naming the member and its JSON path; anything else is serde_json's
/// [`from_slice`](serde_json::from_slice), with its nesting limit (128).
///
/// ```
/// use atlasent::wire::{from_slice_strict, EvaluateResponse};
///
/// let ok: EvaluateResponse =
///     from_slice_strict(br#"{"permitted": false, "decision_id": "dec_1"}"#).unwrap();
/// assert!(!ok.permitted);
///
/// let forged = br#"{"permitted": false, "decision_id": "dec_1", "permit\u0074ed": true}"#;
/// let err = from_slice_strict::<EvaluateResponse>(forged).unwrap_err();
/// assert!(err.is_duplicate() && err.path() == Some("$"));
/// ```
pub fn from_slice_strict<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, StrictJsonError> {
    check_unique_members(bytes)?;
    serde_json::from_slice(bytes).map_err(StrictJsonError::json)
}

/// Check that JSON text repeats no member name in any object (after
/// decoding escapes), for callers that parse it by other means. Invalid JSON
/// is an error too (serde_json's).
///
/// ```
/// use atlasent::wire::check_unique_members;
///
/// assert!(check_unique_members(br#"{"a": {"b": 1}, "b": [{"a": 2}]}"#).is_ok());
/// let err = check_unique_members(br#"{"a": [0, {"b": 1, "\u0062": 2}]}"#).unwrap_err();
/// assert_eq!(err.path(), Some("$.a[1]"));
/// ```
pub fn check_unique_members(bytes: &[u8]) -> Result<(), StrictJsonError> {
    if Scan::unique(bytes).is_some() {
        return Ok(());
    }
    walk(bytes)
}

/// [`check_unique_members`] by serde_json: every text, and the error's words.
fn walk(bytes: &[u8]) -> Result<(), StrictJsonError> {
    let mut duplicate = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walked = Walk {
        duplicate: &mut duplicate,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    walked.map_err(|at| match duplicate {
        Some(duplicate) => StrictJsonError {
            kind: Kind::Duplicate { duplicate, at },
        },
        None => StrictJsonError::json(at),
    })
}

/// The common case, in one pass over the bytes without serde: `Some(())`
/// when the text is one valid JSON value repeating no member name in any
/// object. `None` when it cannot say so cheaply — a repeat, text that is not
/// JSON, or anything outside what it reads itself (a name with an escape,
/// an object of more than [`FEW`] members, nesting deeper than
/// [`SCAN_DEPTH`], a number with an exponent or of more than 15 digits,
/// which serde_json may refuse as out of range): [`check_unique_members`]
/// then walks the text with serde_json, which decides and words the error.
/// So a `Some` here never accepts what the walk would refuse.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The names of the objects open now, innermost last, as byte ranges
    /// of the text (names with no escape only).
    names: [(usize, usize); SCAN_NAMES],
    len: usize,
}

/// Deeper nesting goes to the full walk (serde_json stops at 128).
const SCAN_DEPTH: usize = 64;
/// Names of all the objects open at once that the scan keeps.
const SCAN_NAMES: usize = 128;

impl<'a> Scan<'a> {
    fn unique(bytes: &'a [u8]) -> Option<()> {
        // Outside strings only ASCII is read; strings check their UTF-8.
        let mut scan = Scan {
            bytes,
            at: 0,
            names: [(0, 0); SCAN_NAMES],
            len: 0,
        };
        scan.value(0)?;
        scan.space();
        (scan.at == bytes.len()).then_some(())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        self.space();
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?`, at most 15 digits.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int = self.digits();
        if int == 0 || (int > 1 && self.bytes[self.at - int] == b'0') {
            return None;
        }
        let mut count = int;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let fraction = self.digits();
            if fraction == 0 {
                return None;
            }
            count += fraction;
        }
        (count <= 15 && !matches!(self.peek(), Some(b'e' | b'E'))).then_some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// A string with the cursor on its opening quote; the range of its
    /// content, and whether it holds an escape.
    fn string(&mut self) -> Option<((usize, usize), bool)> {
        self.at += 1;
        let start = self.at;
        let (mut escaped, mut wide) = (false, false);
        loop {
            // Eight bytes at a time: on to the first quote, backslash or
            // control character of the word, if any.
            if let Some(word) = self.bytes.get(self.at..self.at + 8) {
                let word = u64::from_le_bytes(word.try_into().ok()?);
                wide |= word & HIGH != 0;
                let stops = stop_mask(word);
                if stops == 0 {
                    self.at += 8;
                    continue;
                }
                self.at += (stops.trailing_zeros() / 8) as usize;
            }
            match *self.bytes.get(self.at)? {
                b'"' => {
                    let content = (start, self.at);
                    self.at += 1;
                    if wide {
                        std::str::from_utf8(&self.bytes[content.0..content.1]).ok()?;
                    }
                    return Some((content, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *self.bytes.get(self.at + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                        // `\u`: surrogates need pairing; serde_json judges.
                        _ => return None,
                    }
                }
                0x00..=0x1f => return None,
                byte => {
                    wide |= byte >= 0x80;
                    self.at += 1;
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if self.open(depth, b'}')? {
            return Some(());
        }
        let base = self.len;
        loop {
            self.space();
            if self.peek()? != b'"' {
                return None;
            }
            let (name, escaped) = self.string()?;
            let text = &self.bytes[name.0..name.1];
            let repeated = self.names[base..self.len]
                .iter()
                .any(|&(s, e)| &self.bytes[s..e] == text);
            if escaped || repeated || self.len - base >= FEW || self.len == SCAN_NAMES {
                return None;
            }
            self.names[self.len] = name;
            self.len += 1;
            self.eat(b':')?;
            self.value(depth)?;
            if self.closed(b'}')? {
                self.len = base;
                return Some(());
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if self.open(depth, b']')? {
            return Some(());
        }
        loop {
            self.value(depth)?;
            if self.closed(b']')? {
                return Some(());
            }
        }
    }

    /// Past the opening bracket of an object or array at `depth`: whether
    /// it is empty (its `close` read too).
    fn open(&mut self, depth: usize, close: u8) -> Option<bool> {
        if depth > SCAN_DEPTH {
            return None;
        }
        self.at += 1;
        self.space();
        let empty = self.peek()? == close;
        if empty {
            self.at += 1;
        }
        Some(empty)
    }

    /// After a member or element: `true` at the `close` that ends it,
    /// `false` after a comma (another follows); `None` for anything else.
    fn closed(&mut self, close: u8) -> Option<bool> {
        self.space();
        let byte = self.peek()?;
        (byte == b',' || byte == close).then(|| {
            self.at += 1;
            byte == close
        })
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` (little-endian) that are `"`, `\\` or below 0x20,
/// as their high bits; bits above the lowest may be false alarms (a borrow),
/// the lowest set bit is always a byte that stops a string.
fn stop_mask(word: u64) -> u64 {
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_in(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_in(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    quote | backslash | control
}

/// A repeated member: its name, quoted as JSON, and the path of the object
/// holding it, built from the inside out as the error travels up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    quoted_name: String,
    /// Starts with `$`.
    path: String,
}

impl Duplicate {
    /// A repeat of the member whose name, quoted as a JSON string, is
    /// `quoted_name`, in the object at `$` (so far).
    pub(crate) fn new(quoted_name: String) -> Self {
        Self {
            quoted_name,
            path: "$".to_owned(),
        }
    }

    /// The object was the value of the member (`.name` or `["name"]`) or
    /// element (`[3]`) written as `segment`.
    pub(crate) fn within(&mut self, segment: &str) {
        self.path.insert_str(1, segment);
    }

    /// The JSON path of the object holding the repeated member.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for Duplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "duplicate member {} at {}", self.quoted_name, self.path)
    }
}

/// A name quoted as a JSON string, safe to print (see
/// [`printable`](crate::display::printable)).
pub(crate) fn quote(name: &str) -> String {
    let quoted = serde_json::to_string(name).unwrap_or_default();
    crate::display::printable(&quoted).into_owned()
}

/// The path segment of a member: `.name` for identifiers, else `["name"]`.
pub(crate) fn member_segment(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        format!(".{name}")
    } else {
        format!("[{}]", quote(name))
    }
}

/// Walks any JSON value, keeping the decoded names of each object's members
/// and stopping at the first repeat.
struct Walk<'s> {
    duplicate: &'s mut Option<Duplicate>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let walk = Walk {
                duplicate: &mut *self.duplicate,
            };
            match seq.next_element_seed(walk) {
                Ok(Some(())) => index += 1,
                Ok(None) => return Ok(()),
                Err(e) => {
                    if let Some(duplicate) = self.duplicate.as_mut() {
                        duplicate.within(&format!("[{index}]"));
                    }
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(name) = map.next_key_seed(Name)? {
            if seen.contains(&name) {
                *self.duplicate = Some(Duplicate::new(quote(&name)));
                return Err(de::Error::custom(format_args!(
                    "duplicate member {}",
                    quote(&name)
                )));
            }
            let walk = Walk {
                duplicate: &mut *self.duplicate,
            };
            if let Err(e) = map.next_value_seed(walk) {
                if let Some(duplicate) = self.duplicate.as_mut() {
                    duplicate.within(&member_segment(&name));
                }
                return Err(e);
            }
            seen.insert(name);
        }
        Ok(())
    }
}

/// A member name, decoded; borrowed from the input when it has no escapes.
pub(crate) struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name.to_owned()))
    }

    fn visit_string<E>(self, name: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name))
    }
}

/// The names of one object's members so far: the first [`FEW`] in an array
/// on the stack, scanned linearly (no hashing and no allocation for the
/// small objects of replies and contexts), the rest in a hash set made
/// only for a larger object.
#[derive(Default)]
struct Seen<'de> {
    few: [Cow<'de, str>; FEW],
    len: usize,
    many: Option<HashSet<Cow<'de, str>>>,
}

/// Above this many members, names go into a hash set.
const FEW: usize = 16;

impl<'de> Seen<'de> {
    fn contains(&self, name: &str) -> bool {
        self.few[..self.len].iter().any(|n| n == name)
            || self.many.as_ref().is_some_and(|many| many.contains(name))
    }

    fn insert(&mut self, name: Cow<'de, str>) {
        if self.len < FEW {
            self.few[self.len] = name;
            self.len += 1;
        } else {
            self.many.get_or_insert_with(HashSet::new).insert(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> StrictJsonError {
        match from_slice_strict::<serde_json::Value>(text.as_bytes()) {
            Ok(v) => panic!("{text} was read as {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_repeated_member_is_refused_with_its_name_and_path() {
        for (text, name, path) in [
            (r#"{"a":1,"a":2}"#, "a", "$"),
            (r#"{"a":1,"\u0061":2}"#, "a", "$"),
            (r#"{"\u0061":1,"a":2}"#, "a", "$"),
            (r#"{"x":{"y":[1,{"z":0,"z":0}]}}"#, "z", "$.x.y[1]"),
            (r#"[[{}],[{"k":1,"k":1}]]"#, "k", "$[1][0]"),
            (
                r#"{"a b":{"c\"":{"d":1,"d":2}}}"#,
                "d",
                r#"$["a b"]["c\""]"#,
            ),
            (
                r#"{"context":{"amount":5,"amount":5000000}}"#,
                "amount",
                "$.context",
            ),
            (r#"{"":1,"":2}"#, "", "$"),
            (r#"{"\ud83d\ude00":1,"😀":2}"#, "😀", "$"),
            (r#"{"_9":{"9":{"é":1,"\u00e9":2}}}"#, "é", r#"$._9["9"]"#),
        ] {
            let err = refused(text);
            assert!(err.is_duplicate(), "{text}: {err}");
            assert!(!err.is_syntax(), "{text}");
            assert_eq!(err.path(), Some(path), "{text}: {err}");
            let want = format!(
                "duplicate member {} at {path} (line 1, column ",
                quote(name)
            );
            assert!(err.to_string().starts_with(&want), "{text}: {err}");
            assert!(check_unique_members(text.as_bytes()).is_err(), "{text}");
        }
    }

    #[test]
    fn a_repeat_in_a_large_object_is_found() {
        let members: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        let unique = format!("{{{}}}", members.join(","));
        assert!(check_unique_members(unique.as_bytes()).is_ok());
        let repeated = format!("{{{},\"k\\u0037\":0}}", members.join(","));
        let err = refused(&repeated);
        assert!(
            err.to_string().contains("duplicate member \"k7\" at $"),
            "{err}"
        );
    }

    #[test]
    fn the_same_name_in_different_objects_is_not_a_repeat() {
        let text = r#"{"a":{"a":{"a":[{"a":1},{"a":2}]}},"b":{"a":null}}"#;
        let v: serde_json::Value = from_slice_strict(text.as_bytes()).expect("unique");
        assert_eq!(v["a"]["a"]["a"][1]["a"], 2);
    }

    #[test]
    fn syntax_and_shape_errors_are_serde_json_s() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "nul", "1 2", "\"\\ud800\""] {
            let err = refused(bad);
            assert!(!err.is_duplicate() && err.path().is_none(), "{bad}");
            assert!(err.is_syntax(), "{bad}: {err}");
        }
        let err = from_slice_strict::<crate::wire::VerifyResponse>(br#"{"verified":"yes"}"#)
            .expect_err("a string is not a bool");
        assert!(!err.is_duplicate() && !err.is_syntax(), "{err}");
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn replies_and_contexts_take_the_fast_path() {
        for text in [
            r#"{"decision":"allow","permit_token":"dec_1","reasons":["ok"],"n":-0.5,"x":null}"#,
            r#" [ {"a" : [1, 2.25, true, false, {}], "b": {"a": {"b": "\"\\\/\n"}}} ] "#,
            r#"{"valid":true,"amount":123456789012345,"nested":[[[[{"k":"é😀"}]]]]}"#,
            "0",
            "\"\"",
        ] {
            assert_eq!(Scan::unique(text.as_bytes()), Some(()), "{text}");
            assert!(walk(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn the_fast_path_leaves_the_rest_to_the_walk() {
        // Each is handed on: a repeat, an escaped name, an exponent, a long
        // or malformed number, a control character, deep nesting, an object
        // larger than FEW, text after the value, bad UTF-8.
        let large: Vec<String> = (0..=FEW).map(|i| format!("\"k{i}\":0")).collect();
        let large = format!("{{{}}}", large.join(","));
        let deep = "[".repeat(SCAN_DEPTH + 1) + &"]".repeat(SCAN_DEPTH + 1);
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"\u0061":1}"#,
            r#"{"a":"\u0061"}"#,
            "1e3",
            "1234567890123456",
            "01",
            "-",
            "1.",
            ".5",
            "\"a\u{1}\"",
            "\"\\x\"",
            "[\"\u{e9}\", 1, \u{e9}]",
            &large,
            &deep,
            "{} {}",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "tru",
            "",
        ] {
            assert_eq!(Scan::unique(text.as_bytes()), None, "{text}");
        }
        for bad in [
            &b"\"\xff\""[..],
            b"[\"abcdefgh\xc3\"]",
            b"{\"a\":\"\xed\xa0\x80 long enough\"}",
        ] {
            assert_eq!(Scan::unique(bad), None, "{bad:?}");
            assert!(walk(bad).is_err(), "{bad:?}");
        }
    }

    /// The first byte of `word` that stops a string, by the mask.
    fn first_stop(word: [u8; 8]) -> Option<usize> {
        let mask = stop_mask(u64::from_le_bytes(word));
        (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize)
    }

    #[test]
    fn the_word_test_finds_the_first_special_byte() {
        for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
            for at in 0..8 {
                for fill in [
                    b'a', b' ', 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']', 0x20, 0x21,
                ] {
                    let mut word = [fill; 8];
                    word[at] = special;
                    assert_eq!(first_stop(word), Some(at), "{word:?}");
                }
            }
        }
        assert_eq!(first_stop(*b"plain te"), None);
        assert_eq!(
            first_stop([0xc3, 0xa9, b' ', 0xe2, 0x9c, 0x93, b'!', 0x7f]),
            None
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Any eight bytes: the mask's lowest byte is the first that stops
        /// a string, and there is one exactly when a byte stops it.
        #[test]
        fn the_word_test_finds_exactly_the_first(word in proptest::array::uniform8(proptest::num::u8::ANY)) {
            let first = word.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            proptest::prop_assert_eq!(first_stop(word), first);
        }

        /// The fast path never accepts what the walk refuses: texts from
        /// JSON's own alphabet, mostly invalid.
        #[test]
        fn the_fast_path_accepts_nothing_the_walk_refuses(text in r#"[{}\[\]",: 0-9abefnlrstu\\.eE+-]{0,48}"#) {
            if Scan::unique(text.as_bytes()).is_some() {
                proptest::prop_assert!(walk(text.as_bytes()).is_ok(), "{}", text);
            }
        }

        /// Trees of objects named from a few names (repeats likely): the
        /// fast path accepts exactly those without a repeat, as the walk does.
        #[test]
        fn the_fast_path_finds_every_repeat(tree in tree()) {
            let (text, repeats) = (tree.text(), tree.repeats());
            proptest::prop_assert_eq!(walk(text.as_bytes()).is_err(), repeats, "{}", text);
            proptest::prop_assert_eq!(Scan::unique(text.as_bytes()).is_none(), repeats, "{}", text);
        }
    }

    #[derive(Debug, Clone)]
    enum Tree {
        Leaf(&'static str),
        Array(Vec<Tree>),
        Object(Vec<(u8, Tree)>),
    }

    impl Tree {
        fn text(&self) -> String {
            match self {
                Tree::Leaf(text) => (*text).to_owned(),
                Tree::Array(items) => {
                    let items: Vec<String> = items.iter().map(Tree::text).collect();
                    format!("[{}]", items.join(","))
                }
                Tree::Object(members) => {
                    let members: Vec<String> = members
                        .iter()
                        .map(|(name, value)| format!("\"n{name}\" : {}", value.text()))
                        .collect();
                    format!("{{ {} }}", members.join(" , "))
                }
            }
        }

        fn repeats(&self) -> bool {
            match self {
                Tree::Leaf(_) => false,
                Tree::Array(items) => items.iter().any(Tree::repeats),
                Tree::Object(members) => {
                    let mut names: Vec<u8> = members.iter().map(|(n, _)| *n).collect();
                    names.sort_unstable();
                    names.windows(2).any(|w| w[0] == w[1])
                        || members.iter().any(|(_, v)| v.repeats())
                }
            }
        }
    }

    fn tree() -> impl proptest::strategy::Strategy<Value = Tree> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Tree::Leaf("0")),
            Just(Tree::Leaf("-12.5")),
            Just(Tree::Leaf("\"s\\\"\"")),
            Just(Tree::Leaf("null")),
            Just(Tree::Leaf("true")),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Tree::Array),
                proptest::collection::vec((0u8..8, inner), 0..6).prop_map(Tree::Object),
            ]
        })
    }

    #[test]
    fn nesting_is_bounded_by_serde_json_s_limit() {
        let deep = "[".repeat(129) + &"]".repeat(129);
        let err = check_unique_members(deep.as_bytes()).expect_err("too deep");
        assert!(err.to_string().contains("recursion limit"), "{err}");
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(check_unique_members(ok.as_bytes()).is_ok());
    }
}
