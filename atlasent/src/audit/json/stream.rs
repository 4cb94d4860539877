//! A JSON object read from a byte stream through one fixed-size buffer
//! ([`ObjectReader`]): its members one at a time, and one array member one
//! element at a time, each element's text copied out (bounded) to be parsed
//! by [`Value::parse`](super::Value::parse) and then dropped. Nothing grows
//! with the size of the stream: the buffer is [`CHUNK_BYTES`], a member's or
//! an element's text is refused past the limit the caller gives.
//!
//! The reader only finds where each value ends (strings, escapes and
//! bracket depth); the parser then checks the value's text in full, and the
//! reader checks everything between values (`{`, `:`, `,`, `]`, `}`,
//! whitespace, the end of the stream), so the stream as a whole is checked
//! as strictly as [`Value::parse`](super::Value::parse) checks a text.

use std::io::Read;

use super::js::js_quoted;
use super::utf16::{key_is, repeated};
use super::value::{JsonError, Value};
use crate::wire::strict::Duplicate;

/// The read buffer: the stream is read this many bytes at a time.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

/// Why a streamed object could not be read.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// Reading failed.
    Io(std::io::Error),
    /// The bytes are not JSON (or repeat a member name).
    Json(JsonError),
    /// A value is longer than the caller's limit: `what` at byte `offset`.
    TooLarge {
        /// What was too long.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// The limit, in bytes.
        limit: usize,
    },
}

impl From<JsonError> for StreamError {
    fn from(e: JsonError) -> Self {
        StreamError::Json(e)
    }
}

impl From<std::io::Error> for StreamError {
    fn from(e: std::io::Error) -> Self {
        StreamError::Io(e)
    }
}

/// The stream behind a fixed buffer, with the stream offset of each byte.
struct Chunked<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: usize,
}

impl<R: Read> Chunked<R> {
    /// The offset in the stream of the next byte.
    fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Make the next byte available; `false` at the end of the stream.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        self.base += self.end;
        self.pos = 0;
        self.end = 0;
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => {
                    self.end = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        Ok(if self.fill()? {
            Some(self.buf[self.pos])
        } else {
            None
        })
    }

    fn skip_ws(&mut self) -> std::io::Result<Option<u8>> {
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(b));
            }
            self.pos += 1;
        }
        Ok(None)
    }

    /// Move past one JSON value, the cursor on its first byte, copying its
    /// bytes to `out` when given (refused past `limit` bytes). Only the
    /// value's extent is found here: strings (with escapes) and bracket
    /// depth; the caller parses the copy.
    fn scan_value(
        &mut self,
        mut out: Option<&mut Vec<u8>>,
        limit: usize,
        what: &'static str,
    ) -> Result<(), StreamError> {
        let start = self.offset();
        let scalar = !matches!(self.peek()?, Some(b'{' | b'[' | b'"'));
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            if !self.fill()? {
                if scalar {
                    return Ok(());
                }
                return Err(JsonError::new(self.offset(), "unexpected end of input").into());
            }
            let chunk = &self.buf[self.pos..self.end];
            let mut used = chunk.len();
            let mut done = false;
            let mut i = 0;
            while i < chunk.len() {
                let b = chunk[i];
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            (used, done) = (i + 1, true);
                            break;
                        }
                    } else {
                        // Most bytes are string contents: jump to the next
                        // byte that can end the string or escape.
                        match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                            Some(n) => {
                                i += n;
                                continue;
                            }
                            None => break,
                        }
                    }
                } else if scalar {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        (used, done) = (i, true);
                        break;
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                (used, done) = (i + 1, true);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            if let Some(out) = out.as_deref_mut() {
                if out.len() + used > limit {
                    return Err(StreamError::TooLarge {
                        what,
                        offset: start,
                        limit,
                    });
                }
                out.extend_from_slice(&chunk[..used]);
            }
            self.pos += used;
            if done {
                return Ok(());
            }
        }
    }
}

