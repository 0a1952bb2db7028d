//! Plan and apply: `plan(desired, observed)` is a pure function returning the
//! ordered steps that make a device match; [`execute`] observes, applies and
//! verifies them through a device client.
//!
//! The same [`Plan`] is printed by `diff`, executed by `apply` and summarised
//! into status by the controller.

mod desired;
mod execute;
pub mod license_entitlement;
mod secrets;

use crate::config::cli::{self, CliDiffOptions, CliScript};
use crate::config::ini::{self, DiffOptions, IniDocument, RenderError};
use crate::device::DeviceStatus;

pub use desired::{client_for, desired_state};
pub use execute::{ApplyError, Outcome, StepReport, apply, observe};
pub use secrets::{SecretDigests, digest, digests_of};

/// How the INI part reaches the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IniMode {
    /// `PUT /files/ini/incremental`: running configuration, no reset.
    #[default]
    Incremental,
    /// `PUT /files/ini` of the device's whole configuration with the changes
    /// merged in: the device resets to load it (for parameters that take
    /// effect only after a restart).
    FullWithReset,
}

/// Whether steps that reset the device may run now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ResetPermission {
    /// Refused; `how_to_allow` says what the user must change.
    #[default]
    Refused,
    /// Refused for now with a reason (e.g. outside the maintenance window).
    NotNow {
        /// Why not now, and when.
        reason: String,
    },
    /// Allowed.
    Allowed,
}

/// Everything the user declared for one device.
#[derive(Clone, Debug, Default)]
pub struct DesiredState {
    /// Declared INI parameters and tables, if any.
    pub ini: Option<IniDocument>,
    /// Prune/reset/default options of the INI comparison.
    pub ini_options: DiffOptions,
    /// How INI changes reach the device.
    pub ini_mode: IniMode,
    /// Declared CLI configuration, if any.
    pub cli: Option<CliScript>,
    /// CLI entries the desired script owns completely, and known defaults.
    pub cli_options: CliDiffOptions,
    /// Whether reset-causing steps may run.
    pub reset: ResetPermission,
    /// Save running configuration to startup after changes.
    pub save_after_apply: bool,
}

/// What the device holds now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedState {
    /// `GET /status`.
    pub status: DeviceStatus,
    /// `GET /files/ini`, when INI is declared.
    pub ini: Option<IniDocument>,
    /// `GET /files/cliScript`, when CLI is declared.
    pub cli: Option<CliScript>,
}

/// What a step does besides changing configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideEffect {
    /// Nothing: running configuration changes, the device keeps serving.
    None,
    /// The device restarts and is unreachable for a while.
    ResetsDevice,
}

/// The request a step sends.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// `PUT /files/ini/incremental` with this text.
    IniIncremental(String),
    /// `PUT /files/ini` with this whole configuration (resets).
    IniFull(String),
    /// `PUT /files/cliScript/incremental` with this script.
    CliIncremental(String),
    /// `POST /actions/saveConfiguration`.
    SaveConfiguration,
}

impl std::fmt::Debug for Action {
    /// Payloads may hold secrets: `Debug` shows only their size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::IniIncremental(t) => write!(f, "IniIncremental({} bytes)", t.len()),
            Action::IniFull(t) => write!(f, "IniFull({} bytes)", t.len()),
            Action::CliIncremental(t) => write!(f, "CliIncremental({} bytes)", t.len()),
            Action::SaveConfiguration => f.write_str("SaveConfiguration"),
        }
    }
}

/// One changed setting as people read it (secret values already masked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `Param`, `Table[3].Column`, `Table[3]`, `configure voip / sip-interface 0 / udp-port`.
    pub key: String,
    /// The device's value; `None` when the entry does not exist yet.
    pub before: Option<String>,
    /// The desired value; `None` when the entry is deleted.
    pub after: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.before, &self.after) {
            (None, Some(after)) if after.is_empty() => write!(f, "+ {}", self.key),
            (None, Some(after)) => write!(f, "+ {} {after}", self.key),
            (_, None) => write!(f, "- {}", self.key),
            (Some(before), Some(after)) => write!(f, "{}: {before} → {after}", self.key),
        }
    }
}

impl Change {
    fn from_ini((key, before, after): (String, Option<String>, Option<String>)) -> Self {
        Change { key, before, after }
    }

    fn from_cli(change: &cli::CliChange) -> Self {
        let shown = |key: &str, v: &str| {
            if cli::is_secret_key(key) {
                crate::config::sensitive::MASK.to_string()
            } else {
                v.to_string()
            }
        };
        match change {
            cli::CliChange::Set {
                path,
                key,
                old,
                new,
            } => Change {
                key: format!("{} / {key}", path.join(" / ")),
                before: Some(
                    old.as_deref()
                        .map_or_else(|| "(unset)".into(), |o| shown(key, o)),
                ),
                after: Some(shown(key, new)),
            },
            cli::CliChange::Reset { path, key, old } => Change {
                key: format!("{} / {key}", path.join(" / ")),
                before: Some(shown(key, old)),
                after: Some("(default)".into()),
            },
            cli::CliChange::Create { path } => Change {
                key: path.join(" / "),
                before: None,
                after: Some(String::new()),
            },
            cli::CliChange::Delete { path } => Change {
                key: path.join(" / "),
                before: Some(String::new()),
                after: None,
            },
        }
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What is sent.
    pub action: Action,
    /// One line saying what the step does.
    pub description: String,
    /// The human diff, one entry per change, secrets masked.
    pub changes: Vec<Change>,
    /// Its side effect.
    pub side_effect: SideEffect,
}

/// The ordered steps that make a device match, and what was held back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Steps to run, in order.
    pub steps: Vec<Step>,
    /// Reset-causing steps the reset permission held back, with the reason.
    pub blocked: Vec<(Step, String)>,
    /// Number of differing settings (drift).
    pub drift_count: usize,
    /// The first few differing keys (never values).
    pub drift_keys: Vec<String>,
}

