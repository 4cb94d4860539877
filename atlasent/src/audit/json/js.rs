//! The two serializations of the audit chain, exactly as JavaScript
//! produces them: canonical JSON and `JSON.stringify`.

use std::fmt::Write as _;

use super::utf16::{cmp_utf16, decode, decode_string, Unit};
use super::value::{JsonError, Value};

impl<'a> Value<'a> {
    /// Canonical JSON: keys sorted by UTF-16 code units at every depth, no
    /// whitespace, numbers as ECMAScript prints them, strings escaped as
    /// `JSON.stringify` does. Appends to `out`.
    pub fn write_canonical(&self, out: &mut String) {
        match self {
            Value::Object(members) => {
                let mut sorted: Vec<&(&str, Value<'_>)> = members.iter().collect();
                sorted.sort_by(|a, b| cmp_utf16(a.0, b.0));
                write_members(out, sorted.into_iter().map(|(k, v)| (*k, v)), |v, out| {
                    v.write_canonical(out)
                });
            }
            Value::Array(items) => write_items(out, items, |v, out| v.write_canonical(out)),
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
            Value::Array(items) => write_items(out, items, |v, out| v.write_js(out)),
            Value::Object(members) => {
                write_members(out, js_property_order(members), |v, out| v.write_js(out));
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

/// `[a,b,…]`, each element written by `write`.
fn write_items<'v, 'a: 'v>(
    out: &mut String,
    items: &'v [Value<'a>],
    mut write: impl FnMut(&'v Value<'a>, &mut String),
) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(item, out);
    }
    out.push(']');
}

/// `{"k":v,…}` in the order given, each value written by `write`.
fn write_members<'v, 'a: 'v>(
    out: &mut String,
    members: impl IntoIterator<Item = (&'a str, &'v Value<'a>)>,
    mut write: impl FnMut(&'v Value<'a>, &mut String),
) {
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_js_string(key, out);
        out.push(':');
        write(value, out);
    }
    out.push('}');
}

/// The members of an object (names unique, as the parser guarantees) in the
/// order a JavaScript object built by `JSON.parse` enumerates them:
/// array-index keys first in ascending numeric order, then the other keys in
/// insertion order.
fn js_property_order<'v, 'a>(members: &'v [(&'a str, Value<'a>)]) -> Vec<(&'a str, &'v Value<'a>)> {
    let mut ordered: Vec<(&'a str, &'v Value<'a>)> =
        members.iter().map(|(key, value)| (*key, value)).collect();
    if ordered.iter().any(|(k, _)| raw_array_index(k).is_some()) {
        // Stable: non-index keys keep their insertion order.
        ordered.sort_by_key(|(k, _)| raw_array_index(k).map_or((1, 0), |n| (0, n)));
    }
    ordered
}

/// The value of a raw JSON key that decodes to an ECMAScript array index.
fn raw_array_index(raw_key: &str) -> Option<u32> {
    array_index(&decode_string(raw_key)?)
}

/// The value of a member name that is an ECMAScript array index (a
/// canonical decimal integer below 2^32 - 1), which `JSON.stringify` writes
/// before the other members, in numeric order.
///
/// ```
/// use atlasent::audit::json::array_index;
/// assert_eq!(array_index("10"), Some(10));
/// assert_eq!(array_index("4294967294"), Some(4_294_967_294));
/// for not in ["01", "4294967295", "-1", "1.0", " 1", ""] {
///     assert_eq!(array_index(not), None);
/// }
/// ```
pub fn array_index(key: &str) -> Option<u32> {
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

/// A raw JSON string as `JSON.stringify` quotes its decoded value, safe to
/// print in a message (see [`printable`](crate::display::printable)).
pub(super) fn js_quoted(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 2);
    write_js_string(raw, &mut out);
    crate::display::printable(&out).into_owned()
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
