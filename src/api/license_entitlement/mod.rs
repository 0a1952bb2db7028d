//! The `LicenseEntitlement` kind: one declarative contract for licences and
//! entitlements, whatever system holds them.
//!
//! The spec names exactly one provider (an externally tagged union: one key,
//! e.g. `mediant:`), a disruption gate and a deletion policy; the status is
//! the same for every provider (kstatus conditions, a keyed digest of the
//! normalised desired state, a capped drift list, provider facts, the last
//! error with its retry, and the disruptive change that waits).
//!
//! # Adding a provider
//! A provider is a spec type in its own file here (its variant in
//! [`ProviderSpec`] and its facts in [`ProviderFacts`]) and an
//! implementation of `crate::plan::license_entitlement::Provider` in its own
//! file there; the shared status, gate, digest and drift handling need no
//! change.
//!
//! # Guarantees
//! - No licence key is held here: the spec names Secret keys, the status
//!   keeps keyed digests and feature names, never a key.

mod disruption;
mod mediant;
mod status;
#[cfg(test)]
mod test_only;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::{DeletionPolicy, MaintenanceWindow};

pub use disruption::{Disruption, HOW_TO_ALLOW_DISRUPTION};
pub use mediant::{MediantDeviceRef, MediantLicenseFacts, MediantLicenseSpec, SecretKeyRef};
pub use status::{LastError, LicenseEntitlementStatus, MAX_DRIFT, PendingDisruption};
#[cfg(test)]
pub use test_only::{TestOnlyFacts, TestOnlySpec};

