//! One writer per device at a time, whichever resources reference it.
//!
//! [`DeviceLocks`] is the registry every reconciler that talks to a device
//! takes its lock from: `MediantDevice` now, `TlsContext` and
//! `LicenseEntitlement` later. All of them must share one registry (one per
//! process, held in the controller context) and lock by the device's
//! endpoint, so two resources naming the same device never interleave their
//! observe/apply cycles.
//!
//! # Guarantees
//! - Endpoints that name the same device the same way after normalisation
//!   (scheme and host case, default port, trailing `/` and `/api/v1`) share
//!   one lock.
//! - Waiters are served in FIFO order (tokio's mutex is fair).
//! - The registry does not grow without bound: entries nobody holds or waits
//!   for are dropped on the next lookup.
//!
//! # Caveats
//! - The lock is per process. Across replicas, leader election makes only
//!   one process a writer.
//! - Two spellings of one device that normalise differently (an IP address
//!   and a host name) get two locks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The per-device lock registry.
#[derive(Debug, Default)]
pub struct DeviceLocks {
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

impl DeviceLocks {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for, and takes, the lock of the device at `endpoint`. The lock
    /// is released when the guard is dropped.
    pub async fn lock(&self, endpoint: &str) -> OwnedMutexGuard<()> {
        self.entry(&normalise_endpoint(endpoint)).lock_owned().await
    }

    /// The lock of the device at `endpoint` if nobody holds it now.
    pub fn try_lock(&self, endpoint: &str) -> Option<OwnedMutexGuard<()>> {
        self.entry(&normalise_endpoint(endpoint))
            .try_lock_owned()
            .ok()
    }

    /// Number of devices with a lock held or waited for.
    pub fn len(&self) -> usize {
        self.registry()
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Whether no device lock is held or waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entry(&self, key: &str) -> Arc<AsyncMutex<()>> {
        let mut map = self.registry();
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(existing) = map.get(key).and_then(Weak::upgrade) {
            return existing;
        }
        let fresh = Arc::new(AsyncMutex::new(()));
        map.insert(key.to_owned(), Arc::downgrade(&fresh));
        fresh
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<AsyncMutex<()>>>> {
        // The map is never left half-updated by a panic (each operation is a
        // single insert or retain), so a poisoned lock still holds a valid map.
        crate::sync::lock(&self.locks)
    }
}

/// The key of a device: scheme, lower-case host and explicit port, without
/// path (`https://SBC.example:443/api/v1/` → `https://sbc.example:443`). Text
/// that is not a URL is used trimmed, as given.
pub fn normalise_endpoint(endpoint: &str) -> String {
    let trimmed = endpoint.trim();
    match reqwest::Url::parse(trimmed) {
        Ok(url) => match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{}://{}:{port}", url.scheme(), host),
            _ => trimmed.to_owned(),
        },
        Err(_) => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn spellings_of_one_device_normalise_alike() {
        let key = normalise_endpoint("https://sbc.example:443");
        for other in [
            "https://SBC.example",
            "https://sbc.example/",
            "https://sbc.example/api/v1",
            " https://sbc.example:443/api/v1/ ",
        ] {
            assert_eq!(normalise_endpoint(other), key, "{other}");
        }
        assert_ne!(normalise_endpoint("http://sbc.example"), key);
        assert_ne!(normalise_endpoint("https://sbc.example:8443"), key);
        assert_eq!(normalise_endpoint("not a url"), "not a url");
    }

    #[tokio::test]
    async fn one_holder_per_device_and_others_are_free() {
        let locks = DeviceLocks::new();
        let held = locks.lock("https://10.0.0.5").await;
        assert!(locks.try_lock("https://10.0.0.5/api/v1").is_none());
        assert!(locks.try_lock("https://10.0.0.6").is_some());
        drop(held);
        assert!(locks.try_lock("https://10.0.0.5").is_some());
    }

    #[tokio::test]
    async fn a_waiter_gets_the_lock_when_the_holder_drops_it() {
        let locks = Arc::new(DeviceLocks::new());
        let held = locks.lock("https://10.0.0.5").await;
        let waiter = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move {
                let _g = locks.lock("https://10.0.0.5").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the waiter must wait for the holder");
        drop(held);
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("waiter finishes")
            .expect("no panic");
    }

    #[tokio::test]
    async fn released_entries_are_dropped() {
        let locks = DeviceLocks::new();
        for i in 0..10 {
            drop(locks.lock(&format!("https://10.0.0.{i}")).await);
        }
        assert!(locks.is_empty());
        let _g = locks.lock("https://10.0.0.1").await;
        assert_eq!(locks.len(), 1);
        assert_eq!(locks.registry().len(), 1);
    }
}
