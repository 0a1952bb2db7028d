//! What every reconciliation of one kind shares: the Kubernetes client,
//! settings, metrics, the device locks (shared by all kinds), the event
//! recorder, and one [`Record`] per object holding everything remembered
//! of it (failures, kept client, own writes, triggers, untaken applies), so
//! forgetting a deleted object is one removal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use super::backoff::FailureBackoff;
use super::clients::{ClientInputs, KeptClient};
use super::config::ControllerConfig;
use super::locks::DeviceLocks;
use super::metrics::Metrics;
use crate::api::{Drift, MediantDevice};
use crate::device::{Credentials, MediantClient};
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
    /// Consecutive failures (for the backoff).
    failures: u32,
    /// The delay already chosen for the current failure, when its status
    /// said when it is retried (`retryAt`); the error policy takes it.
    scheduled: Option<Duration>,
    /// The target's client (`Kind::Client`) kept between reconciliations
    /// (connections, detected dialect), with what it was built from.
    client: Option<KeptClient>,
}

/// The [`Record`] of every object (`namespace/name`) of one kind, and the
/// backoff policy their failure counts feed.
#[derive(Debug)]
pub struct Records {
    backoff: FailureBackoff,
    records: Mutex<HashMap<String, Record>>,
}

impl Records {
    /// No records yet; failures back off by `backoff`.
    pub fn new(backoff: FailureBackoff) -> Self {
        Records {
            backoff,
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

    /// Forgets everything kept about a deleted object: its record is all
    /// there is (failures, client, writes, triggers, untaken applies).
    pub fn forget(&self, key: &str) {
        lock(&self.records).remove(key);
    }

    /// Counts one more failure of `key` and returns how long to wait.
    pub fn failure_delay(&self, key: &str) -> Duration {
        let n = self.with_record(key, |r| {
            r.failures = r.failures.saturating_add(1);
            r.failures
        });
        self.backoff.delay(n)
    }

    /// Counts one more failure of `key`, chooses its delay now (so status
    /// can say when the retry is due) and keeps it for
    /// [`Self::take_failure_delay`]: the error policy then requeues after
    /// exactly that delay.
    pub fn schedule_failure(&self, key: &str) -> Duration {
        let delay = self.failure_delay(key);
        self.with_record(key, |r| r.scheduled = Some(delay));
        delay
    }

    /// The delay [`Self::schedule_failure`] chose for `key`, once; else
    /// counts one more failure and chooses one ([`Self::failure_delay`]).
    pub fn take_failure_delay(&self, key: &str) -> Duration {
        match self.with_record(key, |r| r.scheduled.take()) {
            Some(delay) => delay,
            None => self.failure_delay(key),
        }
    }

    /// Forgets the failures of `key` (after a success).
    pub fn reset_failures(&self, key: &str) {
        self.with_record(key, |r| {
            r.failures = 0;
            r.scheduled = None;
        });
    }

    /// Consecutive failures of `key` so far.
    pub fn failures(&self, key: &str) -> u32 {
        lock(&self.records).get(key).map_or(0, |r| r.failures)
    }

    /// The MediantClient kept for `key` if it was built from the same
    /// inputs, else one from `build`, kept for next time (replacing the
    /// old one).
    pub fn client<E>(
        &self,
        key: &str,
        device: &MediantDevice,
        credentials: &Credentials,
        ca_bundle: Option<&str>,
        build: impl FnOnce() -> Result<MediantClient, E>,
    ) -> Result<Arc<MediantClient>, E> {
        self.kept_client(key, ClientInputs::of(device, credentials, ca_bundle), build)
    }

    /// The client (any kind's `Kind::Client`) kept for `key` if it was
    /// built from the same `inputs`, else one from `build`, kept for next
    /// time (replacing the old one).
    pub fn kept_client<C: std::any::Any + Send + Sync, E>(
        &self,
        key: &str,
        inputs: ClientInputs,
        build: impl FnOnce() -> Result<C, E>,
    ) -> Result<Arc<C>, E> {
        let kept = self.with_record(key, |r| {
            r.client.as_ref().and_then(|k| k.reuse_as::<C>(&inputs))
        });
        if let Some(client) = kept {
            return Ok(client);
        }
        // Built outside the lock: it takes milliseconds.
        let client = Arc::new(build()?);
        let keep = KeptClient::new(inputs, Arc::clone(&client));
        self.with_record(key, |r| r.client = Some(keep));
        Ok(client)
    }

    /// How many objects have a record.
    pub fn len(&self) -> usize {
        lock(&self.records).len()
    }

    /// Whether none has.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// The resourceVersion our last status write of `key` produced (or a
    /// later one read back from the API server, see
    /// [`Records::confirm_version`]), if any.
    pub fn own_write(&self, key: &str) -> Option<String> {
        self.with_record(key, |r| r.own_write.clone())
    }

    /// Records that `resource_version` of `key`, read from the API server,
    /// already holds our last status write: later reconciliations of that
    /// version need no fresh read again (an edit by someone else costs one
    /// GET, not one per resync).
    pub fn confirm_version(&self, key: &str, resource_version: String) {
        self.with_record(key, |r| {
            if r.own_write.is_some() {
                r.own_write = Some(resource_version);
            }
        });
    }
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
    /// Publishes events (events.k8s.io/v1).
    pub recorder: Recorder,
    /// Per object (`namespace/name`): what is remembered of it.
    records: Records,
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
            records: Records::new(FailureBackoff::new(config.backoff_base, config.backoff_max)),
            client,
            config,
            metrics,
            locks,
        }
    }

