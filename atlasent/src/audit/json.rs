//! A borrowed, order-preserving JSON tree and the two serializations the
//! audit chain depends on: canonical JSON (what event hashes cover) and
//! `JSON.stringify` (what export signatures cover), both exactly as the
//! reference backend (JavaScript) produces them.
//!
//! Strings and numbers stay as slices of the input text: parsing copies no
//! string, keeps key order and number text, and accepts lone surrogate
//! escapes (`"\ud800"`), which JavaScript allows and Rust's `String` cannot
//! hold.
//!
//! A member name repeated in one object (compared after decoding escapes,
//! so `"\u0065vents"` repeats `"events"`) is refused at any depth: readers
//! disagree on which copy counts, and an audit record must have one reading.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use crate::wire::strict::{member_segment, Duplicate};

/// A JSON value borrowing from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as its source text.
    Number(&'a str),
    /// A string, as its source text between the quotes (escapes undecoded).
    String(&'a str),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object, members in source order (raw keys, escapes undecoded).
    /// [`parse`](Value::parse) guarantees the names are unique once decoded;
    /// an object built by hand must keep them unique too.
    Object(Vec<(&'a str, Value<'a>)>),
}

/// Where and why JSON text was refused: invalid syntax, or a member name
/// repeated in one object ([`is_duplicate`](Self::is_duplicate)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset of the problem (for a repeated member, of its second copy).
    pub offset: usize,
    /// What is wrong.
    pub message: &'static str,
    /// The repeated member, when that is what is wrong.
    duplicate: Option<Box<Duplicate>>,
}

impl JsonError {
    fn new(offset: usize, message: &'static str) -> Self {
        Self {
            offset,
            message,
            duplicate: None,
        }
    }

    /// The text repeats a member name within one object.
    pub fn is_duplicate(&self) -> bool {
        self.duplicate.is_some()
    }

    /// The JSON path of the object holding the repeated member (`$`,
    /// `$.events[3].payload`, `$["a b"]`); `None` for a syntax error.
    pub fn path(&self) -> Option<&str> {
        self.duplicate.as_deref().map(Duplicate::path)
    }

    /// The error happened inside the value of the member `raw_key`.
    fn within_member(mut self, raw_key: &str) -> Self {
        if let Some(duplicate) = self.duplicate.as_deref_mut() {
            let segment = match decode_string(raw_key) {
                Some(name) => member_segment(&name),
                None => format!("[{}]", js_quoted(raw_key)),
            };
            duplicate.within(&segment);
        }
        self
    }

    /// The error happened inside the array element `index`.
    fn within_index(mut self, index: usize) -> Self {
        if let Some(duplicate) = self.duplicate.as_deref_mut() {
            duplicate.within(&format!("[{index}]"));
        }
        self
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.duplicate {
            Some(duplicate) => write!(f, "{duplicate} (byte {})", self.offset),
            None => write!(f, "invalid JSON at byte {}: {}", self.offset, self.message),
        }
    }
}

impl std::error::Error for JsonError {}

/// Nesting deeper than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 512;

impl<'a> Value<'a> {
    /// Parse a complete JSON text. A member name repeated in one object
    /// (after decoding escapes) is an error naming it and its path.
    pub fn parse(text: &'a str) -> Result<Value<'a>, JsonError> {
        let mut p = Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        };
        p.skip_ws();
        let value = p.value(0)?;
        p.skip_ws();
        if p.pos != p.bytes.len() {
            return Err(p.err("trailing characters after the JSON value"));
        }
        Ok(value)
    }

