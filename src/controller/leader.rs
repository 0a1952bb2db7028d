//! Leader election with a `coordination.k8s.io/v1` Lease, so two replicas
//! are safe: only the holder runs the controller.
//!
//! # Guarantees
//! - Every write carries the Lease's `resourceVersion`: of two candidates
//!   racing for an expired Lease, the API server accepts one and answers the
//!   other 409, which counts as "not leader".
//! - A holder that cannot renew within the lease duration reports the loss;
//!   the caller stops its controller before another replica may take over.
//!
//! # Caveats
//! Clocks: expiry compares the holder's `renewTime` with the local clock, as
//! client-go does; large clock skew between nodes shortens or lengthens it.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

/// Which Lease, held by whom, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Lease name.
    pub name: String,
    /// Lease namespace.
    pub namespace: String,
    /// This replica's identity (pod name).
    pub identity: String,
    /// How long a holder keeps the Lease without renewing it.
    pub duration: Duration,
    /// How often the holder renews (and a follower retries).
    pub renew_every: Duration,
}

impl LeaseConfig {
    /// How long the holder keeps trying to renew before it considers the
    /// Lease lost: two thirds of the lease duration (client-go: 10 s of 15 s),
    /// leaving the rest as margin before a follower may take over.
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }

    /// Defaults as client-go uses them: 15 s lease, renewed every 5 s.
    pub fn new(name: &str, namespace: &str, identity: &str) -> Self {
        LeaseConfig {
            name: name.to_string(),
            namespace: namespace.to_string(),
            identity: identity.to_string(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// Tries to take or keep a Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
}

impl LeaderElector {
    /// An elector for `config.name` in `config.namespace`.
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    fn spec(&self, acquire: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: acquire,
            renew_time: Some(MicroTime(Timestamp::now())),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One election round: `Ok(true)` when this replica holds the Lease
    /// afterwards (created, renewed or taken over after expiry).
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(Some(MicroTime(Timestamp::now())), 0)),
            };
            return conflict_is_false(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        if holder == self.config.identity {
            lease.spec = Some(self.spec(spec.acquire_time.clone(), transitions));
        } else if holder.is_empty() || expired(&spec) {
            lease.spec = Some(self.spec(Some(MicroTime(Timestamp::now())), transitions + 1));
        } else {
            return Ok(false);
        }
        let result = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await;
        conflict_is_false(result)
    }

    /// Gives the Lease up (on shutdown) so a follower takes over at once.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        conflict_is_false(
            self.api
                .replace(&self.config.name, &PostParams::default(), &lease)
                .await,
        )
        .map(drop)
    }
}

/// Whether the holder has not renewed within its lease duration.
fn expired(spec: &LeaseSpec) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time else {
        return true;
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let deadline = renewed.as_second().saturating_add(duration);
    Timestamp::now().as_second() > deadline
}

/// A 409 (someone else wrote first) means "not leader", not an error.
fn conflict_is_false<T>(result: Result<T, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}
