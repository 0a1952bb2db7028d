//! The `LicenseEntitlement` kind behind the resource-kind seam, and its
//! providers (`mediant` so far).
//!
//! The kind owns what every provider shares — the disruption gate (which
//! narrows the target device's reset policy, never widens it), the keyed
//! digest of the desired state, the drift list (`name: desired → observed`,
//! secret values as keyed digests), the pending disruptive change and the
//! common status. The pipeline (`crate::plan::engine`, the controller)
//! owns the per-device lock, backoff, events and metrics. A provider
//! supplies its desired and observed state, its plan and how to run a step,
//! in its own file, as a unit type implementing [`Provider`]; the variants
//! of [`ProviderDesired`], [`ProviderObserved`] and [`EntitlementAction`]
//! are generated from the one provider registry
//! (`crate::api::license_entitlement::with_providers!`). See
//! ARCHITECTURE.md, "Adding a licence provider".
//!
//! # Guarantees
//! - In sync means zero writes: a provider plans no step when the target
//!   holds the declared licence.
//! - A step that disrupts service (a device reset) is planned as held back
//!   unless both the device's `resetPolicy` and the entitlement's
//!   `disruption` allow it now; the status says which waits and why.
//! - No licence key appears in plans, status, errors or `Debug`.
//!
//! # Targets
//! A provider's target is a MediantDevice (`mediant`: its connection, lock
//! and reset policy are shared with every kind configuring that device) or
//! an external system its spec names ([`Target::External`]: endpoint,
//! credentials Secret, CA bundle; only the entitlement's own `disruption`
//! gate applies). Each provider declares its `Client` and builds it in
//! `connect`; the kind's client is [`EntitlementClient`], generated from
//! the registry like the other enums (ARCHITECTURE.md, "Targets other than
//! a MediantDevice").

mod file;
pub mod mediant;
mod provider;
#[cfg(test)]
pub(crate) mod test_only;

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::api::{
    Condition, ConditionStatus, ConditionType, Disruption, Drift, LastError, LicenseEntitlement,
    LicenseEntitlementStatus, MAX_DRIFT, MaintenanceWindow, MediantDevice, PendingDisruption,
    PendingStep, ProviderFacts, ProviderSpec, ResetDecision, ResolvedSources, SourceRef,
    ValidationError, find_condition, with_providers,
};
use crate::device::DeviceError;

use super::kind::{Kind, KindStatus, Origin, StepDone, Target};
use super::report::CommonStatus;
use super::{ApplyError, Plan, PlanError, ResetPermission, SecretDigests};
use super::{ConnectOptions, Dereferenced};

pub use file::{LicenseFile, key_features};
pub use mediant::{Mediant, MediantAction, MediantDesired, MediantObserved};
pub use provider::Provider;
use provider::{define_plan, wrap_plan};

with_providers!(define_plan);

/// How often an entitlement is compared with its target when nothing else
/// happens (two GETs for `mediant`).
pub const INTERVAL: Duration = Duration::from_secs(300);

/// The `LicenseEntitlement` kind.
#[derive(Clone, Copy, Debug)]
pub struct LicenseEntitlementKind;

/// The declared state of one entitlement.
#[derive(Clone, Debug)]
pub struct EntitlementDesired {
    /// The provider's part.
    pub provider: ProviderDesired,
    /// Whether disruptive steps may run now (device policy and gate).
    pub reset: ResetPermission,
    /// The keyed digest of the desired state (status.desiredDigest).
    pub digest: String,
    /// The gate's window, when `disruption` is MaintenanceWindow.
    pub window: Option<MaintenanceWindow>,
}

/// What the target holds, with what status shows of the desired state.
#[derive(Clone, Debug)]
pub struct EntitlementObserved {
    /// The provider's observation.
    pub provider: ProviderObserved,
    /// status.target.
    pub target: String,
    /// status.facts.
    pub facts: ProviderFacts,
    /// The desired digest the observation was made for.
    pub digest: String,
    /// The gate's window, for pendingDisruption.opensAt.
    pub window: Option<MaintenanceWindow>,
}

/// The stricter of the device's reset decision and the entitlement's
/// disruption gate: a disruptive step runs only when both allow it.
pub fn combine(device: ResetDecision, gate: ResetDecision) -> ResetDecision {
    match (device, gate) {
        (ResetDecision::Allowed, ResetDecision::Allowed) => ResetDecision::Allowed,
        (ResetDecision::Refused { how_to_allow }, _) => ResetDecision::Refused {
            how_to_allow: format!("the MediantDevice's {how_to_allow}"),
        },
        (_, refused @ ResetDecision::Refused { .. }) => refused,
        (
            ResetDecision::NotNow { reason, opens_at },
            ResetDecision::NotNow {
                reason: gate_reason,
                opens_at: gate_opens,
            },
        ) => ResetDecision::NotNow {
            reason: format!("the MediantDevice's {reason}; and {gate_reason}"),
            opens_at: opens_at.max(gate_opens),
        },
        (ResetDecision::NotNow { reason, opens_at }, ResetDecision::Allowed) => {
            ResetDecision::NotNow {
                reason: format!("the MediantDevice's {reason}"),
                opens_at,
            }
        }
        (ResetDecision::Allowed, not_now) => not_now,
    }
}

