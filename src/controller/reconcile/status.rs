//! Step 6, update status: compute the status from what this reconciliation
//! learned (pure, [`compute`]) and write it to the status subresource with
//! server-side apply, only when it changed ([`needs_write`]).
//!
//! # Guarantees
//! - No write loop: two values change on every check without anything
//!   having happened, `lastSyncTime` and the device's uptime. They are not
//!   compared: they are refreshed when something else changed, and
//!   otherwise at most once per heartbeat period (1 h by default,
//!   [`crate::controller::ControllerConfig::status_heartbeat`]), so
//!   `lastSyncTime` is never older than that while the controller runs.
//! - A condition's `lastTransitionTime` moves only when its status flips
//!   (`crate::api::set_condition`).
//! - Messages hold keys and error texts, never a secret value.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::{Api, Resource};

use crate::api::{
    Condition, ConditionStatus, ConditionType, DeviceFacts, Drift, MediantDevice,
    MediantDeviceStatus, PendingStep, find_condition, remove_condition, set_condition,
};
use crate::device::DeviceStatus;
use crate::plan::SecretDigests;

use super::plan::summary;

/// Why the status could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The API server refused or failed the read or write.
    #[error("writing the status failed: {0}")]
    Write(#[source] kube::Error),
    /// The status did not encode as JSON (a bug: please report it).
    #[error("internal error: the status does not encode as JSON: {0}")]
    Encode(#[source] serde_json::Error),
}

impl StatusError {
    /// A bounded identifier for event reasons and metric labels.
    pub fn category(&self) -> &'static str {
        "StatusWriteFailed"
    }
}

/// A failed step, as status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The step error's bounded category (the condition reason).
    pub category: &'static str,
    /// The error's message (never a secret value).
    pub message: String,
    /// Whether only a change by the user can fix it (Stalled), rather than
    /// a retry (Reconciling).
    pub needs_user: bool,
}

/// What one reconciliation learned about the device. `None` means "not
/// learned this time": status keeps its previous value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    /// `Ok` when the device answered; `Err` when it could not be reached or
    /// refused the credentials.
    pub reachable: Option<Result<(), Failure>>,
    /// Facts from the device's `/status`.
    pub facts: Option<DeviceFacts>,
    /// Differences left after this reconciliation.
    pub drift: Option<Drift>,
    /// Steps the reset policy holds back.
    pub pending: Option<Vec<PendingStep>>,
    /// Held back because the policy refuses resets (needs the user).
    pub reset_refused: bool,
    /// Held back until the maintenance window opens.
    pub waiting_for_window: bool,
    /// Writes are paused (suspend or annotation).
    pub paused: bool,
    /// The device accepted changes it did not take.
    pub not_taken: bool,
    /// The revision the device now matches in full.
    pub revision: Option<String>,
    /// Digests of the write-only secrets sent.
    pub digests: Option<SecretDigests>,
    /// Active alarms, when checked this time.
    pub alarms: Option<u32>,
}

/// The facts status keeps from `GET /status`.
pub fn facts_of(status: &DeviceStatus) -> DeviceFacts {
    DeviceFacts {
        product: status.product_type.clone(),
        version: status.version_id.clone(),
        serial: status.serial_number.clone(),
        ha_state: status.high_availability.clone(),
        operational_state: status.operational_state.clone(),
        uptime_seconds: status.system_up_time,
    }
}

