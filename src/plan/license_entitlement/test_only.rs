//! Provider `testOnly` (test builds only, never in the CRD): a licence
//! store reached over HTTP at the endpoint its spec names — a target other
//! than a MediantDevice ([`Target::External`]). It exists to prove the
//! provider seam: this file, its spec file in
//! `crate::api::license_entitlement` and one registry line are all it
//! takes; nothing else in the kind, the pipeline or the front ends names it.
//!
//! The store's API is the tests' own (no document describes it):
//! `GET /accounts/{account}/licence` answers the licence text or 404,
//! `PUT` of the same path stores the body; both need HTTP Basic
//! credentials (the dereferenced credentials Secret).

use std::time::Duration;

use crate::api::{ResolvedSources, SourceRef, TestOnlyFacts, TestOnlySpec, ValidationError};
use crate::device::{Credentials, DeviceError, RequestObserver};
use crate::plan::kind::{External, StepDone, Target};
use crate::plan::{
    Change, ConnectOptions, Dereferenced, Plan, PlanError, SideEffect, Step, TargetSystem,
};

use super::Provider;

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

/// The licence store's client.
pub struct StoreClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    credentials: Credentials,
    observer: Option<RequestObserver>,
}

impl StoreClient {
    /// The URL of `account`'s licence.
    fn url(&self, account: &str) -> Result<reqwest::Url, DeviceError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| DeviceError::Config {
                reason: format!("endpoint `{}` cannot hold a path", self.endpoint),
            })?
            .pop_if_empty()
            .extend(["accounts", account, "licence"]);
        Ok(url)
    }

    /// Sends one request; the status and body of the answer.
    async fn send(
        &self,
        method: reqwest::Method,
        account: &str,
        body: Option<String>,
    ) -> Result<(u16, String), DeviceError> {
        let resource = format!("/accounts/{account}/licence");
        let mut request = self
            .http
            .request(method.clone(), self.url(account)?)
            .basic_auth(
                &self.credentials.username,
                Some(self.credentials.expose_password()),
            );
        if let Some(body) = body {
            request = request.body(body);
        }
        let answer = request.send().await;
        let status = answer.as_ref().ok().map(|a| a.status().as_u16());
        if let Some(observe) = &self.observer {
            observe(method.as_str(), &resource, status);
        }
        let answer = answer.map_err(|e| DeviceError::Unreachable {
            endpoint: self.endpoint.to_string(),
            reason: e.to_string(),
        })?;
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        match status {
            200..=299 | 404 => Ok((status, text)),
            401 => Err(DeviceError::Unauthorized {
                endpoint: self.endpoint.to_string(),
            }),
            _ => Err(DeviceError::Server {
                method: method.to_string(),
                resource,
                status,
                description: text.chars().take(80).collect(),
            }),
        }
    }
}

impl Provider for TestOnly {
    type Spec = TestOnlySpec;
    type Facts = TestOnlyFacts;
    type Desired = TestOnlyDesired;
    type Observed = Option<String>;
    type Action = Install;
    type Client = StoreClient;

    fn target(spec: &TestOnlySpec) -> Target<'_> {
        Target::External(External {
            system: "testOnly",
            endpoint: &spec.endpoint,
            credentials: &spec.credentials_secret_ref,
            ca_bundle: spec.ca_bundle.as_ref(),
            field: "spec.provider.testOnly",
        })
    }

    fn connect(refs: &Dereferenced, options: &ConnectOptions) -> Result<StoreClient, DeviceError> {
        let config = |reason: String| DeviceError::Config { reason };
        let TargetSystem::External { endpoint, .. } = &refs.target else {
            return Err(config("testOnly needs an external target".into()));
        };
        let endpoint = reqwest::Url::parse(endpoint)
            .map_err(|e| config(format!("endpoint `{endpoint}` is not a URL: {e}")))?;
        // rustls needs a process-wide crypto provider (an error only means
        // one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(5));
        if let Some(pem) = &refs.ca_bundle {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| config(format!("the CA bundle is not PEM: {e}")))?;
            if certs.is_empty() {
                return Err(config("the CA bundle holds no certificate".into()));
            }
            builder = builder.tls_certs_only(certs);
        }
        Ok(StoreClient {
            http: builder
                .build()
                .map_err(|e| config(format!("cannot build the HTTP client: {e}")))?,
            endpoint,
            credentials: refs.credentials.clone(),
            observer: options.observer.clone(),
        })
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
        client: &StoreClient,
        desired: &TestOnlyDesired,
    ) -> Result<Option<String>, DeviceError> {
        let (status, text) = client
            .send(reqwest::Method::GET, &desired.account, None)
            .await?;
        Ok((status != 404).then_some(text))
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
        _memory: &crate::plan::SecretDigests,
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
        client: &StoreClient,
        desired: &TestOnlyDesired,
        _observed: &Option<String>,
        action: &Install,
    ) -> Result<StepDone, DeviceError> {
        client
            .send(
                reqwest::Method::PUT,
                &desired.account,
                Some(action.0.clone()),
            )
            .await?;
        Ok(StepDone::default())
    }
}

