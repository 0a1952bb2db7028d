//! From a `MediantDevice` spec (plus the texts it refers to) to the
//! engine's input, the desired state. Shared by the command line and the
//! controller, so both read a spec the same way.

use crate::api::{self, MediantDeviceSpec, ResolvedSources, ValidationError};

use super::{DesiredState, IniMode, ResetPermission};

/// The desired state a spec declares. `reset` is the policy's decision for
/// now (the caller owns the clock).
pub fn desired_state(
    spec: &MediantDeviceSpec,
    resolved: &ResolvedSources,
    reset: ResetPermission,
) -> Result<DesiredState, ValidationError> {
    if spec.ini.is_none() && spec.cli_script.is_none() {
        return Err(ValidationError::NothingDeclared);
    }
    let ini = spec
        .ini
        .as_ref()
        .map(|i| i.desired_document(resolved))
        .transpose()?;
    let cli = spec
        .cli_script
        .as_ref()
        .map(|c| c.desired_script(resolved))
        .transpose()?;
    let cli_options = match &spec.cli_script {
        Some(c) => c.diff_options()?,
        None => Default::default(),
    };
    Ok(DesiredState {
        ini,
        ini_options: spec
            .ini
            .as_ref()
            .map(|i| i.diff_options())
            .unwrap_or_default(),
        ini_mode: match spec.ini.as_ref().map(|i| i.mode) {
            Some(api::IniMode::Full) => IniMode::FullWithReset,
            _ => IniMode::Incremental,
        },
        cli,
        cli_options,
        reset,
        save_after_apply: spec.save_after_apply,
    })
}
