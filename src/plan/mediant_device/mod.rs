//! The `MediantDevice` kind behind the seam: its desired state (INI and
//! CLI), what is observed of the device, the pure plan, and how its steps
//! run. The device itself is the target.

mod desired;
mod execute;
mod from_secrets;
mod secrets;

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use crate::api::{
    self, MediantDevice, MediantDeviceStatus, ResolvedSources, SourceRef, ValidationError,
};
use crate::config::cli::{self, CliDiffOptions, CliScript};
use crate::config::ini::{self, DiffOptions, IniDocument};
use crate::device::{DeviceError, DeviceStatus, MediantClient};

use super::kind::{Kind, KindStatus, Origin, StepDone, Target};
use super::report::CommonStatus;
use super::{Change, Plan, PlanError, ResetPermission, SideEffect, Step};

pub use desired::{
    check_texts, cli_options, cli_prune_rules, cli_script, desired_state, ini_document, ini_options,
};
pub use execute::{apply, observe};
pub use from_secrets::FromSecrets;
pub use secrets::{FULL_UPLOAD_ENTRY, SecretDigests, digests_of};

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

/// Everything the user declared for one device.
#[derive(Clone, Default)]
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
    /// What came from Secrets (`secretRefs`): masked in every printed plan.
    pub from_secrets: FromSecrets,
}

impl std::fmt::Debug for DesiredState {
    /// Values from Secrets may have names that do not look secret, so the
    /// declared documents are shown by size only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredState")
            .field("ini", &self.ini.as_ref().map(IniDocument::len))
            .field("ini_options", &self.ini_options)
            .field("ini_mode", &self.ini_mode)
            .field("cli", &self.cli.as_ref().map(|c| c.nodes.len()))
            .field("cli_options", &self.cli_options)
            .field("reset", &self.reset)
            .field("save_after_apply", &self.save_after_apply)
            .field("from_secrets", &self.from_secrets)
            .finish()
    }
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
    /// Active alarms (`GET /alarms/active`), when counted this time.
    pub active_alarms: Option<u32>,
}

/// The request a step sends.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// `PUT /files/ini/incremental` with this text; once it succeeded, the
    /// digests of the write-only values it sent are recorded.
    IniIncremental(String, SecretDigests),
    /// `PUT /files/ini` with this whole configuration (resets); once it
    /// succeeded, the digests of its write-only values and its
    /// fingerprint ([`FULL_UPLOAD_ENTRY`]) are recorded.
    IniFull(String, SecretDigests),
    /// `PUT /files/cliScript/incremental` with this script; once it
    /// succeeded, the digests of the secret settings it sent are recorded.
    CliIncremental(String, SecretDigests),
    /// `POST /actions/saveConfiguration`.
    SaveConfiguration,
}

impl std::fmt::Debug for Action {
    /// Payloads may hold secrets: `Debug` shows only their size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::IniIncremental(t, _) => write!(f, "IniIncremental({} bytes)", t.len()),
            Action::IniFull(t, _) => write!(f, "IniFull({} bytes)", t.len()),
            Action::CliIncremental(t, _) => write!(f, "CliIncremental({} bytes)", t.len()),
            Action::SaveConfiguration => f.write_str("SaveConfiguration"),
        }
    }
}

impl Change {
    fn from_ini((key, before, after): (String, Option<String>, Option<String>)) -> Self {
        Change { key, before, after }
    }

