//! The current wire's `execution_hash`: SHA-256 (lowercase hex) of the
//! evaluate payload `{action_type, actor_id, context}` written the way the
//! Python SDK 2.x writes it (`json.dumps(sort_deep(payload),
//! separators=(",", ":"), ensure_ascii=False)`).
//!
//! A verify request carries it instead of the context, and the server
//! compares it with the hash of what was evaluated, so the same bytes must
//! come out of every SDK and the server for the same payload:
//!
//! - object members sorted by key (code point order, at every depth);
//! - no whitespace; strings escaped as Python escapes them with
//!   `ensure_ascii=False` (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other
//!   control characters as `\u00xx`; everything else, U+2028 and DEL
//!   included, as itself);
//! - integers in decimal; any other number as Python's `repr(float)`
//!   (`100.0`, `1e+16`, `1e-05`, `0.0001`, `-0.0`).
//!
//! A JSON integer too large for 64 bits arrives as a double and hashes as
//! one, where Python would hash the exact integer: the hashes differ and the
//! verification fails (closed), never the other way.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `execution_hash` of an evaluate payload (see the module docs).
///
/// ```
/// let context = serde_json::json!({"environment": "production", "amount": 100.0});
/// let hash = atlasent::wire::execution_hash(
///     "deploy.production",
///     "deploy-bot",
///     context.as_object().unwrap(),
/// );
/// assert_eq!(hash.len(), 64);
/// ```
pub fn execution_hash(action_type: &str, actor_id: &str, context: &Map<String, Value>) -> String {
    hash_payload(action_type, actor_id, 64, |out| write_object(context, out))
}

/// SHA-256 (hex) of `{action_type, actor_id, context}` as Python writes it,
/// the context written by `context` into a buffer of `capacity` bytes.
fn hash_payload(
    action_type: &str,
    actor_id: &str,
    capacity: usize,
    context: impl FnOnce(&mut String),
) -> String {
    let mut out = String::with_capacity(capacity);
    out.push_str("{\"action_type\":");
    write_string(action_type, &mut out);
    out.push_str(",\"actor_id\":");
    write_string(actor_id, &mut out);
    out.push_str(",\"context\":");
    context(&mut out);
    out.push('}');
    crate::audit::hex(&Sha256::digest(out.as_bytes()))
}

/// A context read for its `execution_hash` without copying it into a
/// [`Value`]: strings and names borrow from the text (unless escaped), each
/// object's members are sorted once as read, and a name repeated in any
/// object (after decoding escapes) is refused, as
/// [`from_slice_strict`](super::from_slice_strict) refuses it.
pub(crate) struct BorrowedObject<'a> {
    text: &'a str,
    members: Vec<(Cow<'a, str>, Node<'a>)>,
}

impl<'a> BorrowedObject<'a> {
    /// `None` when `context` is not a JSON object (or not JSON), or repeats
    /// a member name in any object.
    pub(crate) fn parse(context: &'a RawValue) -> Option<Self> {
        let text = context.get();
        match serde_json::from_str::<Node<'a>>(text).ok()? {
            Node::Object(members) => Some(Self { text, members }),
            _ => None,
        }
    }

    /// No members.
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member `environment`, when it is a string.
    pub(crate) fn environment(&self) -> Option<&str> {
        let at = self
            .members
            .binary_search_by(|(name, _)| name.as_ref().cmp("environment"))
            .ok()?;
        match &self.members[at].1 {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// [`execution_hash`] of this context.
    pub(crate) fn execution_hash(&self, action_type: &str, actor_id: &str) -> String {
        // The canonical form is about as long as the text it came from.
        let capacity = self.text.len() + action_type.len() + actor_id.len() + 48;
        hash_payload(action_type, actor_id, capacity, |out| {
            write_members(&self.members, out)
        })
    }
}

/// One JSON value of a [`BorrowedObject`].
enum Node<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Sorted by name (code point order).
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node<'de>, E> {
        Ok(Node::Unsigned(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node<'de>, E> {
        Ok(Node::Signed(n))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Node<'de>, E> {
        Ok(Node::Float(f))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(name) = map.next_key_seed(super::strict::Name)? {
            members.push((name, map.next_value()?));
        }
        members.sort_unstable_by(|a: &(Cow<'_, str>, _), b| a.0.cmp(&b.0));
        if members.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(serde::de::Error::custom("duplicate member"));
        }
        Ok(Node::Object(members))
    }
}

/// An object's members, already sorted by name.
fn write_members(members: &[(Cow<'_, str>, Node<'_>)], out: &mut String) {
    out.push('{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(name, out);
        out.push(':');
        write_node(value, out);
    }
    out.push('}');
}

/// A [`Node`] as [`write_value`] writes the same [`Value`].
fn write_node(node: &Node<'_>, out: &mut String) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(true) => out.push_str("true"),
        Node::Bool(false) => out.push_str("false"),
        Node::Unsigned(n) => write_integer(*n, out),
        Node::Signed(n) => write_integer(*n, out),
        Node::Float(f) => write_float(*f, out),
        Node::String(s) => write_string(s, out),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(item, out);
            }
            out.push(']');
        }
        Node::Object(members) => write_members(members, out),
    }
}

