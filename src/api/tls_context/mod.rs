//! The `TlsContext` kind: the files of one TLS context of a Mediant (private
//! key, device certificate, trusted root store) and, optionally, the
//! context's own settings (its `TLSContexts` INI row).
//!
//! # Guarantees
//! - No key or password is held: the key comes from a Secret reference or
//!   never leaves the device; status keeps a keyed digest, never the key.
//! - [`TlsContextSpec::validate`] enforces what the CEL rules enforce, so
//!   `apply -f` rejects the manifests a cluster rejects.
//!
//! # Caveats
//! - The 2015 REST API (7.0/7.2 firmware) has no `/files/tls` at all (its
//!   navigation tree lists only `actions`, `files/ini`, `files/software`,
//!   `files/cliScript`, `alarms`, `license`, `performanceMonitoring`,
//!   `status`): a TlsContext of a 2015 device can set only its settings row.

mod status;
mod validate;

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use status::{CertificateRequestStatus, CertificateStatus, PrivateKeyStatus, TlsContextStatus};
pub use validate::TlsContextError;

use crate::api::{ConfigMapKeyRef, DeletionPolicy, SecretKeyRef, SourceRef};

/// Key sizes the device generates (v7.4 §8.2.1: "512, 768, 1024, 2048, 4096").
pub const KEY_SIZES: [u32; 5] = [512, 768, 1024, 2048, 4096];

/// The files and settings of one TLS context of a Mediant device.
// clippy compares the nested items of every `#[kube(...)]` and takes the
// printer columns' shared `type_ = "string"` for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "mediant.io",
    version = "v1alpha1",
    kind = "TlsContext",
    plural = "tlscontexts",
    singular = "tlscontext",
    shortname = "mtls",
    category = "mediant",
    namespaced,
    status = "TlsContextStatus",
    derive = "PartialEq",
    doc = "The private key, device certificate and trusted roots of one TLS context of a Mediant device, kept as declared."
)]
#[kube(printcolumn(
    name = "Device",
    type_ = "string",
    json_path = ".spec.deviceRef.name",
    description = "The MediantDevice this context belongs to"
))]
#[kube(printcolumn(
    name = "Context",
    type_ = "string",
    json_path = ".status.context",
    description = "The TLS context (index and name) on the device"
))]
#[kube(printcolumn(
    name = "Ready",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Ready\")].status",
    description = "Whether the context's files match the desired state"
))]
// `string`, not `date`: kubectl prints a `date` column as the age of the
// timestamp, and a future one (every valid certificate's notAfter) as
// `<invalid>` (k8s.io/apimachinery `duration.HumanDuration` of a negative
// span). The status holds RFC 3339 (`2027-03-01T12:00:00Z`), printed as is.
#[kube(printcolumn(
    name = "NotAfter",
    type_ = "string",
    json_path = ".status.certificate.notAfter",
    description = "When the device certificate expires (RFC 3339)"
))]
#[kube(printcolumn(
    name = "Age",
    type_ = "date",
    json_path = ".metadata.creationTimestamp"
))]
#[serde(rename_all = "camelCase")]
pub struct TlsContextSpec {
    /// The MediantDevice (same namespace) whose context this is: its
    /// endpoint, credentials, lock and reset policy are used.
    pub device_ref: DeviceRef,
    /// Which TLS context: by index (the `TLSContexts` row) or by name. A
    /// context that does not exist is created through incremental INI (the
    /// files API cannot create contexts).
    pub context: ContextRef,
    /// Cells of the context's `TLSContexts` row (column names without the
    /// `TLSContexts_` prefix, e.g. `TLSVersion`, `DTLSVersion`,
    /// `ServerCipherString`, `ClientCipherString`, `OcspEnable`). Only these cells are managed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    #[x_kube(validation = kube::core::Rule::new(
        "self.all(k, k.matches('^[A-Za-z][A-Za-z0-9_]{0,63}$') && !k.matches('^(?i)(name|index)$'))"
    ).message("settings keys are TLSContexts column names (a letter, then letters, digits or _); Name and Index are set through spec.context"))]
    pub settings: BTreeMap<String, CellValue>,
    /// Where the private key and the device certificate come from.
    pub certificate: CertificateSource,
    /// The context's trusted root store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_roots: Option<TrustedRoots>,
    /// Save the running configuration after changing the context, so a
    /// restart keeps it.
    #[serde(default = "default_true")]
    pub save_after_apply: bool,
    /// Stop all writes; the operator keeps observing and reporting.
    #[serde(default)]
    pub suspend: bool,
    /// Warn (an event, and the metric) when the device certificate expires
    /// within this many days.
    #[serde(default = "default_expiry_warning_days")]
    #[schemars(range(min = 1, max = 3650))]
    pub expiry_warning_days: u32,
    /// How often the context is compared with its device when nothing else
    /// happens, Go-style (`5m`, `1h`), at least 10s. A renewal through the
    /// Secret's or the CertificateRequest's watch arrives sooner.
    #[serde(default = "default_interval")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    #[x_kube(validation = kube::core::Rule::new("duration(self) >= duration('10s')")
        .message("interval must be at least 10s"))]
    pub interval: String,
    /// What deleting this resource does to the device. Orphan (the only
    /// policy): the context keeps its files.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

