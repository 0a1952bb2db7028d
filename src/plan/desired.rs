//! From a `MediantDevice` spec (plus the texts and secrets it refers to) to
//! the engine's inputs: the desired state and a device client. Shared by the
//! command line and the controller, so both read a spec the same way.

use crate::api::{self, MediantDeviceSpec, ResetDecision, ResolvedSources, ValidationError};
use crate::device::{
    ClientOptions, Credentials, DeviceError, Dialect, MediantClient, RetryPolicy, TlsTrust,
};

use super::{DesiredState, IniMode, ResetPermission};

/// The desired state a spec declares. `reset` is the policy's decision for
/// now (the caller owns the clock).
pub fn desired_state(
    spec: &MediantDeviceSpec,
    resolved: &ResolvedSources,
    reset: ResetDecision,
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
        reset: match reset {
            ResetDecision::Allowed => ResetPermission::Allowed,
            ResetDecision::Refused { .. } => ResetPermission::Refused,
            ResetDecision::NotNow { reason, .. } => ResetPermission::NotNow { reason },
        },
        save_after_apply: spec.save_after_apply,
    })
}

/// A client of the device a spec names. `ca_bundle` is the PEM text the
/// spec's `tls.caBundle` refers to, loaded by the caller; `retry` is how hard
/// one call tries (the controller, which backs off per object, tries less).
pub fn client_for(
    spec: &MediantDeviceSpec,
    credentials: Credentials,
    ca_bundle: Option<String>,
    observer: Option<crate::device::RequestObserver>,
    retry: RetryPolicy,
) -> Result<MediantClient, DeviceError> {
    let config = |e: ValidationError| DeviceError::Config {
        reason: e.to_string(),
    };
    let tls = match (&spec.tls, ca_bundle) {
        (Some(t), _) if t.insecure_skip_verify => TlsTrust::InsecureSkipVerify,
        (_, Some(pem)) => TlsTrust::CaBundle(pem),
        _ => TlsTrust::System,
    };
    let options = ClientOptions {
        connect_timeout: spec.connect_timeout().map_err(config)?,
        request_timeout: spec.request_timeout().map_err(config)?,
        dialect: spec.dialect.map(|d| match d {
            api::Dialect::V74 => Dialect::V74,
            api::Dialect::V2015 => Dialect::V2015,
        }),
        tls,
        observer,
        retry,
        ..ClientOptions::default()
    };
    MediantClient::new(&spec.endpoint, credentials, options)
}
