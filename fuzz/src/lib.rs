//! Helpers shared by the fuzz targets: a reference reader for duplicate
//! member names, splitting one fuzz input into parts, and filling a
//! placeholder into a reply body; the harnesses' runtime.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// What a JSON text holds, as far as duplicate member names go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// Valid JSON (to serde_json), no object repeats a member name.
    Unique,
    /// Valid JSON with a repeated member name (decoded), at this path.
    Duplicate(String),
    /// Not JSON serde_json accepts.
    Invalid,
}

/// Find a repeated member name (compared after decoding escapes) anywhere in
/// `bytes`: top level or nested, the rule of RFC 8259 §4 / RFC 7493.
pub fn duplicate_members(bytes: &[u8]) -> Members {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = NoDup::deserialize(&mut de).and_then(|d| de.end().map(|()| d));
    match found {
        Ok(NoDup(None)) => Members::Unique,
        Ok(NoDup(Some(path))) => Members::Duplicate(path),
        Err(_) => Members::Invalid,
    }
}

/// A JSON value walked only to find the first duplicate member name.
struct NoDup(Option<String>);

impl<'de> Deserialize<'de> for NoDup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDupVisitor)
    }
}

struct NoDupVisitor;

impl<'de> Visitor<'de> for NoDupVisitor {
    type Value = NoDup;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<NoDup, E> {
        Ok(NoDup(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<NoDup, E> {
        Ok(NoDup(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<NoDup, E> {
        Ok(NoDup(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<NoDup, E> {
        Ok(NoDup(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<NoDup, E> {
        Ok(NoDup(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<NoDup, E> {
        Ok(NoDup(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDup, A::Error> {
        let mut found = None;
        let mut i = 0usize;
        while let Some(NoDup(inner)) = seq.next_element::<NoDup>()? {
            if found.is_none() {
                found = inner.map(|p| format!("[{i}]{p}"));
            }
            i += 1;
        }
        Ok(NoDup(found))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDup, A::Error> {
        let mut seen = HashSet::new();
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let NoDup(inner) = map.next_value::<NoDup>()?;
            if found.is_none() {
                found = inner.map(|p| format!(".{key}{p}"));
            }
            if !seen.insert(key.clone()) && found.is_none() {
                found = Some(format!(".{key}"));
            }
        }
        Ok(NoDup(found))
    }
}

/// Split `data` at every `sep` byte into at most `n` parts (the last part
/// keeps any further separators); missing parts are empty.
pub fn split_parts(data: &[u8], sep: u8, n: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(n, |&b| b == sep).collect();
    while parts.len() < n {
        parts.push(&[]);
    }
    parts
}

/// The last copy of `name` in a JSON object text, as serde_json, JSON.parse
/// and Python read it; `None` when the text is not an object or lacks it.
pub fn member(bytes: &[u8], name: &str) -> Option<serde_json::Value> {
    match serde_json::from_slice::<serde_json::Value>(bytes).ok()? {
        serde_json::Value::Object(mut map) => map.remove(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_after_decoding_at_any_depth() {
        assert_eq!(
            duplicate_members(br#"{"a":1,"b":[{"c":1}]}"#),
            Members::Unique
        );
        assert_eq!(
            duplicate_members(br#"{"a":1,"\u0061":2}"#),
            Members::Duplicate(".a".into())
        );
        assert_eq!(
            duplicate_members(br#"{"e":[0,{"p":{"x":1,"x":1}}]}"#),
            Members::Duplicate(".e[1].p.x".into())
        );
        assert_eq!(duplicate_members(b"{"), Members::Invalid);
    }
}

/// `bytes` with every occurrence of `needle` replaced by `with`.
pub fn replace_all(bytes: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// The runtime a harness drives its calls on: one thread, I/O and timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}