fn default_interval() -> String {
    "5m".into()
}

fn default_true() -> bool {
    true
}

fn default_expiry_warning_days() -> u32 {
    30
}

/// A `TLSContexts` cell: a number or a string, as YAML gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CellValue {
    /// A number (`TLSVersion: 3`).
    Int(i64),
    /// A string (`CipherServer: "DEFAULT"`).
    String(String),
}

impl CellValue {
    /// The value as the INI cell holds it.
    pub fn as_cell(&self) -> String {
        match self {
            CellValue::Int(i) => i.to_string(),
            CellValue::String(s) => s.clone(),
        }
    }
}

impl JsonSchema for CellValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CellValue".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "x-kubernetes-int-or-string": true })
    }
}

/// A MediantDevice in the TlsContext's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRef {
    /// Its name.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

/// A TLS context by index, by name, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.index) || has(self.name)")
    .message("context needs an index or a name (or both)"))]
pub struct ContextRef {
    /// The row index in `TLSContexts` (0 is the device's default context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1023))]
    pub index: Option<u32>,
    /// `TLSContexts_Name`. With an index, the context's name is set to it;
    /// alone, the context is looked up by name (and created at the lowest
    /// free index when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 31), regex(pattern = r"^[^\x22',;]+$"))]
    pub name: Option<String>,
}

/// Where the key and certificate come from: exactly one of secretRef and
/// generateOnDevice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.secretRef) != has(self.generateOnDevice)"
).message("certificate needs exactly one of secretRef and generateOnDevice"))]
pub struct CertificateSource {
    /// A `kubernetes.io/tls` Secret as cert-manager writes it: `tls.key` (the
    /// private key), `tls.crt` (the certificate, then its chain), optionally
    /// `ca.crt`. The key is uploaded, then the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<TlsSecretRef>,
    /// A key generated on the device (it never leaves it), then a
    /// self-signed certificate or a CSR signed through cert-manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_on_device: Option<GenerateOnDevice>,
}

/// A `kubernetes.io/tls` Secret in the TlsContext's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSecretRef {
    /// Name of the Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// The password of an encrypted (PKCS#8) `tls.key`, from a key of a
    /// Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_password_secret_ref: Option<KeyRef>,
}