#[cfg(test)]
pub(crate) mod store {
    //! The licence store the tests run: a loopback HTTP server holding
    //! account → licence, counting writes, requiring Basic credentials.

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use base64::Engine;

    #[derive(Default)]
    struct Held {
        licences: BTreeMap<String, String>,
        writes: u32,
        requests: u32,
    }

    /// A running store; dropping it stops the server.
    pub(crate) struct Store {
        /// Its base URL (`http://127.0.0.1:port`).
        pub(crate) url: String,
        held: Arc<Mutex<Held>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Store {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Store {
        /// Starts a store accepting `user`/`password`.
        pub(crate) async fn start(user: &str, password: &str) -> Store {
            let held = Arc::new(Mutex::new(Held::default()));
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            );
            let state = (Arc::clone(&held), Arc::new(expected));
            type St = (Arc<Mutex<Held>>, Arc<String>);
            let authorised = |headers: &HeaderMap, expected: &str| {
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v == expected)
            };
            let app = axum::Router::new()
                .route(
                    "/accounts/{account}/licence",
                    get(
                        move |State((held, expected)): State<St>,
                              Path(account): Path<String>,
                              headers: HeaderMap| async move {
                            let mut held = crate::sync::lock(&held);
                            held.requests += 1;
                            if !authorised(&headers, &expected) {
                                return (StatusCode::UNAUTHORIZED, String::new());
                            }
                            match held.licences.get(&account) {
                                Some(l) => (StatusCode::OK, l.clone()),
                                None => (StatusCode::NOT_FOUND, String::new()),
                            }
                        },
                    )
                    .put(
                        move |State((held, expected)): State<St>,
                              Path(account): Path<String>,
                              headers: HeaderMap,
                              body: String| async move {
                            let mut held = crate::sync::lock(&held);
                            held.requests += 1;
                            if !authorised(&headers, &expected) {
                                return StatusCode::UNAUTHORIZED;
                            }
                            held.licences.insert(account, body);
                            held.writes += 1;
                            StatusCode::NO_CONTENT
                        },
                    ),
                )
                .with_state(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("addr"));
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Store { url, held, task }
        }

        /// The licence `account` holds.
        pub(crate) fn licence(&self, account: &str) -> Option<String> {
            crate::sync::lock(&self.held).licences.get(account).cloned()
        }

        /// Writes accepted so far.
        pub(crate) fn writes(&self) -> u32 {
            crate::sync::lock(&self.held).writes
        }

