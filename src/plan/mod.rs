//! Plan and apply: the pure `plan(desired, observed)` of each kind, the
//! steps it returns, and the engine that observes, applies and verifies
//! them through the target's client ([`engine`]).
//!
//! The same [`Plan`] is printed by `diff`, executed by `apply` and summarised
//! into status by the controller. A kind plugs in through [`Kind`]
//! ([`kind`]); its files are `src/plan/<kind>/` and it is registered in
//! [`kinds`].

mod category;
mod connection;
pub mod engine;
pub mod issuer;
pub mod kind;
pub mod kinds;
pub mod license_entitlement;
mod mediant_device;
pub mod memory;
pub mod report;
pub mod sources;
pub mod tls_context;

use crate::config::ini::{self, RenderError};
use crate::device::DeviceError;

pub use category::Category;
pub use connection::{ConnectOptions, client_for, connect_device, retry_for};
pub use engine::{
    Outcome, Reconciled, Survey, converge, converge_recording, reconcile_once, save_pending, survey,
};
pub use issuer::{Issuer, IssuerError};
pub use kind::{Expiry, External, Kind, KindStatus, Origin, StepDone, Target};
pub use mediant_device::{
    Action, DesiredState, FULL_UPLOAD_ENTRY, FromSecrets, IniMode, MediantDeviceKind,
    ObservedState, PAUSED_ANNOTATION, apply, check_texts, cli_options, cli_prune_rules, cli_script,
    desired_state, device_paused, digests_of, facts_of, ini_document, ini_options, observe, plan,
};
pub use memory::{DigestKey, KeyError, SecretDigests, digest};
pub use sources::{Dereferenced, SourceData, SourceError, Sources, TargetSystem, dereference};

/// Whether steps that reset the device may run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetPermission {
    /// Refused; `how_to_allow` says what the user must change.
    Refused {
        /// What to change in the spec.
        how_to_allow: String,
    },
    /// Refused for now with a reason (e.g. outside the maintenance window).
    NotNow {
        /// Why not now, and when.
        reason: String,
    },
    /// Allowed.
    Allowed,
}

impl Default for ResetPermission {
    /// Refused, with the text of [`crate::api::HOW_TO_ALLOW_RESETS`].
    fn default() -> Self {
        ResetPermission::Refused {
            how_to_allow: crate::api::HOW_TO_ALLOW_RESETS.to_owned(),
        }
    }
}

/// How the reason of a held-back step starts when the step would repeat
/// the reset-causing step last run with the very same content (a reset
/// loop): it is refused whatever the reset policy says.
pub const REPEATED_RESET: &str = "refused to reset the device again";

/// Whether a held-back step's reason is a refused repeated reset.
pub fn is_repeated_reset(reason: &str) -> bool {
    reason.starts_with(REPEATED_RESET)
}

/// What a step does besides changing configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideEffect {
    /// Nothing: running configuration changes, the device keeps serving.
    None,
    /// The device restarts and is unreachable for a while.
    ResetsDevice,
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

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step<A = Action> {
    /// What is sent.
    pub action: A,
    /// One line saying what the step does.
    pub description: String,
    /// The human diff, one entry per change, secrets masked.
    pub changes: Vec<Change>,
    /// Its side effect.
    pub side_effect: SideEffect,
}

/// The ordered steps that make a device match, and what was held back.
/// `A` is the kind's action type (MediantDevice's [`Action`] by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<A = Action> {
    /// Steps to run, in order.
    pub steps: Vec<Step<A>>,
    /// Reset-causing steps the reset permission held back, with the reason.
    pub blocked: Vec<(Step<A>, String)>,
    /// Number of differing settings (drift).
    pub drift_count: usize,
    /// The first few differing keys (never values).
    pub drift_keys: Vec<String>,
}

impl<A> Default for Plan<A> {
    fn default() -> Self {
        Plan {
            steps: Vec::new(),
            blocked: Vec::new(),
            drift_count: 0,
            drift_keys: Vec::new(),
        }
    }
}

impl<A> Plan<A> {
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
    /// A desired value of another kind cannot be planned (the message says
    /// which and why, never the value).
    #[error("{0}")]
    Unplannable(String),
    /// The desired INI asks for something the engine refuses to do (part
    /// of a secret table, a prune without a documented deletion, a `$$` of
    /// unknown default): nothing is sent.
    #[error(transparent)]
    Ini(#[from] ini::IniPlanError),
}

/// Why observing or applying failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The device refused or could not be reached while observing.
    #[error("observing the device failed: {0}")]
    Observe(#[source] DeviceError),
    /// The device's own INI did not parse.
    #[error("the device's INI file could not be read: {0}")]
    DeviceIni(#[source] ini::IniError),
    /// The device's own CLI script did not parse.
    #[error("the device's CLI script could not be read: {0}")]
    DeviceCli(#[source] crate::config::cli::CliError),
    /// Something else the device returned could not be read (what, and
    /// why; never a secret value).
    #[error("the device's {what} could not be read: {reason}")]
    DeviceUnreadable {
        /// What was read, e.g. `certificate of TLS context 1`.
        what: String,
        /// Why it could not be read.
        reason: String,
    },
    /// No plan could be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A step failed in a way that leaves the device's state unknown (a
    /// lost answer to a write sent once, a CLI script the device reported
    /// as failed after maybe applying part of it): the device was observed
    /// again, and `reobserved` says what that showed.
    #[error(
        "step {number} ({description}) failed after {completed} completed step(s): {source}; \
         observed again: {reobserved}"
    )]
    StateUnknown {
        /// 1-based number of the failed step.
        number: usize,
        /// What the step was doing.
        description: String,
        /// Steps that completed before it.
        completed: usize,
        /// The device's answer (or the transport's silence).
        #[source]
        source: DeviceError,
        /// What the new observation showed, in words (keys, never values).
        reobserved: String,
        /// Changes still planned after the new observation (`None` when the
        /// device could not be observed).
        remaining: Option<usize>,
    },
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
            ApplyError::Observe(e)
            | ApplyError::Step { source: e, .. }
            | ApplyError::StateUnknown { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The bounded category; `fallback` when nothing more precise is known
    /// (`ObserveFailed` or `ApplyFailed`, by the step that failed).
    pub fn category(&self, fallback: Category) -> Category {
        match self {
            ApplyError::DeviceIni(_)
            | ApplyError::DeviceCli(_)
            | ApplyError::DeviceUnreadable { .. } => Category::DeviceConfigUnreadable,
            ApplyError::Plan(e) => e.category(),
            other => other.device_error().map_or(fallback, Category::of_device),
        }
    }

    /// Whether the device itself could not be reached or refused the
    /// credentials (the `Reachable` condition turns False).
    pub fn unreachable(&self) -> bool {
        self.device_error()
            .is_some_and(|e| e.is_unreachable() || matches!(e, DeviceError::Unauthorized { .. }))
    }
}

impl PlanError {
    /// The bounded category.
    pub fn category(&self) -> Category {
        match self {
            PlanError::Render(_) | PlanError::Unplannable(_) => Category::UnrenderableValue,
            PlanError::Ini(_) => Category::InvalidSpec,
            PlanError::Reparse(_) | PlanError::NotObserved(_) => Category::InternalError,
        }
    }
}

/// What one executed step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// The step's description.
    pub description: String,
    /// Its human diff.
    pub changes: Vec<Change>,
    /// Output the device returned (CLI `show` output), if any.
    pub output: Option<String>,
}
