//! Observe a device, run a plan's steps, observe again and verify.
//!
//! # Errors
//! A failed step stops the run; [`ApplyError::Step`] names the step and how
//! many steps completed before it, so nothing is half-applied unreported.

use std::time::Duration;

use crate::config::cli::{CliError, CliScript};
use crate::config::ini::{self, IniError};
use crate::device::{DeviceError, MediantClient};

use super::secrets::{SecretDigests, digests_of};
use super::{Action, DesiredState, ObservedState, Plan, PlanError, Step, plan};

/// How long a reset may take before the device counts as lost.
const RESET_TIMEOUT: Duration = Duration::from_secs(600);

/// Why observing or applying failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The device refused or could not be reached while observing.
    #[error("observing the device failed: {0}")]
    Observe(#[source] DeviceError),
    /// The device's own INI did not parse.
    #[error("the device's INI file could not be read: {0}")]
    DeviceIni(#[source] IniError),
    /// The device's own CLI script did not parse.
    #[error("the device's CLI script could not be read: {0}")]
    DeviceCli(#[source] CliError),
    /// No plan could be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A step failed; the ones before it were applied.
    #[error("step {number} ({description}) failed after {completed} completed step(s): {source}")]
    Step {
        /// 1-based number of the failed step.
        number: usize,
        /// What the step was doing.
        description: String,
        /// Steps that completed before it.
        completed: usize,
        /// The device's answer.
        #[source]
        source: DeviceError,
    },
}

impl ApplyError {
    /// The device error underneath, if any.
    pub fn device_error(&self) -> Option<&DeviceError> {
        match self {
            ApplyError::Observe(e) | ApplyError::Step { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// What one executed step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// The step's description.
    pub description: String,
    /// Its human diff.
    pub changes: Vec<super::Change>,
    /// Output the device returned (CLI `show` output), if any.
    pub output: Option<String>,
}

/// The result of applying a plan.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The steps that ran, in order.
    pub steps: Vec<StepReport>,
    /// Keys the device accepted but did not take (still different after
    /// apply); empty when the device converged.
    pub not_taken: Vec<String>,
    /// Steps held back by the reset permission, with the reason.
    pub blocked: Vec<(Step, String)>,
    /// The device after the apply (the verification observation).
    pub observed: ObservedState,
    /// Digests of the write-only secrets sent so far.
    pub digests: SecretDigests,
}

/// Reads what `desired` needs from the device: `/status`, plus the INI file
/// and the CLI script when those are declared.
pub async fn observe(
    client: &MediantClient,
    desired: &DesiredState,
) -> Result<ObservedState, ApplyError> {
    // The reads are independent: issue them together.
    let (status, ini_text, cli_text) = tokio::join!(
        client.status(),
        async {
            match desired.ini {
                Some(_) => client.ini().await.map(Some),
                None => Ok(None),
            }
        },
        async {
            match desired.cli {
                Some(_) => client.cli_script().await.map(Some),
                None => Ok(None),
            }
        },
    );
    let status = status.map_err(ApplyError::Observe)?;
    let ini = match ini_text.map_err(ApplyError::Observe)? {
        Some(text) => Some(ini::parse(&text).map_err(ApplyError::DeviceIni)?),
        None => None,
    };
    let cli = match cli_text.map_err(ApplyError::Observe)? {
        Some(text) => Some(CliScript::parse(&text).map_err(ApplyError::DeviceCli)?),
        None => None,
    };
    Ok(ObservedState { status, ini, cli })
}

/// Runs `plan` (made from `observed`), then observes again and verifies that
/// every change took. `on_step` is called before each step runs.
pub async fn apply(
    client: &MediantClient,
    desired: &DesiredState,
    observed: &ObservedState,
    plan_to_run: &Plan,
    digests: &SecretDigests,
    mut on_step: impl FnMut(usize, &Step),
) -> Result<Outcome, ApplyError> {
    let mut outcome = Outcome {
        blocked: plan_to_run.blocked.clone(),
        digests: digests.clone(),
        ..Outcome::default()
    };
    for (i, step) in plan_to_run.steps.iter().enumerate() {
        on_step(i + 1, step);
        let failed = |source| ApplyError::Step {
            number: i + 1,
            description: step.description.clone(),
            completed: i,
            source,
        };
        let output = match &step.action {
            Action::IniIncremental(text) => {
                client.put_ini_incremental(text).await.map_err(failed)?;
                None
            }
            Action::CliIncremental(text) => {
                let out = client.put_cli_incremental(text).await.map_err(failed)?;
                (!out.output.trim().is_empty()).then_some(out.output)
            }
            Action::IniFull(text) => {
                client.put_ini_full(text).await.map_err(failed)?;
                client
                    .wait_for_restart(observed.status.system_up_time, RESET_TIMEOUT)
                    .await
                    .map_err(failed)?;
                None
            }
            Action::SaveConfiguration => {
                client.save_configuration().await.map_err(failed)?;
                None
            }
        };
        if matches!(step.action, Action::IniIncremental(_) | Action::IniFull(_))
            && let Some(ini) = &desired.ini
        {
            outcome
                .digests
                .extend(digests_of(ini, &observed.status.serial_number));
        }
        outcome.steps.push(StepReport {
            description: step.description.clone(),
            changes: step.changes.clone(),
            output,
        });
    }
    if plan_to_run.steps.is_empty() {
        outcome.observed = observed.clone();
        return Ok(outcome);
    }
    // Verify: a change the device accepted but did not take is reported by
    // name, never retried in a loop.
    outcome.observed = observe(client, desired).await?;
    let after = plan(desired, &outcome.observed, &outcome.digests)?;
    if !after
        .steps
        .iter()
        .all(|s| s.action == Action::SaveConfiguration)
    {
        outcome.not_taken = after.drift_keys;
    }
    Ok(outcome)
}
