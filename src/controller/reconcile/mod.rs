//! One reconciliation of a resource of any [`Kind`], as a pipeline of named
//! steps, written once for every kind:
//!
//! 1. [`validate::spec`] — the resource as a cluster holds it (before
//!    anything it names is read, so a bad spec is reported as such);
//! 2. dereference (`crate::plan::dereference` over the cluster's
//!    [`ClusterSources`]) — its target (a device, or an external system),
//!    the target's credentials and CA bundle, the texts it refers to; then
//!    the target's lock;
//! 3. [`validate::desired`] — the desired state, with the target device's
//!    reset policy decided for now; the target's client (`Kind::connect`,
//!    kept per object while its inputs stay the same);
//! 4. observe and 5. plan — `crate::plan::survey` (read-only, then pure);
//! 6. apply — `crate::plan::converge`, unless writes are paused (the
//!    resource's suspend, or its target device's); it verifies by observing
//!    again;
//! 7. report — events; 8. [`status`] — conditions, facts and drift,
//!    written only when changed.
//!
//! Each step's error has a bounded [`Category`](crate::plan::Category),
//! used as condition reason, event reason and metric label.
//!
//! # Errors
//! A failed step ends the pipeline; status still records what was learned
//! and why it stopped, and [`error_policy`] schedules a retry with per-object
//! exponential backoff.

pub mod invalid;
pub mod status;
pub mod validate;

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::core::DeserializeGuard;
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::Instrument;

use crate::api::{
    ConditionStatus, ConditionType, LicenseEntitlement, ResetDecision, find_condition,
};
use crate::device::RequestObserver;
use crate::plan::report::{self, Findings, drift_of, pending_of, summary};
use crate::plan::{self, Kind, KindStatus, Target};

use super::backoff::jittered;
use super::cert_manager::ClusterIssuer;
use super::context::Context;
use super::error::ReconcileError;
use super::sources::ClusterSources;

/// The key of an object in the controller's per-object records.
pub fn object_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn key_of<R: Resource>(obj: &R) -> String {
    object_key(&obj.namespace().unwrap_or_default(), &obj.name_any())
}

/// Reconciles one resource of kind `K` (or reports a malformed one).
pub async fn reconcile<K: Kind>(
    obj: Arc<DeserializeGuard<K::Resource>>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let span = tracing::info_span!(
        "reconcile",
        kind = K::KIND,
        namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
    );
    let reference = obj.object_ref(&());
    match &obj.0 {
        Ok(resource) => {
            reconcile_resource::<K>(resource, reference, &ctx)
                .instrument(span)
                .await
        }
        Err(bad) => invalid::report::<K>(&ctx, reference, bad)
            .instrument(span)
            .await
            .map_err(ReconcileError::from),
    }
}

