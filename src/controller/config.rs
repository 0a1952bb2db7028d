//! Settings of the MediantDevice controller.

use std::time::Duration;

use crate::plan::DigestKey;

/// The field manager of every write the controller makes.
pub const FIELD_MANAGER: &str = "mediant-operator";

/// Settings of [`run_controller`](super::run_controller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// Namespace to watch; `None` watches all namespaces.
    pub namespace: Option<String>,
    /// Field manager of status writes (server-side apply) and the reporting
    /// controller of events.
    pub field_manager: String,
    /// The most reconciliations running at once (0: no limit).
    pub concurrency: u16,
    /// Replaces every device's `spec.interval` (the drift-check period);
    /// for tests and for operators who want one period for the fleet.
    pub interval_override: Option<Duration>,
    /// Delay after a device's first failure; doubled per further failure.
    pub backoff_base: Duration,
    /// Upper bound of the failure delay.
    pub backoff_max: Duration,
    /// How often `status.lastSyncTime` is refreshed when nothing else in
    /// status changed (it is not written on every check: that would be a
    /// write per device per interval).
    pub status_heartbeat: Duration,
    /// Instance name reported in events (`reportingInstance`), e.g. the pod name.
    pub instance: Option<String>,
    /// How often a kind that signs through cert-manager checks whether
    /// `cert-manager.io/v1` CertificateRequests are served, while they are
    /// not (cert-manager installed after the operator started); once they
    /// are, its controller follows them without a restart.
    pub cert_manager_recheck: Duration,
    /// Where the key of the write-only-secret digests (status
    /// `appliedSecretDigests`) comes from.
    pub digest_key: DigestKeySource,
}

/// Where the controller's digest key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestKeySource {
    /// This key (resolved, or given by the caller).
    Given(DigestKey),
    /// The Secret of this name in the Lease's namespace (key `key`),
    /// created with a random key if absent; read by
    /// [`lead_and_run`](super::run::lead_and_run) once it leads. Used as
    /// is by [`run_controller`](super::run_controller), it means a key for
    /// this process only: every secret is sent once more after a restart.
    Secret(String),
}

/// The default name of the digest key's Secret.
pub const DIGEST_KEY_SECRET: &str = "mediant-operator-digest-key";

impl DigestKeySource {
    /// The key, when resolved.
    pub fn key(&self) -> Option<DigestKey> {
        match self {
            DigestKeySource::Given(k) => Some(k.clone()),
            DigestKeySource::Secret(_) => None,
        }
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            namespace: None,
            field_manager: FIELD_MANAGER.to_owned(),
            concurrency: 16,
            interval_override: None,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            status_heartbeat: Duration::from_secs(3600),
            cert_manager_recheck: Duration::from_secs(60),
            instance: None,
            digest_key: DigestKeySource::Secret(DIGEST_KEY_SECRET.to_owned()),
        }
    }
}