/// `sha256:<hex>` of the provider spec and the texts it names, keyed with
/// the object's UID (its namespace/name when it has none, e.g. in a
/// manifest).
fn keyed_digest(resource: &LicenseEntitlement, resolved: &ResolvedSources) -> String {
    let key = resource.uid().unwrap_or_else(|| {
        format!(
            "{}/{}",
            resource.namespace().unwrap_or_default(),
            resource.name_any()
        )
    });
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part(b"LicenseEntitlement");
    part(key.as_bytes());
    // Serialising the spec's plain structs cannot fail; `null` if it did.
    part(
        serde_json::to_string(&resource.spec.provider)
            .unwrap_or_default()
            .as_bytes(),
    );
    for r in LicenseEntitlementKind::references(resource) {
        part(r.to_string().as_bytes());
        part(resolved.get(&r).map_or(&b""[..], |t| t.as_bytes()));
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Kind for LicenseEntitlementKind {
    type Resource = LicenseEntitlement;
    type Desired = EntitlementDesired;
    type Observed = EntitlementObserved;
    type Action = EntitlementAction;
    type Status = LicenseEntitlementStatus;
    type Client = EntitlementClient;

    const KIND: &'static str = "LicenseEntitlement";

    fn target(resource: &LicenseEntitlement) -> Target<'_> {
        dispatch::target(&resource.spec.provider)
    }

    fn connect(
        refs: &Dereferenced,
        desired: &EntitlementDesired,
        options: &ConnectOptions,
    ) -> Result<EntitlementClient, DeviceError> {
        dispatch::connect(refs, &desired.provider, options)
    }

    fn client_variant(desired: &EntitlementDesired) -> &'static str {
        dispatch::desired_name(&desired.provider)
    }

    fn validate(resource: &LicenseEntitlement, _origin: Origin) -> Result<(), ValidationError> {
        Ok(resource.spec.validate()?)
    }

    fn interval(_resource: &LicenseEntitlement) -> Result<Duration, ValidationError> {
        Ok(INTERVAL)
    }

    fn paused(_resource: &LicenseEntitlement) -> bool {
        false
    }

    fn reset_decision(
        resource: &LicenseEntitlement,
        device: Option<&MediantDevice>,
        now: Timestamp,
    ) -> Result<ResetDecision, ValidationError> {
        let gate = resource.spec.disruption_decision(now)?;
        // An external target has only the entitlement's own gate.
        match device {
            Some(device) => Ok(combine(device.spec.reset_decision(now)?, gate)),
            None => Ok(gate),
        }
    }

    fn references(resource: &LicenseEntitlement) -> Vec<SourceRef> {
        dispatch::references(&resource.spec.provider)
    }

    fn desired(
        resource: &LicenseEntitlement,
        resolved: &ResolvedSources,
        reset: ResetPermission,
    ) -> Result<EntitlementDesired, ValidationError> {
        Ok(EntitlementDesired {
            provider: dispatch::desired(&resource.spec.provider, resolved)?,
            reset,
            digest: keyed_digest(resource, resolved),
            window: (resource.spec.disruption == Disruption::MaintenanceWindow)
                .then(|| resource.spec.maintenance_window.clone())
                .flatten(),
        })
    }

    fn revision(resource: &LicenseEntitlement, resolved: &ResolvedSources) -> String {
        keyed_digest(resource, resolved)
    }

    fn seal_digests(desired: &mut EntitlementDesired, seal: &dyn Fn(&str) -> String) {
        desired.digest = seal(&desired.digest);
    }

    async fn observe(
        client: &EntitlementClient,
        desired: &EntitlementDesired,
        _thorough: bool,
    ) -> Result<EntitlementObserved, ApplyError> {
        let (provider, target, facts) = dispatch::observe(client, &desired.provider)
            .await
            .map_err(ApplyError::Observe)?;
        Ok(EntitlementObserved {
            provider,
            target,
            facts,
            digest: desired.digest.clone(),
            window: desired.window.clone(),
        })
    }

    fn plan(
        desired: &EntitlementDesired,
        observed: &EntitlementObserved,
        memory: &SecretDigests,
    ) -> Result<Plan<EntitlementAction>, PlanError> {
        let plan = dispatch::plan(&desired.provider, &observed.provider, memory)?;
        let mut out = Plan {
            drift_count: plan.drift_count,
            drift_keys: plan.drift_keys,
            blocked: plan.blocked,
            steps: Vec::new(),
        };
        for step in plan.steps {
            if step.side_effect == super::SideEffect::None {
                out.steps.push(step);
                continue;
            }
            match &desired.reset {
                ResetPermission::Allowed => out.steps.push(step),
                ResetPermission::Refused { how_to_allow } => {
                    out.blocked.push((step, how_to_allow.clone()))
                }
                ResetPermission::NotNow { reason } => out.blocked.push((step, reason.clone())),
            }
        }
        Ok(out)
    }

    async fn run_step(
        client: &EntitlementClient,
        desired: &EntitlementDesired,
        observed: &EntitlementObserved,
        action: &EntitlementAction,
    ) -> Result<StepDone, DeviceError> {
        dispatch::run_step(client, &desired.provider, &observed.provider, action).await
    }

    fn status(
        previous: Option<&LicenseEntitlementStatus>,
        common: CommonStatus,
        observed: Option<&EntitlementObserved>,
        now: &Time,
    ) -> LicenseEntitlementStatus {
        let prev = previous.cloned().unwrap_or_default();
        let condition = |t| find_condition(&common.conditions, t);
        let is_true = |c: Option<&Condition>| c.is_some_and(|c| c.status == ConditionStatus::True);
        let stalled = condition(ConditionType::Stalled);
        let reconciling = condition(ConditionType::Reconciling);
        let ready = condition(ConditionType::Ready);
        let last_error =
            if is_true(stalled) && stalled.is_some_and(|c| c.reason != "ResetNotAllowed") {
                stalled.map(|c| LastError {
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    retryable: false,
                    retry_at: None,
                })
            } else if is_true(reconciling)
                && reconciling.is_some_and(|c| c.reason != "WaitingForMaintenanceWindow")
            {
                ready.map(|c| LastError {
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    retryable: true,
                    retry_at: None,
                })
            } else {
                None
            };
        let window = observed.map_or_else(|| None, |o| o.window.clone());
        let pending_disruption = common.pending_steps.first().map(|p| PendingDisruption {
            change: p.description.clone(),
            reason: p.reason.clone(),
            opens_at: window
                .as_ref()
                .filter(|w| !w.is_open(now.0).unwrap_or(true))
                .and_then(|w| w.next_opening(now.0).ok())
                .map(Time),
        });
        LicenseEntitlementStatus {
            conditions: common.conditions,
            observed_generation: common.observed_generation,
            provider: observed
                .map(|o| dispatch::name(&o.provider).to_string())
                .or(prev.provider),
            target: observed.map(|o| o.target.clone()).or(prev.target),
            desired_digest: observed.map(|o| o.digest.clone()).or(prev.desired_digest),
            drift: match common.drift {
                Some(d) => d.keys.into_iter().take(MAX_DRIFT).collect(),
                None => prev.drift,
            },
            facts: observed.map(|o| o.facts.clone()).or(prev.facts),
            last_error,
            pending_disruption,
            last_applied_digest: common.last_applied_revision,
            last_sync_time: common.last_sync_time,
            applied_secret_digests: common.applied_secret_digests.into_entries(),
        }
    }
}

