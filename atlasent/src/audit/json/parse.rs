//! The parser: a JSON text into a [`Value`]. Every array and object is read by one
//! loop each ([`Parser::array`], [`Parser::object`]), which also refuses a
//! repeated member name.

use super::js::js_quoted;
use super::utf16::repeated;
use super::value::{JsonError, Value};
use crate::wire::strict::Duplicate;

/// Nesting deeper than this is refused (no stack overflow on hostile input).
pub(super) const MAX_DEPTH: usize = 512;

impl<'a> Value<'a> {
    /// Parse a complete JSON text. A member name repeated in one object
    /// (after decoding escapes) is an error naming it and its path.
    pub fn parse(text: &'a str) -> Result<Value<'a>, JsonError> {
        Self::parse_nested(text, 0)
    }

    /// [`parse`](Self::parse) of a value found `depth` levels deep in a
    /// larger text (the nesting limit counts from the top of that text).
    pub(crate) fn parse_nested(text: &'a str, depth: usize) -> Result<Value<'a>, JsonError> {
        let mut p = Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        };
        p.skip_ws();
        let value = p.value(depth)?;
        p.skip_ws();
        if p.pos != p.bytes.len() {
            return Err(p.err("trailing characters after the JSON value"));
        }
        Ok(value)
    }
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

    /// Read the items of an array or an object, the cursor on its opening
    /// bracket, up to the `close` bracket: each item is read by
    /// `item(parser)`, the cursor on the item; `expected` says what may
    /// follow an item.
    fn items(
        &mut self,
        close: u8,
        expected: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.pos += 1;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            item(self)?;
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(&c) if c == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err(expected)),
            }
        }
    }

    /// Read an array, the cursor on its `[`: each element is read by
    /// `element(parser, index)`, the cursor on the element.
    fn array(
        &mut self,
        mut element: impl FnMut(&mut Self, usize) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        let mut index = 0;
        self.items(b']', "expected ',' or ']'", |parser| {
            element(parser, index)?;
            index += 1;
            Ok(())
        })
    }

    /// Read an object, the cursor on its `{`: each member's value is read
    /// by `member(parser, raw_key)`, the cursor on the value. A member name
    /// repeated (once decoded) is refused when the object closes.
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        let mut keys: Vec<&'a str> = Vec::new();
        self.items(b'}', "expected ',' or '}'", |parser| {
            if parser.bytes.get(parser.pos) != Some(&b'"') {
                return Err(parser.err("expected a string key"));
            }
            let key = parser.string()?;
            parser.skip_ws();
            if parser.bytes.get(parser.pos) != Some(&b':') {
                return Err(parser.err("expected ':'"));
            }
            parser.pos += 1;
            parser.skip_ws();
            member(parser, key)?;
            keys.push(key);
            Ok(())
        })?;
        match repeated(keys.len(), |i| keys[i]) {
            Some(j) => Err(self.duplicate(keys[j])),
            None => Ok(()),
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
                let mut items = Vec::new();
                self.array(|p, index| {
                    items.push(p.value(depth + 1).map_err(|e| e.within_index(index))?);
                    Ok(())
                })?;
                Ok(Value::Array(items))
            }
            Some(b'{') => {
                let mut members = Vec::new();
                self.object(|p, key| {
                    let value = p.value(depth + 1).map_err(|e| e.within_member(key))?;
                    members.push((key, value));
                    Ok(())
                })?;
                Ok(Value::Object(members))
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
                Some(_) => {
                    // Jump to the next quote or backslash, refusing control
                    // characters on the way (most of a bundle is string text).
                    let rest = &self.bytes[self.pos..];
                    let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                    match rest[..run].iter().position(|&b| b < 0x20) {
                        Some(at) => {
                            self.pos += at;
                            return Err(self.err("control character in string"));
                        }
                        None => self.pos += run,
                    }
                }
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