/// Schedules the retry of a failed reconciliation: exponential per object.
pub fn error_policy<K: Kind>(
    obj: Arc<DeserializeGuard<K::Resource>>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let key = key_of(obj.as_ref());
    // The delay the status announced (`retryAt`), if it did.
    let delay = ctx.take_failure_delay(&key);
    ctx.note_next(&key, delay);
    tracing::debug!(
        kind = K::KIND,
        namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
        category = error.category().as_str(),
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    Action::requeue(delay)
}

async fn reconcile_resource<K: Kind>(
    resource: &K::Resource,
    reference: ObjectReference,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let namespace = resource.namespace().unwrap_or_default();
    let name = resource.name_any();
    let key = object_key(&namespace, &name);
    // A spec edit whose event arrived while a reconciliation ran is seen
    // only with that reconciliation's own status write (the store holds the
    // latest object): it is not "only our write" if the status describes
    // an older generation.
    let generation_seen = resource
        .status()
        .and_then(|s| s.common().observed_generation)
        == resource.meta().generation;
    if generation_seen
        && let Some(left) = ctx.own_write_only(&key, resource.meta().resource_version.as_deref())
    {
        // Our own status write came back through the watch: nothing to do.
        return Ok(Action::requeue(left));
    }
    // The store may not hold our own last status write yet (a requeue can
    // come before the watch delivers it). That status carries the digests
    // of the write-only secrets sent and the records of resets that must
    // not be repeated (`@reset/…`): planned from an older copy, a password
    // would be sent again and a refused reset repeated. So when we wrote
    // status and the store shows another version, the API server's copy is
    // read (also after someone else's edit: one GET, then the watch shows
    // our next write).
    let fresher: K::Resource;
    let resource = match ctx.own_write(&key) {
        Some(written) if resource.meta().resource_version.as_deref() != Some(written.as_str()) => {
            let api: kube::Api<K::Resource> = kube::Api::namespaced(ctx.client.clone(), &namespace);
            fresher = api.get(&name).await.map_err(status::StatusError::Write)?;
            if let Some(rv) = fresher.meta().resource_version.clone() {
                ctx.confirm_version(&key, rv);
            }
            &fresher
        }
        _ => resource,
    };
    let mut timer = ctx.metrics.reconcile_timer(K::KIND);
    let mut learned = Learned::<K>::default();

    let result = pipeline::<K>(resource, &namespace, &key, &reference, ctx, &mut learned).await;

    let failure = result.as_ref().err().map(ReconcileError::failure);
    let previous = resource.status();
    let now = Timestamp::now();
    let next = status::compute::<K>(
        previous,
        resource.meta().generation,
        &learned.findings,
        failure.as_ref(),
        learned.observed.as_ref(),
        report::now_seconds(now),
    );
    let mut next = match learned.pending_save.clone() {
        Some(pending) => next.with_pending_save(pending),
        None => next,
    };
    if failure.as_ref().is_some_and(|f| !f.needs_user()) {
        // Chosen now so status can say when; `error_policy` requeues
        // after exactly this delay.
        next.set_retry_at(retry_time(now, ctx.schedule_failure(&key)));
    }
    let next_common = next.common();
    let ready = find_condition(&next_common.conditions, ConditionType::Ready);
    if let (Some(f), Some(ready)) = (&failure, ready) {
        let before = previous
            .map(KindStatus::common)
            .and_then(|p| find_condition(&p.conditions, ConditionType::Ready).cloned());
        // One event per new failure, not one per retry.
        if before.is_none_or(|b| b.reason != ready.reason || b.message != ready.message) {
            ctx.publish(
                &reference,
                EventType::Warning,
                f.category.as_str(),
                "Reconcile",
                f.message.clone(),
            )
            .await;
        }
    }
    if let Some(expiry) = K::expiry(resource, &next) {
        let now = Timestamp::now().as_second();
        let warn = ctx.metrics.set_certificate_expiry(
            &namespace,
            &name,
            expiry.not_after,
            now,
            expiry.warn_within,
        );
        if warn {
            let days = expiry.not_after.saturating_sub(now).div_euclid(86_400);
            let message = if days < 0 {
                "the device certificate has expired".to_string()
            } else {
                format!("the device certificate expires in {days} day(s)")
            };
            ctx.publish(
                &reference,
                EventType::Warning,
                "CertificateExpiring",
                "Observe",
                message,
            )
            .await;
        }
    }
    if matches!(K::target(resource), Target::Itself(_)) {
        // The device gauges: only for the resource that is the device.
        let is_ready = ready.is_some_and(|c| c.status == ConditionStatus::True);
        ctx.metrics.set_device(
            &namespace,
            &name,
            next_common.drift.as_ref().map_or(0, |d| d.count),
            is_ready,
        );
    }
    if TypeId::of::<K::Resource>() == TypeId::of::<LicenseEntitlement>() {
        // A licence's status.pendingDisruption is its first pending step
        // (`LicenseEntitlementStatus::common`), so this is "pendingDisruption set".
        ctx.metrics
            .set_license_pending(&namespace, &name, !next_common.pending_steps.is_empty());
    }
    let on_server = learned.marked.as_ref().or(previous);
    let written = if status::needs_write(on_server, &next, ctx.config.status_heartbeat) {
        match serde_json::to_value(&next) {
            Ok(mut body) => {
                // A cleared pending save is written as null: the status
                // write merges, and an absent field would stay.
                if learned.pending_save == Some(None)
                    && let Some(fields) = body.as_object_mut()
                {
                    fields.insert("pendingSave".to_owned(), serde_json::Value::Null);
                }
                status::write::<K>(
                    &ctx.client,
                    &namespace,
                    &name,
                    &body,
                    &ctx.config.field_manager,
                )
                .await
                .map(|rv| {
                    if let Some(rv) = rv {
                        ctx.note_own_write(&key, rv);
                    }
                })
            }
            Err(e) => Err(status::StatusError::Encode(e)),
        }
    } else {
        Ok(())
    };

    match (result, written) {
        (Ok(after), Ok(())) => {
            timer.succeeded();
            ctx.reset_failures(&key);
            ctx.note_next(&key, after);
            tracing::debug!(requeue_ms = after.as_millis() as u64, "reconciled");
            Ok(Action::requeue(after))
        }
        (Err(e), _) => {
            ctx.metrics.count_error(K::KIND, e.category().as_str());
            tracing::warn!(category = e.category().as_str(), "{e}");
            Err(e)
        }
        (Ok(_), Err(e)) => {
            let e = ReconcileError::from(e);
            ctx.metrics.count_error(K::KIND, e.category().as_str());
            tracing::warn!(category = e.category().as_str(), "{e}");
            Err(e)
        }
    }
}

/// What the pipeline learned: the shared findings and the latest
/// observation (the kind's status shows facts from it).
struct Learned<K: Kind> {
    findings: Findings,
    observed: Option<K::Observed>,
    /// The pending save as this reconcile left it (`None`: untouched).
    pending_save: Option<Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>>,
    /// The status written mid-reconcile (the pending save recorded), which
    /// the final status is compared with.
    marked: Option<K::Status>,
}

impl<K: Kind> Default for Learned<K> {
    fn default() -> Self {
        Learned {
            findings: Findings::default(),
            observed: None,
            pending_save: None,
            marked: None,
        }
    }
}

/// The steps; fills `learned` as it goes. Returns when to look again.
async fn pipeline<K: Kind>(
    resource: &K::Resource,
    namespace: &str,
    key: &str,
    reference: &ObjectReference,
    ctx: &Context,
    learned: &mut Learned<K>,
) -> Result<Duration, ReconcileError> {
    validate::spec::<K>(resource)?;
    let interval = match ctx.config.interval_override {
        Some(i) => i,
        None => K::interval(resource).map_err(validate::ValidateError::from)?,
    };

    let sources = ClusterSources::new(ctx.client.clone());
    let refs = plan::dereference::<K>(&sources, namespace, None, resource).await?;
    // One writer per device (or external system), whichever resources
    // configure it.
    let _lock = ctx.locks.lock(refs.lock_key()).await;
    let now = Timestamp::now();
    let (mut desired, decision) =
        validate::desired::<K>(resource, refs.device(), &refs.resolved, now)?;
    if K::USES_ISSUER {
        K::attach_issuer(
            &mut desired,
            Arc::new(ClusterIssuer::new(ctx.client.clone())),
        );
    }
    // Digests shown in status are keyed: they cover Secret texts, which a
    // plain SHA-256 would let anyone who reads status check guesses against.
    let memory = resource
        .status()
        .map(|s| s.common().applied_secret_digests)
        .unwrap_or_default()
        .with_key(ctx.config.digest_key.key());
    let revision = memory.seal_digest(K::KIND, &K::revision(resource, &refs.resolved));
    K::seal_digests(&mut desired, &|d| memory.seal_digest(K::KIND, d));
    let inputs = super::clients::ClientInputs::of_target(&refs, K::client_variant(&desired));
    let client = ctx.kept_client(key, inputs, || {
        let metrics = Arc::clone(&ctx.metrics);
        let observer: RequestObserver =
            Arc::new(move |_method, _resource, status| metrics.count_device_request(status));
        validate::connect::<K>(&refs, &desired, observer)
    })?;

    // A save an earlier reconcile (maybe of another leader) recorded and
    // did not get to: done before anything else is written.
    if resource
        .status()
        .and_then(KindStatus::pending_save)
        .is_some()
    {
        // The watch may still show our own mark of a reconcile that has
        // since saved and cleared it: the API server's copy decides.
        let api: kube::Api<K::Resource> = kube::Api::namespaced(ctx.client.clone(), namespace);
        let fresh = api
            .get(&resource.name_any())
            .await
            .map_err(status::StatusError::Write)?;
        if fresh.status().and_then(KindStatus::pending_save).is_some() {
            K::save_pending(&*client)
                .await
                .map_err(ReconcileError::Apply)?;
            tracing::info!("saved the configuration an earlier reconcile wrote and did not save");
        }
        learned.pending_save = Some(None);
    }

    let thorough = ctx.alarms_due(key, interval);
    let findings = &mut learned.findings;
    let survey = match plan::survey::<K>(&*client, &desired, &memory, thorough).await {
        Ok(s) => s,
        Err(e) => {
            let unreachable = e.unreachable();
            let e = match e {
                plan::ApplyError::Plan(p) => ReconcileError::Plan(p),
                other => ReconcileError::Observe(other),
            };
            findings.reachable = Some(if unreachable {
                Err(e.failure())
            } else {
                // It answered, just not as hoped (403, 5xx, unreadable file).
                Ok(())
            });
            return Err(e);
        }
    };
    findings.reachable = Some(Ok(()));
    let planned = &survey.plan;
    let drift = drift_of(planned);
    let held_back = !planned.blocked.is_empty();
    findings.pending = Some(pending_of(planned));
    findings.reset_refused = held_back && matches!(decision, ResetDecision::Refused { .. });
    findings.waiting_for_window = held_back && matches!(decision, ResetDecision::NotNow { .. });
    let repeated: Vec<&str> = planned
        .blocked
        .iter()
        .filter(|(_, reason)| plan::is_repeated_reset(reason))
        .map(|(_, reason)| reason.as_str())
        .collect();
    findings.reset_loop = !repeated.is_empty();
    findings.paused = K::paused(resource) || refs.device().is_some_and(plan::device_paused);
    findings.drift = Some(drift.clone());
    learned.observed = Some(survey.observed.clone());
    let findings = &mut learned.findings;

    let previous_drift = resource
        .status()
        .and_then(|s| s.common().drift)
        .filter(|d| *d == drift);
    if drift.count > 0 && previous_drift.is_none() {
        let mut note = format!(
            "{} differ from the desired configuration",
            summary(drift.count as usize, &drift.keys)
        );
        if findings.paused {
            note.push_str("; writes are paused, nothing is changed");
        }
        ctx.publish(
            reference,
            EventType::Normal,
            "DriftDetected",
            "Observe",
            note,
        )
        .await;
    }

    // A refused reset loop: once per new refusal, not per check.
    let before = resource
        .status()
        .map(|s| s.common().pending_steps)
        .unwrap_or_default();
    for reason in repeated {
        if !before.iter().any(|p| p.reason == reason) {
            ctx.publish(
                reference,
                EventType::Warning,
                "ResetLoopRefused",
                "Plan",
                reason.to_owned(),
            )
            .await;
        }
    }

    let next = next_check(interval, &decision, held_back, now);
    if findings.paused || planned.steps.is_empty() {
        if planned.is_empty() {
            findings.revision = Some(revision);
        }
        return Ok(next);
    }
    // The device refused these very changes last time (accepted, not
    // taken): say so again, but do not resend them until the spec or the
    // device changes.
    if ctx.already_not_taken(key, &revision, &drift) {
        findings.not_taken = true;
        findings.not_taken_hint = K::not_taken_hint(planned);
        return Ok(next);
    }

    // Before the first write of changes that are to be saved: the pending
    // save, in status, so that a reconcile cut off before its save (a lost
    // Lease, a killed process) leaves it to the next one.
    let saves = planned.steps.iter().any(|s| K::saves(&s.action));
    if saves {
        let since = report::now_seconds(Timestamp::now());
        let marked = resource
            .status()
            .cloned()
            .unwrap_or_default()
            .with_pending_save(Some(since.clone()));
        let body = serde_json::to_value(&marked).map_err(status::StatusError::Encode)?;
        let rv = status::write::<K>(
            &ctx.client,
            namespace,
            &resource.name_any(),
            &body,
            &ctx.config.field_manager,
        )
        .await?;
        if let Some(rv) = rv {
            ctx.note_own_write(key, rv);
        }
        learned.pending_save = Some(Some(since));
        learned.marked = Some(marked);
    }
    // From the first write to the save, not cancelled: dropping this
    // reconcile (a lost Lease drops the controller) lets it finish.
    let section = {
        let client = Arc::clone(&client);
        let observed = survey.observed.clone();
        let planned = planned.clone();
        let mut sent = memory.clone();
        async move {
            let outcome = plan::converge_recording::<K>(
                &*client,
                &desired,
                &observed,
                &planned,
                &mut sent,
                |number, step| {
                    tracing::info!(step = number, description = %step.description, "applying");
                },
            )
            .await;
            (outcome, sent)
        }
        .in_current_span()
    };
    let (outcome, sent) = super::shield::shielded(section).await.ok_or_else(|| {
        ReconcileError::Apply(plan::ApplyError::DeviceUnreadable {
            what: "apply".to_owned(),
            reason: "the apply task panicked (a bug: please report it)".to_owned(),
        })
    })?;
    let findings = &mut learned.findings;
    // What the steps that ran sent is remembered even when a later one
    // failed: the next reconcile must not send it (or reset) again.
    findings.digests = Some(sent);
    let outcome = outcome.map_err(ReconcileError::Apply)?;
    if saves {
        learned.pending_save = Some(None);
    }
    let findings = &mut learned.findings;
    // What is left: the verification's plan, which the outcome carries.
    findings.digests = Some(outcome.digests.clone());
    findings.drift = Some(drift_of(&outcome.remaining));
    findings.not_taken = !outcome.not_taken.is_empty();
    findings.not_taken_hint = outcome.not_taken_hint.clone();
    let left = findings.drift.clone().filter(|_| findings.not_taken);
    ctx.note_not_taken(key, left.map(|d| (revision.clone(), d)));
    if outcome.remaining.is_empty() {
        findings.revision = Some(revision);
    }
    let keys: Vec<String> = planned
        .steps
        .iter()
        .flat_map(|s| s.changes.iter().map(|c| c.key.clone()))
        .collect();
    let mut note = format!("applied {}", summary(keys.len(), &keys));
    if findings.not_taken {
        note.push_str(&format!(
            "; the device did not take {}",
            summary(outcome.not_taken.len(), &outcome.not_taken)
        ));
        if let Some(hint) = &outcome.not_taken_hint {
            note.push_str(&format!(" ({hint})"));
        }
    }
    learned.observed = Some(outcome.observed);
    ctx.publish(reference, EventType::Normal, "Applied", "Apply", note)
        .await;
    Ok(next)
}

/// `now + delay`, rounded up to the second (the API server stores whole
/// seconds): the retry is due by the time status says.
fn retry_time(
    now: Timestamp,
    delay: Duration,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let at = now.checked_add(delay).unwrap_or(now);
    let second = at.as_second() + i64::from(at.subsec_nanosecond() > 0);
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        Timestamp::from_second(second).unwrap_or(at),
    )
}

