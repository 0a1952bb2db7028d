//! The provider seam of `LicenseEntitlement`: what one licence system
//! supplies, in its own file, as a unit type implementing [`Provider`].
//!
//! The kind ([`super::LicenseEntitlementKind`]) owns everything providers
//! share — the disruption gate, the keyed digest, the drift list, held-back
//! disruptive steps, the common status — and dispatches to the provider the
//! spec names through enums generated from the one registry
//! (`crate::api::license_entitlement::with_providers!`). A provider adds no
//! variant by hand anywhere.
//!
//! # Guarantees a provider keeps
//! - `desired`, `target_name`, `facts` and `plan` are pure; `observe` and
//!   `run_step` are its only I/O.
//! - In sync means an empty plan (zero writes); a step that disrupts
//!   service is marked with its [`SideEffect`](crate::plan::SideEffect) —
//!   the kind holds it back unless the gates allow it.
//! - No secret value in `Debug` of its desired state, observation or
//!   action, in drift keys, facts or errors (keyed digests instead).

use std::fmt::Debug;
use std::future::Future;

use crate::api::{ResolvedSources, SourceRef, ValidationError};
use crate::device::DeviceError;
use crate::plan::kind::{StepDone, Target};
use crate::plan::{ConnectOptions, Dereferenced, Plan, PlanError, SecretDigests};

/// One licence system behind `LicenseEntitlement` (`spec.provider.<key>`).
pub trait Provider: Send + Sync + 'static {
    /// The provider's spec (`crate::api`, e.g. `MediantLicenseSpec`).
    type Spec: Send + Sync;
    /// What status.facts shows (`crate::api`, e.g. `MediantLicenseFacts`).
    type Facts;
    /// The declared licence, Secret values resolved (pure data).
    type Desired: Clone + Debug + Send + Sync;
    /// What the target holds.
    type Observed: Clone + Debug + Send + Sync;
    /// What one step sends (its `Debug` must not show secrets).
    type Action: Clone + Debug + PartialEq + Eq + Send + Sync;
    /// The client of the target (`MediantClient` for a MediantDevice;
    /// the system's own client for an external target).
    type Client: Send + Sync + 'static;

    /// What the licence is installed on (the pipeline reads the target's
    /// connection and takes its single-writer lock): a MediantDevice, or
    /// an external system the spec names ([`Target::External`]).
    fn target(spec: &Self::Spec) -> Target<'_>;

    /// The client of the dereferenced target (its endpoint, credentials and
    /// CA bundle in `refs`). No request is sent.
    fn connect(refs: &Dereferenced, options: &ConnectOptions) -> Result<Self::Client, DeviceError>;

    /// The Secret keys (or other texts) the spec names, read by the
    /// dereference before [`Provider::desired`].
    fn references(spec: &Self::Spec) -> Vec<SourceRef>;

    /// The declared licence from the spec and the texts it names. Pure.
    fn desired(
        spec: &Self::Spec,
        resolved: &ResolvedSources,
    ) -> Result<Self::Desired, ValidationError>;

    /// Reads what the target holds of the declared licence.
    fn observe(
        client: &Self::Client,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<Self::Observed, DeviceError>> + Send;

    /// status.target: what the licence is installed on, e.g.
    /// `MediantDevice/sbc (S/N 1)`. Pure.
    fn target_name(desired: &Self::Desired, observed: &Self::Observed) -> String;

    /// status.facts. Pure.
    fn facts(desired: &Self::Desired, observed: &Self::Observed) -> Self::Facts;

    /// The steps that make the target hold the declared licence (none when
    /// it does). Pure. `memory` is what earlier steps recorded
    /// ([`StepDone::digests`], kept in status `appliedSecretDigests`): a
    /// provider whose install resets its target records a fingerprint there
    /// and holds back an install that would repeat it, with a reason
    /// starting [`crate::plan::REPEATED_RESET`] (never a reset loop).
    fn plan(
        desired: &Self::Desired,
        observed: &Self::Observed,
        memory: &SecretDigests,
    ) -> Result<Plan<Self::Action>, PlanError>;

    /// Runs one step; `observed` is the observation the plan was made from.
    fn run_step(
        client: &Self::Client,
        desired: &Self::Desired,
        observed: &Self::Observed,
        action: &Self::Action,
    ) -> impl Future<Output = Result<StepDone, DeviceError>> + Send;
}

/// `plan` with every action wrapped by `wrap` (a provider's plan as the
/// kind's).
pub(super) fn wrap_plan<A, B>(plan: Plan<A>, wrap: impl Fn(A) -> B) -> Plan<B> {
    let step = |s: crate::plan::Step<A>| crate::plan::Step {
        action: wrap(s.action),
        description: s.description,
        changes: s.changes,
        side_effect: s.side_effect,
    };
    Plan {
        steps: plan.steps.into_iter().map(step).collect(),
        blocked: plan
            .blocked
            .into_iter()
            .map(|(s, why)| (step(s), why))
            .collect(),
        drift_count: plan.drift_count,
        drift_keys: plan.drift_keys,
    }
}

