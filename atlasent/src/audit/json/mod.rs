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

//! Laid out as: [`Value`] and [`JsonError`] (`value`), the parser
//! (`parse`), UTF-16 decoding and ordering of raw strings (`utf16`), and
//! the JavaScript serializations (`js`).

mod js;
mod parse;
mod stream;
mod utf16;
mod value;

pub use js::{array_index, canonical_json, canonical_json_of, write_js_number};
pub(crate) use stream::{
    parse_element, parse_member, MemberText, ObjectReader, Opening, StreamError, CHUNK_BYTES,
};
pub(crate) use utf16::key_is;
pub use value::{JsonError, Value};

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

    /// Read `text` as an object with `events` streamed, every element
    /// parsed, `chunk` bytes at a time: the number of elements.
    fn stream(text: &str, chunk: usize) -> Result<Option<usize>, String> {
        let mut object = ObjectReader::new(text.as_bytes(), 1 << 20, chunk);
        let mut elements = None;
        let mut buf = Vec::new();
        match object.open() {
            Ok(Opening::Object) => {}
            Ok(Opening::NotObject) => return Err("not an object".into()),
            Err(e) => return Err(format!("{e:?}")),
        }
        loop {
            match object.next_member("events") {
                Ok(None) => return Ok(elements),
                Ok(Some((key, MemberText::Value { text, offset }))) => {
                    parse_member(&key, &text, offset).map_err(|e| e.to_string())?;
                }
                Ok(Some((key, MemberText::Array))) => {
                    let mut index = 0;
                    while let Some(offset) = object
                        .next_element(Some(&mut buf), 1 << 20)
                        .map_err(|e| format!("{e:?}"))?
                    {
                        parse_element(&key, index, &buf, offset).map_err(|e| e.to_string())?;
                        index += 1;
                    }
                    elements = Some(index);
                }
                Err(StreamError::Json(e)) => return Err(e.to_string()),
                Err(e) => return Err(format!("{e:?}")),
            }
        }
    }

    #[test]
    fn the_streamed_object_refuses_repeats_at_every_level() {
        for chunk in [1, 2, 3, 7, 64, CHUNK_BYTES] {
            for (text, message) in [
                (
                    r#"{"events":[],"\u0065vents":[]}"#,
                    r#"duplicate member "events" at $ (byte 13)"#,
                ),
                (
                    r#"{"events":[],"events":3}"#,
                    r#"duplicate member "events" at $ (byte 13)"#,
                ),
                (
                    r#"{"s":1,"events":[],"s":2}"#,
                    r#"duplicate member "s" at $ (byte 19)"#,
                ),
                (
                    r#"{"events":[{},{"p":{"a":1,"a":1}}]}"#,
                    r#"duplicate member "a" at $.events[1].p (byte 26)"#,
                ),
                (
                    r#"{"o":{"a":1,"a":1},"events":[]}"#,
                    r#"duplicate member "a" at $.o (byte 12)"#,
                ),
            ] {
                let err = stream(text, chunk).expect_err(text);
                assert!(err.starts_with(message), "{chunk}: {text}: {err}");
            }
            assert_eq!(stream(r#"{"\u0065vents":[1,2]}"#, chunk), Ok(Some(2)));
            assert_eq!(
                stream(" {\"a\" : [ 1 ] ,\"events\" : [ ] } \n", chunk),
                Ok(Some(0))
            );
        }
    }

    #[test]
    fn the_streamed_object_is_checked_as_strictly_as_a_parsed_text() {
        for chunk in [1, 2, 5, CHUNK_BYTES] {
            for bad in [
                "",
                "{",
                "{\"events\":[1,]}",
                "{\"events\":[1 2]}",
                "{\"events\":[1}",
                "{\"events\":[\"x]}",
                "{\"a\" 1}",
                "{\"a\":1,}",
                "{,\"a\":1}",
                "{\"a\":1 \"b\":2}",
                "{\"a\":01}",
                "{\"events\":[]} x",
                "{\"events\":[]}}",
                "{\"events\":[{\"a\":tru}]}",
                "{\"events\":[[}]]}",
                "{\"a\":\"\\x\"}",
                "{\"a\":}",
            ] {
                let streamed = stream(bad, chunk);
                assert!(streamed.is_err(), "{chunk}: {bad:?}: {streamed:?}");
                assert!(Value::parse(bad).is_err(), "{bad:?}");
            }
            assert_eq!(stream("[1]", chunk), Err("not an object".into()));
        }
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