    /// The member `key` of an object (keys compared after decoding escapes).
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| key_is(k, key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The decoded string, if this is a string without lone surrogates.
    pub fn as_str(&self) -> Option<std::borrow::Cow<'a, str>> {
        match self {
            Value::String(raw) => decode_string(raw),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The number as JavaScript's `Number(text)` reads it.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// Canonical JSON: keys sorted by UTF-16 code units at every depth, no
    /// whitespace, numbers as ECMAScript prints them, strings escaped as
    /// `JSON.stringify` does. Appends to `out`.
    pub fn write_canonical(&self, out: &mut String) {
        match self {
            Value::Object(members) => {
                let mut sorted: Vec<&(&str, Value<'_>)> = members.iter().collect();
                sorted.sort_by(|a, b| cmp_utf16(a.0, b.0));
                out.push('{');
                for (i, (key, value)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_js_string(key, out);
                    out.push(':');
                    value.write_canonical(out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_canonical(out);
                }
                out.push(']');
            }
            scalar => scalar.write_js(out),
        }
    }

    /// `JSON.stringify(JSON.parse(text))`: members in source order (array
    /// index keys first, as JavaScript orders them), numbers and strings
    /// re-serialized as JavaScript does. Appends to `out`.
    pub fn write_js(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(text) => write_js_number(text.parse().unwrap_or(f64::NAN), out),
            Value::String(raw) => write_js_string(raw, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_js(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in js_property_order(members).into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_js_string(key, out);
                    out.push(':');
                    value.write_js(out);
                }
                out.push('}');
            }
        }
    }

    /// [`write_canonical`](Self::write_canonical) into a new string.
    pub fn to_canonical(&self) -> String {
        let mut out = String::new();
        self.write_canonical(&mut out);
        out
    }

    /// [`write_js`](Self::write_js) into a new string.
    pub fn to_js_string(&self) -> String {
        let mut out = String::new();
        self.write_js(&mut out);
        out
    }
}

/// The members of an object (names unique, as the parser guarantees) in the
/// order a JavaScript object built by `JSON.parse` enumerates them:
/// array-index keys first in ascending numeric order, then the other keys in
/// insertion order.
fn js_property_order<'v, 'a>(members: &'v [(&'a str, Value<'a>)]) -> Vec<(&'a str, &'v Value<'a>)> {
    let mut ordered: Vec<(&'a str, &'v Value<'a>)> =
        members.iter().map(|(key, value)| (*key, value)).collect();
    if ordered.iter().any(|(k, _)| array_index(k).is_some()) {
        // Stable: non-index keys keep their insertion order.
        ordered.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |n| (0, n)));
    }
    ordered
}

/// The value of a key that is an ECMAScript array index (a canonical
/// decimal integer below 2^32 - 1).
fn array_index(raw_key: &str) -> Option<u32> {
    let key = decode_string(raw_key)?;
    let bytes = key.as_bytes();
    let canonical = !bytes.is_empty()
        && bytes.len() <= 10
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes[0] != b'0' || bytes.len() == 1);
    if !canonical {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .filter(|&n| n < u64::from(u32::MAX))
        .map(|n| n as u32)
}

/// Canonical JSON of a JSON text: what an audit event's hash covers.
///
/// ```
/// let c = atlasent::audit::canonical_json(r#"{"b": 1.0, "a": [5e-7, 1e21, "é\u0001"]}"#).unwrap();
/// assert_eq!(c, r#"{"a":[5e-7,1e+21,"é\u0001"],"b":1}"#);
/// ```
pub fn canonical_json(text: &str) -> Result<String, JsonError> {
    Ok(Value::parse(text)?.to_canonical())
}

/// Canonical JSON of any `Serialize` value (serialized with serde_json first).
pub fn canonical_json_of<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
    let text = serde_json::to_string(value)
        .map_err(|_| JsonError::new(0, "value could not be serialized to JSON"))?;
    canonical_json(&text)
}

/// ECMAScript `Number.prototype.toString()` of a double; `null` for NaN and
/// the infinities (as `JSON.stringify` prints them).
pub fn write_js_number(x: f64, out: &mut String) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    // ryu-js implements Number::toString exactly, including the tie rule
    // (closest digits, then even) that Rust's own shortest formatting breaks
    // the other way (found by tests/canonical_vs_node.rs).
    out.push_str(ryu_js::Buffer::new().format_finite(x));
}

/// One UTF-16-level unit of a decoded JSON string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Char(char),
    /// A surrogate code unit without its partner.
    Lone(u16),
}

/// Decode the raw text of a JSON string (already validated by the parser).
struct Decode<'a> {
    rest: &'a str,
}

fn decode(raw: &str) -> Decode<'_> {
    Decode { rest: raw }
}