    /// What is remembered of every object.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// See [`Records::alarms_due`].
    pub fn alarms_due(&self, key: &str, interval: Duration) -> bool {
        self.records.alarms_due(key, interval)
    }

    /// See [`Records::forget`].
    pub fn forget(&self, key: &str) {
        self.records.forget(key)
    }

    /// See [`Records::note_not_taken`].
    pub fn note_not_taken(&self, key: &str, left: Option<(String, Drift)>) {
        self.records.note_not_taken(key, left)
    }

    /// See [`Records::already_not_taken`].
    pub fn already_not_taken(&self, key: &str, revision: &str, drift: &Drift) -> bool {
        self.records.already_not_taken(key, revision, drift)
    }

    /// See [`Records::note_own_write`].
    pub fn note_own_write(&self, key: &str, resource_version: String) {
        self.records.note_own_write(key, resource_version)
    }

    /// See [`Records::note_next`].
    pub fn note_next(&self, key: &str, after: Duration) {
        self.records.note_next(key, after)
    }

    /// See [`Records::mark_triggered`].
    pub fn mark_triggered(&self, key: &str) {
        self.records.mark_triggered(key)
    }

    /// See [`Records::own_write`].
    pub fn own_write(&self, key: &str) -> Option<String> {
        self.records.own_write(key)
    }

    /// See [`Records::confirm_version`].
    pub fn confirm_version(&self, key: &str, resource_version: String) {
        self.records.confirm_version(key, resource_version)
    }

    /// See [`Records::own_write_only`].
    pub fn own_write_only(&self, key: &str, resource_version: Option<&str>) -> Option<Duration> {
        self.records.own_write_only(key, resource_version)
    }

    /// See [`Records::failure_delay`].
    pub fn failure_delay(&self, key: &str) -> Duration {
        self.records.failure_delay(key)
    }

    /// See [`Records::schedule_failure`].
    pub fn schedule_failure(&self, key: &str) -> Duration {
        self.records.schedule_failure(key)
    }

    /// See [`Records::take_failure_delay`].
    pub fn take_failure_delay(&self, key: &str) -> Duration {
        self.records.take_failure_delay(key)
    }

    /// See [`Records::reset_failures`].
    pub fn reset_failures(&self, key: &str) {
        self.records.reset_failures(key)
    }