    fn from_cli(change: &cli::CliChange, from_secrets: &FromSecrets) -> Self {
        let secret = from_secrets.covers_cli(change);
        let shown = |key: &str, v: &str| {
            if secret || cli::is_secret_key(key) {
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

    if let Some(declared) = &desired.ini {
        let have = observed
            .ini
            .as_ref()
            .ok_or(PlanError::NotObserved("INI file"))?;
        // Refusals come first, on what the user declared, before anything
        // is sent: part of a secret table, a prune without a documented
        // deletion, a `$$` of unknown default.
        ini::validate(declared, have, &desired.ini_options)?;
        let want = secrets::settle_ini(declared, have, digests, serial);
        let record = secrets::record(declared, Some(have), serial, digests);
        let changes = ini::diff(&want, have, &desired.ini_options);
        if !changes.is_empty() {
            plan.drift_count += changes.len();
            plan.drift_keys.extend(changes.changed_keys(DRIFT_KEYS));
            let entries: Vec<Change> = desired
                .from_secrets
                .shown_ini(&changes)
                .entries()
                .into_iter()
                .map(Change::from_ini)
                .collect();
            // Deleted rows (`after` is `None`) go through the CLI script.
            let (deleted, summary): (Vec<Change>, Vec<Change>) =
                entries.into_iter().partition(|c| c.after.is_none());
            let ini_count = summary.len();
            match desired.ini_mode {
                IniMode::Incremental => {
                    if changes.has_ini_changes() {
                        plan.steps.push(Step {
                            action: Action::IniIncremental(
                                changes.render_incremental()?,
                                record.clone(),
                            ),
                            description: format!(
                                "apply {ini_count} INI change(s) incrementally (changed rows are sent whole)"
                            ),
                            changes: summary,
                            side_effect: SideEffect::None,
                        });
                    }
                    // After the INI step: a row it changes may stop naming a
                    // row deleted here. Children are deleted first.
                    if let Some(script) = changes.render_cli_deletions(have)? {
                        plan.steps.push(Step {
                            action: Action::CliIncremental(script, digests.empty_like()),
                            description: format!(
                                "delete {} pruned row(s) through an incremental CLI script (INI has no row deletion)",
                                deleted.len()
                            ),
                            changes: deleted,
                            side_effect: SideEffect::None,
                        });
                    }
                }
                IniMode::FullWithReset => {
                    // The whole file replaces the configuration: what the
                    // device hides would be lost, so that is refused.
                    ini::check_full_upload(declared, have, &desired.ini_options)?;
                    let mut full = have.clone();
                    full.apply(&ini::parse(&changes.render_incremental()?)?);
                    // Pruned rows are left out of the file that replaces
                    // the configuration (assumption: a full upload keeps
                    // nothing the file does not hold; the v7.4 document
                    // says only that it "triggers device reset to activate
                    // the new configuration").
                    for table in &changes.tables {
                        for row in &table.rows {
                            if let ini::RowChange::Delete { index } = row
                                && let Some(t) = full.table_mut(&table.table)
                            {
                                t.remove_row(index);
                            }
                        }
                    }
                    // What the user declared, as a fingerprint: planned
                    // again after an upload of the very same declaration,
                    // the device did not take all of it (or lost it), and
                    // another reset would not help.
                    let what = declared.render()?;
                    let fingerprint = digests.seal(serial, FULL_UPLOAD_ENTRY, &what);
                    let repeated = digests.get(FULL_UPLOAD_ENTRY) == Some(&fingerprint);
                    let mut record = record;
                    record.insert(FULL_UPLOAD_ENTRY.to_owned(), fingerprint);
                    let mut all = summary;
                    all.extend(deleted);
                    let step = Step {
                        action: Action::IniFull(full.render()?, record),
                        description: format!(
                            "upload the whole INI with {} change(s); the device resets to load it",
                            changes.len()
                        ),
                        changes: all,
                        side_effect: SideEffect::ResetsDevice,
                    };
                    match &desired.reset {
                        // Never a reset loop: the very upload the device
                        // reset for last time is not sent again.
                        _ if repeated => {
                            let keys = changes.changed_keys(5);
                            let reason = format!(
                                "{}: this desired INI was already uploaded whole with a reset and \
                                 the device still differs ({}); another reset would not change \
                                 that. Change the desired INI (or check why the device does not \
                                 take it), or forget the record `{FULL_UPLOAD_ENTRY}` (status \
                                 appliedSecretDigests, or the command line's state file) to retry",
                                super::REPEATED_RESET,
                                keys.join(", ")
                            );
                            plan.blocked.push((step, reason));
                        }
                        ResetPermission::Allowed => plan.steps.push(step),
                        ResetPermission::Refused { how_to_allow } => {
                            plan.blocked.push((step, how_to_allow.clone()))
                        }
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
        let mut changes = cli::diff(want, have, &desired.cli_options);
        let record = secrets::settle_cli(&mut changes, digests, serial);
        if !changes.is_empty() {
            let summary: Vec<Change> = changes
                .changes()
                .iter()
                .map(|c| Change::from_cli(c, &desired.from_secrets))
                .collect();
            plan.drift_count += summary.len();
            let room = DRIFT_KEYS.saturating_sub(plan.drift_keys.len());
            plan.drift_keys
                .extend(changes.changes().iter().take(room).map(cli_key));
            plan.steps.push(Step {
                action: Action::CliIncremental(changes.render_incremental(), record),
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

/// The `MediantDevice` kind: the device is its own target.
#[derive(Clone, Copy, Debug, Default)]
pub struct MediantDeviceKind;

impl KindStatus for MediantDeviceStatus {
    fn common(&self) -> CommonStatus {
        CommonStatus {
            conditions: self.conditions.clone(),
            observed_generation: self.observed_generation,
            last_applied_revision: self.last_applied_revision.clone(),
            drift: self.drift.clone(),
            pending_steps: self.pending_steps.clone(),
            last_sync_time: self.last_sync_time.clone(),
            applied_secret_digests: self.applied_secret_digests.clone().into(),
        }
    }

    fn pending_save(&self) -> Option<Time> {
        self.pending_save.clone()
    }

    fn with_pending_save(mut self, pending: Option<Time>) -> Self {
        self.pending_save = pending;
        self
    }

    fn without_clock(&self) -> Self {
        let mut s = self.clone();
        s.last_sync_time = None;
        if let Some(d) = &mut s.device {
            d.uptime_seconds = 0;
        }
        s
    }
}

/// The facts status keeps from `GET /status`.
pub fn facts_of(status: &DeviceStatus) -> api::DeviceFacts {
    api::DeviceFacts {
        product: status.product_type.clone(),
        version: status.version_id.clone(),
        serial: status.serial_number.clone(),
        ha_state: status.high_availability.clone(),
        operational_state: status.operational_state.clone(),
        uptime_seconds: status.system_up_time.unwrap_or(0),
    }
}

/// The annotation that pauses writes like `spec.suspend` does, for a quick
/// `kubectl annotate` without editing the spec (e.g. during an incident).
pub const PAUSED_ANNOTATION: &str = "mediant.io/paused";

/// The hint for INI parameters still absent from the device's dump after
/// an accepted write. A dump lists only non-default values, so such a
/// parameter is either at its default (declare the default in
/// `spec.ini.defaults` and it is in sync) or unknown to the firmware (a
/// misspelling: the device ignores unknown names). Which one cannot be
/// told from the device, so it is said, not guessed. Names only, never
/// values (a value may be a secret).
fn absent_parameters_hint(left: &Plan) -> Option<String> {
    let absent: Vec<&str> = left
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::IniIncremental(..) | Action::IniFull(..)))
        .flat_map(|s| &s.changes)
        // A scalar parameter (not `Table[i].Column`, not a CLI path) the
        // device does not list.
        .filter(|c| {
            c.before.as_deref() == Some(ini::AT_DEFAULT)
                && !c.key.contains('[')
                && !c.key.contains(" / ")
        })
        .map(|c| c.key.as_str())
        .collect();
    let first = absent.first()?;
    let names = if absent.len() == 1 {
        (*first).to_owned()
    } else {
        format!("{} and {} more", first, absent.len() - 1)
    };
    Some(format!(
        "{names} still absent from the device's INI after the write: a device lists only \
         non-default values, so either the value is the parameter's default (declare it in \
         spec.ini.defaults, e.g. {first}: \"<default>\", and it is in sync) or the firmware does \
         not know the name (check its spelling)"
    ))
}

/// Whether writes to the device are paused (`spec.suspend` or the
/// annotation [`PAUSED_ANNOTATION`]). Every resource configuring the device
/// is paused with it.
pub fn device_paused(device: &MediantDevice) -> bool {
    device.spec.suspend
        || device
            .annotations()
            .get(PAUSED_ANNOTATION)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

impl Kind for MediantDeviceKind {
    type Resource = MediantDevice;
    type Desired = DesiredState;
    type Observed = ObservedState;
    type Action = Action;
    type Status = MediantDeviceStatus;
    type Client = MediantClient;

    const KIND: &'static str = "MediantDevice";

    fn target(resource: &MediantDevice) -> Target<'_> {
        Target::Itself(resource)
    }

    fn connect(
        refs: &crate::plan::Dereferenced,
        _desired: &DesiredState,
        options: &crate::plan::ConnectOptions,
    ) -> Result<MediantClient, DeviceError> {
        crate::plan::connect_device(refs, options)
    }

    fn validate(resource: &MediantDevice, origin: Origin) -> Result<(), ValidationError> {
        match origin {
            Origin::Manifests => resource.spec.validate()?,
            Origin::Cluster => resource.validate_for_cluster()?,
        }
        // What needs the texts parsed: `api` checks only what CEL can.
        check_texts(&resource.spec)
    }

    fn interval(resource: &MediantDevice) -> Result<Duration, ValidationError> {
        resource.spec.interval()
    }

    fn paused(_resource: &MediantDevice) -> bool {
        // The device's own suspend: the pipeline checks it for every kind.
        false
    }

    fn references(resource: &MediantDevice) -> Vec<SourceRef> {
        resource.spec.references()
    }

    fn desired(
        resource: &MediantDevice,
        resolved: &ResolvedSources,
        reset: ResetPermission,
    ) -> Result<DesiredState, ValidationError> {
        desired_state(&resource.spec, resolved, reset)
    }

    fn revision(resource: &MediantDevice, resolved: &ResolvedSources) -> String {
        api::desired_revision(&resource.spec, resolved)
    }

    async fn observe(
        client: &MediantClient,
        desired: &DesiredState,
        thorough: bool,
    ) -> Result<ObservedState, super::ApplyError> {
        execute::observe_with(client, desired, thorough).await
    }

    fn not_taken_hint(left: &Plan) -> Option<String> {
        absent_parameters_hint(left)
    }

    fn carry_over(before: &ObservedState, after: &mut ObservedState) {
        if after.active_alarms.is_none() {
            after.active_alarms = before.active_alarms;
        }
    }

    fn plan(
        desired: &DesiredState,
        observed: &ObservedState,
        memory: &SecretDigests,
    ) -> Result<Plan, PlanError> {
        plan(desired, observed, memory)
    }

    fn saves(action: &Action) -> bool {
        matches!(action, Action::SaveConfiguration)
    }

    async fn save_pending(client: &MediantClient) -> Result<(), crate::plan::ApplyError> {
        crate::plan::save_pending(client).await
    }

    async fn run_step(
        client: &MediantClient,
        desired: &DesiredState,
        observed: &ObservedState,
        action: &Action,
    ) -> Result<StepDone, DeviceError> {
        // The device may quote a refused line back: mask what came from
        // Secrets before the error is printed, logged or put in status.
        let mut done = execute::run_step(client, desired, observed, action)
            .await
            .map_err(|e| desired.from_secrets.redact_error(e))?;
        if !desired.from_secrets.is_empty() {
            done.output = done.output.map(|o| desired.from_secrets.redact_text(&o));
        }
        Ok(done)
    }

    fn status(
        previous: Option<&MediantDeviceStatus>,
        common: CommonStatus,
        observed: Option<&ObservedState>,
        now: &Time,
    ) -> MediantDeviceStatus {
        let prev = previous.cloned().unwrap_or_default();
        let alarms = observed.and_then(|o| o.active_alarms);
        let (active_alarms, last_alarm_change) = match alarms {
            Some(n) if prev.active_alarms.is_some_and(|p| p != n) => (Some(n), Some(now.clone())),
            Some(n) => (Some(n), prev.last_alarm_change.clone()),
            None => (prev.active_alarms, prev.last_alarm_change.clone()),
        };
        MediantDeviceStatus {
            conditions: common.conditions,
            observed_generation: common.observed_generation,
            device: observed.map(|o| facts_of(&o.status)).or(prev.device),
            last_applied_revision: common.last_applied_revision,
            drift: common.drift,
            pending_steps: common.pending_steps,
            active_alarms,
            last_alarm_change,
            last_sync_time: common.last_sync_time,
            applied_secret_digests: common.applied_secret_digests.into_entries(),
            // The pipeline sets it (KindStatus::with_pending_save).
            pending_save: prev.pending_save,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MediantDeviceSpec;
    use std::collections::BTreeMap;

    #[test]
    fn suspend_or_the_annotation_pauses() {
        let mut d = MediantDevice::new("sbc", MediantDeviceSpec::new("https://10.0.0.5", "c"));
        assert!(!device_paused(&d));
        d.spec.suspend = true;
        assert!(device_paused(&d));
        d.spec.suspend = false;
        d.metadata.annotations = Some(BTreeMap::from([(PAUSED_ANNOTATION.into(), "True".into())]));
        assert!(device_paused(&d));
        d.metadata.annotations = Some(BTreeMap::from([(PAUSED_ANNOTATION.into(), "no".into())]));
        assert!(!device_paused(&d));
    }
}