impl Plan {
    /// Whether the device already matches (nothing to run, nothing held back).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.blocked.is_empty()
    }

    /// The human diff of all steps, held-back ones included.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.steps
            .iter()
            .chain(self.blocked.iter().map(|(s, _)| s))
            .flat_map(|s| s.changes.iter())
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A desired value cannot be written as INI.
    #[error("the desired INI cannot be written: {0}")]
    Render(#[from] RenderError),
    /// Our own incremental INI did not parse back (a bug: please report it).
    #[error("internal error: the planned INI does not parse back: {0}")]
    Reparse(#[from] ini::IniError),
    /// INI is declared but was not observed (a bug in the caller).
    #[error("the device's {0} was not observed")]
    NotObserved(&'static str),
}

/// How many changed keys a plan keeps for status.
const DRIFT_KEYS: usize = 10;

/// Plans the steps that make `observed` match `desired`. Pure: no I/O.
/// `digests` records what was last sent for write-only secrets (the device
/// shows only a hash), so an unchanged secret is not re-sent every time.
pub fn plan(
    desired: &DesiredState,
    observed: &ObservedState,
    digests: &SecretDigests,
) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    let serial = observed.status.serial_number.as_str();

    if let Some(want) = &desired.ini {
        let have = observed
            .ini
            .as_ref()
            .ok_or(PlanError::NotObserved("INI file"))?;
        let want = secrets::settle_ini(want, have, digests, serial);
        let changes = ini::diff(&want, have, &desired.ini_options);
        if !changes.is_empty() {
            plan.drift_count += changes.len();
            plan.drift_keys.extend(changes.changed_keys(DRIFT_KEYS));
            let summary: Vec<Change> = changes
                .entries()
                .into_iter()
                .map(Change::from_ini)
                .collect();
            match desired.ini_mode {
                IniMode::Incremental => plan.steps.push(Step {
                    action: Action::IniIncremental(changes.render_incremental()?),
                    description: format!("apply {} INI change(s) incrementally", changes.len()),
                    changes: summary,
                    side_effect: SideEffect::None,
                }),
                IniMode::FullWithReset => {
                    let mut full = have.clone();
                    full.apply(&ini::parse(&changes.render_incremental()?)?);
                    let step = Step {
                        action: Action::IniFull(full.render()?),
                        description: format!(
                            "upload the whole INI with {} change(s); the device resets to load it",
                            changes.len()
                        ),
                        changes: summary,
                        side_effect: SideEffect::ResetsDevice,
                    };
                    match &desired.reset {
                        ResetPermission::Allowed => plan.steps.push(step),
                        ResetPermission::Refused => plan.blocked.push((
                            step,
                            "resetPolicy is Never: set spec.resetPolicy to Allowed (or a MaintenanceWindow) to let the operator reset the device, or use spec.ini.mode Incremental".into(),
                        )),
                        ResetPermission::NotNow { reason } => {
                            plan.blocked.push((step, reason.clone()))
                        }
                    }
                }
            }
        }
    }

    if let Some(want) = &desired.cli {
        let have = observed
            .cli
            .as_ref()
            .ok_or(PlanError::NotObserved("CLI script"))?;
        let changes = cli::diff(want, have, &desired.cli_options);
        if !changes.is_empty() {
            let summary: Vec<Change> = changes.changes().iter().map(Change::from_cli).collect();
            plan.drift_count += summary.len();
            let room = DRIFT_KEYS.saturating_sub(plan.drift_keys.len());
            plan.drift_keys
                .extend(changes.changes().iter().take(room).map(cli_key));
            plan.steps.push(Step {
                action: Action::CliIncremental(changes.render_incremental()),
                description: format!("run {} CLI change(s) incrementally", summary.len()),
                changes: summary,
                side_effect: SideEffect::None,
            });
        }
    }

    let incremental = plan.steps.iter().any(|s| s.side_effect == SideEffect::None);
    if desired.save_after_apply && incremental {
        plan.steps.push(Step {
            action: Action::SaveConfiguration,
            description: "save the running configuration so a restart keeps it".into(),
            changes: Vec::new(),
            side_effect: SideEffect::None,
        });
    }
    Ok(plan)
}

/// The key of a CLI change (its path and setting), without its value.
fn cli_key(change: &cli::CliChange) -> String {
    match change {
        cli::CliChange::Set { path, key, .. } | cli::CliChange::Reset { path, key, .. } => {
            format!("{} / {key}", path.join(" / "))
        }
        cli::CliChange::Create { path } | cli::CliChange::Delete { path } => path.join(" / "),
    }
}
