//! Step 2, validate: check the resource as a cluster holds it, build the
//! desired state from it, the texts it refers to and its device's reset
//! policy, and build the device client. Pure but for the clock, which the
//! caller passes in.

use k8s_openapi::jiff::Timestamp;

use crate::api::{MediantDevice, ResetDecision, ResolvedSources, ValidationError};
use crate::device::{Credentials, DeviceError, MediantClient, RequestObserver};
use crate::plan::{self, Category, Kind, Origin};

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
    /// The bounded category.
    pub fn category(&self) -> Category {
        match self {
            ValidateError::Spec(_) => Category::InvalidSpec,
            ValidateError::Connection(_) => Category::InvalidConnectionSettings,
        }
    }
}

/// Checks the resource before anything it names is read.
pub fn spec<K: Kind>(resource: &K::Resource) -> Result<(), ValidateError> {
    K::validate(resource, Origin::Cluster).map_err(ValidateError::Spec)
}

/// The desired state, and the target's reset decision at `now` (`device`:
/// the target MediantDevice; `None` for an external target).
pub fn desired<K: Kind>(
    resource: &K::Resource,
    device: Option<&MediantDevice>,
    resolved: &ResolvedSources,
    now: Timestamp,
) -> Result<(K::Desired, ResetDecision), ValidateError> {
    let decision = K::reset_decision(resource, device, now)?;
    let desired = K::desired(resource, resolved, decision.clone().into())?;
    Ok((desired, decision))
}

/// The target's client, through the kind's `connect` (as the command line
/// builds it), with the controller's retries and request observer.
pub fn connect<K: Kind>(
    refs: &plan::Dereferenced,
    desired: &K::Desired,
    observer: RequestObserver,
) -> Result<K::Client, ValidateError> {
    let options = plan::ConnectOptions {
        observer: Some(observer),
        retry: plan::retry_for(true),
    };
    K::connect(refs, desired, &options).map_err(ValidateError::Connection)
}

/// A MediantDevice's client, through the same constructor the command line
/// uses.
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
        plan::retry_for(true),
    )
    .map_err(ValidateError::Connection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{IniSpec, MediantDeviceSpec};
    use crate::plan::MediantDeviceKind;

    fn device(spec: MediantDeviceSpec) -> MediantDevice {
        MediantDevice::new("sbc", spec)
    }

    #[test]
    fn a_spec_without_configuration_is_invalid() {
        let d = device(MediantDeviceSpec::new("https://10.0.0.5", "creds"));
        let e = spec::<MediantDeviceKind>(&d).expect_err("nothing declared");
        assert_eq!(e.category().as_str(), "InvalidSpec");
    }

    #[test]
    fn malformed_inline_ini_names_the_line() {
        let mut s = MediantDeviceSpec::new("https://10.0.0.5", "creds");
        s.ini = Some(IniSpec {
            inline: Some("[SYSTEM Params]\nGWDebugLevel = 1\n[ IPGroup ]\nIPGroup 0 = 1;\n".into()),
            ..IniSpec::default()
        });
        let d = device(s);
        let e = spec::<MediantDeviceKind>(&d)
            .err()
            .or_else(|| {
                desired::<MediantDeviceKind>(
                    &d,
                    Some(&d),
                    &ResolvedSources::new(),
                    Timestamp::UNIX_EPOCH,
                )
                .err()
            })
            .expect("malformed INI is rejected");
        assert_eq!(e.category().as_str(), "InvalidSpec");
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
        assert_eq!(e.category().as_str(), "InvalidConnectionSettings");
    }
}
