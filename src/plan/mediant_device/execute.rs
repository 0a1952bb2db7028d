//! MediantDevice's I/O: observe what the desired state needs, run one step.
//! [`apply`] is the engine's [`converge`](crate::plan::converge) for this
//! kind, kept under its old name for callers that plan themselves.

use std::time::Duration;

use crate::config::cli::CliScript;
use crate::config::ini;
use crate::device::{DeviceError, MediantClient};
use crate::plan::engine::{self, Outcome};
use crate::plan::kind::StepDone;
use crate::plan::{ApplyError, Plan, Step};

use super::secrets::SecretDigests;
use super::{Action, DesiredState, MediantDeviceKind, ObservedState};

/// How long a reset may take before the device counts as lost.
const RESET_TIMEOUT: Duration = Duration::from_secs(600);

/// Reads what `desired` needs from the device: `/status`, plus the INI file
/// and the CLI script when those are declared.
pub async fn observe(
    client: &MediantClient,
    desired: &DesiredState,
) -> Result<ObservedState, ApplyError> {
    observe_with(client, desired, false).await
}

/// [`observe`], and with `thorough` the active alarms too (informational:
/// a failure to count them is logged, never fails the observation).
pub(super) async fn observe_with(
    client: &MediantClient,
    desired: &DesiredState,
    thorough: bool,
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
    let active_alarms = if thorough {
        match client.active_alarm_count().await {
            Ok(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
            // Alarms are informational: their failure does not fail the reconcile.
            Err(e) => {
                tracing::info!(
                    category = e.category(),
                    "counting active alarms failed: {e}"
                );
                None
            }
        }
    } else {
        None
    };
    Ok(ObservedState {
        status,
        ini,
        cli,
        active_alarms,
    })
}

/// Runs one step.
pub(super) async fn run_step(
    client: &MediantClient,
    _desired: &DesiredState,
    observed: &ObservedState,
    action: &Action,
) -> Result<StepDone, DeviceError> {
    let mut done = StepDone::default();
    match action {
        Action::IniIncremental(text, record) => {
            client.put_ini_incremental(text).await?;
            done.digests = record.clone();
        }
        Action::CliIncremental(text, record) => {
            let out = client.put_cli_incremental(text).await?;
            done.digests = record.clone();
            done.output = (!out.output.trim().is_empty()).then_some(out.output);
        }
        Action::IniFull(text, record) => {
            client.put_ini_full(text).await?;
            // Recorded before the wait: the upload was taken, whether or
            // not the restart is seen in time.
            done.digests = record.clone();
            client
                .wait_for_restart(observed.status.system_up_time, RESET_TIMEOUT)
                .await?;
        }
        Action::SaveConfiguration => {
            client.save_configuration().await?;
        }
    }
    Ok(done)
}

/// Runs `plan_to_run` (made from `observed`), then observes again and
/// verifies that every change took. `on_step` is called before each step.
pub async fn apply(
    client: &MediantClient,
    desired: &DesiredState,
    observed: &ObservedState,
    plan_to_run: &Plan,
    digests: &SecretDigests,
    on_step: impl FnMut(usize, &Step),
) -> Result<Outcome, ApplyError> {
    engine::converge::<MediantDeviceKind>(client, desired, observed, plan_to_run, digests, on_step)
        .await
}
