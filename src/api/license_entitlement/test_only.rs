//! Provider `testOnly` (test builds only, never in the CRD): the spec and
//! facts of a licence store reached over HTTP at its own endpoint (an
//! external target, not a MediantDevice), proving that a provider is its
//! own files plus one registry line (`with_providers!`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{EntitlementSpecError, ProviderSpecType, SecretKeyRef};
use crate::api::{CaBundleSource, CredentialsSecretRef};

/// A licence kept in a licence store under `account`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestOnlySpec {
    /// The store's base URL.
    pub endpoint: String,
    /// The Secret holding the store's user and password.
    pub credentials_secret_ref: CredentialsSecretRef,
    /// PEM CA certificates of the store's HTTPS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundleSource>,
    /// The store's account the licence belongs to.
    pub account: String,
    /// The Secret key holding the licence.
    pub license: SecretKeyRef,
}

/// What the store reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestOnlyFacts {
    /// The account.
    pub account: String,
    /// Whether the account holds a licence.
    pub licensed: bool,
}

impl ProviderSpecType for TestOnlySpec {
    fn validate(&self) -> Result<(), EntitlementSpecError> {
        if self.account.is_empty() {
            return Err(EntitlementSpecError::Name {
                field: "spec.provider.testOnly.account",
                reason: "a non-empty account name",
            });
        }
        Ok(())
    }
}
