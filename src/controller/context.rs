//! What every reconciliation shares: the Kubernetes client, settings,
//! metrics, the device locks, the failure backoff and the event recorder.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use super::backoff::FailureBackoff;
use super::clients::DeviceClients;
use super::config::ControllerConfig;
use super::locks::DeviceLocks;
use super::metrics::Metrics;
use crate::api::Drift;

/// The kind label of this controller's metrics.
pub const KIND: &str = "MediantDevice";

/// Events' notes are limited to 1 kB by the API.
const MAX_NOTE: usize = 1024;

/// Shared state of the MediantDevice controller.
pub struct Context {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// Settings.
    pub config: ControllerConfig,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// One writer per device (shared with the other kinds' controllers).
    pub locks: Arc<DeviceLocks>,
    /// Consecutive failures per object.
    pub backoff: FailureBackoff,
    /// Publishes events (events.k8s.io/v1).
    pub recorder: Recorder,
    /// Device clients kept between reconciliations (connections, dialect).
    pub clients: DeviceClients,
    /// When each device's alarms were last counted.
    alarm_checks: Mutex<HashMap<String, Instant>>,
    /// Per object: the resourceVersion our last status write produced, and
    /// when the object is next due.
    own_writes: Mutex<HashMap<String, OwnWrite>>,
    /// Objects a watched Secret or ConfigMap changed for since their last
    /// reconciliation.
    triggered: Mutex<HashSet<String>>,
    /// Per object: the desired revision and the drift left after an apply
    /// the device accepted but did not take, so the same attempt is not
    /// repeated (with its writes and event) on every drift check.
    not_taken: Mutex<HashMap<String, (String, Drift)>>,
}

/// Our last status write of one object.
#[derive(Debug)]
struct OwnWrite {
    resource_version: String,
    due: Instant,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is a single insert, remove or lookup, so a
    // poisoned map is still whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Context {
    /// A context for `config`, sharing `locks` with other controllers.
    pub fn new(
        client: kube::Client,
        config: ControllerConfig,
        metrics: Arc<Metrics>,
        locks: Arc<DeviceLocks>,
    ) -> Self {
        let reporter = Reporter {
            controller: config.field_manager.clone(),
            instance: config.instance.clone(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            backoff: FailureBackoff::new(config.backoff_base, config.backoff_max),
            client,
            config,
            metrics,
            locks,
            clients: DeviceClients::new(),
            alarm_checks: Mutex::new(HashMap::new()),
            own_writes: Mutex::new(HashMap::new()),
            triggered: Mutex::new(HashSet::new()),
            not_taken: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key`'s alarms are due to be counted (once per `interval`:
    /// counting pages through `/alarms/active`, so not on every trigger),
    /// and if so records that they are being counted now.
    pub fn alarms_due(&self, key: &str, interval: Duration) -> bool {
        let mut checks = lock(&self.alarm_checks);
        let now = Instant::now();
        // Slightly less than the interval, so the jittered resync finds them due.
        let due = checks
            .get(key)
            .is_none_or(|last| now.duration_since(*last) >= interval.mul_f64(0.8));
        if due {
            checks.insert(key.to_owned(), now);
        }
        due
    }

    /// Forgets everything kept about a deleted object.
    pub fn forget(&self, key: &str) {
        self.backoff.reset(key);
        self.clients.forget(key);
        lock(&self.alarm_checks).remove(key);
        lock(&self.own_writes).remove(key);
        lock(&self.triggered).remove(key);
        lock(&self.not_taken).remove(key);
    }

    /// Records that applying `revision` left `drift` the device did not
    /// take (`None`: the last apply was taken, forget any record).
    pub fn note_not_taken(&self, key: &str, left: Option<(String, Drift)>) {
        let mut map = lock(&self.not_taken);
        match left {
            Some(record) => map.insert(key.to_owned(), record),
            None => map.remove(key),
        };
    }

    /// Whether applying `revision` already left exactly `drift` untaken:
    /// trying again would only repeat the same writes with the same result.
    pub fn already_not_taken(&self, key: &str, revision: &str, drift: &Drift) -> bool {
        lock(&self.not_taken)
            .get(key)
            .is_some_and(|(r, d)| r == revision && d == drift)
    }

    /// Records that our status write of `key` produced `resource_version`.
    pub fn note_own_write(&self, key: &str, resource_version: String) {
        lock(&self.own_writes).insert(
            key.to_owned(),
            OwnWrite {
                resource_version,
                due: Instant::now(),
            },
        );
    }

    /// Records when `key` is next due (after a success or a failure).
    pub fn note_next(&self, key: &str, after: Duration) {
        if let Some(w) = lock(&self.own_writes).get_mut(key) {
            w.due = Instant::now() + after;
        }
    }

    /// Records that a Secret or ConfigMap `key` names has changed.
    pub fn mark_triggered(&self, key: &str) {
        lock(&self.triggered).insert(key.to_owned());
    }

    /// When the only change to `key` since its last reconciliation is our
    /// own status write (its `resource_version` is the one the write
    /// produced, and no watched Secret or ConfigMap changed), the time left
    /// until it is due; the reconciliation is then skipped. Without this a
    /// status write would trigger an immediate second look at the device,
    /// and a failure's status write would cut its backoff short.
    pub fn own_write_only(&self, key: &str, resource_version: Option<&str>) -> Option<Duration> {
        if lock(&self.triggered).remove(key) {
            return None;
        }
        let writes = lock(&self.own_writes);
        let w = writes.get(key)?;
        if resource_version != Some(w.resource_version.as_str()) {
            return None;
        }
        let left = w.due.checked_duration_since(Instant::now())?;
        (!left.is_zero()).then_some(left)
    }

    /// Publishes an event about `reference`. A failure is logged, never
    /// fatal: events are informational.
    pub async fn publish(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let mut note = note;
        if note.len() > MAX_NOTE {
            let mut end = MAX_NOTE;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note.truncate(end);
        }
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, reference).await {
            tracing::warn!(reason, error = %e, "publishing an event failed");
        }
    }
}
