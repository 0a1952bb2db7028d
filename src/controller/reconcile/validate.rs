//! Step 2, validate: check the spec as a cluster holds it, build the
//! desired state from it and the texts it refers to, and build the device
//! client. Pure but for the clock, which the caller passes in.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::{MediantDevice, ResetDecision, ResolvedSources, ValidationError};
use crate::device::{Credentials, DeviceError, MediantClient, RequestObserver, RetryPolicy};
use crate::plan::{self, DesiredState};

/// Why the spec cannot be acted on.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// A field, or referenced text, is invalid.
    #[error("{0}")]
    Spec(#[from] ValidationError),
    /// The connection settings cannot be used (e.g. a CA bundle that is not PEM).
    #[error("{0}")]
    Connection(#[source] DeviceError),
}

impl ValidateError {
    /// A bounded identifier for event reasons and metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            ValidateError::Spec(_) => "InvalidSpec",
            ValidateError::Connection(_) => "InvalidConnectionSettings",
        }
    }
}

/// Checks the spec before anything it names is read.
pub fn spec(device: &MediantDevice) -> Result<(), ValidateError> {
    device.validate_for_cluster().map_err(ValidateError::Spec)
}

/// The desired state, and the reset policy's decision at `now`.
pub fn desired(
    device: &MediantDevice,
    resolved: &ResolvedSources,
    now: Timestamp,
) -> Result<(DesiredState, ResetDecision), ValidateError> {
    let decision = device.spec.reset_decision(now)?;
    let desired = plan::desired_state(&device.spec, resolved, decision.clone())?;
    Ok((desired, decision))
}

/// Retries of one device call inside a reconcile: a few quick ones for a
/// busy (409) device; longer outages are the per-object backoff's job, so
/// a reconcile never holds the device lock through minutes of retries.
const CONTROLLER_RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    base_delay: Duration::from_millis(200),
    max_delay: Duration::from_secs(1),
};

/// The device client, through the same constructor the command line uses.
pub fn client(
    device: &MediantDevice,
    credentials: Credentials,
    ca_bundle: Option<String>,
    observer: RequestObserver,
) -> Result<MediantClient, ValidateError> {
    plan::client_for(
        &device.spec,
        credentials,
        ca_bundle,
        Some(observer),
        CONTROLLER_RETRY,
    )
    .map_err(ValidateError::Connection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{IniSpec, MediantDeviceSpec};

    fn device(spec: MediantDeviceSpec) -> MediantDevice {
        MediantDevice::new("sbc", spec)
    }

    #[test]
    fn a_spec_without_configuration_is_invalid() {
        let d = device(MediantDeviceSpec::new("https://10.0.0.5", "creds"));
        let e = spec(&d).expect_err("nothing declared");
        assert_eq!(e.category(), "InvalidSpec");
    }

    #[test]
    fn malformed_inline_ini_names_the_line() {
        let mut s = MediantDeviceSpec::new("https://10.0.0.5", "creds");
        s.ini = Some(IniSpec {
            inline: Some("[SYSTEM Params]\nGWDebugLevel = 1\n[ IPGroup ]\nIPGroup 0 = 1;\n".into()),
            ..IniSpec::default()
        });
        let d = device(s);
        let e = spec(&d)
            .err()
            .or_else(|| desired(&d, &ResolvedSources::new(), Timestamp::UNIX_EPOCH).err())
            .expect("malformed INI is rejected");
        assert_eq!(e.category(), "InvalidSpec");
        assert!(e.to_string().contains("line"), "{e}");
    }

    #[test]
    fn a_ca_bundle_that_is_not_pem_is_a_connection_error() {
        let mut s = MediantDeviceSpec::new("https://10.0.0.5", "creds");
        s.ini = Some(IniSpec {
            inline: Some("GWDebugLevel = 1\n".into()),
            ..IniSpec::default()
        });
        let d = device(s);
        let observer: RequestObserver = std::sync::Arc::new(|_, _, _| {});
        let e = client(
            &d,
            Credentials::new("Admin", "Admin"),
            Some("not a certificate".into()),
            observer,
        )
        .expect_err("not PEM");
        assert_eq!(e.category(), "InvalidConnectionSettings");
    }
}
