//! The custom resources: their types (which double as the desired state the
//! command line reads from manifests), the shared condition type, the
//! checks that mirror the schema and its CEL rules, and the CRDs generated
//! from them. Nothing here parses the INI or CLI texts a spec names: that,
//! and the checks needing it, is `crate::plan`'s (`api` uses nothing of
//! ours).
//!
//! Group `mediant.io`, version `v1alpha1`. One kind so far:
//! [`MediantDevice`]. Field documentation here becomes the CRD's
//! descriptions, so `kubectl explain mediantdevice.spec` shows it.
//!
//! # Guarantees
//! - No secret value is held: credentials and CA bundles are references,
//!   status keeps digests of write-only secrets, never the values, and the
//!   `Debug` of inline configuration shows only its size.
//! - [`MediantDeviceSpec::validate`] enforces what the schema and its CEL
//!   rules enforce, so the command line (which has no API server) rejects
//!   the same manifests a cluster rejects.
//!
//! # Caveats
//! - `files` in `ini` and `cliScript` is for the command line only; the CRD
//!   rejects it and [`MediantDevice::validate_for_cluster`] does too.

pub mod condition;
mod crd;
mod error;
#[doc(hidden)]
pub mod fixtures;
mod license_entitlement;
mod mediant_device;
mod revision;
mod sources;
mod tls_context;

pub use condition::{
    Condition, ConditionStatus, ConditionType, find_condition, is_condition_true, remove_condition,
    set_condition,
};
pub use crd::{crd_files, crd_yaml, crds};
pub use error::ValidationError;
pub(crate) use license_entitlement::with_providers;
pub use license_entitlement::{
    Disruption, EntitlementSpecError, HOW_TO_ALLOW_DISRUPTION, LastError, LicenseEntitlement,
    LicenseEntitlementSpec, LicenseEntitlementStatus, MAX_DRIFT, MediantDeviceRef,
    MediantLicenseFacts, MediantLicenseSpec, PendingDisruption, ProviderFacts, ProviderSpec,
    ProviderSpecType, SecretKeyRef,
};
#[cfg(test)]
pub use license_entitlement::{TestOnlyFacts, TestOnlySpec};
pub use mediant_device::{
    CaBundleKeyRef, CaBundleSource, CliDefault, CliScriptSpec, CredentialsSecretRef,
    DeletionPolicy, DeviceFacts, Dialect, Drift, HOW_TO_ALLOW_RESETS, IniMode, IniSpec,
    MIN_INTERVAL, MaintenanceWindow, MediantDevice, MediantDeviceSpec, MediantDeviceStatus,
    PendingStep, PrunePath, ResetDecision, ResetPolicy, TableName, Timeouts, TlsSpec, Weekday,
};
pub use revision::desired_revision;
pub use sources::{ConfigMapKeyRef, ResolvedSources, SourceRef};
pub use tls_context::{
    CellValue, CertificateRequestSpec, CertificateRequestStatus, CertificateSource,
    CertificateStatus, ContextRef, DeviceRef, GenerateOnDevice, IssuerRef, KEY_SIZES, KeyRef,
    KeyUsage, PrivateKeyStatus, RootSource, SelfSigned, SignatureAlgorithm, Subject, TlsContext,
    TlsContextError, TlsContextSpec, TlsContextStatus, TlsSecretRef, TrustedRoots,
    TrustedRootsMode,
};
