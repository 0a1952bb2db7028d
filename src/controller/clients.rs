//! Target clients (a MediantDevice's, or an external system's) kept
//! between reconciliations of the same object.
//!
//! Building a client costs about 3.4 ms of CPU and 113 kB (rustls trust
//! store and verifier; measured with reqwest 0.13 on this machine), and a new
//! client opens a new connection (TCP, and TLS on https) to the device. A
//! periodic drift check would pay both every interval for every device, so
//! a client is reused for as long as everything it was built from is
//! unchanged: endpoint, TLS trust, timeouts, dialect, credentials and CA
//! bundle. Any change (a rotated password in the Secret, a new CA) builds a
//! new one. Kept clients also remember the detected upload dialect.

use std::any::Any;
use std::sync::Arc;

use crate::api::{Dialect, MediantDevice, Timeouts, TlsSpec};
use crate::device::{Credentials, MediantClient};
use crate::plan::{Dereferenced, TargetSystem};

/// What a client was built from; equal inputs give an equivalent client.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientInputs {
    /// Which client (`Kind::client_variant`) of which system.
    variant: String,
    endpoint: String,
    tls: Option<TlsSpec>,
    dialect: Option<Dialect>,
    timeouts: Timeouts,
    credentials: Credentials,
    ca_bundle: Option<String>,
}

impl ClientInputs {
    /// The inputs of a client for `device` with these credentials and CA.
    pub fn of(device: &MediantDevice, credentials: &Credentials, ca_bundle: Option<&str>) -> Self {
        ClientInputs {
            variant: String::new(),
            endpoint: device.spec.endpoint.clone(),
            tls: device.spec.tls.clone(),
            dialect: device.spec.dialect,
            timeouts: device.spec.timeouts.clone(),
            credentials: credentials.clone(),
            ca_bundle: ca_bundle.map(str::to_owned),
        }
    }

    /// The inputs of the client `variant` (`Kind::client_variant`) for the
    /// target `refs` dereferenced: a device's connection settings, or an
    /// external system's endpoint, with credentials and CA bundle.
    pub fn of_target(refs: &Dereferenced, variant: &str) -> Self {
        let mut inputs = match &refs.target {
            TargetSystem::Device(device) => {
                ClientInputs::of(device, &refs.credentials, refs.ca_bundle.as_deref())
            }
            TargetSystem::External { system, endpoint } => ClientInputs {
                variant: String::new(),
                endpoint: format!("{system} {endpoint}"),
                tls: None,
                dialect: None,
                timeouts: Timeouts::default(),
                credentials: refs.credentials.clone(),
                ca_bundle: refs.ca_bundle.clone(),
            },
        };
        inputs.variant = variant.to_owned();
        inputs
    }
}

/// The client kept for one object, in the controller's record of it: one
/// per object (not per device) because each kind's controller has its own
/// records, and a client's inputs (credentials, CA bundle) are read for
/// that object; the object's record is forgotten, client included, when it
/// is deleted.
/// The client is any kind's `Kind::Client` (a record is not generic).
#[derive(Clone)]
pub struct KeptClient {
    inputs: ClientInputs,
    client: Arc<dyn Any + Send + Sync>,
}

impl KeptClient {
    /// Keeps `client`, built from `inputs`.
    pub fn new<C: Any + Send + Sync>(inputs: ClientInputs, client: Arc<C>) -> Self {
        KeptClient { inputs, client }
    }

    /// The kept MediantClient if it was built from `inputs`; `None` when
    /// anything changed (then a new one must be built).
    pub fn reuse(&self, inputs: &ClientInputs) -> Option<Arc<MediantClient>> {
        self.reuse_as(inputs)
    }

    /// The kept client of type `C` if it was built from `inputs`; `None`
    /// when anything changed or it is another type of client.
    pub fn reuse_as<C: Any + Send + Sync>(&self, inputs: &ClientInputs) -> Option<Arc<C>> {
        if self.inputs != *inputs {
            return None;
        }
        Arc::clone(&self.client).downcast::<C>().ok()
    }
}

impl std::fmt::Debug for KeptClient {
    /// The inputs hold credentials: only the endpoint is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptClient")
            .field("endpoint", &self.inputs.endpoint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{IniSpec, MediantDeviceSpec};
    use crate::device::ClientOptions;

    fn device(endpoint: &str) -> MediantDevice {
        let mut spec = MediantDeviceSpec::new(endpoint, "creds");
        spec.ini = Some(IniSpec {
            inline: Some("GWDebugLevel = 1\n".into()),
            ..IniSpec::default()
        });
        MediantDevice::new("sbc", spec)
    }

    #[test]
    fn the_same_inputs_reuse_the_client_and_any_change_does_not() {
        let d = device("http://127.0.0.1:8080");
        let admin = Credentials::new("Admin", "Admin");
        let client = MediantClient::new(&d.spec.endpoint, admin.clone(), ClientOptions::default())
            .expect("client");
        let kept = KeptClient::new(ClientInputs::of(&d, &admin, None), Arc::new(client));
        let again = kept.reuse(&ClientInputs::of(&d, &admin, None));
        assert!(again.is_some(), "unchanged inputs reuse");
        let rotated = Credentials::new("Admin", "N3w-secret");
        assert!(kept.reuse(&ClientInputs::of(&d, &rotated, None)).is_none());
        assert!(
            kept.reuse(&ClientInputs::of(&d, &admin, Some("PEM")))
                .is_none()
        );
        let moved = device("http://127.0.0.1:8081");
        assert!(
            kept.reuse(&ClientInputs::of(&moved, &admin, None))
                .is_none()
        );
        let shown = format!("{kept:?}");
        assert!(
            !shown.contains("Admin") && shown.contains("8080"),
            "{shown}"
        );
    }
}
