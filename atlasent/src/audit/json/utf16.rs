//! Raw JSON strings (escapes undecoded) read as JavaScript reads them: as
//! UTF-16 code units, lone surrogates included.

use std::cmp::Ordering;

/// One UTF-16-level unit of a decoded JSON string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Unit {
    Char(char),
    /// A surrogate code unit without its partner.
    Lone(u16),
}

/// Decode the raw text of a JSON string (already validated by the parser).
pub(super) struct Decode<'a> {
    rest: &'a str,
}

pub(super) fn decode(raw: &str) -> Decode<'_> {
    Decode { rest: raw }
}

fn hex4(s: &str) -> Option<u16> {
    u16::from_str_radix(s.get(..4)?, 16).ok()
}

impl Iterator for Decode<'_> {
    type Item = Unit;
    fn next(&mut self) -> Option<Unit> {
        let mut chars = self.rest.chars();
        let c = chars.next()?;
        if c != '\\' {
            self.rest = chars.as_str();
            return Some(Unit::Char(c));
        }
        let esc = chars.next()?;
        let after = chars.as_str();
        let (unit, rest) = match esc {
            '"' => (Unit::Char('"'), after),
            '\\' => (Unit::Char('\\'), after),
            '/' => (Unit::Char('/'), after),
            'b' => (Unit::Char('\u{8}'), after),
            'f' => (Unit::Char('\u{c}'), after),
            'n' => (Unit::Char('\n'), after),
            'r' => (Unit::Char('\r'), after),
            't' => (Unit::Char('\t'), after),
            _ => {
                let u = hex4(after)?;
                let after = &after[4..];
                if (0xD800..0xDC00).contains(&u) {
                    if let Some(low) = after.strip_prefix("\\u").and_then(hex4) {
                        if (0xDC00..0xE000).contains(&low) {
                            let cp = 0x10000
                                + ((u32::from(u) - 0xD800) << 10)
                                + (u32::from(low) - 0xDC00);
                            self.rest = &after[6..];
                            return char::from_u32(cp).map(Unit::Char);
                        }
                    }
                    (Unit::Lone(u), after)
                } else if (0xDC00..0xE000).contains(&u) {
                    (Unit::Lone(u), after)
                } else {
                    (Unit::Char(char::from_u32(u32::from(u))?), after)
                }
            }
        };
        self.rest = rest;
        Some(unit)
    }
}

/// The UTF-16 code units of a raw JSON string.
fn units(raw: &str) -> impl Iterator<Item = u16> + '_ {
    decode(raw).flat_map(|unit| {
        let (first, second) = match unit {
            Unit::Char(c) => {
                let mut buf = [0u16; 2];
                let encoded = c.encode_utf16(&mut buf);
                (encoded[0], encoded.get(1).copied())
            }
            Unit::Lone(u) => (u, None),
        };
        std::iter::once(first).chain(second)
    })
}

/// Whether the raw JSON string `raw` decodes to `name`.
pub(crate) fn key_is(raw: &str, name: &str) -> bool {
    // An escape is always longer than the character it stands for: a raw
    // name no longer than `name` matches only byte for byte, and only when
    // it holds no escape (raw `a\b` is a, backspace: not the name `a\b`).
    (raw == name && !raw.contains('\\'))
        || (raw.len() > name.len()
            && raw.as_bytes().contains(&b'\\')
            && units(raw).eq(name.encode_utf16()))
}

/// The index of the first member (in source order) whose name, decoded,
/// repeats an earlier member's; `name(i)` is the raw name of member `i`.
pub(super) fn repeated<'k>(len: usize, name: impl Fn(usize) -> &'k str) -> Option<usize> {
    if len <= 16 {
        // Small objects (nearly all): compare pairwise, without allocating;
        // raw bytes suffice unless a name holds an escape.
        let escaped = (0..len).any(|i| name(i).contains('\\'));
        let same = |a: &str, b: &str| a == b || (escaped && cmp_utf16(a, b) == Ordering::Equal);
        return (1..len).find(|&j| (0..j).any(|i| same(name(i), name(j))));
    }
    if (0..len).all(|i| !name(i).contains('\\')) {
        // Without escapes, names are equal exactly when their bytes are.
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_unstable_by(|&a, &b| name(a).cmp(name(b)).then(a.cmp(&b)));
        return order
            .windows(2)
            .filter(|pair| name(pair[0]) == name(pair[1]))
            .map(|pair| pair[1])
            .min();
    }
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp_utf16(name(a), name(b)).then(a.cmp(&b)));
    order
        .windows(2)
        .filter(|pair| cmp_utf16(name(pair[0]), name(pair[1])) == Ordering::Equal)
        .map(|pair| pair[1])
        .min()
}

