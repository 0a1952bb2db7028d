//! What the operator reports about a LicenseEntitlement, the same for every
//! provider. Never a licence key: drift shows keyed digests, facts show
//! feature names.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::condition::{Condition, date_time_schema};

use super::ProviderFacts;

/// The most drift entries status keeps.
pub const MAX_DRIFT: usize = 16;

/// The observed state of a LicenseEntitlement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseEntitlementStatus {
    /// Ready, Reconciling, Stalled (kstatus), Reachable (the target answered)
    /// and Synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// The provider (the key under spec.provider), e.g. `mediant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub provider: Option<String>,
    /// What the licence is installed on, e.g. `MediantDevice/sbc-1 (S/N
    /// 101780235000000)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub target: Option<String>,
    /// `hmac-sha256:<hex>` of the normalised desired state (the provider
    /// spec and the Secret texts it names, with this object's UID), keyed
    /// with the operator's digest key: it changes whenever the declared
    /// licence does, differs between objects, and is never a licence key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub desired_digest: Option<String>,
    /// The first differing items at the last check, as `name: desired →
    /// observed` (secret values as keyed digests), at most 16.
    // Always written (`[]` when in sync) and the two fields below as `null`
    // when absent: a status apply must clear what no longer holds.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub drift: Vec<String>,
    /// What the provider reports about the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<ProviderFacts>,
    /// The last failure, and whether and when it is retried. Absent after a
    /// successful check.
    #[serde(default)]
    pub last_error: Option<LastError>,
    /// A disruptive change that waits for the disruption gate: what, why,
    /// and when the window opens.
    #[serde(default)]
    pub pending_disruption: Option<PendingDisruption>,
    /// The desiredDigest the target last matched in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub last_applied_digest: Option<String>,
    /// When the target was last compared with the declared licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub last_sync_time: Option<Time>,
    /// What the operator remembers of the resetting installs it made, as
    /// entry → `hmac-sha256:<hex>` keyed by the operator's digest key
    /// Secret, never a licence key. `@reset/license-key` is the fingerprint
    /// of the last install (the key, the device's serial number and the key
    /// it showed before): an install that would repeat it (the device did
    /// not take the key) is refused rather than resetting the device again.
    /// Remove the entry to allow one more attempt.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    pub applied_secret_digests: BTreeMap<String, String>,
}

/// The last failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    /// A bounded CamelCase category, e.g. `SerialMismatch`, `Unreachable`,
    /// `InsufficientPrivilege`.
    pub reason: String,
    /// What happened and what to do, never a secret value.
    #[schemars(length(max = 4096))]
    pub message: String,
    /// Whether the operator retries without a change from the user.
    pub retryable: bool,
    /// When the next attempt is due (retryable failures), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub retry_at: Option<Time>,
}

/// A disruptive change held back by the disruption gate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingDisruption {
    /// What would be applied, e.g. `install the licence key for S/N …
    /// (resets the device)`.
    pub change: String,
    /// Why it waits and how to let it run.
    pub reason: String,
    /// When the maintenance window next opens (disruption
    /// MaintenanceWindow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub opens_at: Option<Time>,
}

/// `Option<Time>`: an RFC 3339 string when present.
fn optional_date_time_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    date_time_schema(generator)
}
