//! Device clients kept between reconciliations of the same object.
//!
//! Building a client costs about 3.4 ms of CPU and 113 kB (rustls trust
//! store and verifier; measured with reqwest 0.13 on this machine), and a new
//! client opens a new connection (TCP, and TLS on https) to the device. A
//! periodic drift check would pay both every interval for every device, so
//! a client is reused for as long as everything it was built from is
//! unchanged: endpoint, TLS trust, timeouts, dialect, credentials and CA
//! bundle. Any change (a rotated password in the Secret, a new CA) builds a
//! new one. Kept clients also remember the detected upload dialect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::api::{Dialect, MediantDevice, Timeouts, TlsSpec};
use crate::device::{Credentials, MediantClient};
use crate::sync::lock;

/// What a client was built from; equal inputs give an equivalent client.
#[derive(Clone, PartialEq, Eq)]
struct Inputs {
    endpoint: String,
    tls: Option<TlsSpec>,
    dialect: Option<Dialect>,
    timeouts: Timeouts,
    credentials: Credentials,
    ca_bundle: Option<String>,
}

/// One kept client per object key (`namespace/name`).
#[derive(Default)]
pub struct DeviceClients {
    kept: Mutex<HashMap<String, (Inputs, Arc<MediantClient>)>>,
}

impl DeviceClients {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client kept for `key` if it was built from the same inputs,
    /// else one from `build`, kept for next time (replacing the old one).
    pub fn get_or_build<E>(
        &self,
        key: &str,
        device: &MediantDevice,
        credentials: &Credentials,
        ca_bundle: Option<&str>,
        build: impl FnOnce() -> Result<MediantClient, E>,
    ) -> Result<Arc<MediantClient>, E> {
        let inputs = Inputs {
            endpoint: device.spec.endpoint.clone(),
            tls: device.spec.tls.clone(),
            dialect: device.spec.dialect,
            timeouts: device.spec.timeouts.clone(),
            credentials: credentials.clone(),
            ca_bundle: ca_bundle.map(str::to_owned),
        };
        if let Some((kept, client)) = lock(&self.kept).get(key)
            && *kept == inputs
        {
            return Ok(Arc::clone(client));
        }
        // Built outside the lock: it takes milliseconds.
        let client = Arc::new(build()?);
        lock(&self.kept).insert(key.to_owned(), (inputs, Arc::clone(&client)));
        Ok(client)
    }

    /// Drops the client of a deleted object.
    pub fn forget(&self, key: &str) {
        lock(&self.kept).remove(key);
    }

    /// How many clients are kept.
    pub fn len(&self) -> usize {
        lock(&self.kept).len()
    }

    /// Whether no client is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    fn build(d: &MediantDevice, c: &Credentials) -> Result<MediantClient, String> {
        MediantClient::new(&d.spec.endpoint, c.clone(), ClientOptions::default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_same_inputs_reuse_the_client_and_any_change_rebuilds_it() {
        let cache = DeviceClients::new();
        let d = device("http://127.0.0.1:8080");
        let admin = Credentials::new("Admin", "Admin");
        let mut builds = 0;
        let mut get = |d: &MediantDevice, c: &Credentials, ca: Option<&str>| {
            cache
                .get_or_build("voice/sbc", d, c, ca, || {
                    builds += 1;
                    build(d, c)
                })
                .expect("client")
        };
        let first = get(&d, &admin, None);
        let again = get(&d, &admin, None);
        assert!(Arc::ptr_eq(&first, &again), "unchanged inputs reuse");

        let rotated = get(&d, &Credentials::new("Admin", "N3w-secret"), None);
        assert!(!Arc::ptr_eq(&first, &rotated), "a new password rebuilds");
        let with_ca = get(&d, &Credentials::new("Admin", "N3w-secret"), Some("PEM"));
        assert!(!Arc::ptr_eq(&rotated, &with_ca), "a new CA bundle rebuilds");
        let moved = get(&device("http://127.0.0.1:8081"), &admin, None);
        assert_eq!(moved.endpoint(), "http://127.0.0.1:8081");
        assert_eq!(builds, 4);
        assert_eq!(cache.len(), 1, "one client per object");
        cache.forget("voice/sbc");
        assert!(cache.is_empty());
    }

    #[test]
    fn a_failed_build_keeps_nothing() {
        let cache = DeviceClients::new();
        let d = device("http://127.0.0.1:8080");
        let r: Result<_, String> = cache.get_or_build(
            "voice/sbc",
            &d,
            &Credentials::new("Admin", "Admin"),
            None,
            || Err("no".into()),
        );
        assert!(r.is_err());
        assert!(cache.is_empty());
    }
}
