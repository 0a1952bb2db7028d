//! Per-device request counters, by method and path, so tests can assert how
//! many requests (and how many writes) a client made.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::sync::lock;

/// A copy of a device's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterSnapshot {
    /// Every request received under `/api`.
    pub total: u64,
    /// Of those, the PUT, POST and DELETE requests.
    pub writes: u64,
    /// Count per `"METHOD /path"` (path without query string).
    pub requests: BTreeMap<String, u64>,
}

impl CounterSnapshot {
    /// How many requests had this method and path.
    pub fn count(&self, method: &str, path: &str) -> u64 {
        self.requests
            .get(&format!("{} {path}", method.to_ascii_uppercase()))
            .copied()
            .unwrap_or(0)
    }
}

/// The request counters of one device.
#[derive(Debug, Default)]
pub struct Counters {
    counts: Mutex<CounterSnapshot>,
}

/// Whether a method changes something on the device.
pub(crate) fn is_write(method: &axum::http::Method) -> bool {
    matches!(
        *method,
        axum::http::Method::PUT
            | axum::http::Method::POST
            | axum::http::Method::DELETE
            | axum::http::Method::PATCH
    )
}

impl Counters {
    /// Counts one request.
    pub(crate) fn record(&self, method: &axum::http::Method, path: &str) {
        let mut c = lock(&self.counts);
        c.total += 1;
        if is_write(method) {
            c.writes += 1;
        }
        *c.requests.entry(format!("{method} {path}")).or_insert(0) += 1;
    }

    /// The counts so far.
    pub fn snapshot(&self) -> CounterSnapshot {
        lock(&self.counts).clone()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        *lock(&self.counts) = CounterSnapshot::default();
    }
}