/// The next drift check: the interval with jitter, or the opening of the
/// maintenance window when a held-back reset waits for it and that is sooner.
fn next_check(
    interval: Duration,
    decision: &ResetDecision,
    held_back: bool,
    now: Timestamp,
) -> Duration {
    let regular = jittered(interval);
    match decision {
        ResetDecision::NotNow { opens_at, .. } if held_back => {
            let until = opens_at.duration_since(now);
            if until.is_negative() {
                return regular;
            }
            let until = until.unsigned_abs() + Duration::from_secs(1);
            regular.min(until)
        }
        _ => regular,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_check_waits_for_the_window_only_when_something_waits() {
        let now = Timestamp::from_second(1_000_000).expect("in range");
        let opens_at = Timestamp::from_second(1_000_060).expect("in range");
        let decision = ResetDecision::NotNow {
            reason: "closed".into(),
            opens_at,
        };
        let interval = Duration::from_secs(300);
        let soon = next_check(interval, &decision, true, now);
        assert_eq!(soon, Duration::from_secs(61));
        let regular = next_check(interval, &decision, false, now);
        assert!(regular >= Duration::from_secs(270));
        assert!(
            next_check(interval, &ResetDecision::Allowed, true, now) >= Duration::from_secs(270)
        );
    }

    #[test]
    fn the_retry_time_is_rounded_up_to_the_second() {
        let now = Timestamp::from_second(1_000).expect("in range");
        let at = |d| retry_time(now, d).0.as_second();
        assert_eq!(at(Duration::from_millis(1500)), 1_002);
        assert_eq!(at(Duration::from_secs(2)), 1_002);
    }

    #[test]
    fn object_keys_are_namespace_and_name() {
        assert_eq!(object_key("ns", "sbc"), "ns/sbc");
        let e = ReconcileError::Validate(validate::ValidateError::Spec(
            crate::api::ValidationError::NothingDeclared,
        ));
        let f = e.failure();
        assert_eq!(f.category.as_str(), "InvalidSpec");
        assert!(f.needs_user());
    }
}