fn hex4(s: &str) -> Option<u16> {
    u16::from_str_radix(s.get(..4)?, 16).ok()
}

impl Iterator for Decode<'_> {
    type Item = Unit;
    fn next(&mut self) -> Option<Unit> {
        let mut chars = self.rest.chars();
        let c = chars.next()?;
        if c != '\\' {
            self.rest = chars.as_str();
            return Some(Unit::Char(c));
        }
        let esc = chars.next()?;
        let after = chars.as_str();
        let (unit, rest) = match esc {
            '"' => (Unit::Char('"'), after),
            '\\' => (Unit::Char('\\'), after),
            '/' => (Unit::Char('/'), after),
            'b' => (Unit::Char('\u{8}'), after),
            'f' => (Unit::Char('\u{c}'), after),
            'n' => (Unit::Char('\n'), after),
            'r' => (Unit::Char('\r'), after),
            't' => (Unit::Char('\t'), after),
            _ => {
                let u = hex4(after)?;
                let after = &after[4..];
                if (0xD800..0xDC00).contains(&u) {
                    if let Some(low) = after.strip_prefix("\\u").and_then(hex4) {
                        if (0xDC00..0xE000).contains(&low) {
                            let cp = 0x10000
                                + ((u32::from(u) - 0xD800) << 10)
                                + (u32::from(low) - 0xDC00);
                            self.rest = &after[6..];
                            return char::from_u32(cp).map(Unit::Char);
                        }
                    }
                    (Unit::Lone(u), after)
                } else if (0xDC00..0xE000).contains(&u) {
                    (Unit::Lone(u), after)
                } else {
                    (Unit::Char(char::from_u32(u32::from(u))?), after)
                }
            }
        };
        self.rest = rest;
        Some(unit)
    }
}

/// The UTF-16 code units of a raw JSON string.
fn units(raw: &str) -> impl Iterator<Item = u16> + '_ {
    decode(raw).flat_map(|unit| {
        let (first, second) = match unit {
            Unit::Char(c) => {
                let mut buf = [0u16; 2];
                let encoded = c.encode_utf16(&mut buf);
                (encoded[0], encoded.get(1).copied())
            }
            Unit::Lone(u) => (u, None),
        };
        std::iter::once(first).chain(second)
    })
}

/// Whether the raw JSON string `raw` decodes to `name`.
pub(crate) fn key_is(raw: &str, name: &str) -> bool {
    raw == name || (raw.contains('\\') && units(raw).eq(name.encode_utf16()))
}

/// The index of the first member (in source order) whose name, decoded,
/// repeats an earlier member's; `name(i)` is the raw name of member `i`.
fn repeated<'k>(len: usize, name: impl Fn(usize) -> &'k str) -> Option<usize> {
    if len <= 16 {
        // Small objects (nearly all): compare pairwise, without allocating;
        // raw bytes suffice unless a name holds an escape.
        let escaped = (0..len).any(|i| name(i).contains('\\'));
        let same = |a: &str, b: &str| a == b || (escaped && cmp_utf16(a, b) == Ordering::Equal);
        return (1..len).find(|&j| (0..j).any(|i| same(name(i), name(j))));
    }
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp_utf16(name(a), name(b)).then(a.cmp(&b)));
    order
        .windows(2)
        .filter(|pair| cmp_utf16(name(pair[0]), name(pair[1])) == Ordering::Equal)
        .map(|pair| pair[1])
        .min()
}

/// A raw JSON string as `JSON.stringify` quotes its decoded value.
fn js_quoted(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 2);
    write_js_string(raw, &mut out);
    out
}

/// Order two raw JSON strings by their UTF-16 code units, as JavaScript's
/// default sort does.
fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if !a.contains('\\') && !b.contains('\\') {
        // Fast path: for plain text, UTF-16 order differs from byte order only
        // when a character above U+FFFF meets one in U+E000..=U+FFFF.
        let mut ai = a.chars();
        let mut bi = b.chars();
        loop {
            match (ai.next(), bi.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) if x == y => continue,
                (Some(x), Some(y)) => {
                    let mut bx = [0u16; 2];
                    let mut by = [0u16; 2];
                    return x.encode_utf16(&mut bx)[0].cmp(&y.encode_utf16(&mut by)[0]);
                }
            }
        }
    }
    units(a).cmp(units(b))
}