fn write_integer(n: impl fmt::Display, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{n}");
}

/// `value` as Python's `json.dumps(sort_deep(value), separators=(",", ":"),
/// ensure_ascii=False)` writes it.
pub fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write_integer(i, out);
            } else if let Some(u) = n.as_u64() {
                write_integer(u, out);
            } else if let Some(f) = n.as_f64() {
                write_float(f, out);
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    // serde_json's map is sorted unless `preserve_order` is unified in by
    // some other crate: sort explicitly (by code point, as Python does).
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_value(value, out);
    }
    out.push('}');
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in `-4 ..= 15`, else `d.ddde±XX`.
fn write_float(f: f64, out: &mut String) {
    if !f.is_finite() {
        // JSON has none; Python would write these words.
        out.push_str(if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "1.5e16", "-1e-5", "0e0".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // value = 0.d1d2… × 10^decpt
    let decpt = exp + 1;
    if negative {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = decpt as usize;
        if point < digits.len() {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        } else {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float(f: f64) -> String {
        let mut s = String::new();
        write_float(f, &mut s);
        s
    }

    #[test]
    fn floats_are_written_as_python_repr_writes_them() {
        for (f, want) in [
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5e300, "1.5e+300"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(float(f), want, "{f:e}");
        }
    }

    #[test]
    fn a_context_read_in_place_hashes_as_its_value_does() {
        for text in [
            r#"{}"#,
            r#"{"environment":"production","change":{"id":"CHG-42","files":3,"risk":0.25},"approved_by":["alice","bob"],"note":"caf\u00e9 \u2713 \"quoted\"","amount":1250.0}"#,
            r#"{"z":1,"a":[{"y":null,"b":true},-0.0,-5,18446744073709551615,123456789012345678901234567890],"é":"\u0001\n\t\u2028"}"#,
            r#"{"environment":7,"k\u0065y":1e16,"s":1e-05,"t":0.0001,"big":1.5e300,"neg":-9223372036854775808}"#,
            r#"{"a\"b":{"c":{"d":[[],{}]}},"A":false,"environment":"st\u0061ging"}"#,
        ] {
            let raw = RawValue::from_string(text.to_owned()).expect("raw");
            let object = BorrowedObject::parse(&raw).expect("an object");
            let value: Value = serde_json::from_str(text).expect("value");
            let map = value.as_object().expect("object");
            assert_eq!(
                object.execution_hash("deploy.production", "bot"),
                execution_hash("deploy.production", "bot", map),
                "{text}"
            );
            assert_eq!(object.is_empty(), map.is_empty(), "{text}");
            assert_eq!(
                object.environment(),
                map.get("environment").and_then(Value::as_str),
                "{text}"
            );
        }
        for not_an_object in [
            "[]",
            "1",
            "\"a\"",
            "null",
            r#"{"a":1,"a":1}"#,
            r#"{"x":[{"k":1,"\u006b":2}]}"#,
        ] {
            let raw = RawValue::from_string(not_an_object.to_owned()).expect("raw");
            assert!(BorrowedObject::parse(&raw).is_none(), "{not_an_object}");
        }
    }

    #[test]
    fn the_payload_hashes_as_python_2_18_hashes_it() {
        // Computed with CPython 3.11's json.dumps(sort_deep(payload),
        // separators=(",", ":"), ensure_ascii=False), as atlasent 2.18 does.
        let context = json!({
            "environment": "production", "n": 1, "f": 100.0, "g": 1e16, "s": 1e-05,
            "t": 0.0001, "z": -0.0, "big": 1.5e300,
            "u": "é\u{2028}\u{7f}\u{1}\"\\",
            "l": [true, null, {"b": 1, "a": 2}], "k": 123456789012345678u64,
        });
        let context = context.as_object().expect("object");
        assert_eq!(
            execution_hash("deploy.production", "bot", context),
            "0e598f315ca8e69558ca1d51e9fad33028d17ce6f7af4bb02512f449b09497c8"
        );
    }
}
