//! Properties of canonical JSON and of the refusal of repeated member names,
//! on random JSON texts (nested objects and arrays, names and strings spelled
//! with and without escapes, control characters, non-BMP characters, numbers
//! of every magnitude):
//!
//! - canonical JSON is a fixed point: `canonical(canonical(x)) == canonical(x)`;
//! - a text without repeated names is never refused as repeating one;
//! - a copy of a member inserted into any object, spelled as written or with
//!   escapes, is refused by the audit reader (`Value::parse`, and the
//!   streaming bundle reader for an event's payload) and by
//!   `wire::from_slice_strict`, each naming the member and the object's path.

use atlasent::audit::json::Value;
use atlasent::audit::{canonical_json, verify_audit_bundle, BundleError};
use atlasent::wire::{check_unique_members, from_slice_strict};
use proptest::prelude::*;
use proptest::sample::Index;

/// A generated JSON value. Strings are kept as characters with how each is
/// spelled (0: as itself where JSON allows, 1: `\uxxxx`, 2: `\uXXXX`).
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(Vec<(char, u8)>),
    Arr(Vec<J>),
    /// Names unique once decoded.
    Obj(Vec<(Vec<(char, u8)>, J)>),
}

fn chars() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => prop::char::range('a', 'd'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('/'),
        1 => Just(' '),
        1 => prop::char::range('\0', '\x1f'),
        1 => Just('\x7f'),
        1 => Just('é'),
        1 => Just('\u{2028}'),
        1 => Just('\u{ffff}'),
        1 => Just('😀'),
        1 => any::<char>(),
    ]
}

fn spelled() -> impl Strategy<Value = Vec<(char, u8)>> {
    prop::collection::vec((chars(), 0u8..3), 0..4)
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| format!("{x:e}")),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| format!("{x:?}")),
        (0u32..1_000_000, -30i32..30).prop_map(|(m, e)| format!("{m}E{e}")),
        prop::sample::select(vec!["-0", "0.0", "1e21", "1e400", "5e-324", "1.50"])
            .prop_map(str::to_owned),
    ]
}

fn decoded(name: &[(char, u8)]) -> String {
    name.iter().map(|&(c, _)| c).collect()
}

/// Keep the first member of each decoded name.
fn unique(members: Vec<(Vec<(char, u8)>, J)>) -> Vec<(Vec<(char, u8)>, J)> {
    let mut seen = Vec::new();
    members
        .into_iter()
        .filter(|(name, _)| {
            let name = decoded(name);
            let new = !seen.contains(&name);
            seen.push(name);
            new
        })
        .collect()
}

fn json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number().prop_map(J::Num),
        spelled().prop_map(J::Str),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
            prop::collection::vec((spelled(), inner), 0..5)
                .prop_map(|members| J::Obj(unique(members))),
        ]
    })
}

/// An object with at least one member: somewhere to insert a copy.
fn object() -> impl Strategy<Value = J> {
    prop::collection::vec((spelled(), json()), 1..5).prop_map(|members| J::Obj(unique(members)))
}

/// A string as a JSON text, each character spelled as generated.
fn string_text(s: &[(char, u8)]) -> String {
    let body: String = s
        .iter()
        .map(|&(c, spelling)| match (c, spelling) {
            ('"', 0) => "\\\"".to_owned(),
            ('\\', 0) => "\\\\".to_owned(),
            ('\n', 0) => "\\n".to_owned(),
            (c, 0) if c >= ' ' => c.to_string(),
            (c, _) => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .map(|unit| match spelling {
                    2 => format!("\\u{unit:04X}"),
                    _ => format!("\\u{unit:04x}"),
                })
                .collect(),
        })
        .collect();
    format!("\"{body}\"")
}