/// A key of a Secret or ConfigMap in the TlsContext's namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    /// Name of the Secret or ConfigMap.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// The key.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// A key made on the device, and how its certificate is obtained: exactly
/// one of selfSigned and certificateRequest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.selfSigned) != has(self.certificateRequest)"
).message("generateOnDevice needs exactly one of selfSigned and certificateRequest"))]
pub struct GenerateOnDevice {
    /// RSA key size in bits: 512, 768, 1024, 2048 or 4096 (the device's
    /// documented set).
    #[serde(default = "default_key_size")]
    #[x_kube(validation = kube::core::Rule::new("self in [512, 768, 1024, 2048, 4096]")
        .message("keySize must be one of 512, 768, 1024, 2048, 4096"))]
    pub key_size: u32,
    /// A self-signed certificate the device generates for its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSigned>,
    /// A CSR from the device, signed through a cert-manager
    /// `CertificateRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_request: Option<CertificateRequestSpec>,
}

fn default_key_size() -> u32 {
    2048
}

/// A self-signed device certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfSigned {
    /// Its subject.
    #[serde(default)]
    pub subject: Subject,
}

/// The subject of a generated certificate or CSR (empty fields are left out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// CN (the device's `subjectName`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 64))]
    pub common_name: String,
    /// O (`companyName`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 64))]
    pub organization: String,
    /// OU (`organizationalUnit`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 64))]
    pub organizational_unit: String,
    /// L (`localityName`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 128))]
    pub locality: String,
    /// ST (`state`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 128))]
    pub state: String,
    /// C (`countryCode`), two letters.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^([A-Za-z]{2})?$"))]
    pub country: String,
}

/// A CSR generated on the device and signed by a cert-manager issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestSpec {
    /// The CSR's subject.
    #[serde(default)]
    pub subject: Subject,
    /// Signature algorithm of the CSR: sha1, sha256 or sha512.
    #[serde(default)]
    pub signature_algorithm: SignatureAlgorithm,
    /// The cert-manager issuer that signs it.
    pub issuer_ref: IssuerRef,
    /// Requested validity, Go-style (`2160h`); the issuer's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub duration: Option<String>,
    /// Request a new certificate this long before the current one expires,
    /// Go-style (`720h`).
    #[serde(default = "default_renew_before")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    pub renew_before: String,
    /// Generate a fresh key on the device before each CSR (the first one
    /// included). Without it the context's current key is reused, unless
    /// its size is not `keySize`.
    #[serde(default)]
    pub rotate_key: bool,
    /// Key usages and extended key usages requested, in cert-manager's
    /// words (`CertificateRequest.spec.usages`). SIP over TLS needs the SBC
    /// as server and as client, hence the default.
    #[serde(default = "default_usages")]
    #[schemars(length(max = 16))]
    pub usages: Vec<KeyUsage>,
    /// The Secret the CSR (`tls.csr`) and the issued chain (`tls.crt`,
    /// `ca.crt`) are published in; `<name>-csr` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub publish_secret_name: Option<String>,
}

fn default_renew_before() -> String {
    "720h".into()
}

fn default_usages() -> Vec<KeyUsage> {
    vec![
        KeyUsage::DigitalSignature,
        KeyUsage::KeyEncipherment,
        KeyUsage::ServerAuth,
        KeyUsage::ClientAuth,
    ]
}

/// A key usage as cert-manager names it (`KeyUsage` of
/// cert-manager.io/v1, pkg/apis/certmanager/v1/types.go).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum KeyUsage {
    /// `signing`.
    #[serde(rename = "signing")]
    Signing,
    /// `digital signature`.
    #[serde(rename = "digital signature")]
    DigitalSignature,
    /// `content commitment`.
    #[serde(rename = "content commitment")]
    ContentCommitment,
    /// `key encipherment`.
    #[serde(rename = "key encipherment")]
    KeyEncipherment,
    /// `key agreement`.
    #[serde(rename = "key agreement")]
    KeyAgreement,
    /// `data encipherment`.
    #[serde(rename = "data encipherment")]
    DataEncipherment,
    /// `server auth`.
    #[serde(rename = "server auth")]
    ServerAuth,
    /// `client auth`.
    #[serde(rename = "client auth")]
    ClientAuth,
}

