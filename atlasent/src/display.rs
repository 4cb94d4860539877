//! Text from a peer or a file, made safe to print.
//!
//! An error message, a denial's reason or a tampered event's id may come
//! from a hostile server or bundle; printed as is to a terminal or a log it
//! could move the cursor and overwrite earlier lines (ESC, CR), add lines
//! of its own (LF, U+2028), hide text (an SGR sequence) or reorder it
//! (bidirectional controls). [`printable`] writes each such character as
//! `\uXXXX`, the way JSON escapes it, and leaves everything else alone.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` can change how the text around it is shown: the C0 and C1
/// controls and DEL, the line and paragraph separators, and the
/// bidirectional formatting characters.
fn unsafe_to_print(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every character that could change how text is shown written
/// as `\uXXXX`; borrowed when there is none.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_to_print) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_to_print(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`printable`], then cut to at most `max` bytes (on a character
/// boundary) with `…` when longer.
pub(crate) fn printable_cut(text: &str, max: usize) -> String {
    let mut out = printable(text).into_owned();
    if out.len() > max {
        let mut end = max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_separators_and_bidi_are_escaped_and_the_rest_kept() {
        assert!(matches!(
            printable("evt_000000000001 é 😀"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("\r\u{1b}[2Kok\n\u{9b}1m\u{7f}\u{2028}\u{202e}x\u{2066}"),
            "\\u000d\\u001b[2Kok\\u000a\\u009b1m\\u007f\\u2028\\u202ex\\u2066"
        );
        assert_eq!(printable_cut("ab\u{1b}cd", 8), "ab\\u001b…");
        assert_eq!(printable_cut("ééé", 3), "é…");
    }
}
