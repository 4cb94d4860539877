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
    let parsed = match value.as_bytes().get(10) {
        Some(b' ') => {
            let mut text = value.to_owned();
            text.replace_range(10..11, "T");
            OffsetDateTime::parse(&text, &Rfc3339)
        }
        _ => OffsetDateTime::parse(value, &Rfc3339),
    }
    .ok()?;
    let nanos = u64::try_from(parsed.unix_timestamp_nanos()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
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

    #[test]
    fn reset_accepts_unix_seconds() {
        assert_eq!(parse_reset("1700000000"), Some(at(1_700_000_000)));
        assert_eq!(parse_reset("-5"), None);
        assert_eq!(parse_reset("1970-01-01T00:00:10Z"), Some(at(10)));
    }
}
