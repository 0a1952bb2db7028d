//! What every reconciliation of one kind shares: the Kubernetes client,
//! settings, metrics, the device locks (shared by all kinds), the event
//! recorder, kept device clients, and one [`Record`] per object.

use std::collections::HashMap;
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
use crate::sync::lock;

/// The kind label of the MediantDevice controller's metrics.
pub const KIND: &str = "MediantDevice";

/// Events' notes are limited to 1 kB by the API.
const MAX_NOTE: usize = 1024;

/// What the controller remembers of one object between reconciliations.
#[derive(Debug, Default)]
pub struct Record {
    /// When the slower, informational reads (alarms) were last made.
    thorough_at: Option<Instant>,
    /// The resourceVersion our last status write produced.
    own_write: Option<String>,
    /// When the object is next due (after a success or a failure).
    due: Option<Instant>,
    /// A watched Secret or ConfigMap changed since the last reconciliation.
    triggered: bool,
    /// The desired revision and the drift left after an apply the device
    /// accepted but did not take, so the same attempt is not repeated (with
    /// its writes and event) on every drift check.
    not_taken: Option<(String, Drift)>,
}

/// Shared state of one kind's controller.
pub struct Context {
    /// The kind reconciled (metric label, logs).
    pub kind: &'static str,
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
    /// Per object (`namespace/name`): what is remembered of it.
    records: Mutex<HashMap<String, Record>>,
}

impl Context {
    /// A context for `config`, sharing `locks` with other controllers.
    pub fn new(
        client: kube::Client,
        config: ControllerConfig,
        metrics: Arc<Metrics>,
        locks: Arc<DeviceLocks>,
    ) -> Self {
        Self::for_kind(KIND, client, config, metrics, locks)
    }

    /// A context for the controller of `kind`.
    pub fn for_kind(
        kind: &'static str,
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
            kind,
            recorder: Recorder::new(client.clone(), reporter),
            backoff: FailureBackoff::new(config.backoff_base, config.backoff_max),
            client,
            config,
            metrics,
            locks,
            clients: DeviceClients::new(),
            records: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the record of `key` (created empty when absent).
    fn with_record<T>(&self, key: &str, f: impl FnOnce(&mut Record) -> T) -> T {
        let mut records = lock(&self.records);
        f(records.entry(key.to_owned()).or_default())
    }

    /// Whether `key`'s informational reads (alarms) are due (once per
    /// `interval`: counting pages through `/alarms/active`, so not on every
    /// trigger), and if so records that they are made now.
    pub fn alarms_due(&self, key: &str, interval: Duration) -> bool {
        let now = Instant::now();
        self.with_record(key, |r| {
            // Slightly less than the interval, so the jittered resync finds them due.
            let due = r
                .thorough_at
                .is_none_or(|last| now.duration_since(last) >= interval.mul_f64(0.8));
            if due {
                r.thorough_at = Some(now);
            }
            due
        })
    }

    /// Forgets everything kept about a deleted object.
    pub fn forget(&self, key: &str) {
        self.backoff.reset(key);
        self.clients.forget(key);
        lock(&self.records).remove(key);
    }

    /// Records that applying `revision` left `drift` the device did not
    /// take (`None`: the last apply was taken, forget any record).
    pub fn note_not_taken(&self, key: &str, left: Option<(String, Drift)>) {
        self.with_record(key, |r| r.not_taken = left);
    }

    /// Whether applying `revision` already left exactly `drift` untaken:
    /// trying again would only repeat the same writes with the same result.
    pub fn already_not_taken(&self, key: &str, revision: &str, drift: &Drift) -> bool {
        self.with_record(key, |r| {
            r.not_taken
                .as_ref()
                .is_some_and(|(rev, d)| rev == revision && d == drift)
        })
    }

    /// Records that our status write of `key` produced `resource_version`.
    pub fn note_own_write(&self, key: &str, resource_version: String) {
        self.with_record(key, |r| {
            r.own_write = Some(resource_version);
            r.due = Some(Instant::now());
        });
    }

    /// Records when `key` is next due (after a success or a failure).
    pub fn note_next(&self, key: &str, after: Duration) {
        self.with_record(key, |r| {
            if r.own_write.is_some() {
                r.due = Some(Instant::now() + after);
            }
        });
    }

    /// Records that a Secret or ConfigMap `key` names has changed.
    pub fn mark_triggered(&self, key: &str) {
        self.with_record(key, |r| r.triggered = true);
    }

    /// When the only change to `key` since its last reconciliation is our
    /// own status write (its `resource_version` is the one the write
    /// produced, and no watched Secret or ConfigMap changed), the time left
    /// until it is due; the reconciliation is then skipped. Without this a
    /// status write would trigger an immediate second look at the device,
    /// and a failure's status write would cut its backoff short.
    pub fn own_write_only(&self, key: &str, resource_version: Option<&str>) -> Option<Duration> {
        self.with_record(key, |r| {
            if std::mem::take(&mut r.triggered) {
                return None;
            }
            let written = r.own_write.as_deref()?;
            if resource_version != Some(written) {
                return None;
            }
            let left = r.due?.checked_duration_since(Instant::now())?;
            (!left.is_zero()).then_some(left)
        })
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