/// Parse the copied text of one value that started at stream offset `base`,
/// nested `depth` deep: errors carry stream offsets.
fn parse_copy<'t>(text: &'t [u8], base: usize, depth: usize) -> Result<Value<'t>, JsonError> {
    let text = std::str::from_utf8(text)
        .map_err(|e| JsonError::new(base + e.valid_up_to(), "invalid UTF-8 in the bundle"))?;
    Value::parse_nested(text, depth).map_err(|mut e| {
        e.offset += base;
        e
    })
}

/// One member of the object, as [`ObjectReader::next_member`] reads it.
pub(crate) enum MemberText {
    /// The streamed array begins: read its elements with
    /// [`ObjectReader::next_element`] until `None`.
    Array,
    /// Any other member: its value's text, starting at stream offset `offset`.
    Value {
        /// The value's text (as in the stream).
        text: Vec<u8>,
        /// Its stream offset.
        offset: usize,
    },
}

/// What the stream holds at its top level.
pub(crate) enum Opening {
    /// An object: read its members.
    Object,
    /// Valid JSON that is not an object.
    NotObject,
}

/// A JSON object read member by member from a stream (see the module docs).
pub(crate) struct ObjectReader<R> {
    src: Chunked<R>,
    /// The raw names seen so far, with the offset of each one's quote.
    keys: Vec<(String, usize)>,
    /// The bytes of names and non-array values copied so far.
    head_bytes: usize,
    head_limit: usize,
    /// Inside the streamed array: no element read yet.
    first_element: bool,
    streamed_seen: bool,
}

impl<R: Read> ObjectReader<R> {
    /// Start reading `reader`, `chunk` bytes at a time ([`CHUNK_BYTES`]
    /// but in tests); names and member values (all but the streamed array)
    /// may hold `head_limit` bytes together.
    pub(crate) fn new(reader: R, head_limit: usize, chunk: usize) -> Self {
        ObjectReader {
            src: Chunked {
                reader,
                buf: vec![0; chunk.max(1)],
                pos: 0,
                end: 0,
                base: 0,
            },
            keys: Vec::new(),
            head_bytes: 0,
            head_limit,
            first_element: false,
            streamed_seen: false,
        }
    }

    /// Read up to the first member: an object's `{`, or (for anything else)
    /// the whole value, checked, and the end of the stream.
    pub(crate) fn open(&mut self) -> Result<Opening, StreamError> {
        match self.src.skip_ws()? {
            Some(b'{') => {
                self.src.pos += 1;
                Ok(Opening::Object)
            }
            None => Err(JsonError::new(self.src.offset(), "unexpected end of input").into()),
            Some(_) => {
                let offset = self.src.offset();
                let mut text = Vec::new();
                self.src
                    .scan_value(Some(&mut text), self.head_limit, "the top-level value")?;
                parse_copy(&text, offset, 0)?;
                self.end_of_stream()?;
                Ok(Opening::NotObject)
            }
        }
    }

