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
    let mut out = String::with_capacity(64);
    out.push_str("{\"action_type\":");
    write_string(action_type, &mut out);
    out.push_str(",\"actor_id\":");
    write_string(actor_id, &mut out);
    out.push_str(",\"context\":");
    write_object(context, &mut out);
    out.push('}');
    crate::audit::hex(&Sha256::digest(out.as_bytes()))
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
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
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
