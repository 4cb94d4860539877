//! Wall-clock helpers: milliseconds since the epoch and RFC 3339 text.

use std::num::NonZeroU8;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::iso8601::{self, Iso8601};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// The clock the engine reads: the system's, or a manual one that tests move
/// by hand (so that expiry is tested without sleeping).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that reads `start_ms` until [`advance`](Clock::advance)d;
    /// clones share the reading.
    pub fn manual(start_ms: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start_ms))),
        }
    }

    /// Move a manual clock forward by `ms` (no effect on the system clock).
    pub fn advance(&self, ms: i64) {
        if let Some(now) = &self.manual {
            now.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(now) => now.load(Ordering::SeqCst),
            None => now_ms(),
        }
    }

    /// The time a write that arrived at `arrived_ms` runs at: now, or its
    /// arrival if the clock stepped back. A verify judges expiry then, not
    /// when it arrived: a write may wait (its queue, another node's lock),
    /// and a permit that expired meanwhile must not be answered valid.
    pub fn job_ms(&self, arrived_ms: i64) -> i64 {
        self.now_ms().max(arrived_ms)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 with exactly three fraction digits and `Z`: the server's one
/// timestamp format.
const RFC3339_MS: Iso8601<
    {
        iso8601::Config::DEFAULT
            .set_time_precision(iso8601::TimePrecision::Second {
                decimal_digits: NonZeroU8::new(3),
            })
            .encode()
    },
> = Iso8601;

/// The earliest and latest instants [`rfc3339_ms`] writes (years 0000 to
/// 9999, as four digits); a timestamp outside is clamped to them.
const MIN_MS: i64 = -62_167_219_200_000;
const MAX_MS: i64 = 253_402_300_799_999;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a millisecond timestamp (clamped to years
/// 0000 to 9999).
pub fn rfc3339_ms(ms: i64) -> String {
    let nanos = i128::from(ms.clamp(MIN_MS, MAX_MS)) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&RFC3339_MS).ok())
        .unwrap_or_default()
}

/// Parse RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`), or a bare date
/// `YYYY-MM-DD` (its midnight, UTC), to milliseconds since the epoch
/// (digits past the millisecond are cut). A date that does not exist
/// (February 31) is `None`.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let at = match Date::parse(s, &Iso8601::DATE)
        .ok()
        .filter(|_| s.len() == 10)
    {
        Some(date) => date.midnight().assume_utc(),
        None => OffsetDateTime::parse(s, &Rfc3339).ok()?,
    };
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_776_420_000_123), "2026-04-17T10:00:00.123Z");
        for ms in [0, 951_782_400_000, 1_776_420_000_123, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(
            parse_rfc3339_ms("2026-04-17T12:00:00+02:00"),
            Some(1_776_420_000_000)
        );
        assert_eq!(parse_rfc3339_ms("2026-04-17"), Some(1_776_384_000_000));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        assert_eq!(
            parse_rfc3339_ms("2026-04-17T10:00:00.123456Z"),
            Some(1_776_420_000_123)
        );
        assert_eq!(
            parse_rfc3339_ms("1969-12-31T23:59:59.999Z"),
            Some(-1),
            "before the epoch, milliseconds count down"
        );
    }

    #[test]
    fn dates_that_do_not_exist_are_refused() {
        for text in [
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31",
            "2026-13-01T00:00:00Z",
            "2026-04-17T24:00:00Z",
            "2026-04-17T10:00:00",
        ] {
            assert_eq!(parse_rfc3339_ms(text), None, "{text}");
        }
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000),
            "a leap day exists"
        );
    }

    #[test]
    fn formatting_clamps_to_four_digit_years() {
        assert_eq!(rfc3339_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(i64::MIN), "0000-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        let shared = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        shared.advance(500);
        assert_eq!(clock.now_ms(), 1_500);
    }
}
