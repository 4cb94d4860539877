//! Rate limits: fixed one-minute windows per key (an API key's id, a client
//! address), and the `X-RateLimit-*` headers of a reply.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderValue};

use crate::clock;

/// Fixed one-minute windows per key (API key id, client address).
pub(crate) struct RateLimiter<K> {
    per_minute: u32,
    windows: Mutex<HashMap<K, (i64, u32)>>,
}

/// Where a key stands in its window.
#[derive(Debug, Clone, Copy)]
pub(super) struct RateState {
    pub(super) limit: u32,
    pub(super) remaining: u32,
    /// Unix seconds when the window resets.
    pub(super) reset: i64,
}

/// Past this many tracked keys, entries of past windows are dropped, so a
/// flood of addresses cannot grow the table without bound.
const MAX_TRACKED: usize = 10_000;

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Requests a key may make in a window.
    pub(super) fn per_minute(&self) -> u32 {
        self.per_minute
    }

    fn window() -> i64 {
        let now = clock::now_ms() / 1000;
        now - now.rem_euclid(60)
    }

    fn state(&self, window: i64, used: u32) -> RateState {
        RateState {
            limit: self.per_minute,
            remaining: self.per_minute.saturating_sub(used),
            reset: window + 60,
        }
    }

    /// Count one request of `key`; `Err` when over the limit.
    pub(super) fn hit(&self, key: &K) -> Result<RateState, RateState> {
        let window = Self::window();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED && !windows.contains_key(key) {
            windows.retain(|_, (w, _)| *w == window);
        }
        let entry = windows.entry(key.clone()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= self.per_minute {
            return Err(self.state(window, entry.1));
        }
        entry.1 += 1;
        Ok(self.state(window, entry.1))
    }

    /// `Err` when `key` has used up this window, without counting.
    pub(super) fn check(&self, key: &K) -> Result<(), RateState> {
        let window = Self::window();
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        match windows.get(key) {
            Some(&(w, used)) if w == window && used >= self.per_minute => {
                Err(self.state(window, used))
            }
            _ => Ok(()),
        }
    }
}

impl RateState {
    /// Set the `X-RateLimit-*` headers.
    pub(super) fn set_headers(self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }

    /// Seconds until the window resets (at least 1): a 429's `Retry-After`.
    pub(super) fn retry_after(self) -> u64 {
        (self.reset - clock::now_ms() / 1000).max(1) as u64
    }
}
