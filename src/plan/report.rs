//! Report: what one reconciliation learned ([`Findings`]), why it stopped
//! ([`Failure`]), and the part of status every kind shares
//! ([`CommonStatus`]: conditions, drift, held-back steps, revision, secret
//! digests, sync time), computed by [`compute`]. Pure: the caller passes
//! the clock.
//!
//! # Guarantees
//! - A condition's `lastTransitionTime` moves only when its status flips
//!   (`crate::api::set_condition`).
//! - Messages hold keys and error texts, never a secret value.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::{
    Condition, ConditionStatus, ConditionType, Drift, HOW_TO_ALLOW_RESETS, PendingStep,
    find_condition, remove_condition, set_condition,
};

use super::{Category, Plan, SecretDigests};

/// How many keys an event or condition message names.
const MESSAGE_KEYS: usize = 5;

/// A failed step, as status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The step error's bounded category (the condition reason).
    pub category: Category,
    /// The error's message (never a secret value).
    pub message: String,
}

impl Failure {
    /// Whether only a change by the user can fix it (Stalled), rather than
    /// a retry (Reconciling).
    pub fn needs_user(&self) -> bool {
        self.category.needs_user()
    }
}

/// What one reconciliation learned. `None` means "not learned this time":
/// status keeps its previous value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    /// `Ok` when the device answered; `Err` when it could not be reached or
    /// refused the credentials.
    pub reachable: Option<Result<(), Failure>>,
    /// Differences left after this reconciliation.
    pub drift: Option<Drift>,
    /// Steps the reset policy holds back.
    pub pending: Option<Vec<PendingStep>>,
    /// Held back because the policy refuses resets (needs the user).
    pub reset_refused: bool,
    /// Held back until the maintenance window opens.
    pub waiting_for_window: bool,
    /// A reset-causing step was refused because it would repeat the last
    /// one with the same content (a reset loop; needs the user).
    pub reset_loop: bool,
    /// Writes are paused (suspend or annotation).
    pub paused: bool,
    /// The device accepted changes it did not take.
    pub not_taken: bool,
    /// What the kind says about the untaken changes ([`super::Kind::not_taken_hint`]).
    pub not_taken_hint: Option<String>,
    /// The revision the device now matches in full.
    pub revision: Option<String>,
    /// Digests of the write-only secrets sent.
    pub digests: Option<SecretDigests>,
}

/// The status fields every kind has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommonStatus {
    /// Ready, Reconciling, Stalled, Reachable, Synced.
    pub conditions: Vec<Condition>,
    /// The generation this status describes.
    pub observed_generation: Option<i64>,
    /// The desired revision last applied in full.
    pub last_applied_revision: Option<String>,
    /// The drift at the last check.
    pub drift: Option<Drift>,
    /// Steps held back by the reset policy.
    pub pending_steps: Vec<PendingStep>,
    /// When the resource was last compared with its device.
    pub last_sync_time: Option<Time>,
    /// Digests of the write-only secrets sent (never the values).
    pub applied_secret_digests: SecretDigests,
}

/// The drift a plan shows.
pub fn drift_of<A>(plan: &Plan<A>) -> Drift {
    Drift {
        count: u32::try_from(plan.drift_count).unwrap_or(u32::MAX),
        keys: plan.drift_keys.clone(),
    }
}

/// The steps the reset policy held back.
pub fn pending_of<A>(plan: &Plan<A>) -> Vec<PendingStep> {
    plan.blocked
        .iter()
        .map(|(step, reason)| PendingStep {
            description: step.description.clone(),
            reason: reason.clone(),
        })
        .collect()
}

/// "3 setting(s): A, B, C" / "12 setting(s): A, B, C, D, E and 7 more".
pub fn summary(count: usize, keys: &[String]) -> String {
    let shown: Vec<&str> = keys.iter().take(MESSAGE_KEYS).map(String::as_str).collect();
    let mut out = format!("{count} setting(s)");
    if !shown.is_empty() {
        out.push_str(": ");
        out.push_str(&shown.join(", "));
    }
    if count > shown.len() && !shown.is_empty() {
        out.push_str(&format!(" and {} more", count - shown.len()));
    }
    out
}

