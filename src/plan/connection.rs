//! The client of a resource's target: what every kind's
//! [`Kind::connect`](super::Kind::connect) is given ([`ConnectOptions`]),
//! and the one constructor of a MediantDevice's client for every kind and
//! both front ends ([`client_for`], [`connect_device`]).

use std::time::Duration;

use crate::api::{self, MediantDeviceSpec, ResetDecision, ValidationError};
use crate::device::{
    ClientOptions, Credentials, DeviceError, Dialect, MediantClient, RetryPolicy, TlsTrust,
};

use super::ResetPermission;
use super::sources::Dereferenced;

/// How a front end wants its clients built: the request observer (the
/// controller's metrics) and how hard one call tries ([`retry_for`]).
#[derive(Clone, Default)]
pub struct ConnectOptions {
    /// Called for every request sent (method, resource, status).
    pub observer: Option<crate::device::RequestObserver>,
    /// Retries of one call.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("observer", &self.observer.is_some())
            .field("retry", &self.retry)
            .finish()
    }
}

/// The client of the MediantDevice `refs` dereferenced (what the kinds
/// configuring a device return from `Kind::connect`); an error when the
/// target is not a MediantDevice.
pub fn connect_device(
    refs: &Dereferenced,
    options: &ConnectOptions,
) -> Result<MediantClient, DeviceError> {
    let device = refs.device().ok_or_else(|| DeviceError::Config {
        reason: format!("the target {} is not a MediantDevice", refs.lock_key()),
    })?;
    client_for(
        &device.spec,
        refs.credentials.clone(),
        refs.ca_bundle.clone(),
        options.observer.clone(),
        options.retry.clone(),
    )
}

impl From<ResetDecision> for ResetPermission {
    fn from(decision: ResetDecision) -> Self {
        match decision {
            ResetDecision::Allowed => ResetPermission::Allowed,
            ResetDecision::Refused { how_to_allow } => ResetPermission::Refused { how_to_allow },
            ResetDecision::NotNow { reason, .. } => ResetPermission::NotNow { reason },
        }
    }
}

/// Retries of one device call inside a controller's reconcile: a few quick
/// ones for a busy (409) device; longer outages are the per-object
/// backoff's job, so a reconcile never holds the device lock through
/// minutes of retries. The command line, which has no backoff, uses
/// [`RetryPolicy::default`].
pub fn retry_for(controller: bool) -> RetryPolicy {
    if controller {
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
        }
    } else {
        RetryPolicy::default()
    }
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
        busy_budget: spec.busy_timeout().map_err(config)?,
        ..ClientOptions::default()
    };
    MediantClient::new(&spec.endpoint, credentials, options)
}