    /// See [`Records::kept_client`].
    pub fn kept_client<C: std::any::Any + Send + Sync, E>(
        &self,
        key: &str,
        inputs: ClientInputs,
        build: impl FnOnce() -> Result<C, E>,
    ) -> Result<Arc<C>, E> {
        self.records.kept_client(key, inputs, build)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::ClientOptions;

    fn records() -> Records {
        Records::new(FailureBackoff::new(
            Duration::from_secs(5),
            Duration::from_secs(300),
        ))
    }

    fn drift() -> Drift {
        Drift {
            count: 1,
            keys: vec!["GWDebugLevel".into()],
        }
    }

    /// Builds through `records` for `key`, counting the builds.
    fn client_of(records: &Records, key: &str, builds: &mut u32) -> Arc<MediantClient> {
        let device = MediantDevice::test();
        let admin = Credentials::new("Admin", "Admin");
        records
            .client(key, &device, &admin, None, || {
                *builds += 1;
                MediantClient::new(
                    &device.spec.endpoint,
                    admin.clone(),
                    ClientOptions::default(),
                )
            })
            .expect("client")
    }

    #[test]
    fn failures_back_off_per_object_and_reset_on_success() {
        let r = records();
        for _ in 0..10 {
            r.failure_delay("ns/a");
        }
        assert_eq!(r.failures("ns/a"), 10);
        // Another object is not slowed down by this one.
        assert!(r.failure_delay("ns/b") <= Duration::from_secs(5));
        r.reset_failures("ns/a");
        assert_eq!(r.failures("ns/a"), 0);
        assert!(r.failure_delay("ns/a") <= Duration::from_secs(5));
    }

    #[test]
    fn a_kept_client_is_reused_until_its_inputs_change() {
        let r = records();
        let mut builds = 0;
        let first = client_of(&r, "ns/a", &mut builds);
        let again = client_of(&r, "ns/a", &mut builds);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(builds, 1);
        let failed: Result<_, String> = r.client(
            "ns/c",
            &MediantDevice::test(),
            &Credentials::new("Admin", "Admin"),
            None,
            || Err("no".into()),
        );
        assert!(failed.is_err());
        let mut other = 0;
        client_of(&r, "ns/c", &mut other);
        assert_eq!(other, 1, "a failed build kept nothing");
    }

    /// Issue 9: one record per object, so a deleted object's state goes
    /// at once — every field, not some of six maps.
    #[test]
    fn forgetting_an_object_forgets_all_its_state_and_only_its_own() {
        let r = records();
        let mut builds = 0;
        for key in ["ns/gone", "ns/kept"] {
            r.failure_delay(key);
            r.failure_delay(key);
            client_of(&r, key, &mut builds);
            assert!(r.alarms_due(key, Duration::from_secs(300)));
            r.note_own_write(key, "41".into());
            r.note_next(key, Duration::from_secs(300));
            r.note_not_taken(key, Some(("sha256:x".into(), drift())));
        }
        assert_eq!(builds, 2);
        // Remembered: the echo of our write is skipped, the untaken apply
        // is known, the alarms are not due again, the client is kept.
        assert!(r.own_write_only("ns/gone", Some("41")).is_some());
        assert!(r.already_not_taken("ns/gone", "sha256:x", &drift()));
        assert!(!r.alarms_due("ns/gone", Duration::from_secs(300)));
        r.mark_triggered("ns/gone");
        assert_eq!(r.len(), 2);

        r.forget("ns/gone");

        assert_eq!(r.len(), 1, "the record itself is gone");
        assert_eq!(r.failures("ns/gone"), 0);
        assert!(r.own_write_only("ns/gone", Some("41")).is_none());
        assert!(!r.already_not_taken("ns/gone", "sha256:x", &drift()));
        assert!(r.alarms_due("ns/gone", Duration::from_secs(300)));
        client_of(&r, "ns/gone", &mut builds);
        assert_eq!(builds, 3, "its client was dropped and is built anew");
        // The other object keeps everything.
        assert_eq!(r.failures("ns/kept"), 2);
        assert!(r.own_write_only("ns/kept", Some("41")).is_some());
        assert!(r.already_not_taken("ns/kept", "sha256:x", &drift()));
        assert!(!r.alarms_due("ns/kept", Duration::from_secs(300)));
        client_of(&r, "ns/kept", &mut builds);
        assert_eq!(builds, 3, "its client is still kept");
    }

    /// Issue 14: the delay a status announced as `retryAt` is the one the
    /// error policy requeues after, and that failure is counted once.
    #[test]
    fn a_scheduled_delay_is_the_one_taken_and_counts_once() {
        let r = records();
        let chosen = r.schedule_failure("ns/a");
        assert_eq!(r.failures("ns/a"), 1);
        assert_eq!(
            r.take_failure_delay("ns/a"),
            chosen,
            "the delay status announced"
        );
        assert_eq!(r.failures("ns/a"), 1, "not counted twice");
        // Nothing scheduled: counts and chooses (the second failure).
        r.take_failure_delay("ns/a");
        assert_eq!(r.failures("ns/a"), 2);
        r.schedule_failure("ns/a");
        r.reset_failures("ns/a");
        assert_eq!(r.failures("ns/a"), 0);
        r.take_failure_delay("ns/a");
        assert_eq!(
            r.failures("ns/a"),
            1,
            "reset forgot the scheduled delay too"
        );
    }
}
