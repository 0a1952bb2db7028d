//! Provider `testOnly` (test builds only, never in the CRD): an in-memory
//! licence store. It exists to prove the provider seam: this file, its
//! spec file in `crate::api::license_entitlement` and one registry line
//! are all it takes; nothing else in the kind, the pipeline or the
//! front ends names it.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use crate::api::{ResolvedSources, SourceRef, TestOnlyFacts, TestOnlySpec, ValidationError};
use crate::device::{DeviceError, MediantClient};
use crate::plan::kind::{StepDone, Target};
use crate::plan::{Change, Plan, PlanError, SideEffect, Step};

use super::Provider;

/// Account → licence text: the "remote system".
static STORE: LazyLock<Mutex<BTreeMap<String, String>>> = LazyLock::new(Mutex::default);
/// Account → writes made, for the tests' "zero writes" checks.
static WRITES: LazyLock<Mutex<BTreeMap<String, u32>>> = LazyLock::new(Mutex::default);

/// Writes to `account` so far.
pub(super) fn writes(account: &str) -> u32 {
    crate::sync::lock(&WRITES)
        .get(account)
        .copied()
        .unwrap_or(0)
}

/// Provider `testOnly`.
#[derive(Clone, Copy, Debug)]
pub struct TestOnly;

/// The declared licence.
#[derive(Clone, Debug)]
pub struct TestOnlyDesired {
    account: String,
    licence: String,
}

/// A licence being installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install(String);

impl Provider for TestOnly {
    type Spec = TestOnlySpec;
    type Facts = TestOnlyFacts;
    type Desired = TestOnlyDesired;
    type Observed = Option<String>;
    type Action = Install;

    fn target(_spec: &TestOnlySpec) -> Target<'_> {
        // Still a MediantDevice (the seam's only target so far).
        Target::Named("sbc")
    }

    fn references(spec: &TestOnlySpec) -> Vec<SourceRef> {
        vec![SourceRef::Secret(spec.license.clone())]
    }

    fn desired(
        spec: &TestOnlySpec,
        resolved: &ResolvedSources,
    ) -> Result<TestOnlyDesired, ValidationError> {
        let source = SourceRef::Secret(spec.license.clone());
        let licence =
            resolved
                .get(&source)
                .cloned()
                .ok_or_else(|| ValidationError::Unresolved {
                    reference: source.to_string(),
                })?;
        Ok(TestOnlyDesired {
            account: spec.account.clone(),
            licence,
        })
    }

    async fn observe(
        _client: &MediantClient,
        desired: &TestOnlyDesired,
    ) -> Result<Option<String>, DeviceError> {
        Ok(crate::sync::lock(&STORE).get(&desired.account).cloned())
    }

    fn target_name(desired: &TestOnlyDesired, _observed: &Option<String>) -> String {
        format!("store/{}", desired.account)
    }

    fn facts(desired: &TestOnlyDesired, observed: &Option<String>) -> TestOnlyFacts {
        TestOnlyFacts {
            account: desired.account.clone(),
            licensed: observed.is_some(),
        }
    }

    fn plan(
        desired: &TestOnlyDesired,
        observed: &Option<String>,
    ) -> Result<Plan<Install>, PlanError> {
        if observed.as_deref() == Some(desired.licence.as_str()) {
            return Ok(Plan::default());
        }
        let key = format!("licence[{}]", desired.account);
        Ok(Plan {
            drift_count: 1,
            drift_keys: vec![key.clone()],
            steps: vec![Step {
                action: Install(desired.licence.clone()),
                description: format!("install the licence of {}", desired.account),
                changes: vec![Change {
                    key,
                    before: None,
                    after: None,
                }],
                side_effect: SideEffect::None,
            }],
            blocked: Vec::new(),
        })
    }

    async fn run_step(
        _client: &MediantClient,
        desired: &TestOnlyDesired,
        _observed: &Option<String>,
        action: &Install,
    ) -> Result<StepDone, DeviceError> {
        crate::sync::lock(&STORE).insert(desired.account.clone(), action.0.clone());
        *crate::sync::lock(&WRITES)
            .entry(desired.account.clone())
            .or_insert(0) += 1;
        Ok(StepDone::default())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::api::{LicenseEntitlement, LicenseEntitlementSpec, ProviderFacts, SecretKeyRef};
    use crate::device::{ClientOptions, Credentials};
    use crate::plan::kind::{Kind, Origin};
    use crate::plan::license_entitlement::LicenseEntitlementKind;
    use crate::plan::report::CommonStatus;
    use crate::plan::{ResetPermission, SecretDigests, reconcile_once};

    #[tokio::test]
    async fn a_provider_is_its_files_and_one_registry_line() {
        let spec: LicenseEntitlementSpec = serde_saphyr::from_str(
            "provider:\n  testOnly:\n    account: acme\n    license: {name: lic, key: k}\n",
        )
        .expect("the registry's key parses");
        let resource = LicenseEntitlement::new("acme", spec);
        LicenseEntitlementKind::validate(&resource, Origin::Manifests).expect("valid");
        assert_eq!(resource.spec.provider.name(), "testOnly");
        let refs = LicenseEntitlementKind::references(&resource);
        assert_eq!(
            refs,
            [SourceRef::Secret(SecretKeyRef::new("lic", "k"))],
            "its references reach the dereference"
        );
        let mut resolved = ResolvedSources::new();
        resolved.insert(refs[0].clone(), "LICENCE-1".into());
        let desired =
            LicenseEntitlementKind::desired(&resource, &resolved, ResetPermission::Allowed)
                .expect("desired");
        // Never contacted: the store is in memory.
        let client = MediantClient::new(
            "http://127.0.0.1:9",
            Credentials::new("u", "p"),
            ClientOptions {
                request_timeout: Duration::from_millis(50),
                ..ClientOptions::default()
            },
        )
        .expect("client");

        let memory = SecretDigests::new();
        let first = reconcile_once::<LicenseEntitlementKind>(&client, &desired, &memory, false)
            .await
            .expect("converges");
        assert_eq!(first.survey.plan.drift_count, 1);
        let outcome = first.outcome.expect("applied");
        assert!(outcome.remaining.is_empty(), "verified in one apply");
        assert_eq!(writes("acme"), 1);
        assert_eq!(
            crate::sync::lock(&STORE).get("acme").map(String::as_str),
            Some("LICENCE-1")
        );
        let status = LicenseEntitlementKind::status(
            None,
            CommonStatus::default(),
            Some(&outcome.observed),
            &crate::plan::report::now_seconds(k8s_openapi::jiff::Timestamp::now()),
        );
        assert_eq!(status.provider.as_deref(), Some("testOnly"));
        assert_eq!(status.target.as_deref(), Some("store/acme"));
        assert_eq!(
            status.facts,
            Some(ProviderFacts::TestOnly(TestOnlyFacts {
                account: "acme".into(),
                licensed: true,
            }))
        );

        // In sync: zero writes.
        let again = reconcile_once::<LicenseEntitlementKind>(&client, &desired, &memory, false)
            .await
            .expect("in sync");
        assert!(again.survey.plan.is_empty());
        assert_eq!(writes("acme"), 1, "in sync means zero writes");
    }
}