/// The decoded string, or `None` if it holds a lone surrogate.
fn decode_string(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    decode(raw)
        .map(|u| match u {
            Unit::Char(c) => Some(c),
            Unit::Lone(_) => None,
        })
        .collect::<Option<String>>()
        .map(std::borrow::Cow::Owned)
}

/// Write a raw JSON string as `JSON.stringify` escapes it.
fn write_js_string(raw: &str, out: &mut String) {
    out.push('"');
    if !raw.contains('\\') {
        // Raw text holds no control characters or quotes (the parser refused
        // them): it is already in JSON.stringify form.
        out.push_str(raw);
    } else {
        for unit in decode(raw) {
            match unit {
                Unit::Char('"') => out.push_str("\\\""),
                Unit::Char('\\') => out.push_str("\\\\"),
                Unit::Char('\u{8}') => out.push_str("\\b"),
                Unit::Char('\u{c}') => out.push_str("\\f"),
                Unit::Char('\n') => out.push_str("\\n"),
                Unit::Char('\r') => out.push_str("\\r"),
                Unit::Char('\t') => out.push_str("\\t"),
                Unit::Char(c) if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                Unit::Char(c) => out.push(c),
                Unit::Lone(u) => {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// One step of [`stream_object`].
pub(crate) enum Member<'a> {
    /// A member parsed whole.
    Value(&'a str, Value<'a>),
    /// The streamed array begins.
    ArrayStart,
    /// One element of the streamed array.
    Element(Value<'a>),
}

/// Parse a JSON text that must be an object, handing each member to `visit`;
/// the array under `streamed_key` (the decoded name) is handed over one
/// element at a time, so that only one element's tree is alive at once.
/// Returns whether the streamed key was seen as an array, or `None` when the
/// text is valid JSON but not an object. A member name repeated in any
/// object, the top level included, is an error (members already visited
/// must then be discarded).
pub(crate) fn stream_object<'a>(
    text: &'a str,
    streamed_key: &str,
    mut visit: impl FnMut(Member<'a>),
) -> Result<Option<bool>, JsonError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let mut streamed = false;
    let mut keys: Vec<&'a str> = Vec::new();
    p.skip_ws();
    if p.bytes.get(p.pos) != Some(&b'{') {
        // Not an object: report syntax errors first, then the shape.
        p.value(0)?;
        p.skip_ws();
        if p.pos != p.bytes.len() {
            return Err(p.err("trailing characters after the JSON value"));
        }
        return Ok(None);
    }
    p.pos += 1;
    p.skip_ws();
    if p.bytes.get(p.pos) == Some(&b'}') {
        p.pos += 1;
    } else {
        loop {
            p.skip_ws();
            if p.bytes.get(p.pos) != Some(&b'"') {
                return Err(p.err("expected a string key"));
            }
            let key = p.string()?;
            p.skip_ws();
            if p.bytes.get(p.pos) != Some(&b':') {
                return Err(p.err("expected ':'"));
            }
            p.pos += 1;
            p.skip_ws();
            if key_is(key, streamed_key) && p.bytes.get(p.pos) == Some(&b'[') {
                if streamed {
                    return Err(p.duplicate(key));
                }
                streamed = true;
                visit(Member::ArrayStart);
                p.pos += 1;
                p.skip_ws();
                if p.bytes.get(p.pos) == Some(&b']') {
                    p.pos += 1;
                } else {
                    let mut index = 0;
                    loop {
                        p.skip_ws();
                        let element = p
                            .value(2)
                            .map_err(|e| e.within_index(index).within_member(key))?;
                        visit(Member::Element(element));
                        index += 1;
                        p.skip_ws();
                        match p.bytes.get(p.pos) {
                            Some(b',') => p.pos += 1,
                            Some(b']') => {
                                p.pos += 1;
                                break;
                            }
                            _ => return Err(p.err("expected ',' or ']'")),
                        }
                    }
                }
            } else {
                let value = p.value(1).map_err(|e| e.within_member(key))?;
                visit(Member::Value(key, value));
            }
            keys.push(key);
            p.skip_ws();
            match p.bytes.get(p.pos) {
                Some(b',') => p.pos += 1,
                Some(b'}') => {
                    p.pos += 1;
                    break;
                }
                _ => return Err(p.err("expected ',' or '}'")),
            }
        }
        if let Some(j) = repeated(keys.len(), |i| keys[i]) {
            return Err(p.duplicate(keys[j]));
        }
    }
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.err("trailing characters after the JSON value"));
    }
    Ok(Some(streamed))
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, message: &'static str) -> JsonError {
        JsonError::new(self.pos, message)
    }

    /// The error for a repeat of the member named `raw_key` (a slice of the
    /// text: its position is the error's offset).
    fn duplicate(&self, raw_key: &str) -> JsonError {
        let offset = (raw_key.as_ptr() as usize)
            .saturating_sub(self.text.as_ptr() as usize)
            .saturating_sub(1);
        JsonError {
            offset,
            message: "duplicate member name",
            duplicate: Some(Box::new(Duplicate::new(js_quoted(raw_key)))),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &'static str, value: Value<'a>) -> Result<Value<'a>, JsonError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err("unexpected characters"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting is too deep"));
        }
        match self.bytes.get(self.pos) {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    self.skip_ws();
                    let item = self
                        .value(depth + 1)
                        .map_err(|e| e.within_index(items.len()))?;
                    items.push(item);
                    self.skip_ws();
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                loop {
                    self.skip_ws();
                    if self.bytes.get(self.pos) != Some(&b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.bytes.get(self.pos) != Some(&b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    let value = self.value(depth + 1).map_err(|e| e.within_member(key))?;
                    members.push((key, value));
                    self.skip_ws();
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            if let Some(j) = repeated(members.len(), |i| members[i].0) {
                                return Err(self.duplicate(members[j].0));
                            }
                            return Ok(Value::Object(members));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    /// A string's raw contents; the cursor is on the opening quote.
    fn string(&mut self) -> Result<&'a str, JsonError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    let raw = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(raw);
                }
                Some(b'\\') => match self.bytes.get(self.pos + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
                    Some(b'u') => {
                        let hex = self.bytes.get(self.pos + 2..self.pos + 6);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err(self.err("invalid \\u escape"));
                        }
                        self.pos += 6;
                    }
                    _ => return Err(self.err("invalid escape")),
                },
                Some(&b) if b < 0x20 => return Err(self.err("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.bytes.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.err("invalid number: no digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.err("invalid number: no exponent digits"));
            }
        }
        Ok(Value::Number(&self.text[start..self.pos]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(x: f64) -> String {
        let mut s = String::new();
        write_js_number(x, &mut s);
        s
    }

    #[test]
    fn numbers_print_as_ecmascript() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (5e-7, "5e-7"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (9007199254740993.0, "9007199254740992"),
            (-191414226972847.63, "-191414226972847.62"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ];
        for (x, want) in cases {
            assert_eq!(js(x), want, "{x:e}");
        }
    }

    #[test]
    fn canonical_sorts_by_utf16_and_escapes_like_json_stringify() {
        let text =
            r#"{"b":1,"a":{"z":[1.0,"\u0007"],"y":null},"\ud83d\ude00":1,"\uffff":2,"é":"\ud800"}"#;
        let c = canonical_json(text).expect("parses");
        // U+1F600 (0xD83D...) sorts before U+FFFF in UTF-16 order.
        assert_eq!(
            c,
            "{\"a\":{\"y\":null,\"z\":[1,\"\\u0007\"]},\"b\":1,\"é\":\"\\ud800\",\"😀\":1,\"\u{ffff}\":2}"
        );
    }

    #[test]
    fn stringify_keeps_order_and_reformats_numbers() {
        let v = Value::parse(r#" { "z" : 1.50, "a" : [ true , false , null ], "s": "\/x" } "#)
            .expect("parses");
        assert_eq!(
            v.to_js_string(),
            r#"{"z":1.5,"a":[true,false,null],"s":"/x"}"#
        );
    }

    #[test]
    fn duplicate_keys_are_refused_with_the_member_and_its_path() {
        for (text, message) in [
            (
                r#"{"a":1,"b":2,"a":3}"#,
                r#"duplicate member "a" at $ (byte 13)"#,
            ),
            (
                r#"{"a":1,"\u0061":3}"#,
                r#"duplicate member "a" at $ (byte 7)"#,
            ),
            (
                r#"{"\ud800":1,"\ud800":3}"#,
                r#"duplicate member "\ud800" at $"#,
            ),
            (
                r#"{"\ud83d\ude00":1,"😀":3}"#,
                r#"duplicate member "😀" at $"#,
            ),
            (
                r#"[0,{"x":{"y y":[{"z":1,"z":2}]}}]"#,
                r#"duplicate member "z" at $[1].x["y y"][0]"#,
            ),
            (
                r#"{"\u0000":{"k":1,"k":1}}"#,
                r#"duplicate member "k" at $["\u0000"]"#,
            ),
            (
                r#"{"\ud800":{"k":1,"k":1}}"#,
                r#"duplicate member "k" at $["\ud800"]"#,
            ),
        ] {
            let err = Value::parse(text).expect_err(text);
            assert!(err.is_duplicate(), "{text}");
            assert!(err.to_string().starts_with(message), "{text}: {err}");
            assert!(canonical_json(text).is_err(), "{text}");
        }
        // Large objects: sorted, not compared pairwise.
        let many: String = (0..40).map(|i| format!("\"k{}\":{i},", i % 20)).collect();
        let err = Value::parse(&format!("{{{many}\"z\":0}}")).expect_err("repeats");
        assert!(
            err.to_string().starts_with(r#"duplicate member "k0" at $"#),
            "{err}"
        );
        let unique: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        assert!(Value::parse(&format!("{{{unique}\"k\\u0034\\u0030\":0}}")).is_ok());
        let err = Value::parse(&format!("{{{unique}\"k\\u0034\":0}}")).expect_err("k4");
        assert!(
            err.to_string().starts_with(r#"duplicate member "k4" at $"#),
            "{err}"
        );
        // Distinct lone surrogates and distinct spellings are distinct names.
        assert!(Value::parse(r#"{"\ud800":1,"\udc00":2,"\ud800\udc00":3}"#).is_ok());
    }

    #[test]
    fn the_streamed_object_refuses_repeats_at_every_level() {
        for (text, message) in [
            (
                r#"{"events":[],"\u0065vents":[]}"#,
                r#"duplicate member "events" at $"#,
            ),
            (
                r#"{"events":[],"events":3}"#,
                r#"duplicate member "events" at $"#,
            ),
            (
                r#"{"s":1,"events":[],"s":2}"#,
                r#"duplicate member "s" at $"#,
            ),
            (
                r#"{"events":[{},{"p":{"a":1,"a":1}}]}"#,
                r#"duplicate member "a" at $.events[1].p"#,
            ),
            (
                r#"{"o":{"a":1,"a":1},"events":[]}"#,
                r#"duplicate member "a" at $.o"#,
            ),
        ] {
            let err = stream_object(text, "events", |_| {}).expect_err(text);
            assert!(err.to_string().starts_with(message), "{text}: {err}");
        }
        let mut elements = 0;
        let seen = stream_object(r#"{"\u0065vents":[1,2]}"#, "events", |m| {
            elements += usize::from(matches!(m, Member::Element(_)));
        });
        assert_eq!((seen, elements), (Ok(Some(true)), 2));
    }

    #[test]
    fn stringify_puts_array_index_keys_first_as_javascript_does() {
        let v = Value::parse(r#"{"b":1,"10":2,"2":3,"01":4,"\u0031":5,"4294967295":6,"-1":7}"#)
            .expect("parses");
        assert_eq!(
            v.to_js_string(),
            r#"{"1":5,"2":3,"10":2,"b":1,"01":4,"4294967295":6,"-1":7}"#
        );
    }

    #[test]
    fn invalid_json_is_refused_with_an_offset() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "1.",
            "\"\u{1}\"",
            "\"\\x\"",
            "nul",
            "1 2",
            "-",
        ] {
            assert!(Value::parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(600) + &"]".repeat(600);
        assert!(Value::parse(&deep).is_err());
    }
}