/// Order two raw JSON strings by their UTF-16 code units, as JavaScript's
/// default sort does.
pub(super) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    // Fastest path: up to the first differing byte the texts are equal; if
    // that byte is ASCII in both (or one text ends there), it starts a
    // character in both, and byte order is UTF-16 order for plain text.
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let same = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    let plain = |t: &[u8]| !t[..same].contains(&b'\\');
    let ascii_here = |t: &[u8]| t.get(same).is_none_or(|&c| c < 0x80 && c != b'\\');
    if ascii_here(x) && ascii_here(y) && plain(x) {
        return match (x.get(same), y.get(same)) {
            (Some(p), Some(q)) => p.cmp(q),
            _ => x.len().cmp(&y.len()),
        };
    }
    if !a.contains('\\') && !b.contains('\\') {
        // Fast path: for plain text, UTF-16 order differs from byte order only
        // when a character above U+FFFF meets one in U+E000..=U+FFFF.
        let mut ai = a.chars();
        let mut bi = b.chars();
        loop {
            match (ai.next(), bi.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) if x == y => continue,
                (Some(x), Some(y)) => {
                    // Both units: two characters above U+FFFF may share
                    // their high surrogate and differ in the low one.
                    let mut bx = [0u16; 2];
                    let mut by = [0u16; 2];
                    return (*x.encode_utf16(&mut bx)).cmp(y.encode_utf16(&mut by));
                }
            }
        }
    }
    units(a).cmp(units(b))
}

/// The decoded string, or `None` if it holds a lone surrogate.
pub(super) fn decode_string(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    decode(raw)
        .map(|u| match u {
            Unit::Char(c) => Some(c),
            Unit::Lone(_) => None,
        })
        .collect::<Option<String>>()
        .map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw JSON strings whose UTF-16 order the fast paths could get wrong:
    /// characters above U+FFFF sharing a high surrogate, the same spelled
    /// with escapes, U+E000..=U+FFFF against astral characters, prefixes.
    const TRICKY: &[&str] = &[
        "",
        "a",
        "ab",
        "b",
        "\\u0061",
        "\\u0062",
        "é",
        "\\u00e9",
        "\u{ffff}",
        "\u{e000}",
        "😀",
        "🐀",
        "😀a",
        "🐀a",
        "😀b",
        "a😀",
        "a🐀",
        "\\ud83d\\ude00",
        "\\ud83d\\udc00",
        "\\ud83d",
        "\\ud83d\\udc00a",
        "\u{10000}",
        "\u{10ffff}",
        "\u{fffd}",
    ];

    #[test]
    fn the_fast_paths_order_as_utf16_code_units_do() {
        for a in TRICKY {
            for b in TRICKY {
                assert_eq!(cmp_utf16(a, b), units(a).cmp(units(b)), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn a_raw_name_matches_the_name_it_decodes_to() {
        assert!(key_is("events", "events"));
        assert!(key_is("\\u0065vents", "events"));
        assert!(key_is("a\\\\b", "a\\b"), "raw a\\\\b is a, backslash, b");
        assert!(!key_is("a\\b", "a\\b"), "raw a\\b is a, backspace");
        assert!(key_is("a\\b", "a\u{8}"), "raw a\\b decodes to a, backspace");
    }

    #[test]
    fn astral_names_sharing_a_high_surrogate_are_not_repeats() {
        let names = ["😀", "🐀", "\\u0061"];
        assert_eq!(repeated(names.len(), |i| names[i]), None);
        let names = ["😀", "🐀", "\\ud83d\\udc00"];
        assert_eq!(repeated(names.len(), |i| names[i]), Some(2));
        let names = ["😀", "🐀"];
        assert_eq!(repeated(names.len(), |i| names[i]), None);
    }
}
