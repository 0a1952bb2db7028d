//! Step 4, plan: the pure `crate::plan::plan` on what was observed, and the
//! views of a plan that status and events show (keys, never values).

use crate::api::{Drift, PendingStep};
use crate::plan::{self, DesiredState, ObservedState, Plan, PlanError, SecretDigests};

/// How many keys an event message names.
const EVENT_KEYS: usize = 5;

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanStepError(#[from] pub PlanError);

impl PlanStepError {
    /// A bounded identifier for event reasons and metric labels.
    pub fn category(&self) -> &'static str {
        match self.0 {
            PlanError::Render(_) => "UnrenderableValue",
            PlanError::Reparse(_) | PlanError::NotObserved(_) => "InternalError",
        }
    }
}

/// Plans the steps that make `observed` match `desired`. Pure.
pub fn run(
    desired: &DesiredState,
    observed: &ObservedState,
    digests: &SecretDigests,
) -> Result<Plan, PlanStepError> {
    Ok(plan::plan(desired, observed, digests)?)
}

/// The drift a plan shows.
pub fn drift_of(plan: &Plan) -> Drift {
    Drift {
        count: u32::try_from(plan.drift_count).unwrap_or(u32::MAX),
        keys: plan.drift_keys.clone(),
    }
}

/// The steps the reset policy held back.
pub fn pending_of(plan: &Plan) -> Vec<PendingStep> {
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
    let shown: Vec<&str> = keys.iter().take(EVENT_KEYS).map(String::as_str).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini;
    use crate::plan::{IniMode, ResetPermission};

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
            reset: ResetPermission::Refused,
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
