//! Differential test: our canonical JSON and `JSON.stringify` against Node's
//! own, on generated payloads covering nested objects and arrays, unicode
//! (non-BMP keys, lone surrogate escapes), numbers of every magnitude
//! (`-0`, `1e21`, `5e-7`, huge and tiny floats, integers past 2^53) and
//! control characters. Node is required: a machine without it fails here.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use atlasent::audit::json::Value;

#[path = "support/standalone.rs"]
mod standalone;
use standalone::Rng;

const PAYLOADS: usize = 12_000;

/// Pieces of string content, as raw JSON text (escapes included).
const FRAGMENTS: &[&str] = &[
    "a",
    "Z",
    "key",
    "1",
    "10",
    "01",
    "0",
    "4294967294",
    "4294967295",
    "-1",
    " ",
    "é",
    "中文",
    "\u{ffff}",
    "\u{e000}",
    "😀",
    // Shares 😀's high surrogate (D83D), differs in the low one.
    "🐀",
    "\\ud83d\\udc00",
    "𝄞",
    "\\ud83d\\ude00",
    "\\ud800",
    "\\udfff",
    "\\udc00x",
    "\\n",
    "\\t",
    "\\r",
    "\\b",
    "\\f",
    "\\u0000",
    "\\u0001",
    "\\u001f",
    "\\u007f",
    "\u{7f}",
    "\\\"",
    "\\\\",
    "\\/",
    "\\u00e9",
    "\\u2028",
    "\u{2029}",
    "\\uFFFF",
    "\\uD834\\uDD1E",
    "<>&'",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "1.0",
    "1.50",
    "0.1",
    "1e21",
    "1E21",
    "1e+21",
    "5e-7",
    "1e-6",
    "1.5e-7",
    "123456789012345678901234567890",
    "9007199254740993",
    "-9007199254740993",
    "1e400",
    "-1e400",
    "2.5e-324",
    "5e-324",
    "1.7976931348623157e308",
    "0.000001",
    "0.0000001",
    "100000000000000000000",
    "1e20",
    "999999999999999999999",
    "12345.6789",
    "3.14159265358979323846",
];

fn string(rng: &mut Rng, out: &mut String) {
    out.push('"');
    for _ in 0..rng.below(4) {
        out.push_str(rng.pick(FRAGMENTS));
    }
    out.push('"');
}

fn number(rng: &mut Rng, out: &mut String) {
    match rng.below(4) {
        0 => out.push_str(rng.pick(NUMBERS)),
        1 => {
            // Any finite double, in Rust's shortest form.
            let x = loop {
                let x = f64::from_bits(rng.next());
                if x.is_finite() {
                    break x;
                }
            };
            let _ = if rng.below(2) == 0 {
                write!(out, "{x:e}")
            } else {
                write!(out, "{x:?}")
            };
        }
        2 => {
            let _ = write!(out, "{}", rng.next() as i64 >> rng.below(64));
        }
        _ => {
            let mantissa = rng.below(1_000_000);
            let exp = rng.below(60) as i64 - 30;
            let _ = write!(out, "{mantissa}e{exp}");
        }
    }
}

fn value(rng: &mut Rng, depth: u32, out: &mut String) {
    let kind = if depth >= 4 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match kind {
        0 => string(rng, out),
        1 => number(rng, out),
        2 => out.push_str(rng.pick(&["true", "false", "null"])),
        3 => number(rng, out),
        4 | 5 => {
            out.push('{');
            let n = rng.below(7);
            members(rng, n, depth + 1, true, out);
            out.push('}');
        }
        _ => {
            out.push('[');
            for i in 0..rng.below(6) {
                if i > 0 {
                    out.push_str(rng.pick(&[",", ", "]));
                }
                value(rng, depth + 1, out);
            }
            out.push(']');
        }
    }
}

/// Up to `n` members whose names differ once decoded: a repeated name is
/// refused (issue 9), so a generated repeat is left out.
fn members(rng: &mut Rng, n: u64, depth: u32, spaced: bool, out: &mut String) {
    let mut names: Vec<Vec<u16>> = Vec::new();
    for _ in 0..n {
        let mut member = String::new();
        if spaced {
            member.push_str(rng.pick(&["", " "]));
        }
        let start = member.len();
        string(rng, &mut member);
        let name = utf16_of(&member[start..]);
        member.push(':');
        value(rng, depth, &mut member);
        if names.contains(&name) {
            continue;
        }
        if !names.is_empty() {
            out.push(',');
        }
        names.push(name);
        out.push_str(&member);
    }
}

/// The UTF-16 code units a quoted JSON string decodes to (lone surrogates
/// included, which a Rust `String` cannot hold).
fn utf16_of(quoted: &str) -> Vec<u16> {
    let mut units = Vec::new();
    let mut chars = quoted[1..quoted.len() - 1].chars();
    while let Some(c) = chars.next() {
        let c = if c != '\\' {
            c
        } else {
            match chars.next().expect("escape") {
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    units.push(u16::from_str_radix(&hex, 16).expect("hex"));
                    continue;
                }
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'b' => '\u{8}',
                'f' => '\u{c}',
                other => other,
            }
        };
        units.extend(c.encode_utf16(&mut [0; 2]).iter());
    }
    units
}

fn payload(rng: &mut Rng) -> String {
    // Audit payloads are objects; top-level objects with nested content.
    let mut out = String::from("{");
    let n = rng.below(8) + 1;
    members(rng, n, 1, false, &mut out);
    out.push('}');
    out
}

#[test]
fn canonical_json_and_stringify_match_node_byte_for_byte() {
    let seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rng = Rng(seed);
    let payloads: Vec<String> = (0..PAYLOADS).map(|_| payload(&mut rng)).collect();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let input = dir.join("canonical-payloads.jsonl");
    std::fs::write(&input, payloads.join("\n") + "\n").expect("write payloads");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/canonical.mjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(&input)
        .output()
        .expect("node is installed (it is on every machine of this project)");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("node writes UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), PAYLOADS);

    let mut checked = 0;
    for (text, node) in payloads.iter().zip(lines) {
        let (node_canonical, node_stringify) = node.split_once('\t').expect("two columns");
        let v = Value::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(v.to_canonical(), node_canonical, "canonical of {text}");
        assert_eq!(v.to_js_string(), node_stringify, "JSON.stringify of {text}");
        checked += 1;
    }
    assert_eq!(checked, PAYLOADS);
    // The generator really produced the hard cases.
    let all = payloads.concat();
    for needle in ["\\ud800", "😀", "1e21", "5e-7", "-0", "\\u0001", "1e400"] {
        assert!(all.contains(needle), "no payload contains {needle}");
    }
}