impl KindStatus for LicenseEntitlementStatus {
    fn common(&self) -> CommonStatus {
        CommonStatus {
            conditions: self.conditions.clone(),
            observed_generation: self.observed_generation,
            last_applied_revision: self.last_applied_digest.clone(),
            drift: self.last_sync_time.as_ref().map(|_| Drift {
                count: u32::try_from(self.drift.len()).unwrap_or(u32::MAX),
                keys: self.drift.clone(),
            }),
            pending_steps: self
                .pending_disruption
                .iter()
                .map(|p| PendingStep {
                    description: p.change.clone(),
                    reason: p.reason.clone(),
                })
                .collect(),
            last_sync_time: self.last_sync_time.clone(),
            applied_secret_digests: self.applied_secret_digests.clone().into(),
        }
    }

    fn without_clock(&self) -> Self {
        let mut s = self.clone();
        s.last_sync_time = None;
        s
    }

    fn set_retry_at(&mut self, at: Time) {
        if let Some(e) = self.last_error.as_mut().filter(|e| e.retryable) {
            e.retry_at = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn observed(window: Option<MaintenanceWindow>) -> EntitlementObserved {
        EntitlementObserved {
            provider: ProviderObserved::Mediant(MediantObserved::default()),
            target: "MediantDevice/sbc (S/N 1)".into(),
            facts: ProviderFacts::Mediant(Default::default()),
            digest: "sha256:abc".into(),
            window,
        }
    }

    #[test]
    fn status_carries_the_common_part_and_gives_it_back() {
        let now = Time(at(1_704_067_200 + 12 * 3600));
        let condition = |t, s, reason: &str| {
            Condition::new(t, s, Some(4), now.clone())
                .reason(reason.to_string())
                .message(format!("{reason} message"))
        };
        let common = CommonStatus {
            conditions: vec![
                condition(
                    ConditionType::Ready,
                    ConditionStatus::False,
                    "UnrenderableValue",
                ),
                condition(
                    ConditionType::Stalled,
                    ConditionStatus::True,
                    "UnrenderableValue",
                ),
            ],
            observed_generation: Some(4),
            last_applied_revision: None,
            drift: Some(Drift {
                count: 1,
                keys: vec!["licenseKey[S/N 1]: sha256:aa → sha256:bb".into()],
            }),
            pending_steps: vec![PendingStep {
                description: "install the licence key".into(),
                reason: "outside spec.maintenanceWindow".into(),
            }],
            last_sync_time: Some(now.clone()),
            applied_secret_digests: SecretDigests::new(),
        };
        let window = MaintenanceWindow {
            days: vec![],
            start: "02:00".into(),
            duration: "1h".into(),
        };
        let status = LicenseEntitlementKind::status(
            None,
            common.clone(),
            Some(&observed(Some(window))),
            &now,
        );
        assert_eq!(status.provider.as_deref(), Some("mediant"));
        assert_eq!(status.target.as_deref(), Some("MediantDevice/sbc (S/N 1)"));
        assert_eq!(status.desired_digest.as_deref(), Some("sha256:abc"));
        assert_eq!(status.drift, common.drift.as_ref().unwrap().keys);
        let error = status.last_error.as_ref().expect("a stalled failure");
        assert_eq!(error.reason, "UnrenderableValue");
        assert!(!error.retryable);
        let mut permanent = status.clone();
        permanent.set_retry_at(now.clone());
        assert_eq!(
            permanent
                .last_error
                .as_ref()
                .and_then(|e| e.retry_at.clone()),
            None,
            "a permanent failure is not retried"
        );
        let pending = status.pending_disruption.as_ref().expect("pending");
        assert_eq!(
            pending
                .opens_at
                .as_ref()
                .map(|t| t.0.to_string())
                .as_deref(),
            Some("2024-01-02T02:00:00Z")
        );
        // Read back, it is the same common part.
        assert_eq!(status.common(), common);
        // Nothing observed this time: target and facts stay.
        let again = LicenseEntitlementKind::status(Some(&status), status.common(), None, &now);
        assert_eq!(again.target, status.target);
        assert_eq!(again.facts, status.facts);
        assert_eq!(again.without_clock().last_sync_time, None);
    }

    #[test]
    fn a_retryable_failure_is_said_to_be_retried() {
        let now = Time(at(100));
        let common = CommonStatus {
            conditions: vec![
                Condition::new(
                    ConditionType::Ready,
                    ConditionStatus::False,
                    Some(1),
                    now.clone(),
                )
                .reason("Unreachable")
                .message("connection refused"),
                Condition::new(
                    ConditionType::Reconciling,
                    ConditionStatus::True,
                    Some(1),
                    now.clone(),
                )
                .reason("Unreachable"),
            ],
            ..CommonStatus::default()
        };
        let mut status = LicenseEntitlementKind::status(None, common, None, &now);
        status.set_retry_at(Time(at(105)));
        let error = status.last_error.expect("error");
        assert!(error.retryable);
        assert_eq!(error.retry_at, Some(Time(at(105))), "when it is retried");
        assert_eq!(error.message, "connection refused");
        assert!(status.pending_disruption.is_none());
    }

    #[test]
    fn the_stricter_gate_wins() {
        let refused = |w: &str| ResetDecision::Refused {
            how_to_allow: w.into(),
        };
        let not_now = |r: &str, t| ResetDecision::NotNow {
            reason: r.into(),
            opens_at: at(t),
        };
        use ResetDecision::Allowed;
        assert_eq!(combine(Allowed, Allowed), Allowed);
        assert!(matches!(
            combine(refused("spec.resetPolicy is Never"), Allowed),
            ResetDecision::Refused { how_to_allow } if how_to_allow.contains("MediantDevice's spec.resetPolicy")
        ));
        assert_eq!(
            combine(Allowed, refused("spec.disruption is Never")),
            refused("spec.disruption is Never")
        );
        assert_eq!(combine(Allowed, not_now("gate", 10)), not_now("gate", 10));
        match combine(not_now("device window", 50), not_now("gate window", 20)) {
            ResetDecision::NotNow { reason, opens_at } => {
                assert_eq!(opens_at, at(50));
                assert!(reason.contains("device window") && reason.contains("gate window"));
            }
            other => panic!("{other:?}"),
        }
    }
}