/// The value as a JSON text: arrays spaced, objects not, so both spellings
/// of separators are read.
fn text(j: &J) -> String {
    match j {
        J::Null => "null".to_owned(),
        J::Bool(b) => b.to_string(),
        J::Num(n) => n.clone(),
        J::Str(s) => string_text(s),
        J::Arr(items) => {
            let items: Vec<String> = items.iter().map(text).collect();
            format!("[{}]", items.join(", "))
        }
        J::Obj(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(name, value)| format!("{}:{}", string_text(name), text(value)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
    }
}

/// A name quoted as a JSON string.
fn quote(name: &str) -> String {
    // JSON's quoting, and the characters that could change what a terminal
    // shows (DEL, C1 controls, U+2028/9, bidirectional controls) escaped
    // too, as messages print names.
    let mut out = String::new();
    for c in serde_json::to_string(name).expect("a string").chars() {
        let shown = matches!(c, '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{61c}'
            | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if shown {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The path segment of a member, as both readers write it: `.name` for an
/// ASCII identifier (a letter or `_`, then letters, digits or `_`), else
/// `["name"]`.
fn segment(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first)
            if (first == '_' || first.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric()) =>
        {
            format!(".{name}")
        }
        _ => format!("[{}]", quote(name)),
    }
}

/// The copy to insert: which member of the object, where, and how spelled.
#[derive(Debug, Clone)]
struct Copy {
    object: Index,
    member: Index,
    at: Index,
    /// Spelling of each character of the copy's name: `None` copies it as
    /// written.
    spelling: Option<Vec<u8>>,
}

fn copy() -> impl Strategy<Value = Copy> {
    (
        any::<Index>(),
        any::<Index>(),
        any::<Index>(),
        prop::option::of(prop::collection::vec(0u8..3, 4)),
    )
        .prop_map(|(object, member, at, spelling)| Copy {
            object,
            member,
            at,
            spelling,
        })
}

/// Insert the copy into the `target`-th non-empty object (pre-order);
/// return its decoded name and the path of the object.
fn insert(j: &mut J, target: &mut usize, path: &str, copy: &Copy) -> Option<(String, String)> {
    match j {
        J::Arr(items) => items
            .iter_mut()
            .enumerate()
            .find_map(|(i, item)| insert(item, target, &format!("{path}[{i}]"), copy)),
        J::Obj(members) => {
            if !members.is_empty() {
                if *target == 0 {
                    let (name, value) = members[copy.member.index(members.len())].clone();
                    let name_text = decoded(&name);
                    let respelled = match &copy.spelling {
                        None => name,
                        Some(spelling) => name
                            .iter()
                            .enumerate()
                            .map(|(i, &(c, _))| (c, spelling[i % spelling.len()]))
                            .collect(),
                    };
                    let at = copy.at.index(members.len() + 1);
                    members.insert(at, (respelled, value));
                    return Some((name_text, path.to_owned()));
                }
                *target -= 1;
            }
            members.iter_mut().find_map(|(name, value)| {
                let inner = format!("{path}{}", segment(&decoded(name)));
                insert(value, target, &inner, copy)
            })
        }
        _ => None,
    }
}

fn non_empty_objects(j: &J) -> usize {
    match j {
        J::Arr(items) => items.iter().map(non_empty_objects).sum(),
        J::Obj(members) => {
            usize::from(!members.is_empty())
                + members
                    .iter()
                    .map(|(_, v)| non_empty_objects(v))
                    .sum::<usize>()
        }
        _ => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn canonical_json_is_a_fixed_point(j in json()) {
        let text = text(&j);
        let once = canonical_json(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let twice = canonical_json(&once).map_err(|e| TestCaseError::fail(format!("{once}: {e}")))?;
        prop_assert_eq!(&twice, &once, "text: {}", text);
        // And the canonical text parses to a value serializing the same way.
        let reparsed = Value::parse(&once).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reparsed.to_canonical(), once);
    }

    #[test]
    fn unique_names_are_never_refused_as_repeated(j in json()) {
        let text = text(&j);
        prop_assert!(Value::parse(&text).is_ok(), "{}", text);
        // serde_json refuses `1e400`; it must not be for a repeated name.
        if let Err(e) = check_unique_members(text.as_bytes()) {
            prop_assert!(!e.is_duplicate(), "{}: {}", text, e);
        }
    }

    #[test]
    fn an_inserted_copy_of_a_member_is_always_refused(j in object(), copy in copy()) {
        let mut forged = j;
        let objects = non_empty_objects(&forged);
        prop_assert!(objects >= 1);
        let mut target = copy.object.index(objects);
        let (name, path) = insert(&mut forged, &mut target, "$", &copy)
            .ok_or_else(|| TestCaseError::fail("no object to insert into"))?;
        let text = text(&forged);
        let want = format!("duplicate member {} at {path}", quote(&name));

        let err = Value::parse(&text).expect_err("the audit reader refuses");
        prop_assert!(err.is_duplicate(), "{}: {}", text, err);
        prop_assert_eq!(err.path(), Some(path.as_str()), "{}", text);
        prop_assert!(err.to_string().starts_with(&want), "{}: {} (wanted {})", text, err, want);

        // As an event's payload in a bundle (the streaming reader).
        let bundle = format!(r#"{{"export_id":"x","events":[{{"id":"e","payload":{text}}}]}}"#);
        let bundle_path = format!("$.events[0].payload{}", &path[1..]);
        match verify_audit_bundle(&bundle, &[]) {
            Err(BundleError::DuplicateMember(e)) => {
                prop_assert_eq!(e.path(), Some(bundle_path.as_str()), "{}", bundle);
            }
            other => prop_assert!(false, "{}: {:?}", bundle, other),
        }

        // serde_json reads `1e400` as an error of its own; otherwise the
        // strict reader refuses the same member at the same path.
        let strict = from_slice_strict::<serde_json::Value>(text.as_bytes());
        let err = match strict {
            Ok(v) => return Err(TestCaseError::fail(format!("{text} was read as {v}"))),
            Err(e) => e,
        };
        if !text.contains("1e400") {
            prop_assert!(err.is_duplicate(), "{}: {}", text, err);
            prop_assert_eq!(err.path(), Some(path.as_str()), "{}", text);
            prop_assert!(err.to_string().starts_with(&want), "{}: {} (wanted {})", text, err, want);
        }
    }
}
