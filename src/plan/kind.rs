//! The resource-kind seam: what a kind (MediantDevice, TlsContext,
//! LicenseEntitlement …) tells the one reconcile pipeline.
//!
//! The pipeline — dereference → validate → observe → plan → apply →
//! report → status — is written once: [`super::sources::dereference`],
//! [`super::engine`] and, in a cluster, `crate::controller::reconcile`. A
//! kind supplies only what differs: its resource type, which device it
//! configures, the texts it refers to, its desired and observed state, its
//! plan steps and how to run them, and its status. The per-device lock,
//! backoff, suspend, the reset policy, metrics and events belong to the
//! pipeline.
//!
//! # Guarantees
//! - Every resource configures one target ([`Target`]): a MediantDevice
//!   (itself, or the one it names with `deviceRef`), or an external system
//!   its spec names by endpoint. Connection, credentials and the
//!   single-writer lock are the target's; the reset policy and suspend of a
//!   MediantDevice apply to device targets only.
//! - The kind builds its client for the target ([`Kind::connect`]);
//!   `observe`, `run_step` are the only I/O a kind does; `desired`, `plan`
//!   and `status` are pure.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::object::HasStatus;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    CaBundleSource, CredentialsSecretRef, MediantDevice, ResetDecision, ResolvedSources, SourceRef,
    ValidationError,
};
use crate::device::DeviceError;
use k8s_openapi::jiff::Timestamp;

use super::connection::ConnectOptions;
use super::issuer::Issuer;
use super::report::CommonStatus;
use super::sources::Dereferenced;
use super::{ApplyError, Plan, PlanError, ResetPermission, SecretDigests};

/// What a resource configures.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// The resource is the device (a MediantDevice).
    Itself(&'a MediantDevice),
    /// The MediantDevice of this name, in the resource's namespace
    /// (`spec.deviceRef.name`).
    Named(&'a str),
    /// A system other than a MediantDevice (a licence server, another
    /// vendor's SBC), reached at the endpoint the resource's own spec names.
    External(External<'a>),
}

/// A target other than a MediantDevice, as the resource's spec names it:
/// the dereference reads its credentials and CA bundle from the
/// resource's namespace, like a device's.
#[derive(Clone, Copy, Debug)]
pub struct External<'a> {
    /// What kind of system it is (e.g. the provider key `oracleSbc`), for
    /// messages and the kept client.
    pub system: &'static str,
    /// Its base URL.
    pub endpoint: &'a str,
    /// The Secret holding the user (or client id) and password (or secret)
    /// the system's client authenticates with.
    pub credentials: &'a CredentialsSecretRef,
    /// PEM CA certificates that issued the system's HTTPS certificate.
    pub ca_bundle: Option<&'a CaBundleSource>,
    /// The spec field holding these (e.g. `spec.provider.oracleSbc`), for
    /// messages naming a missing Secret.
    pub field: &'static str,
}

impl External<'_> {
    /// Whether the target's credentials or CA bundle are in Secret `name`
    /// (the controller reconciles again when it changes).
    pub fn names_secret(&self, name: &str) -> bool {
        self.credentials.name == name
            || self
                .ca_bundle
                .and_then(|c| c.secret_key_ref.as_ref())
                .is_some_and(|r| r.name == name)
    }

    /// Whether the target's CA bundle is in ConfigMap `name`.
    pub fn names_config_map(&self, name: &str) -> bool {
        self.ca_bundle
            .and_then(|c| c.config_map_key_ref.as_ref())
            .is_some_and(|r| r.name == name)
    }
}

/// Where a resource was read from: the checks differ (a cluster has no
/// `files`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Manifest files (`diff -f` / `apply -f`).
    Manifests,
    /// The Kubernetes API (`run`).
    Cluster,
}

/// What one executed step returns besides success.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepDone {
    /// Output the device returned (e.g. CLI `show` output), if any.
    pub output: Option<String>,
    /// Digests of write-only secrets the step sent (never the values).
    pub digests: SecretDigests,
}

/// A certificate a resource keeps on its device, for the expiry metric and
/// warning the pipeline publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry {
    /// When it expires, Unix seconds.
    pub not_after: i64,
    /// Warn this many seconds before.
    pub warn_within: i64,
}