/// `now` to the second, as the API server stores times, so a status read
/// back compares equal to the one written.
pub fn now_seconds(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

const IN_SYNC: &str = "the device matches the desired configuration";

/// The status after a reconciliation of `generation` that learned
/// `findings` and failed with `failure` (if it did). Pure.
pub fn compute(
    previous: Option<&MediantDeviceStatus>,
    generation: Option<i64>,
    findings: &Findings,
    failure: Option<&Failure>,
    now: Time,
) -> MediantDeviceStatus {
    let prev = previous.cloned().unwrap_or_default();
    let mut conditions = prev.conditions.clone();
    let condition = |t, s| Condition::new(t, s, generation, now.clone());

    // Reachable: what the device said this time, else what it said last.
    match &findings.reachable {
        Some(Ok(())) => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Reachable, ConditionStatus::True)
                    .reason("Connected")
                    .message("the device answered its REST API with the given credentials"),
            );
        }
        Some(Err(f)) => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Reachable, ConditionStatus::False)
                    .reason(f.category)
                    .message(f.message.clone()),
            );
        }
        None if find_condition(&conditions, ConditionType::Reachable).is_none() => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Reachable, ConditionStatus::Unknown)
                    .reason("NotChecked")
                    .message("the device was not contacted: an earlier step failed"),
            );
        }
        None => {}
    }

    // Synced: the drift found this time.
    let drift = findings.drift.as_ref();
    let drift_reason = || {
        if let Some(f) = failure {
            f.category
        } else if findings.paused {
            "Suspended"
        } else if findings.not_taken {
            "NotTaken"
        } else if findings.pending.as_ref().is_some_and(|p| !p.is_empty()) {
            "ResetPending"
        } else {
            "Drifted"
        }
    };
    let drift_message = |d: &Drift| {
        let mut m = format!("{} differ", summary(d.count as usize, &d.keys));
        if findings.paused {
            m.push_str("; writes are paused (spec.suspend or the mediant.io/paused annotation)");
        } else if findings.not_taken {
            m.push_str("; the device accepted them but did not take them");
        }
        m
    };
    let synced = match drift {
        Some(d) if d.count == 0 => condition(ConditionType::Synced, ConditionStatus::True)
            .reason("InSync")
            .message(IN_SYNC),
        Some(d) => condition(ConditionType::Synced, ConditionStatus::False)
            .reason(drift_reason())
            .message(drift_message(d)),
        None => {
            let why = failure.map_or_else(|| "not compared yet".to_owned(), |f| f.message.clone());
            condition(ConditionType::Synced, ConditionStatus::Unknown)
                .reason(failure.map_or("NotChecked", |f| f.category))
                .message(format!("not compared: {why}"))
        }
    };
    set_condition(&mut conditions, synced.clone());

    // Ready: no failure and no drift.
    let ready = match (failure, drift) {
        (Some(f), _) => condition(ConditionType::Ready, ConditionStatus::False)
            .reason(f.category)
            .message(f.message.clone()),
        (None, Some(d)) if d.count == 0 => condition(ConditionType::Ready, ConditionStatus::True)
            .reason("InSync")
            .message(IN_SYNC),
        (None, _) => condition(ConditionType::Ready, ConditionStatus::False)
            .reason(synced.reason.clone())
            .message(synced.message.clone()),
    };
    set_condition(&mut conditions, ready);

    // Stalled and Reconciling are abnormal-true: present only while they apply.
    let drifted = drift.is_some_and(|d| d.count > 0);
    match failure.filter(|f| f.needs_user) {
        Some(f) => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Stalled, ConditionStatus::True)
                    .reason(f.category)
                    .message(f.message.clone()),
            );
        }
        None if findings.reset_refused && drifted && !findings.paused => {
            let reason = findings
                .pending
                .as_ref()
                .and_then(|p| p.first())
                .map_or_else(
                    || crate::api::HOW_TO_ALLOW_RESETS.to_owned(),
                    |p| p.reason.clone(),
                );
            set_condition(
                &mut conditions,
                condition(ConditionType::Stalled, ConditionStatus::True)
                    .reason("ResetNotAllowed")
                    .message(reason),
            );
        }
        None => {
            remove_condition(&mut conditions, ConditionType::Stalled);
        }
    }
    match failure {
        Some(f) if !f.needs_user => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Reconciling, ConditionStatus::True)
                    .reason(f.category)
                    .message(format!("retrying with backoff: {}", f.message)),
            );
        }
        _ if findings.waiting_for_window && drifted && !findings.paused => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Reconciling, ConditionStatus::True)
                    .reason("WaitingForMaintenanceWindow")
                    .message("steps that reset the device wait for the maintenance window"),
            );
        }
        _ => {
            remove_condition(&mut conditions, ConditionType::Reconciling);
        }
    }
    conditions.sort_by_key(|c| {
        ConditionType::ALL
            .iter()
            .position(|t| c.is(*t))
            .unwrap_or(usize::MAX)
    });

    let (active_alarms, last_alarm_change) = match findings.alarms {
        Some(n) if prev.active_alarms.is_some_and(|p| p != n) => (Some(n), Some(now.clone())),
        Some(n) => (Some(n), prev.last_alarm_change.clone()),
        None => (prev.active_alarms, prev.last_alarm_change.clone()),
    };

    MediantDeviceStatus {
        conditions,
        observed_generation: generation.or(prev.observed_generation),
        device: findings.facts.clone().or(prev.device),
        last_applied_revision: findings.revision.clone().or(prev.last_applied_revision),
        drift: findings.drift.clone().or(prev.drift),
        pending_steps: findings.pending.clone().unwrap_or(prev.pending_steps),
        active_alarms,
        last_alarm_change,
        // Only a comparison with the device counts as a sync.
        last_sync_time: if findings.drift.is_some() {
            Some(now)
        } else {
            prev.last_sync_time
        },
        applied_secret_digests: findings
            .digests
            .clone()
            .unwrap_or(prev.applied_secret_digests),
    }
}

