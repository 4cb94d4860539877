//! [`Value`], the borrowed JSON tree, and [`JsonError`].

use std::fmt;

use super::js::js_quoted;
use super::utf16::{decode_string, key_is};
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
    pub(super) duplicate: Option<Box<Duplicate>>,
}

impl JsonError {
    pub(super) fn new(offset: usize, message: &'static str) -> Self {
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
    pub(super) fn within_member(mut self, raw_key: &str) -> Self {
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
    pub(super) fn within_index(mut self, index: usize) -> Self {
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

impl<'a> Value<'a> {
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
}