/// The kind's dispatch, generated from the provider registry: the
/// provider enums ([`super::ProviderDesired`], [`super::ProviderObserved`],
/// [`super::EntitlementAction`], [`super::EntitlementClient`]) and one
/// function per seam method that matches on them.
macro_rules! define_plan {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $key:literal => $module:ident :: $variant:ident ($spec:ident, $facts:ident),
    )*) => {
        /// The provider's part of the desired state.
        // Providers' states differ in size; one value per reconcile.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug)]
        pub enum ProviderDesired {
            $(
                $(#[cfg($cfg)])?
                #[doc = concat!("`", $key, "`.")]
                $variant(<$module::$variant as Provider>::Desired),
            )*
        }

        /// The provider's observation.
        // Providers' states differ in size; one value per reconcile.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug)]
        pub enum ProviderObserved {
            $(
                $(#[cfg($cfg)])?
                #[doc = concat!("`", $key, "`.")]
                $variant(<$module::$variant as Provider>::Observed),
            )*
        }

        /// What one step sends.
        // Providers' states differ in size; one value per reconcile.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum EntitlementAction {
            $(
                $(#[cfg($cfg)])?
                #[doc = concat!("`", $key, "`.")]
                $variant(<$module::$variant as Provider>::Action),
            )*
        }

        /// The kind's client: the client of the provider the spec names
        /// (`Kind::connect` builds it through the provider's `connect`).
        pub enum EntitlementClient {
            $(
                $(#[cfg($cfg)])?
                #[doc = concat!("`", $key, "`.")]
                $variant(<$module::$variant as Provider>::Client),
            )*
        }

        /// The seam's calls, dispatched to the provider the spec names.
        mod dispatch {
            use super::*;

            pub(super) fn connect(
                refs: &Dereferenced,
                desired: &ProviderDesired,
                options: &ConnectOptions,
            ) -> Result<EntitlementClient, DeviceError> {
                Ok(match desired {
                    $( $(#[cfg($cfg)])? ProviderDesired::$variant(_) => EntitlementClient::$variant(
                        <$module::$variant as Provider>::connect(refs, options)?,
                    ), )*
                })
            }

            /// The key of the provider `desired` is for.
            pub(super) fn desired_name(desired: &ProviderDesired) -> &'static str {
                match desired {
                    $( $(#[cfg($cfg)])? ProviderDesired::$variant(_) => $key, )*
                }
            }

            pub(super) fn target(spec: &ProviderSpec) -> Target<'_> {
                match spec {
                    $( $(#[cfg($cfg)])? ProviderSpec::$variant(s) =>
                        <$module::$variant as Provider>::target(s), )*
                }
            }

            pub(super) fn references(spec: &ProviderSpec) -> Vec<SourceRef> {
                match spec {
                    $( $(#[cfg($cfg)])? ProviderSpec::$variant(s) =>
                        <$module::$variant as Provider>::references(s), )*
                }
            }

            pub(super) fn desired(
                spec: &ProviderSpec,
                resolved: &ResolvedSources,
            ) -> Result<ProviderDesired, ValidationError> {
                Ok(match spec {
                    $( $(#[cfg($cfg)])? ProviderSpec::$variant(s) => ProviderDesired::$variant(
                        <$module::$variant as Provider>::desired(s, resolved)?,
                    ), )*
                })
            }

            /// The observation, status.target and status.facts.
            #[allow(unreachable_patterns)]
            pub(super) async fn observe(
                client: &EntitlementClient,
                desired: &ProviderDesired,
            ) -> Result<(ProviderObserved, String, ProviderFacts), DeviceError> {
                Ok(match (client, desired) {
                    $( $(#[cfg($cfg)])?
                    (EntitlementClient::$variant(c), ProviderDesired::$variant(d)) => {
                        type P = $module::$variant;
                        let o = <P as Provider>::observe(c, d).await?;
                        let target = <P as Provider>::target_name(d, &o);
                        let facts = ProviderFacts::$variant(<P as Provider>::facts(d, &o));
                        (ProviderObserved::$variant(o), target, facts)
                    } )*
                    _ => return Err(DeviceError::Config { reason: MISMATCH.to_string() }),
                })
            }

            /// The key of the provider that made `observed`.
            pub(super) fn name(observed: &ProviderObserved) -> &'static str {
                match observed {
                    $( $(#[cfg($cfg)])? ProviderObserved::$variant(_) => $key, )*
                }
            }

            // The pairs are made together (a client built for the desired
            // state, an observation for the desired state it was read for,
            // an action from the plan of that observation): a mismatch is a
            // bug, reported as such.
            const MISMATCH: &str = "internal error: a provider's state reached another provider (please report)";

            #[allow(unreachable_patterns)]
            pub(super) fn plan(
                desired: &ProviderDesired,
                observed: &ProviderObserved,
                memory: &SecretDigests,
            ) -> Result<Plan<EntitlementAction>, PlanError> {
                match (desired, observed) {
                    $( $(#[cfg($cfg)])?
                    (ProviderDesired::$variant(d), ProviderObserved::$variant(o)) => Ok(wrap_plan(
                        <$module::$variant as Provider>::plan(d, o, memory)?,
                        EntitlementAction::$variant,
                    )), )*
                    _ => Err(PlanError::Unplannable(MISMATCH.to_string())),
                }
            }

            #[allow(unreachable_patterns)]
            pub(super) async fn run_step(
                client: &EntitlementClient,
                desired: &ProviderDesired,
                observed: &ProviderObserved,
                action: &EntitlementAction,
            ) -> Result<StepDone, DeviceError> {
                match (client, desired, observed, action) {
                    $( $(#[cfg($cfg)])?
                    (
                        EntitlementClient::$variant(c),
                        ProviderDesired::$variant(d),
                        ProviderObserved::$variant(o),
                        EntitlementAction::$variant(a),
                    ) => <$module::$variant as Provider>::run_step(c, d, o, a).await, )*
                    _ => Err(DeviceError::Config { reason: MISMATCH.to_string() }),
                }
            }
        }
    };
}
pub(super) use define_plan;