impl KeyUsage {
    /// cert-manager's name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUsage::Signing => "signing",
            KeyUsage::DigitalSignature => "digital signature",
            KeyUsage::ContentCommitment => "content commitment",
            KeyUsage::KeyEncipherment => "key encipherment",
            KeyUsage::KeyAgreement => "key agreement",
            KeyUsage::DataEncipherment => "data encipherment",
            KeyUsage::ServerAuth => "server auth",
            KeyUsage::ClientAuth => "client auth",
        }
    }
}

/// The signature algorithm of a CSR (v7.4 §8.5 `signatureAlgorithm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureAlgorithm {
    /// SHA-1 (the device's default; refused by most public CAs).
    Sha1,
    /// SHA-256.
    #[default]
    Sha256,
    /// SHA-512.
    Sha512,
}

impl SignatureAlgorithm {
    /// The device's value.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::Sha1 => "sha1",
            SignatureAlgorithm::Sha256 => "sha256",
            SignatureAlgorithm::Sha512 => "sha512",
        }
    }
}

/// A cert-manager issuer, as `CertificateRequest.spec.issuerRef` names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the Issuer or ClusterIssuer.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// `Issuer` (default) or `ClusterIssuer` (or an external issuer's kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `cert-manager.io` (default) or an external issuer's group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The trusted root store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustedRoots {
    /// Replace (default): the store holds exactly these certificates. Add:
    /// these certificates are added, others on the device stay.
    #[serde(default)]
    pub mode: TrustedRootsMode,
    /// PEM bundles, each a key of a Secret or ConfigMap.
    #[schemars(length(min = 1, max = 32))]
    pub sources: Vec<RootSource>,
}

/// How the trusted root store is managed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TrustedRootsMode {
    /// The whole store (`PUT …/trustedRoot`).
    #[default]
    Replace,
    /// Only additions (`PUT …/trustedRoot/incremental`).
    Add,
}

/// One PEM bundle: exactly one of secretKeyRef and configMapKeyRef.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.secretKeyRef) != has(self.configMapKeyRef)"
).message("a trusted root source needs exactly one of secretKeyRef and configMapKeyRef"))]
pub struct RootSource {
    /// A key of a Secret (e.g. `ca.crt` of a cert-manager Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeyRef>,
    /// A key of a ConfigMap (e.g. a trust-manager bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeyRef>,
}

impl TlsContextSpec {
    /// Every Secret and ConfigMap key the spec reads: `tls.key`, `tls.crt`,
    /// the key password, then the trusted root bundles.
    pub fn references(&self) -> Vec<SourceRef> {
        let secret = |name: &str, key: &str| {
            SourceRef::Secret(SecretKeyRef {
                name: name.to_string(),
                key: key.to_string(),
            })
        };
        let mut out = Vec::new();
        if let Some(s) = &self.certificate.secret_ref {
            out.push(secret(&s.name, "tls.key"));
            out.push(secret(&s.name, "tls.crt"));
            if let Some(password) = &s.key_password_secret_ref {
                out.push(secret(&password.name, &password.key));
            }
        }
        for source in self.trusted_roots.iter().flat_map(|t| &t.sources) {
            if let Some(r) = &source.secret_key_ref {
                out.push(secret(&r.name, &r.key));
            }
            if let Some(r) = &source.config_map_key_ref {
                out.push(SourceRef::ConfigMap(ConfigMapKeyRef {
                    name: r.name.clone(),
                    key: r.key.clone(),
                }));
            }
        }
        out
    }

    /// Names of every Secret the spec reads (for watches).
    pub fn secret_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .references()
            .into_iter()
            .filter_map(|r| match r {
                SourceRef::Secret(k) => Some(k.name),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Names of every ConfigMap the spec reads (for watches).
    pub fn config_map_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .references()
            .into_iter()
            .filter_map(|r| match r {
                SourceRef::ConfigMap(k) => Some(k.name),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
