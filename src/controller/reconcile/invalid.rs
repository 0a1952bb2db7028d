//! A resource that does not deserialize (an object written under an
//! older or newer CRD, or a schema the Rust type is stricter than) must not
//! break the watch of the good ones. The controller watches through
//! `DeserializeGuard`, so such an object arrives here instead: it gets
//! `Stalled=True` and `Ready=False` with reason `InvalidSpec`, written as a
//! raw status patch (the typed status cannot be trusted), and waits for an
//! edit.

use kube::Api;
use kube::api::{ApiResource, DynamicObject};
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use crate::api::{Condition, ConditionStatus, ConditionType, remove_condition, set_condition};
use crate::controller::context::Context;
use crate::plan::report::{self, CommonStatus};
use crate::plan::{Category, Kind, KindStatus};

use super::status::{self, StatusError};

/// The reason (and metric category) of a malformed resource.
pub const CATEGORY: &str = "InvalidSpec";

/// Reports the malformed object `invalid` in its status and in an event.
/// Writes nothing when the status already says so (no write loop).
pub async fn report<K: Kind>(
    ctx: &Context,
    reference: k8s_openapi::api::core::v1::ObjectReference,
    invalid: &InvalidObject,
) -> Result<Action, StatusError> {
    let _timer = ctx.metrics.reconcile_timer(K::KIND);
    ctx.metrics
        .count_error(K::KIND, Category::InvalidSpec.as_str());
    let namespace = invalid.metadata.namespace.clone().unwrap_or_default();
    let name = invalid.metadata.name.clone().unwrap_or_default();
    let message = format!(
        "the resource does not match the {} schema: {}; fix the spec (kubectl explain {}.spec)",
        K::KIND,
        without_values(&invalid.error),
        K::KIND.to_lowercase()
    );
    tracing::warn!(%namespace, %name, reason = CATEGORY, "{message}");

    let api: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        &namespace,
        &ApiResource::erase::<K::Resource>(&()),
    );
    let current = api.get_opt(&name).await.map_err(StatusError::Write)?;
    let Some(current) = current else {
        // Deleted meanwhile: nothing to report on.
        return Ok(Action::await_change());
    };
    let raw_status = current.data.get("status").cloned();
    let previous: Option<K::Status> = raw_status.and_then(|s| serde_json::from_value(s).ok());
    let now = report::now_seconds(k8s_openapi::jiff::Timestamp::now());
    let common = mark_invalid(
        previous.as_ref().map(KindStatus::common),
        invalid.metadata.generation,
        &message,
        now.clone(),
    );
    let next = K::status(previous.as_ref(), common, None, &now);
    if previous.as_ref() == Some(&next) {
        return Ok(Action::await_change());
    }
    let body = serde_json::to_value(&next).map_err(StatusError::Encode)?;
    status::write::<K>(
        &ctx.client,
        &namespace,
        &name,
        &body,
        &ctx.config.field_manager,
    )
    .await?;
    ctx.publish(
        &reference,
        EventType::Warning,
        CATEGORY,
        "Validate",
        message,
    )
    .await;
    // Only an edit of the object can fix it, and an edit triggers a reconcile.
    Ok(Action::await_change())
}

/// `previous` with `Ready=False` and `Stalled=True` (reason InvalidSpec)
/// for `generation`, everything else kept. Pure.
pub fn mark_invalid(
    previous: Option<CommonStatus>,
    generation: Option<i64>,
    message: &str,
    now: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> CommonStatus {
    let mut next = previous.unwrap_or_default();
    for type_ in [ConditionType::Ready, ConditionType::Stalled] {
        let status = match type_ {
            ConditionType::Stalled => ConditionStatus::True,
            _ => ConditionStatus::False,
        };
        set_condition(
            &mut next.conditions,
            Condition::new(type_, status, generation, now.clone())
                .reason(CATEGORY)
                .message(message),
        );
    }
    remove_condition(&mut next.conditions, ConditionType::Reconciling);
    next.observed_generation = generation;
    next
}

/// A deserializer's message without the values it quotes: serde writes
/// field and variant names in backticks and offending string values in
/// double quotes, and a value may be a secret (inline INI holds passwords).
pub fn without_values(error: &str) -> String {
    let mut out = String::with_capacity(error.len());
    let mut in_quotes = false;
    for c in error.chars() {
        match (c, in_quotes) {
            ('"', false) => {
                in_quotes = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                in_quotes = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    if in_quotes {
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn at(s: i64) -> Time {
        Time(Timestamp::from_second(s).expect("in range"))
    }

    #[test]
    fn quoted_values_are_dropped_and_names_kept() {
        let e = r#"invalid type: string "s3cret", expected u32 at `spec.interval`"#;
        let cleaned = without_values(e);
        assert!(!cleaned.contains("s3cret"));
        assert!(cleaned.contains("`spec.interval`"));
        assert_eq!(
            without_values("missing field `endpoint`"),
            "missing field `endpoint`"
        );
        assert_eq!(without_values(r#"open "quote"#), "open \"…\"");
    }

    #[test]
    fn marking_twice_changes_nothing() {
        let first = mark_invalid(None, Some(2), "bad", at(10));
        let second = mark_invalid(Some(first.clone()), Some(2), "bad", at(20));
        assert_eq!(first, second, "same message: no write");
        assert_eq!(first.observed_generation, Some(2));
        let stalled = first
            .conditions
            .iter()
            .find(|c| c.is(ConditionType::Stalled))
            .expect("stalled");
        assert_eq!(stalled.reason, "InvalidSpec");
    }
}