        /// Requests answered so far (authorised or not).
        pub(crate) fn requests(&self) -> u32 {
            crate::sync::lock(&self.held).requests
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::store::Store;
    use super::*;
    use crate::api::{
        CredentialsSecretRef, LicenseEntitlement, LicenseEntitlementSpec, MediantDevice,
        ProviderFacts, SecretKeyRef,
    };
    use crate::plan::kind::{Kind, Origin};
    use crate::plan::license_entitlement::LicenseEntitlementKind;
    use crate::plan::report::CommonStatus;
    use crate::plan::{
        ResetPermission, SecretDigests, SourceData, SourceError, Sources, dereference,
        reconcile_once,
    };

    /// Secrets in memory; no devices, no files.
    struct Secrets(BTreeMap<String, BTreeMap<String, Vec<u8>>>);

    impl Sources for Secrets {
        async fn secret(
            &self,
            namespace: &str,
            name: &str,
            field: &'static str,
        ) -> Result<SourceData, SourceError> {
            let data = self
                .0
                .get(name)
                .cloned()
                .ok_or(SourceError::SecretNotFound {
                    name: name.into(),
                    namespace: namespace.into(),
                    field,
                })?;
            Ok(SourceData {
                kind: "Secret",
                name: name.into(),
                data,
            })
        }

        async fn config_map(
            &self,
            namespace: &str,
            name: &str,
            field: &'static str,
        ) -> Result<SourceData, SourceError> {
            Err(SourceError::ConfigMapNotFound {
                name: name.into(),
                namespace: namespace.into(),
                field,
            })
        }

        async fn device(
            &self,
            namespace: &str,
            name: &str,
            field: &'static str,
        ) -> Result<MediantDevice, SourceError> {
            Err(SourceError::DeviceNotFound {
                name: name.into(),
                namespace: namespace.into(),
                field,
            })
        }

        fn file(&self, _origin: Option<&Path>, path: &Path) -> Result<String, SourceError> {
            Err(SourceError::NotInManifests(format!(
                "no file {}",
                path.display()
            )))
        }
    }

    fn secrets(entries: &[(&str, &[(&str, &str)])]) -> Secrets {
        Secrets(
            entries
                .iter()
                .map(|(name, data)| {
                    let data = data
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                        .collect();
                    (name.to_string(), data)
                })
                .collect(),
        )
    }

    #[tokio::test]
    async fn a_provider_is_its_files_and_one_registry_line() {
        let store = Store::start("licensing", "S3cret-store").await;
        let spec: LicenseEntitlementSpec = serde_saphyr::from_str(&format!(
            "provider:\n  testOnly:\n    endpoint: {}\n    credentialsSecretRef: {{name: store-creds}}\n    account: acme\n    license: {{name: lic, key: k}}\n",
            store.url
        ))
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
        // The dereference reads the external target's credentials and the
        // licence through the same `Sources`.
        let sources = secrets(&[
            (
                "store-creds",
                &[("username", "licensing"), ("password", "S3cret-store")],
            ),
            ("lic", &[("k", "LICENCE-1")]),
        ]);
        let dereferenced = dereference::<LicenseEntitlementKind>(&sources, "ns", None, &resource)
            .await
            .expect("dereferenced");
        assert_eq!(dereferenced.lock_key(), store.url, "one writer per store");
        assert!(dereferenced.device().is_none(), "not a MediantDevice");
        let desired = LicenseEntitlementKind::desired(
            &resource,
            &dereferenced.resolved,
            ResetPermission::Allowed,
        )
        .expect("desired");
        let client =
            LicenseEntitlementKind::connect(&dereferenced, &desired, &ConnectOptions::default())
                .expect("client");

        let memory = SecretDigests::new();
        let first = reconcile_once::<LicenseEntitlementKind>(&client, &desired, &memory, false)
            .await
            .expect("converges");
        assert_eq!(first.survey.plan.drift_count, 1);
        let outcome = first.outcome.expect("applied");
        assert!(outcome.remaining.is_empty(), "verified in one apply");
        assert_eq!(store.writes(), 1);
        assert_eq!(store.licence("acme").as_deref(), Some("LICENCE-1"));
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
        let before = store.requests();
        let again = reconcile_once::<LicenseEntitlementKind>(&client, &desired, &memory, false)
            .await
            .expect("in sync");
        assert!(again.survey.plan.is_empty());
        assert_eq!(store.writes(), 1, "in sync means zero writes");
        assert_eq!(store.requests(), before + 1, "one read, nothing else");
    }

    #[tokio::test]
    async fn an_external_target_has_only_the_entitlements_gate_and_its_own_credentials() {
        let store = Store::start("licensing", "S3cret-store").await;
        let mut spec: LicenseEntitlementSpec = serde_saphyr::from_str(&format!(
            "provider:\n  testOnly:\n    endpoint: {}\n    credentialsSecretRef: {{name: store-creds}}\n    account: acme\n    license: {{name: lic, key: k}}\n",
            store.url
        ))
        .expect("parses");
        let now = k8s_openapi::jiff::Timestamp::now();
        let resource = LicenseEntitlement::new("acme", spec.clone());
        // No device: the gate (default Never) alone decides.
        let decision = LicenseEntitlementKind::reset_decision(&resource, None, now).expect("gate");
        assert!(
            matches!(decision, crate::api::ResetDecision::Refused { ref how_to_allow } if how_to_allow.contains("disruption")),
            "{decision:?}"
        );
        spec.disruption = crate::api::Disruption::Allowed;
        let allowed = LicenseEntitlement::new("acme", spec);
        assert_eq!(
            LicenseEntitlementKind::reset_decision(&allowed, None, now).expect("gate"),
            crate::api::ResetDecision::Allowed
        );

        // A missing credentials Secret names the provider's field.
        let none = secrets(&[("lic", &[("k", "LICENCE-1")])]);
        let e = dereference::<LicenseEntitlementKind>(&none, "ns", None, &resource)
            .await
            .expect_err("no credentials");
        assert!(
            e.to_string().contains("spec.provider.testOnly")
                && e.to_string().contains("store-creds"),
            "{e}"
        );

        // Wrong credentials: the store says 401, nothing is written, and
        // the password appears in no error.
        let wrong = secrets(&[
            (
                "store-creds",
                &[("username", "licensing"), ("password", "WRONGxMARKER")],
            ),
            ("lic", &[("k", "LICENCE-1")]),
        ]);
        let refs = dereference::<LicenseEntitlementKind>(&wrong, "ns", None, &allowed)
            .await
            .expect("dereferenced");
        assert!(!format!("{refs:?}").contains("WRONGxMARKER"));
        let desired =
            LicenseEntitlementKind::desired(&allowed, &refs.resolved, ResetPermission::Allowed)
                .expect("desired");
        let client = LicenseEntitlementKind::connect(&refs, &desired, &ConnectOptions::default())
            .expect("client");
        let err = match reconcile_once::<LicenseEntitlementKind>(
            &client,
            &desired,
            &SecretDigests::new(),
            false,
        )
        .await
        {
            Ok(_) => panic!("the store refuses the credentials"),
            Err(e) => e,
        };
        assert!(err.to_string().contains("401"), "{err}");
        assert!(!err.to_string().contains("WRONGxMARKER"), "{err}");
        assert_eq!(store.writes(), 0);
        assert_eq!(store.licence("acme"), None);

        // The CA bundle its spec names is read through the same sources
        // and reaches its client (here: refused, it holds no certificate).
        let mut with_ca = allowed.clone();
        if let crate::api::ProviderSpec::TestOnly(t) = &mut with_ca.spec.provider {
            t.credentials_secret_ref = CredentialsSecretRef::new("store-creds");
            t.ca_bundle = Some(crate::api::CaBundleSource {
                secret_key_ref: Some(crate::api::CaBundleKeyRef {
                    name: "store-ca".into(),
                    key: "ca.crt".into(),
                }),
                config_map_key_ref: None,
            });
        }
        let with_ca_sources = secrets(&[
            (
                "store-creds",
                &[("username", "licensing"), ("password", "S3cret-store")],
            ),
            ("store-ca", &[("ca.crt", "not a certificate")]),
            ("lic", &[("k", "LICENCE-1")]),
        ]);
        let refs = dereference::<LicenseEntitlementKind>(&with_ca_sources, "ns", None, &with_ca)
            .await
            .expect("dereferenced");
        assert_eq!(refs.ca_bundle.as_deref(), Some("not a certificate"));
        let e = match LicenseEntitlementKind::connect(&refs, &desired, &ConnectOptions::default()) {
            Ok(_) => panic!("a CA bundle that is not PEM is refused"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("CA bundle"), "{e}");
    }
}