/// A licence or entitlement set the operator keeps as declared, through one
/// provider.
// clippy compares the nested items of every `#[kube(...)]` and takes the
// printer columns' shared `type_ = "string"` for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "mediant.io",
    version = "v1alpha1",
    kind = "LicenseEntitlement",
    plural = "licenseentitlements",
    singular = "licenseentitlement",
    shortname = "lic",
    category = "mediant",
    namespaced,
    status = "LicenseEntitlementStatus",
    derive = "PartialEq",
    doc = "A licence or entitlement set the operator keeps as declared, through one provider (mediant: a Mediant device's licence key)."
)]
#[kube(printcolumn(
    name = "Provider",
    type_ = "string",
    json_path = ".status.provider",
    description = "The provider of the licence (the key under spec.provider)"
))]
#[kube(printcolumn(
    name = "Target",
    type_ = "string",
    json_path = ".status.target",
    description = "What the licence is installed on"
))]
#[kube(printcolumn(
    name = "Ready",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Ready\")].status",
    description = "Whether the target holds the declared licence"
))]
#[kube(printcolumn(
    name = "Pending",
    type_ = "string",
    json_path = ".status.pendingDisruption.change",
    description = "A disruptive change waiting for the disruption gate"
))]
#[kube(printcolumn(
    name = "Age",
    type_ = "date",
    json_path = ".metadata.creationTimestamp"
))]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.disruption) || self.disruption != 'MaintenanceWindow' || has(self.maintenanceWindow)"
).message("disruption MaintenanceWindow needs spec.maintenanceWindow (days, start, duration)"))]
pub struct LicenseEntitlementSpec {
    /// Where the licence lives: exactly one provider key. `mediant`: the
    /// licence key of an AudioCodes Mediant device.
    pub provider: ProviderSpec,
    /// Whether the operator may make changes that disrupt service (a Mediant
    /// device resets to load a new licence key). Never (default): such
    /// changes wait and status.pendingDisruption says what and why.
    /// Allowed: at any time. MaintenanceWindow: only inside
    /// maintenanceWindow.
    #[serde(default)]
    pub disruption: Disruption,
    /// When disruptive changes may happen under disruption MaintenanceWindow
    /// (ignored otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<MaintenanceWindow>,
    /// What deleting this resource does. Orphan (the only policy): the
    /// installed licence stays as it is.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// The registry of providers: the one list a provider is added to. Each
/// entry is one line, `key => module::Variant(SpecType, FactsType),` under
/// the provider's doc comment (its schema description), where
/// - `key` is the union key under `spec.provider` (and `status.provider`),
/// - `module` names the provider's file both here
///   (`src/api/license_entitlement/<module>.rs`, holding `SpecType` and
///   `FactsType`) and in `crate::plan::license_entitlement`
///   (`<module>.rs`: a unit struct `Variant` implementing
///   `crate::plan::license_entitlement::Provider`),
/// - `Variant` is the variant of [`ProviderSpec`] and [`ProviderFacts`].
///
/// `callback!` is invoked with the list: here it generates the
/// externally tagged [`ProviderSpec`] (which serde and schemars need as
/// one enum) and [`ProviderFacts`]; the plan layer generates its dispatch
/// from the same list, so nothing else lists providers. An entry may carry
/// `#[cfg(...)]` after its doc comment (the test-only provider does).
macro_rules! with_providers {
    ($callback:ident) => {
        $callback! {
            /// The licence key of an AudioCodes Mediant device (REST
            /// `/license`), from a licence key or a licence file in a Secret.
            "mediant" => mediant::Mediant(MediantLicenseSpec, MediantLicenseFacts),
            /// Test builds only: an in-memory licence store proving a
            /// provider is new files plus this line.
            #[cfg(test)]
            "testOnly" => test_only::TestOnly(TestOnlySpec, TestOnlyFacts),
        }
    };
}
pub(crate) use with_providers;

/// What the resource needs of every provider's spec type (the provider's
/// own file implements it).
pub trait ProviderSpecType {
    /// Checks what the schema and its CEL rules check for this provider.
    fn validate(&self) -> Result<(), EntitlementSpecError>;
}

macro_rules! define_api {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $key:literal => $module:ident :: $variant:ident ($spec:ident, $facts:ident),
    )*) => {
        /// The provider of a licence: a union with exactly one key.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub enum ProviderSpec {
            $(
                $(#[doc = $doc])*
                $(#[cfg($cfg)])?
                #[serde(rename = $key)]
                $variant($module::$spec),
            )*
        }

        /// Facts a provider reports: one key, the provider's.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub enum ProviderFacts {
            $(
                #[doc = concat!("What provider `", $key, "` reports about the licence.")]
                $(#[cfg($cfg)])?
                #[serde(rename = $key)]
                $variant($module::$facts),
            )*
        }

        impl ProviderSpec {
            /// The union key (`mediant`), as status.provider and metrics
            /// show it.
            pub fn name(&self) -> &'static str {
                match self {
                    $( $(#[cfg($cfg)])? ProviderSpec::$variant(_) => $key, )*
                }
            }

            /// The provider's own checks.
            fn validate(&self) -> Result<(), EntitlementSpecError> {
                match self {
                    $( $(#[cfg($cfg)])? ProviderSpec::$variant(s) => ProviderSpecType::validate(s), )*
                }
            }
        }
    };
}
with_providers!(define_api);

/// Why a LicenseEntitlement spec cannot be used. Messages name the field,
/// never a value read from a Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntitlementSpecError {
    /// A name or key is not a valid Kubernetes name.
    #[error("{field}: {reason}")]
    Name {
        /// The field.
        field: &'static str,
        /// What a valid value looks like.
        reason: &'static str,
    },
    /// The mediant provider names neither a key nor a file.
    #[error(
        "spec.provider.mediant: name licenseKey (a Secret key holding the licence key) and/or licenseFile (a Secret key holding a licence file)"
    )]
    NoLicenseSource,
    /// `serialNumber` is not a serial number.
    #[error("spec.provider.mediant.serialNumber: a serial number is 1 to 32 letters and digits")]
    SerialNumber,
    /// `disruption: MaintenanceWindow` without a window.
    #[error("disruption MaintenanceWindow needs spec.maintenanceWindow (days, start, duration)")]
    MaintenanceWindowMissing,
    /// A Secret's text is not what the field needs (never quoted).
    #[error("{reference}: {reason}")]
    InvalidSource {
        /// e.g. "Secret `sbc-licence` key `license.txt`".
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The maintenance window is malformed (the message names the field).
    #[error("{0}")]
    MaintenanceWindow(String),
}

impl LicenseEntitlementSpec {
    /// A spec for `provider` with every other field at its default.
    pub fn new(provider: ProviderSpec) -> Self {
        LicenseEntitlementSpec {
            provider,
            disruption: Disruption::default(),
            maintenance_window: None,
            deletion_policy: DeletionPolicy::default(),
        }
    }

    /// Checks what the schema and its CEL rules check, so the command line
    /// rejects the manifests a cluster rejects. Returns the first problem.
    pub fn validate(&self) -> Result<(), EntitlementSpecError> {
        self.provider.validate()?;
        if self.disruption == Disruption::MaintenanceWindow && self.maintenance_window.is_none() {
            return Err(EntitlementSpecError::MaintenanceWindowMissing);
        }
        if let Some(window) = &self.maintenance_window {
            window
                .bounds()
                .map_err(|e| EntitlementSpecError::MaintenanceWindow(e.to_string()))?;
        }
        Ok(())
    }

    /// Whether a disruptive change may run at `now`.
    pub fn disruption_decision(
        &self,
        now: k8s_openapi::jiff::Timestamp,
    ) -> Result<crate::api::ResetDecision, EntitlementSpecError> {
        self.disruption
            .decide(self.maintenance_window.as_ref(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Result<LicenseEntitlementSpec, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn the_provider_is_one_externally_tagged_key() {
        let s = spec(
            "provider:\n  mediant:\n    deviceRef: {name: sbc}\n    licenseKey: {name: lic, key: license.key}\n",
        )
        .expect("parses");
        assert_eq!(s.provider.name(), "mediant");
        assert_eq!(s.disruption, Disruption::Never, "the default gate");
        assert_eq!(s.deletion_policy, DeletionPolicy::Orphan);
        assert_eq!(s.validate(), Ok(()));
        // No placeholder for providers that do not exist yet.
        assert!(spec("provider:\n  oracleSbc: {}\n").is_err());
        assert!(spec("provider: {}\n").is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let mut m = MediantLicenseSpec::for_device("sbc");
        let mut s = LicenseEntitlementSpec::new(ProviderSpec::Mediant(m.clone()));
        assert_eq!(s.validate(), Err(EntitlementSpecError::NoLicenseSource));
        m.license_file = Some(SecretKeyRef::new("fleet", "license.txt"));
        m.serial_number = Some("12 34".into());
        s.provider = ProviderSpec::Mediant(m.clone());
        assert_eq!(s.validate(), Err(EntitlementSpecError::SerialNumber));
        m.serial_number = None;
        s.provider = ProviderSpec::Mediant(m);
        s.disruption = Disruption::MaintenanceWindow;
        assert_eq!(
            s.validate(),
            Err(EntitlementSpecError::MaintenanceWindowMissing)
        );
        s.maintenance_window = Some(MaintenanceWindow {
            days: vec![],
            start: "25:00".into(),
            duration: "1h".into(),
        });
        let e = s.validate().unwrap_err();
        assert!(e.to_string().contains("spec.maintenanceWindow"), "{e}");
    }
}
