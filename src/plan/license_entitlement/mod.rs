//! LicenseEntitlement: the contract every licence provider shares, and the
//! providers (`mediant` so far).
//!
//! A provider implements [`Provider`]: observe the target (I/O), plan the
//! difference (pure), apply one change (I/O: send, await the disruption,
//! verify), report facts. Everything else is shared and written once here:
//! the disruption gate, the keyed digest, the capped drift list, the error's
//! retry verdict, the pending change, and the status built from all of it
//! ([`reconcile`], [`status`]). A new provider is a new file implementing
//! the trait (and its spec and facts in `crate::api::license_entitlement`).
//!
//! # Guarantees
//! - In sync means zero writes: [`reconcile`] applies only the changes
//!   [`Provider::plan`] returns, and a provider returns none when the
//!   target holds the declared licence.
//! - A disruptive change runs only when the gate allows it; otherwise
//!   nothing is sent and the report says what waits and why.
//! - Reports, drift and errors carry no secret value (drift values are
//!   keyed digests).

mod file;
pub mod mediant;

use std::fmt;
use std::future::Future;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::condition::{
    Condition, ConditionStatus, ConditionType, remove_condition, set_condition,
};
use crate::api::{
    DisruptionDecision, LastError, LicenseEntitlementStatus, MAX_DRIFT, PendingDisruption,
    ProviderFacts,
};

pub use file::{LicenseFile, key_features};

/// One differing item: `name: desired → observed`, values already made safe
/// to show (secrets as keyed digests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemDrift {
    /// The item, e.g. `licenseKey[S/N 101780235000000]`.
    pub name: String,
    /// The desired value as shown.
    pub desired: String,
    /// The observed value as shown.
    pub observed: String,
}

impl fmt::Display for ItemDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} → {}", self.name, self.desired, self.observed)
    }
}

/// A change a provider planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change<A> {
    /// What is sent (its `Debug` must not show secrets).
    pub action: A,
    /// One line saying what the change does.
    pub description: String,
    /// Whether it disrupts service (the gate decides when it may run).
    pub disruptive: bool,
}

/// What a provider's plan says: the drift, and the changes that remove it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPlan<A> {
    /// Differing items.
    pub drift: Vec<ItemDrift>,
    /// Changes that make the target match, in order.
    pub changes: Vec<Change<A>>,
}

impl<A> Default for ProviderPlan<A> {
    fn default() -> Self {
        ProviderPlan {
            drift: Vec::new(),
            changes: Vec::new(),
        }
    }
}

/// What every provider error says about itself, for status and metrics.
pub trait ProviderError: std::error::Error + Send + Sync + 'static {
    /// A bounded CamelCase category (event reason, metric label).
    fn reason(&self) -> &'static str;
    /// Whether retrying without a change from the user can help.
    fn retryable(&self) -> bool;
}

/// A licence provider: the part of the contract that differs per system.
pub trait Provider: Sync {
    /// The union key under `spec.provider` (`mediant`).
    const NAME: &'static str;
    /// The normalised desired state, Secret values resolved (`Debug` must
    /// not show them).
    type Desired: fmt::Debug + Send + Sync;
    /// What the target holds.
    type Observed: fmt::Debug + Send + Sync;
    /// What a change sends (`Debug` must not show secrets).
    type Action: fmt::Debug + Clone + Send + Sync;
    /// Why observing, planning or applying failed.
    type Error: ProviderError;

    /// What the licence is installed on, for status.target.
    fn target(&self, observed: Option<&Self::Observed>) -> String;
    /// Reads the target.
    fn observe(
        &self,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<Self::Observed, Self::Error>> + Send;
    /// The difference and the changes that remove it. Pure.
    fn plan(
        &self,
        desired: &Self::Desired,
        observed: &Self::Observed,
    ) -> Result<ProviderPlan<Self::Action>, Self::Error>;
    /// `sha256:<hex>` of the normalised desired state keyed with the
    /// target's identity, never a secret. Pure.
    fn desired_digest(&self, desired: &Self::Desired, observed: &Self::Observed) -> String;
    /// Runs one change, awaits what it sets off (a device reset) and reads
    /// the target again; an error when the target does not hold the change
    /// afterwards.
    fn apply(
        &self,
        desired: &Self::Desired,
        observed: &Self::Observed,
        change: &Change<Self::Action>,
    ) -> impl Future<Output = Result<Self::Observed, Self::Error>> + Send;
    /// Facts for status.facts.
    fn facts(&self, desired: &Self::Desired, observed: &Self::Observed) -> ProviderFacts;
}

/// Whether [`reconcile`] only plans or also applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Observe and plan; send nothing.
    Diff,
    /// Observe, plan, apply what the gate allows, verify.
    Apply,
}

