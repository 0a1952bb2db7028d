//! What the operator reports about a TLS context: the device certificate's
//! facts, the private key's size and validity with a keyed digest of the key
//! last uploaded (never the key), the trusted root count, the
//! CertificateRequest in flight, and kstatus conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::Drift;
use crate::api::condition::{Condition, date_time_schema, nullable_date_time_schema};

/// The observed state of a TlsContext.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsContextStatus {
    /// Ready, Reconciling, Stalled (kstatus), Reachable and Synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// Revision of the desired state last applied in full: the spec and the
    /// texts it names, as `hmac-sha256:<hex>` keyed with the operator's
    /// digest key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub last_applied_revision: Option<String>,
    /// How far the context is from the desired state at the last check
    /// (keys such as `TLS context 1 (Teams) certificate`, never values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// The context on the device, `<index> (<name>)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub context: Option<String>,
    /// The context's index on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_index: Option<u32>,
    /// The device certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateStatus>,
    /// The private key as the device reports it, and a digest of the key
    /// the operator uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKeyStatus>,
    /// Number of certificates in the trusted root store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_count: Option<u32>,
    /// The cert-manager CertificateRequest in flight, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_request: Option<CertificateRequestStatus>,
    /// When the device was last compared with the desired state (refreshed
    /// at most hourly while nothing else changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub last_sync_time: Option<Time>,
    /// Set (to when) before changes that are to be saved are written, and
    /// cleared once the save succeeded: a reconcile (of this or a new
    /// leader) that finds it set saves the running configuration first, so
    /// a save cut off by a lost Lease or a killed process is never lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable_date_time_schema")]
    pub pending_save: Option<Time>,
}

/// Facts of the device certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// Hex SHA-256 of the certificate's DER.
    #[schemars(length(max = 64))]
    pub fingerprint: String,
    /// Subject, e.g. `CN=sbc.example.com`.
    #[serde(default)]
    pub subject: String,
    /// Issuer.
    #[serde(default)]
    pub issuer: String,
    /// Subject alternative names, e.g. `DNS:sbc.example.com`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub sans: Vec<String>,
    /// Start of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub not_before: Option<Time>,
    /// End of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_date_time_schema")]
    pub not_after: Option<Time>,
    /// Whole days until notAfter when status was written (negative once
    /// expired).
    #[serde(default)]
    pub days_to_expiry: i64,
}

/// The private key of the context.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateKeyStatus {
    /// Size in bits, as `GET …/privateKey` reports it.
    pub size: u32,
    /// Whether the device finds key and certificate matching.
    pub valid: bool,
    /// Hex HMAC-SHA256 of the key the operator last uploaded, keyed by the
    /// device serial and the context; never the key. Absent when the key was
    /// generated on the device or not uploaded by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub uploaded_digest: Option<String>,
}

/// The latest cert-manager CertificateRequest made from the device's CSR.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    /// Its name, in the TlsContext's namespace.
    #[schemars(length(max = 253))]
    pub name: String,
    /// Hex SHA-256 of the CSR's PEM.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub csr_digest: String,
    /// `Pending`, `Issued`, `Denied`, `Failed` or `InvalidRequest`, from its
    /// conditions.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 32))]
    pub state: String,
    /// The issuer's message (of the condition that decided the state).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 1024))]
    pub message: String,
}

/// `Option<Time>`: an RFC 3339 string when present.
fn optional_date_time_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    date_time_schema(generator)
}
