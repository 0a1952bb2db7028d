//! One reconciliation of a MediantDevice, as a pipeline of named steps:
//!
//! 1. [`validate::spec`] — the spec as a cluster holds it (before anything
//!    it names is read, so a bad spec is reported as such);
//! 2. [`dereference`] — the credentials Secret, ConfigMaps, CA bundle, and
//!    the device's lock;
//! 3. [`validate::desired`] — the desired state from the spec and the texts;
//! 4. [`observe`] — what the device holds (read-only);
//! 5. [`plan`] — pure: the steps that make the device match;
//! 6. [`apply`] — run and verify them, unless writes are paused;
//! 7. [`status`] — conditions, facts and drift, written only when changed.
//!
//! Each step has its own error type with a bounded `category()`, used as
//! condition reason, event reason and metric label.
//!
//! # Errors
//! A failed step ends the pipeline; status still records what was learned
//! and why it stopped, and [`error_policy`] schedules a retry with per-object
//! exponential backoff.

pub mod apply;
pub mod dereference;
pub mod invalid;
pub mod observe;
pub mod plan;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::Instrument;

use crate::api::{
    ConditionStatus, ConditionType, MediantDevice, ResetDecision, desired_revision, find_condition,
};
use crate::device::RequestObserver;

use super::backoff::jittered;
use super::context::{Context, KIND};
use super::error::ReconcileError;
use super::watches::Guarded;
use status::Findings;

/// The key of an object in the controller's per-object maps.
pub fn object_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn key_of(obj: &Guarded) -> String {
    object_key(&obj.namespace().unwrap_or_default(), &obj.name_any())
}

/// Reconciles one MediantDevice (or reports a malformed one).
pub async fn reconcile(obj: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let span = tracing::info_span!(
        "reconcile",
        namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
    );
    let reference = obj.object_ref(&());
    match &obj.0 {
        Ok(device) => {
            reconcile_device(device, reference, &ctx)
                .instrument(span)
                .await
        }
        Err(bad) => invalid::report(&ctx, reference, bad)
            .instrument(span)
            .await
            .map_err(ReconcileError::from),
    }
}

/// Schedules the retry of a failed reconciliation: exponential per object.
pub fn error_policy(obj: Arc<Guarded>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let key = key_of(&obj);
    let delay = ctx.backoff.next_delay(&key);
    ctx.note_next(&key, delay);
    tracing::debug!(
        namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
        category = error.category(),
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    Action::requeue(delay)
}

async fn reconcile_device(
    device: &MediantDevice,
    reference: ObjectReference,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let namespace = device.namespace().unwrap_or_default();
    let name = device.name_any();
    let key = object_key(&namespace, &name);
    if let Some(left) = ctx.own_write_only(&key, device.metadata.resource_version.as_deref()) {
        // Our own status write came back through the watch: nothing to do.
        return Ok(Action::requeue(left));
    }
    let mut timer = ctx.metrics.reconcile_timer(KIND);
    let mut findings = Findings::default();

    let result = pipeline(device, &namespace, &key, &reference, ctx, &mut findings).await;

    let failure = result.as_ref().err().map(ReconcileError::failure);
    let previous = device.status.as_ref();
    let next = status::compute(
        previous,
        device.metadata.generation,
        &findings,
        failure.as_ref(),
        status::now_seconds(Timestamp::now()),
    );
    let ready = find_condition(&next.conditions, ConditionType::Ready);
    if let (Some(f), Some(ready)) = (&failure, ready) {
        let before = previous.and_then(|p| find_condition(&p.conditions, ConditionType::Ready));
        // One event per new failure, not one per retry.
        if before.is_none_or(|b| b.reason != ready.reason || b.message != ready.message) {
            ctx.publish(
                &reference,
                EventType::Warning,
                f.category,
                "Reconcile",
                f.message.clone(),
            )
            .await;
        }
    }
    let is_ready = ready.is_some_and(|c| c.status == ConditionStatus::True);
    ctx.metrics.set_device(
        &namespace,
        &name,
        next.drift.as_ref().map_or(0, |d| d.count),
        is_ready,
    );
    let written = if status::needs_write(previous, &next, ctx.config.status_heartbeat) {
        match serde_json::to_value(&next) {
            Ok(body) => status::write(
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
            }),
            Err(e) => Err(status::StatusError::Encode(e)),
        }
    } else {
        Ok(())
    };

    match (result, written) {
        (Ok(after), Ok(())) => {
            timer.succeeded();
            ctx.backoff.reset(&key);
            ctx.note_next(&key, after);
            tracing::debug!(requeue_ms = after.as_millis() as u64, "reconciled");
            Ok(Action::requeue(after))
        }
        (Err(e), _) => {
            ctx.metrics.count_error(KIND, e.category());
            tracing::warn!(category = e.category(), "{e}");
            Err(e)
        }
        (Ok(_), Err(e)) => {
            let e = ReconcileError::from(e);
            ctx.metrics.count_error(KIND, e.category());
            tracing::warn!(category = e.category(), "{e}");
            Err(e)
        }
    }
}