/// What a status type offers the pipeline.
pub trait KindStatus:
    Clone + Debug + Default + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The fields every kind's status has (conditions, drift, revision …).
    fn common(&self) -> CommonStatus;
    /// A copy without the fields that change on every check although
    /// nothing happened (`lastSyncTime`, uptime), for "did anything change".
    fn without_clock(&self) -> Self;

    /// When a save of the device's configuration was recorded as pending
    /// (changes written, not yet saved), for kinds whose status keeps it.
    fn pending_save(&self) -> Option<Time> {
        None
    }

    /// The same status with the pending save set or cleared (kinds whose
    /// status does not keep it return it unchanged).
    #[must_use]
    fn with_pending_save(self, pending: Option<Time>) -> Self {
        let _ = pending;
        self
    }

    /// Records when the pipeline retries a retryable failure (`at`: the
    /// requeue the controller schedules, to the second). Kinds whose status
    /// shows the last error with its retry (LicenseEntitlement's
    /// `lastError.retryAt`) override this; a permanent failure never gets
    /// one.
    fn set_retry_at(&mut self, at: Time) {
        let _ = at;
    }
}

/// A kind of resource the pipeline reconciles. Implemented by a unit type
/// per kind (e.g. [`super::MediantDeviceKind`]); registered in
/// [`super::kinds`].
pub trait Kind: Send + Sync + 'static {
    /// The custom resource.
    type Resource: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + HasStatus<Status = Self::Status>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;
    /// Everything the user declared, parsed and merged (pure data).
    type Desired: Send + Sync + 'static;
    /// What the device holds of what this kind manages.
    type Observed: Clone + Debug + Send + Sync + 'static;
    /// What one plan step sends (its payload's `Debug` must not show secrets).
    type Action: Clone + Debug + PartialEq + Send + Sync + 'static;
    /// The resource's status.
    type Status: KindStatus;

    /// The client of the target (`MediantClient` for a MediantDevice).
    type Client: Send + Sync + 'static;

    /// The kind's name, for metric labels, logs and messages.
    const KIND: &'static str;

    /// Whether the kind exchanges with cert-manager CertificateRequests
    /// ([`Kind::attach_issuer`]): its controller then watches the ones it labels.
    const USES_ISSUER: bool = false;

    /// Whether this resource signs through the issuer (a kind with
    /// [`Kind::USES_ISSUER`] may have resources that do not): when
    /// cert-manager appears, the controller retries these at once rather
    /// than at the end of their backoff.
    fn requests_certificates(resource: &Self::Resource) -> bool {
        let _ = resource;
        false
    }

    /// What this resource configures.
    fn target(resource: &Self::Resource) -> Target<'_>;

    /// The client of the dereferenced target for `desired`, built from the
    /// target's connection, credentials and CA bundle. No request is sent.
    fn connect(
        refs: &Dereferenced,
        desired: &Self::Desired,
        options: &ConnectOptions,
    ) -> Result<Self::Client, DeviceError>;

    /// Which client [`Kind::connect`] builds for `desired`, when a kind's
    /// client differs per resource (LicenseEntitlement: one per provider):
    /// a kept client is reused only for the same variant and inputs.
    fn client_variant(desired: &Self::Desired) -> &'static str {
        let _ = desired;
        Self::KIND
    }

    /// The checks the CRD's schema and CEL rules make, and (in a cluster)
    /// those only a cluster needs. Nothing is read before they pass.
    fn validate(resource: &Self::Resource, origin: Origin) -> Result<(), ValidationError>;

    /// How often the resource is compared with its device when nothing else
    /// happens.
    fn interval(resource: &Self::Resource) -> Result<Duration, ValidationError>;

    /// Whether the resource itself pauses writes (the device's own suspend
    /// pauses every resource configuring it; the pipeline checks that).
    fn paused(resource: &Self::Resource) -> bool;

    /// Whether steps that reset (disrupt) the target may run at `now`: the
    /// target device's reset policy, which a kind may narrow with its own
    /// gate (never widen). `device` is `None` for an external target, which
    /// has only the kind's own gate (allowed when it has none). Pure: the
    /// caller owns the clock.
    fn reset_decision(
        resource: &Self::Resource,
        device: Option<&MediantDevice>,
        now: Timestamp,
    ) -> Result<ResetDecision, ValidationError> {
        let _ = resource;
        device.map_or(Ok(ResetDecision::Allowed), |d| d.spec.reset_decision(now))
    }

    /// The texts the resource refers to (ConfigMap keys, Secret keys,
    /// files), loaded by the dereference before [`Kind::desired`].
    fn references(resource: &Self::Resource) -> Vec<SourceRef>;

    /// The desired state, from the resource, the texts it refers to, and the
    /// target device's reset policy decided for now. Pure.
    fn desired(
        resource: &Self::Resource,
        resolved: &ResolvedSources,
        reset: ResetPermission,
    ) -> Result<Self::Desired, ValidationError>;

    /// A stable digest of the desired state (status `lastAppliedRevision`,
    /// once the pipeline has keyed it: [`SecretDigests::seal_digest`]).
    fn revision(resource: &Self::Resource, resolved: &ResolvedSources) -> String;

    /// Keys, with `seal`, any digest of the desired state that the kind
    /// shows in status besides the revision (it may cover Secret texts);
    /// kinds that show none keep this default.
    fn seal_digests(desired: &mut Self::Desired, seal: &dyn Fn(&str) -> String) {
        let _ = (desired, seal);
    }

    /// Reads what `desired` needs from the target. `thorough`: the slower,
    /// informational reads (e.g. counting active alarms) are due too.
    fn observe(
        client: &Self::Client,
        desired: &Self::Desired,
        thorough: bool,
    ) -> impl Future<Output = Result<Self::Observed, ApplyError>> + Send;

    /// What to tell the user about the changes `left` that the target
    /// accepted and did not take (the verification's plan), beyond their
    /// keys; `None` when there is nothing kind-specific to say. Pure.
    fn not_taken_hint(left: &Plan<Self::Action>) -> Option<String> {
        let _ = left;
        None
    }

    /// Keeps in `after` (the verification observation, never thorough) what
    /// only the thorough observation `before` read.
    fn carry_over(before: &Self::Observed, after: &mut Self::Observed) {
        let _ = (before, after);
    }

    /// The steps that make `observed` match `desired`. Pure. `memory`
    /// holds digests of write-only secrets sent earlier.
    fn plan(
        desired: &Self::Desired,
        observed: &Self::Observed,
        memory: &SecretDigests,
    ) -> Result<Plan<Self::Action>, PlanError>;

    /// Whether the action saves the device's configuration (to startup):
    /// before a plan with such a step writes anything, the front ends
    /// record a pending save, so a run cut off between the writes and the
    /// save is finished by the next one.
    fn saves(action: &Self::Action) -> bool {
        let _ = action;
        false
    }

    /// Saves what an earlier reconcile wrote and did not get to save (its
    /// pending save, [`KindStatus::pending_save`]); kinds whose
    /// [`Kind::saves`] is never true keep this default, which does nothing.
    fn save_pending(client: &Self::Client) -> impl Future<Output = Result<(), ApplyError>> + Send {
        let _ = client;
        async { Ok(()) }
    }

    /// Runs one step's action. `observed` is the observation the plan was
    /// made from (e.g. the uptime a reset is detected against).
    fn run_step(
        client: &Self::Client,
        desired: &Self::Desired,
        observed: &Self::Observed,
        action: &Self::Action,
    ) -> impl Future<Output = Result<StepDone, DeviceError>> + Send;

    /// Gives the desired state the cluster's [`Issuer`] (cert-manager
    /// CertificateRequests, the published Secret) for kinds whose steps
    /// exchange with it. Called by the controller only: `diff`/`apply -f`
    /// have no cluster. Default: not needed.
    fn attach_issuer(desired: &mut Self::Desired, issuer: Arc<dyn Issuer>) {
        let _ = (desired, issuer);
    }

    /// The device certificate the resource keeps, as `status` shows it
    /// (`None` for kinds without one).
    fn expiry(resource: &Self::Resource, status: &Self::Status) -> Option<Expiry> {
        let _ = (resource, status);
        None
    }

    /// The next status: the pipeline's `common` part (conditions, drift,
    /// pending steps, revision, digests, sync time), plus what the kind
    /// shows of `observed` (the latest observation, if any). Pure.
    fn status(
        previous: Option<&Self::Status>,
        common: CommonStatus,
        observed: Option<&Self::Observed>,
        now: &Time,
    ) -> Self::Status;
}
