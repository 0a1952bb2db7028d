//! Step 7, update status: compute the status from what this reconciliation
//! learned (pure, [`compute`]: the shared part by
//! `crate::plan::report::compute`, the kind's part by its `Kind::status`)
//! and write it to the status subresource with server-side apply, only
//! when it changed ([`needs_write`]).
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
use kube::Api;
use kube::Resource;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;

use crate::plan::report::{self, Failure, Findings};
use crate::plan::{Kind, KindStatus};

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

/// The status after a reconciliation of `generation` that learned
/// `findings`, observed `observed` (the latest observation, if any) and
/// failed with `failure` (if it did). Pure.
pub fn compute<K: Kind>(
    previous: Option<&K::Status>,
    generation: Option<i64>,
    findings: &Findings,
    failure: Option<&Failure>,
    observed: Option<&K::Observed>,
    now: Time,
) -> K::Status {
    let common = report::compute(
        previous.map(KindStatus::common),
        generation,
        findings,
        failure,
        now.clone(),
    );
    K::status(previous, common, observed, &now)
}

/// Whether `next` must be written over `previous`: something other than
/// `lastSyncTime` and the uptime changed, or the last write is older than
/// `heartbeat`.
pub fn needs_write<S: KindStatus>(previous: Option<&S>, next: &S, heartbeat: Duration) -> bool {
    let Some(prev) = previous else {
        return true;
    };
    if prev.without_clock() != next.without_clock() {
        return true;
    }
    match (&prev.common().last_sync_time, &next.common().last_sync_time) {
        (Some(Time(before)), Some(Time(now))) => {
            let age = now.duration_since(*before);
            age.as_secs() >= 0 && age.unsigned_abs() >= heartbeat
        }
        (None, Some(_)) => true,
        _ => false,
    }
}

/// Writes `status` to the status subresource of `K`'s object with
/// server-side apply under `field_manager` (forced: the operator owns
/// status). Returns the object's new `resourceVersion`.
pub async fn write<K: Kind>(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    status: &serde_json::Value,
    field_manager: &str,
) -> Result<Option<String>, StatusError> {
    // A guarded API: the answer is the whole object, which may not fit the
    // type (that is when InvalidSpec is written).
    let api: Api<DeserializeGuard<K::Resource>> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({
        "apiVersion": K::Resource::api_version(&()),
        "kind": K::Resource::kind(&()),
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
    use crate::api::{
        ConditionStatus, ConditionType, DeviceFacts, Drift, MediantDeviceStatus, PendingStep,
        find_condition, is_condition_true,
    };
    use crate::device::DeviceStatus;
    use crate::plan::{Category, MediantDeviceKind, ObservedState};
    use k8s_openapi::jiff::Timestamp;

    /// What the pipeline learns: the shared findings and the observation
    /// status shows facts and alarms from.
    #[derive(Clone, Default)]
    struct Learned {
        common: Findings,
        facts: Option<DeviceFacts>,
        alarms: Option<u32>,
    }

    fn compute(
        previous: Option<&MediantDeviceStatus>,
        generation: Option<i64>,
        learned: &Learned,
        failure: Option<&Failure>,
        now: Time,
    ) -> MediantDeviceStatus {
        let observed = learned.facts.as_ref().map(|f| ObservedState {
            status: DeviceStatus {
                product_type: f.product.clone(),
                system_up_time: Some(f.uptime_seconds),
                ..DeviceStatus::default()
            },
            active_alarms: learned.alarms,
            ..ObservedState::default()
        });
        super::compute::<MediantDeviceKind>(
            previous,
            generation,
            &learned.common,
            failure,
            observed.as_ref(),
            now,
        )
    }

    fn at(s: i64) -> Time {
        Time(Timestamp::from_second(s).expect("in range"))
    }

    fn in_sync() -> Learned {
        Learned {
            common: Findings {
                reachable: Some(Ok(())),
                drift: Some(Drift::default()),
                pending: Some(Vec::new()),
                revision: Some("sha256:1".into()),
                ..Findings::default()
            },
            facts: Some(DeviceFacts {
                product: "Mediant 800".into(),
                uptime_seconds: 100,
                ..DeviceFacts::default()
            }),
            alarms: None,
        }
    }

    fn failure(category: Category, needs_user: bool) -> Failure {
        let f = Failure {
            category,
            message: format!("{category} happened"),
        };
        assert_eq!(f.needs_user(), needs_user);
        f
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
        let f = failure(Category::SecretNotFound, true);
        let next = compute(Some(&ok), Some(2), &Learned::default(), Some(&f), at(20));
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
        let f = failure(Category::Unreachable, false);
        let findings = Learned {
            common: Findings {
                reachable: Some(Err(f.clone())),
                ..Findings::default()
            },
            ..Learned::default()
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
        let findings = Learned {
            common: Findings {
                drift: Some(Drift {
                    count: 2,
                    keys: vec!["GWDebugLevel".into(), "EnableSyslog".into()],
                }),
                paused: true,
                revision: None,
                ..in_sync().common
            },
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
        let findings = Learned {
            common: Findings {
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
                ..in_sync().common
            },
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
        let f = failure(Category::Unreachable, false);
        let s = compute(
            None,
            Some(1),
            &Learned {
                common: Findings {
                    reachable: Some(Err(f.clone())),
                    ..Findings::default()
                },
                ..Learned::default()
            },
            Some(&f),
            at(1),
        );
        let types: Vec<&str> = s.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Ready", "Reconciling", "Reachable", "Synced"]);
    }
}