/// The steps; fills `findings` as it learns. Returns when to look again.
async fn pipeline(
    device: &MediantDevice,
    namespace: &str,
    key: &str,
    reference: &ObjectReference,
    ctx: &Context,
    findings: &mut Findings,
) -> Result<Duration, ReconcileError> {
    validate::spec(device)?;
    let interval = match ctx.config.interval_override {
        Some(i) => i,
        None => device
            .spec
            .interval()
            .map_err(validate::ValidateError::from)?,
    };

    let refs = dereference::run(&ctx.client, namespace, &device.spec, &ctx.locks).await?;
    let now = Timestamp::now();
    let (desired, decision) = validate::desired(device, &refs.resolved, now)?;
    let revision = desired_revision(&device.spec, &refs.resolved);
    let client = ctx.clients.get_or_build(
        key,
        device,
        &refs.credentials,
        refs.ca_bundle.as_deref(),
        || {
            let metrics = Arc::clone(&ctx.metrics);
            let observer: RequestObserver =
                Arc::new(move |_method, _resource, status| metrics.count_device_request(status));
            validate::client(
                device,
                refs.credentials.clone(),
                refs.ca_bundle.clone(),
                observer,
            )
        },
    )?;

    let observed = match observe::run(&client, &desired).await {
        Ok(o) => o,
        Err(e) => {
            let unreachable = e.unreachable();
            let e = ReconcileError::from(e);
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
    findings.facts = Some(status::facts_of(&observed.status));
    if ctx.alarms_due(key, interval) {
        match client.active_alarm_count().await {
            Ok(n) => findings.alarms = Some(u32::try_from(n).unwrap_or(u32::MAX)),
            // Alarms are informational: their failure does not fail the reconcile.
            Err(e) => tracing::info!(
                category = e.category(),
                "counting active alarms failed: {e}"
            ),
        }
    }

    let digests = device
        .status
        .as_ref()
        .map(|s| s.applied_secret_digests.clone())
        .unwrap_or_default();
    let planned = plan::run(&desired, &observed, &digests)?;
    let drift = plan::drift_of(&planned);
    let held_back = !planned.blocked.is_empty();
    findings.pending = Some(plan::pending_of(&planned));
    findings.reset_refused = held_back && matches!(decision, ResetDecision::Refused { .. });
    findings.waiting_for_window = held_back && matches!(decision, ResetDecision::NotNow { .. });
    findings.paused = apply::paused(device);
    findings.drift = Some(drift.clone());

    let previous_drift = device.status.as_ref().and_then(|s| s.drift.as_ref());
    if drift.count > 0 && previous_drift != Some(&drift) {
        let mut note = format!(
            "{} differ from the desired configuration",
            plan::summary(drift.count as usize, &drift.keys)
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
        return Ok(next);
    }

    let outcome = apply::run(&client, &desired, &observed, &planned, &digests).await?;
    findings.facts = Some(status::facts_of(&outcome.observed.status));
    // What is left, from the verification observation (pure).
    let after = plan::run(&desired, &outcome.observed, &outcome.digests)?;
    findings.digests = Some(outcome.digests);
    findings.drift = Some(plan::drift_of(&after));
    findings.not_taken = !outcome.not_taken.is_empty();
    let left = findings.drift.clone().filter(|_| findings.not_taken);
    ctx.note_not_taken(key, left.map(|d| (revision.clone(), d)));
    if after.is_empty() {
        findings.revision = Some(revision);
    }
    let keys: Vec<String> = planned
        .steps
        .iter()
        .flat_map(|s| s.changes.iter().map(|c| c.key.clone()))
        .collect();
    let mut note = format!("applied {}", plan::summary(keys.len(), &keys));
    if findings.not_taken {
        note.push_str(&format!(
            "; the device did not take {}",
            plan::summary(outcome.not_taken.len(), &outcome.not_taken)
        ));
    }
    ctx.publish(reference, EventType::Normal, "Applied", "Apply", note)
        .await;
    Ok(next)
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
    fn object_keys_are_namespace_and_name() {
        assert_eq!(object_key("ns", "sbc"), "ns/sbc");
        let e = ReconcileError::Validate(validate::ValidateError::Spec(
            crate::api::ValidationError::NothingDeclared,
        ));
        let f = e.failure();
        assert_eq!(f.category, "InvalidSpec");
        assert!(f.needs_user);
    }
}
