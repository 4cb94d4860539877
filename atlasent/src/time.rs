//! The timestamp formats the wire uses: RFC 3339 (through the `time`
//! crate) and the unix seconds of `X-RateLimit-Reset`.

use std::time::{Duration, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `X-RateLimit-Reset`: unix seconds (what AtlaSent sends) or RFC 3339.
pub(crate) fn parse_reset(value: &str) -> Option<SystemTime> {
    if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        return SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(seconds).ok()?);
    }
    parse_rfc3339(value)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as the `time` crate's
/// RFC 3339 parser reads it (a space is accepted for the `T`, as RFC 3339
/// allows); instants before 1970 are `None`.
pub(crate) fn parse_rfc3339(value: &str) -> Option<SystemTime> {
    let parsed = match parse_utc(value.as_bytes()) {
        Some(at) => at,
        None => match value.as_bytes().get(10) {
            Some(b' ') => {
                let mut text = value.to_owned();
                text.replace_range(10..11, "T");
                OffsetDateTime::parse(&text, &Rfc3339)
            }
            _ => OffsetDateTime::parse(value, &Rfc3339),
        }
        .ok()?,
    };
    system_time(parsed)
}

/// An instant as nanoseconds since 1970 in a u64: `None` before 1970 and
/// after 2554-07-21, whichever way it was read.
fn system_time(at: OffsetDateTime) -> Option<SystemTime> {
    let nanos = u64::try_from(at.unix_timestamp_nanos()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

/// The form servers send, read by hand instead of by the `time` crate's
/// parser: `YYYY-MM-DDTHH:MM:SS[.f…]Z`, at most 9 fraction digits, the date
/// and time checked by the crate's own constructors. `None` for anything
/// else (a leap second, an offset, a lowercase `t` or `z`, …), which
/// [`parse_rfc3339`] hands on to the crate's parser.
fn parse_utc(b: &[u8]) -> Option<OffsetDateTime> {
    let (head, rest) = b.split_at_checked(19)?;
    let num = |range: std::ops::Range<usize>| -> Option<u16> {
        head[range].iter().try_fold(0u16, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
        })
    };
    let shape = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !shape.iter().all(|&(i, c)| head[i] == c) {
        return None;
    }
    let fraction = match rest {
        [b'.', digits @ .., b'Z'] if (1..=9).contains(&digits.len()) => digits,
        [b'Z'] => &[][..],
        _ => return None,
    };
    let mut nanos = 0u32;
    for (i, &d) in fraction.iter().enumerate() {
        if !d.is_ascii_digit() {
            return None;
        }
        nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    let byte = |n: u16| u8::try_from(n).ok();
    let date = time::Date::from_calendar_date(
        i32::from(num(0..4)?),
        time::Month::try_from(byte(num(5..7)?)?).ok()?,
        byte(num(8..10)?)?,
    )
    .ok()?;
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let time = time::Time::from_hms_nano(byte(hour)?, byte(minute)?, byte(second)?, nanos).ok()?;
    Some(date.with_time(time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn parses_utc_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(at(0)));
        assert_eq!(
            parse_rfc3339("2026-04-17T10:00:00Z"),
            Some(at(1_776_420_000))
        );
        assert_eq!(
            parse_rfc3339("2026-04-17T12:00:00+02:00"),
            Some(at(1_776_420_000))
        );
        assert_eq!(
            parse_rfc3339("2026-04-17T10:00:00.5Z"),
            Some(at(1_776_420_000) + Duration::from_millis(500))
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(at(1_709_164_800))
        );
        assert_eq!(
            parse_rfc3339("2026-04-17 10:00:00z"),
            Some(at(1_776_420_000))
        );
        assert_eq!(
            parse_rfc3339("2026-04-17t10:00:00.123456789123Z"),
            Some(at(1_776_420_000) + Duration::from_nanos(123_456_789))
        );
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2026-04-17",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-04-17T10:00:00",
            "2026-04-17T10:00:00.Z",
            "2026-04-17T25:00:00Z",
            "+026-04-17T10:00:00Z",
            "2026-02-31T10:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]

        /// The hand-read form agrees with the `time` crate wherever it reads
        /// a date at all (days past the month's end, hour 24, second 60 and
        /// year 0 included in what is generated).
        #[test]
        fn the_hand_reader_agrees_with_the_time_crate(
            y in proptest::prop_oneof![1960u32..2600, 2600u32..=9999], mo in 0u32..14, d in 0u32..33, h in 0u32..26,
            mi in 0u32..61, s in 0u32..62, frac in proptest::option::of("[0-9]{1,10}"),
            tail in proptest::sample::select(vec!["Z", "z", "+00:00", ""]),
        ) {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{tail}");
            let by_crate = OffsetDateTime::parse(&text, &Rfc3339).ok().and_then(|t| {
                let nanos = u64::try_from(t.unix_timestamp_nanos()).ok()?;
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
            });
            if let Some(by_hand) = parse_utc(text.as_bytes()) {
                proptest::prop_assert_eq!(system_time(by_hand), by_crate, "{}", text);
            }
            proptest::prop_assert_eq!(parse_rfc3339(&text), by_crate, "{}", text);
        }
    }

    #[test]
    fn the_hand_reader_reads_what_servers_send() {
        let hand = |text: &[u8]| parse_utc(text).and_then(system_time);
        assert_eq!(hand(b"2026-04-17T10:00:00Z"), Some(at(1_776_420_000)));
        assert_eq!(
            hand(b"2026-11-28T05:59:15.452Z"),
            parse_rfc3339("2026-11-28T05:59:15.452+00:00")
        );
        assert!(hand(b"2026-11-28T05:59:15.452Z").is_some());
        assert_eq!(hand(b"2026-04-17T10:00:60Z"), None);
        // The crate path's ceiling (u64 nanoseconds), whatever the spelling.
        assert!(hand(b"2554-07-21T23:34:33.709551615Z").is_some());
        for late in [
            "2554-07-21T23:34:33.709551616Z",
            "2554-07-21T23:34:34Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(hand(late.as_bytes()), None, "{late}");
            assert_eq!(parse_rfc3339(late), None, "{late}");
        }
        assert_eq!(hand(b"2026-04-17T10:00:00.1234567890Z"), None);
        assert_eq!(hand(b"2026-04-17T10:00:00+00:00"), None);
    }

    #[test]
    fn reset_accepts_unix_seconds() {
        assert_eq!(parse_reset("1700000000"), Some(at(1_700_000_000)));
        assert_eq!(parse_reset("-5"), None);
        assert_eq!(parse_reset("1970-01-01T00:00:10Z"), Some(at(10)));
    }
}