/// Whether `next` must be written over `previous`: something other than
/// `lastSyncTime` and the uptime changed, or the last write is older than
/// `heartbeat`.
pub fn needs_write(
    previous: Option<&MediantDeviceStatus>,
    next: &MediantDeviceStatus,
    heartbeat: Duration,
) -> bool {
    let Some(prev) = previous else {
        return true;
    };
    let masked = |s: &MediantDeviceStatus| {
        let mut s = s.clone();
        s.last_sync_time = None;
        if let Some(d) = &mut s.device {
            d.uptime_seconds = 0;
        }
        s
    };
    if masked(prev) != masked(next) {
        return true;
    }
    match (&prev.last_sync_time, &next.last_sync_time) {
        (Some(Time(before)), Some(Time(now))) => {
            let age = now.duration_since(*before);
            age.as_secs() >= 0 && age.unsigned_abs() >= heartbeat
        }
        (None, Some(_)) => true,
        _ => false,
    }
}

/// Writes `status` to the status subresource with server-side apply under
/// `field_manager` (forced: the operator owns status). Returns the object's
/// new `resourceVersion`.
pub async fn write(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    status: &serde_json::Value,
    field_manager: &str,
) -> Result<Option<String>, StatusError> {
    // A guarded API: the answer is the whole object, which may not fit the
    // type (that is when InvalidSpec is written).
    let api: Api<DeserializeGuard<MediantDevice>> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({
        "apiVersion": MediantDevice::api_version(&()),
        "kind": MediantDevice::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|written| written.meta().resource_version.clone())
    .map_err(StatusError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::is_condition_true;

    fn at(s: i64) -> Time {
        Time(Timestamp::from_second(s).expect("in range"))
    }

    fn in_sync() -> Findings {
        Findings {
            reachable: Some(Ok(())),
            facts: Some(DeviceFacts {
                product: "Mediant 800".into(),
                uptime_seconds: 100,
                ..DeviceFacts::default()
            }),
            drift: Some(Drift::default()),
            pending: Some(Vec::new()),
            revision: Some("sha256:1".into()),
            ..Findings::default()
        }
    }

    fn failure(category: &'static str, needs_user: bool) -> Failure {
        Failure {
            category,
            message: format!("{category} happened"),
            needs_user,
        }
    }

    #[test]
    fn an_in_sync_device_is_ready_and_a_resync_writes_nothing() {
        let first = compute(None, Some(3), &in_sync(), None, at(1000));
        assert!(is_condition_true(&first.conditions, ConditionType::Ready));
        assert!(is_condition_true(&first.conditions, ConditionType::Synced));
        assert!(is_condition_true(
            &first.conditions,
            ConditionType::Reachable
        ));
        assert!(find_condition(&first.conditions, ConditionType::Stalled).is_none());
        assert_eq!(first.observed_generation, Some(3));
        assert!(needs_write(None, &first, Duration::from_secs(3600)));

        // Later: the uptime grew and time passed, nothing else.
        let mut later = in_sync();
        if let Some(f) = &mut later.facts {
            f.uptime_seconds = 160;
        }
        let second = compute(Some(&first), Some(3), &later, None, at(1060));
        assert_eq!(second.conditions, first.conditions, "transition times kept");
        assert!(!needs_write(
            Some(&first),
            &second,
            Duration::from_secs(3600)
        ));
        // ... until the heartbeat is due.
        let third = compute(Some(&first), Some(3), &later, None, at(1000 + 3600));
        assert!(needs_write(Some(&first), &third, Duration::from_secs(3600)));
        // A new generation is a change.
        let edited = compute(Some(&first), Some(4), &later, None, at(1060));
        assert!(needs_write(
            Some(&first),
            &edited,
            Duration::from_secs(3600)
        ));
    }

    #[test]
    fn a_missing_secret_stalls_without_touching_what_was_observed() {
        let ok = compute(None, Some(1), &in_sync(), None, at(10));
        let f = failure("SecretNotFound", true);
        let next = compute(Some(&ok), Some(2), &Findings::default(), Some(&f), at(20));
        let ready = find_condition(&next.conditions, ConditionType::Ready).expect("ready");
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, "SecretNotFound");
        assert_eq!(ready.last_transition_time, at(20));
        let stalled = find_condition(&next.conditions, ConditionType::Stalled).expect("stalled");
        assert_eq!(stalled.reason, "SecretNotFound");
        assert!(find_condition(&next.conditions, ConditionType::Reconciling).is_none());
        // Reachable is what the device said last time.
        let reachable = find_condition(&next.conditions, ConditionType::Reachable).expect("r");
        assert_eq!(reachable.status, ConditionStatus::True);
        assert_eq!(reachable.last_transition_time, at(10));
        assert_eq!(next.device, ok.device);
        assert_eq!(next.last_applied_revision, ok.last_applied_revision);
        // Nothing was compared: the last sync is still the earlier one.
        assert_eq!(next.last_sync_time, Some(at(10)));
    }

    #[test]
    fn an_unreachable_device_is_reconciling_not_stalled() {
        let f = failure("Unreachable", false);
        let findings = Findings {
            reachable: Some(Err(f.clone())),
            ..Findings::default()
        };
        let s = compute(None, Some(1), &findings, Some(&f), at(5));
        let r = find_condition(&s.conditions, ConditionType::Reachable).expect("reachable");
        assert_eq!(
            (r.status, r.reason.as_str()),
            (ConditionStatus::False, "Unreachable")
        );
        assert!(find_condition(&s.conditions, ConditionType::Stalled).is_none());
        let rec = find_condition(&s.conditions, ConditionType::Reconciling).expect("reconciling");
        assert_eq!(rec.reason, "Unreachable");
        let synced = find_condition(&s.conditions, ConditionType::Synced).expect("synced");
        assert_eq!(synced.status, ConditionStatus::Unknown);
        assert_eq!(s.last_sync_time, None, "never compared, never synced");
        // Recovery removes Reconciling.
        let back = compute(Some(&s), Some(1), &in_sync(), None, at(9));
        assert!(find_condition(&back.conditions, ConditionType::Reconciling).is_none());
        assert!(is_condition_true(&back.conditions, ConditionType::Ready));
    }

    #[test]
    fn suspended_drift_is_reported_and_not_ready() {
        let findings = Findings {
            drift: Some(Drift {
                count: 2,
                keys: vec!["GWDebugLevel".into(), "EnableSyslog".into()],
            }),
            paused: true,
            revision: None,
            ..in_sync()
        };
        let s = compute(None, Some(1), &findings, None, at(5));
        let synced = find_condition(&s.conditions, ConditionType::Synced).expect("synced");
        assert_eq!(synced.reason, "Suspended");
        assert!(
            synced.message.contains("GWDebugLevel"),
            "{}",
            synced.message
        );
        let ready = find_condition(&s.conditions, ConditionType::Ready).expect("ready");
        assert_eq!(
            (ready.status, ready.reason.as_str()),
            (ConditionStatus::False, "Suspended")
        );
        assert!(find_condition(&s.conditions, ConditionType::Stalled).is_none());
        assert_eq!(s.drift.as_ref().map(|d| d.count), Some(2));
    }

    #[test]
    fn a_reset_the_policy_refuses_stalls_with_how_to_allow_it() {
        let findings = Findings {
            drift: Some(Drift {
                count: 1,
                keys: vec!["X".into()],
            }),
            pending: Some(vec![PendingStep {
                description: "upload the whole INI".into(),
                reason: "set spec.resetPolicy".into(),
            }]),
            reset_refused: true,
            revision: None,
            ..in_sync()
        };
        let s = compute(None, Some(1), &findings, None, at(5));
        let stalled = find_condition(&s.conditions, ConditionType::Stalled).expect("stalled");
        assert_eq!(stalled.reason, "ResetNotAllowed");
        assert_eq!(stalled.message, "set spec.resetPolicy");
        assert_eq!(s.pending_steps.len(), 1);
        let ready = find_condition(&s.conditions, ConditionType::Ready).expect("ready");
        assert_eq!(ready.reason, "ResetPending");
    }

    #[test]
    fn alarm_changes_are_timed_and_the_first_count_is_not() {
        let mut f = in_sync();
        f.alarms = Some(2);
        let first = compute(None, Some(1), &f, None, at(5));
        assert_eq!(first.active_alarms, Some(2));
        assert_eq!(first.last_alarm_change, None);
        f.alarms = Some(3);
        let second = compute(Some(&first), Some(1), &f, None, at(9));
        assert_eq!(second.last_alarm_change, Some(at(9)));
        f.alarms = None;
        let third = compute(Some(&second), Some(1), &f, None, at(12));
        assert_eq!(third.active_alarms, Some(3));
        assert_eq!(third.last_alarm_change, Some(at(9)));
    }

    #[test]
    fn conditions_are_listed_in_a_stable_order() {
        let f = failure("Unreachable", false);
        let s = compute(
            None,
            Some(1),
            &Findings {
                reachable: Some(Err(f.clone())),
                ..Findings::default()
            },
            Some(&f),
            at(1),
        );
        let types: Vec<&str> = s.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Ready", "Reconciling", "Reachable", "Synced"]);
    }
}