/// What one reconciliation found and did.
#[derive(Debug)]
pub struct Report<P: Provider> {
    /// status.target.
    pub target: String,
    /// The last observation (after the apply when something was applied).
    pub observed: Option<P::Observed>,
    /// The drift before applying.
    pub drift: Vec<ItemDrift>,
    /// The changes planned before applying.
    pub planned: Vec<Change<P::Action>>,
    /// Descriptions of the changes applied and verified.
    pub applied: Vec<String>,
    /// A disruptive change the gate held back.
    pub pending: Option<PendingDisruption>,
    /// The keyed digest of the desired state.
    pub digest: Option<String>,
    /// Facts for status.
    pub facts: Option<ProviderFacts>,
    /// The failure, if any (the fields above say how far it got).
    pub error: Option<P::Error>,
}

impl<P: Provider> Report<P> {
    /// Whether the target holds the declared licence now.
    pub fn in_sync(&self) -> bool {
        self.error.is_none()
            && self.pending.is_none()
            && (self.drift.is_empty() || self.applied.len() == self.planned.len())
    }
}

/// Observes, plans and (in [`Mode::Apply`]) applies what `gate` allows,
/// through `provider`. Never fails: the report carries the error and how far
/// the run got.
pub async fn reconcile<P: Provider>(
    provider: &P,
    desired: &P::Desired,
    gate: &DisruptionDecision,
    mode: Mode,
) -> Report<P> {
    let mut report = Report {
        target: provider.target(None),
        observed: None,
        drift: Vec::new(),
        planned: Vec::new(),
        applied: Vec::new(),
        pending: None,
        digest: None,
        facts: None,
        error: None,
    };
    let observed = match provider.observe(desired).await {
        Ok(o) => o,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.target = provider.target(Some(&observed));
    report.digest = Some(provider.desired_digest(desired, &observed));
    report.facts = Some(provider.facts(desired, &observed));
    let plan = match provider.plan(desired, &observed) {
        Ok(p) => p,
        Err(e) => {
            report.observed = Some(observed);
            report.error = Some(e);
            return report;
        }
    };
    report.drift = plan.drift;
    report.planned = plan.changes.clone();
    let mut current = observed;
    for change in &plan.changes {
        if change.disruptive {
            let held = match gate {
                DisruptionDecision::Allowed => None,
                DisruptionDecision::Refused { how_to_allow } => Some((how_to_allow.clone(), None)),
                DisruptionDecision::NotNow { reason, opens_at } => {
                    Some((reason.clone(), Some(Time(*opens_at))))
                }
            };
            if let Some((reason, opens_at)) = held {
                report.pending = Some(PendingDisruption {
                    change: change.description.clone(),
                    reason,
                    opens_at,
                });
                break;
            }
        }
        if mode == Mode::Diff {
            continue;
        }
        match provider.apply(desired, &current, change).await {
            Ok(after) => {
                report.applied.push(change.description.clone());
                current = after;
            }
            Err(e) => {
                report.error = Some(e);
                break;
            }
        }
    }
    report.facts = Some(provider.facts(desired, &current));
    report.observed = Some(current);
    report
}

/// The common status of a report, from `previous` (whose condition times
/// are kept while statuses do not flip). `generation` is the object's
/// `.metadata.generation`, `now` the clock, `retry_at` when a retryable
/// failure is tried again.
pub fn status<P: Provider>(
    report: &Report<P>,
    previous: Option<&LicenseEntitlementStatus>,
    generation: Option<i64>,
    now: Timestamp,
    retry_at: Option<Timestamp>,
) -> LicenseEntitlementStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let time = Time(now);
    status.observed_generation = generation;
    status.provider = Some(P::NAME.to_string());
    status.target = Some(report.target.clone());
    if report.digest.is_some() {
        status.desired_digest = report.digest.clone();
    }
    if report.facts.is_some() {
        status.facts = report.facts.clone();
    }
    status.drift = if report.in_sync() && !report.applied.is_empty() {
        Vec::new()
    } else {
        report
            .drift
            .iter()
            .take(MAX_DRIFT)
            .map(ToString::to_string)
            .collect()
    };
    status.pending_disruption = report.pending.clone();
    if !report.applied.is_empty() && report.error.is_none() {
        status.last_applied_time = Some(time.clone());
    }
    status.last_error = report.error.as_ref().map(|e| LastError {
        reason: e.reason().to_string(),
        message: e.to_string(),
        retryable: e.retryable(),
        retry_at: retry_at.filter(|_| e.retryable()).map(Time),
    });

    let condition = |type_, s| Condition::new(type_, s, generation, time.clone());
    let conditions = &mut status.conditions;
    if let Some(e) = &report.error {
        let message = e.to_string();
        set_condition(
            conditions,
            condition(ConditionType::Ready, ConditionStatus::False)
                .reason(e.reason())
                .message(message.clone()),
        );
        if e.retryable() {
            remove_condition(conditions, ConditionType::Stalled);
            set_condition(
                conditions,
                condition(ConditionType::Reconciling, ConditionStatus::True)
                    .reason("RetryingAfterError")
                    .message(message),
            );
        } else {
            remove_condition(conditions, ConditionType::Reconciling);
            set_condition(
                conditions,
                condition(ConditionType::Stalled, ConditionStatus::True)
                    .reason(e.reason())
                    .message(message),
            );
        }
        if report.drift.is_empty() && report.observed.is_none() {
            // Not observed: whether it is in sync is unknown.
            set_condition(
                conditions,
                condition(ConditionType::Synced, ConditionStatus::Unknown)
                    .reason(e.reason())
                    .message("the target could not be read"),
            );
        } else {
            set_condition(
                conditions,
                condition(
                    ConditionType::Synced,
                    ConditionStatus::from_bool(report.drift.is_empty()),
                )
                .reason(if report.drift.is_empty() {
                    "InSync"
                } else {
                    "Drifted"
                })
                .message(drift_message(report)),
            );
        }
    } else if let Some(pending) = &report.pending {
        let message = format!("{} waits: {}", pending.change, pending.reason);
        let refused = pending.opens_at.is_none();
        set_condition(
            conditions,
            condition(ConditionType::Ready, ConditionStatus::False)
                .reason("DisruptionPending")
                .message(message.clone()),
        );
        set_condition(
            conditions,
            condition(ConditionType::Synced, ConditionStatus::False)
                .reason("DisruptionPending")
                .message(drift_message(report)),
        );
        remove_condition(conditions, ConditionType::Reconciling);
        if refused {
            // disruption Never: only a spec change lets it run.
            set_condition(
                conditions,
                condition(ConditionType::Stalled, ConditionStatus::True)
                    .reason("DisruptionNotAllowed")
                    .message(message),
            );
        } else {
            remove_condition(conditions, ConditionType::Stalled);
        }
    } else {
        let (reason, message) = if report.applied.is_empty() {
            (
                "InSync",
                "the target holds the declared licence".to_string(),
            )
        } else {
            (
                "Applied",
                format!("applied and verified: {}", report.applied.join("; ")),
            )
        };
        let synced = report.in_sync();
        set_condition(
            conditions,
            condition(ConditionType::Ready, ConditionStatus::from_bool(synced))
                .reason(if synced { reason } else { "Drifted" })
                .message(if synced {
                    message.clone()
                } else {
                    drift_message(report)
                }),
        );
        set_condition(
            conditions,
            condition(ConditionType::Synced, ConditionStatus::from_bool(synced))
                .reason(if synced { reason } else { "Drifted" })
                .message(if synced {
                    message
                } else {
                    drift_message(report)
                }),
        );
        remove_condition(conditions, ConditionType::Reconciling);
        remove_condition(conditions, ConditionType::Stalled);
    }
    status
}

fn drift_message<P: Provider>(report: &Report<P>) -> String {
    if report.drift.is_empty() {
        return "the target holds the declared licence".into();
    }
    let shown: Vec<String> = report
        .drift
        .iter()
        .take(3)
        .map(ToString::to_string)
        .collect();
    format!(
        "{} item(s) differ: {}",
        report.drift.len(),
        shown.join("; ")
    )
}