/// `now` to the second, as the API server stores times, so a status read
/// back compares equal to the one written.
pub fn now_seconds(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

const IN_SYNC: &str = "the device matches the desired configuration";

/// The shared status after a reconciliation of `generation` that learned
/// `findings` and failed with `failure` (if it did). Pure.
pub fn compute(
    previous: Option<CommonStatus>,
    generation: Option<i64>,
    findings: &Findings,
    failure: Option<&Failure>,
    now: Time,
) -> CommonStatus {
    let prev = previous.unwrap_or_default();
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
                    .reason(f.category.as_str())
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
            f.category.as_str()
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
            if let Some(hint) = &findings.not_taken_hint {
                m.push_str(" (");
                m.push_str(hint);
                m.push(')');
            }
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
                .reason(failure.map_or("NotChecked", |f| f.category.as_str()))
                .message(format!("not compared: {why}"))
        }
    };
    set_condition(&mut conditions, synced.clone());

    // Ready: no failure and no drift.
    let ready = match (failure, drift) {
        (Some(f), _) => condition(ConditionType::Ready, ConditionStatus::False)
            .reason(f.category.as_str())
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
    match failure.filter(|f| f.needs_user()) {
        Some(f) => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Stalled, ConditionStatus::True)
                    .reason(f.category.as_str())
                    .message(f.message.clone()),
            );
        }
        None if findings.reset_loop && drifted && !findings.paused => {
            let reason = findings
                .pending
                .iter()
                .flatten()
                .find(|p| super::is_repeated_reset(&p.reason))
                .map_or_else(|| super::REPEATED_RESET.to_owned(), |p| p.reason.clone());
            set_condition(
                &mut conditions,
                condition(ConditionType::Stalled, ConditionStatus::True)
                    .reason("ResetLoopRefused")
                    .message(reason),
            );
        }
        None if findings.reset_refused && drifted && !findings.paused => {
            let reason = findings
                .pending
                .as_ref()
                .and_then(|p| p.first())
                .map_or_else(|| HOW_TO_ALLOW_RESETS.to_owned(), |p| p.reason.clone());
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
        Some(f) if !f.needs_user() => {
            set_condition(
                &mut conditions,
                condition(ConditionType::Reconciling, ConditionStatus::True)
                    .reason(f.category.as_str())
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

    CommonStatus {
        conditions,
        observed_generation: generation.or(prev.observed_generation),
        last_applied_revision: findings.revision.clone().or(prev.last_applied_revision),
        drift: findings.drift.clone().or(prev.drift),
        pending_steps: findings.pending.clone().unwrap_or(prev.pending_steps),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini;
    use crate::plan::{DesiredState, IniMode, ObservedState, PlanError, ResetPermission};

    fn run(
        desired: &DesiredState,
        observed: &ObservedState,
        digests: &SecretDigests,
    ) -> Result<Plan, PlanError> {
        crate::plan::plan(desired, observed, digests)
    }

    fn observed(text: &str) -> ObservedState {
        ObservedState {
            ini: Some(ini::parse(text).expect("parse")),
            ..ObservedState::default()
        }
    }

    fn desired(text: &str, mode: IniMode) -> DesiredState {
        DesiredState {
            ini: Some(ini::parse(text).expect("parse")),
            ini_mode: mode,
            reset: ResetPermission::default(),
            save_after_apply: true,
            ..DesiredState::default()
        }
    }

    #[test]
    fn drift_names_keys_and_an_in_sync_device_has_none() {
        let d = desired("GWDebugLevel = 7\nEnableSyslog = 1\n", IniMode::Incremental);
        let p = run(&d, &observed("GWDebugLevel = 0\n"), &SecretDigests::new()).expect("plan");
        let drift = drift_of(&p);
        assert_eq!(drift.count, 2);
        assert_eq!(drift.keys.len(), 2);
        assert!(pending_of(&p).is_empty());
        let p = run(
            &d,
            &observed("GWDebugLevel = 7\nEnableSyslog = 1\n"),
            &SecretDigests::new(),
        )
        .expect("plan");
        assert!(p.is_empty());
        assert_eq!(drift_of(&p).count, 0);
    }

    #[test]
    fn a_full_upload_under_policy_never_is_pending_with_the_reason() {
        let d = desired("GWDebugLevel = 7\n", IniMode::FullWithReset);
        let p = run(&d, &observed("GWDebugLevel = 0\n"), &SecretDigests::new()).expect("plan");
        assert!(p.steps.is_empty(), "nothing may run");
        let pending = pending_of(&p);
        assert_eq!(pending.len(), 1);
        assert!(
            pending[0].reason.contains("resetPolicy"),
            "{:?}",
            pending[0]
        );
    }

    #[test]
    fn summaries_name_a_few_keys_and_count_the_rest() {
        let keys: Vec<String> = (0..7).map(|i| format!("K{i}")).collect();
        assert_eq!(summary(2, &keys[..2]), "2 setting(s): K0, K1");
        assert_eq!(
            summary(12, &keys),
            "12 setting(s): K0, K1, K2, K3, K4 and 7 more"
        );
        assert_eq!(summary(0, &[]), "0 setting(s)");
    }
}