    /// The names of the members read so far, raw (escapes undecoded).
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }

    /// The next member: its raw name and value (the array under
    /// `streamed_key`, once decoded, is streamed instead), or `None` after
    /// the closing `}`, once the stream is known to end there and no name
    /// repeats.
    pub(crate) fn next_member(
        &mut self,
        streamed_key: &str,
    ) -> Result<Option<(String, MemberText)>, StreamError> {
        match self.src.skip_ws()? {
            Some(b'}') => {
                self.src.pos += 1;
                return self.close().map(|()| None);
            }
            Some(b',') if !self.keys.is_empty() => {
                self.src.pos += 1;
                self.src.skip_ws()?;
            }
            _ if !self.keys.is_empty() => {
                return Err(JsonError::new(self.src.offset(), "expected ',' or '}'").into())
            }
            _ => {}
        }
        if self.src.peek()? != Some(b'"') {
            return Err(JsonError::new(self.src.offset(), "expected a string key").into());
        }
        let key_offset = self.src.offset();
        let key = self.copy_head_value("a member name")?;
        let raw = match parse_copy(&key, key_offset, 0)? {
            Value::String(raw) => raw.to_owned(),
            _ => return Err(JsonError::new(key_offset, "expected a string key").into()),
        };
        if self.src.skip_ws()? != Some(b':') {
            return Err(JsonError::new(self.src.offset(), "expected ':'").into());
        }
        self.src.pos += 1;
        let next = self.src.skip_ws()?;
        self.keys.push((raw.clone(), key_offset));
        if key_is(&raw, streamed_key) && next == Some(b'[') {
            if self.streamed_seen {
                return Err(duplicate(&raw, key_offset).into());
            }
            self.streamed_seen = true;
            self.src.pos += 1;
            self.first_element = true;
            return Ok(Some((raw, MemberText::Array)));
        }
        if next.is_none() {
            return Err(JsonError::new(self.src.offset(), "unexpected end of input").into());
        }
        let offset = self.src.offset();
        let text = self.copy_head_value("a member of the bundle")?;
        Ok(Some((raw, MemberText::Value { text, offset })))
    }

    /// The next element of the streamed array: its text copied into `out`
    /// (cleared first; refused past `limit` bytes) and its stream offset, or
    /// `None` after the closing `]`. With `out` `None` the element is only
    /// skipped.
    pub(crate) fn next_element(
        &mut self,
        out: Option<&mut Vec<u8>>,
        limit: usize,
    ) -> Result<Option<usize>, StreamError> {
        let first = std::mem::take(&mut self.first_element);
        match self.src.skip_ws()? {
            Some(b']') => {
                self.src.pos += 1;
                return Ok(None);
            }
            Some(b',') if !first => {
                self.src.pos += 1;
                self.src.skip_ws()?;
            }
            _ if !first => {
                return Err(JsonError::new(self.src.offset(), "expected ',' or ']'").into())
            }
            _ => {}
        }
        let offset = self.src.offset();
        if self.src.peek()?.is_none() {
            return Err(JsonError::new(offset, "unexpected end of input").into());
        }
        let mut out = out;
        if let Some(out) = out.as_deref_mut() {
            out.clear();
        }
        self.src.scan_value(out, limit, "an event")?;
        Ok(Some(offset))
    }

    fn copy_head_value(&mut self, what: &'static str) -> Result<Vec<u8>, StreamError> {
        let mut text = Vec::new();
        let room = self.head_limit.saturating_sub(self.head_bytes);
        match self.src.scan_value(Some(&mut text), room, what) {
            Err(StreamError::TooLarge { what, offset, .. }) => {
                return Err(StreamError::TooLarge {
                    what,
                    offset,
                    limit: self.head_limit,
                })
            }
            other => other?,
        }
        self.head_bytes += text.len();
        Ok(text)
    }

    /// After the `}`: no name repeats, and only whitespace follows.
    fn close(&mut self) -> Result<(), StreamError> {
        if let Some(j) = repeated(self.keys.len(), |i| self.keys[i].0.as_str()) {
            let (raw, offset) = &self.keys[j];
            return Err(duplicate(raw, *offset).into());
        }
        self.end_of_stream()
    }

    fn end_of_stream(&mut self) -> Result<(), StreamError> {
        match self.src.skip_ws()? {
            None => Ok(()),
            Some(_) => Err(JsonError::new(
                self.src.offset(),
                "trailing characters after the JSON value",
            )
            .into()),
        }
    }
}

/// The error for a repeat of the member named `raw_key` whose quote is at
/// stream offset `offset`.
fn duplicate(raw_key: &str, offset: usize) -> JsonError {
    JsonError {
        offset,
        message: "duplicate member name",
        duplicate: Some(Box::new(Duplicate::new(js_quoted(raw_key)))),
    }
}

/// Parse the copied value of the top-level member `raw_key`.
pub(crate) fn parse_member<'t>(
    raw_key: &str,
    text: &'t [u8],
    offset: usize,
) -> Result<Value<'t>, JsonError> {
    parse_copy(text, offset, 1).map_err(|e| e.within_member(raw_key))
}

/// Parse the copied element `index` of the streamed array `raw_key`.
pub(crate) fn parse_element<'t>(
    raw_key: &str,
    index: usize,
    text: &'t [u8],
    offset: usize,
) -> Result<Value<'t>, JsonError> {
    parse_copy(text, offset, 2).map_err(|e| e.within_index(index).within_member(raw_key))
}
