//! The controller with a target other than a MediantDevice: the test-only
//! licence provider (`testOnly`, an HTTP licence store on loopback) under
//! `run`, against the in-process API server double. Its credentials come
//! from a Secret named in its own spec; it converges, then drift checks
//! write nothing more to the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use apiserver_double::{ApiServer, ResourceType};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::{
    ConditionStatus, ConditionType, LicenseEntitlement, LicenseEntitlementSpec, MediantDevice,
    ProviderFacts, TestOnlyFacts, find_condition,
};
use crate::controller::{ControllerConfig, Metrics, run_controller};
use crate::plan::license_entitlement::test_only::store::Store;

const NS: &str = "licensing";

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(NS.into()),
        ..ObjectMeta::default()
    }
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: meta(name),
        string_data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_target_converges_under_run_and_stays_quiet() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(ResourceType::custom::<LicenseEntitlement>().with_status_subresource());
    let store = Store::start("licensing", "S3cret-store").await;
    server
        .insert(&secret(
            "store-creds",
            &[("username", "licensing"), ("password", "S3cret-store")],
        ))
        .expect("credentials");
    server
        .insert(&secret("acme-licence", &[("licence", "LICENCE-ACME-7")]))
        .expect("licence");
    let spec: LicenseEntitlementSpec = serde_saphyr::from_str(&format!(
        "provider:\n  testOnly:\n    endpoint: {}\n    credentialsSecretRef: {{name: store-creds}}\n    account: acme\n    license: {{name: acme-licence, key: licence}}\n",
        store.url
    ))
    .expect("spec");
    let mut licence = LicenseEntitlement::new("acme", spec);
    licence.metadata = meta("acme");
    server.insert(&licence).expect("entitlement");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_controller(
        server.client(),
        ControllerConfig {
            interval_override: Some(Duration::from_millis(200)),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..ControllerConfig::default()
        },
        Metrics::new(),
        Arc::new(AtomicBool::new(false)),
        async move {
            let _ = stopped.await;
        },
    ));

    let status = || {
        server
            .get::<LicenseEntitlement>(Some(NS), "acme")
            .and_then(|l| l.status)
    };
    wait_for("the entitlement Ready", || {
        status().is_some_and(|s| {
            find_condition(&s.conditions, ConditionType::Ready)
                .is_some_and(|c| c.status == ConditionStatus::True)
        })
    })
    .await;
    // Read back from the store itself.
    assert_eq!(store.licence("acme").as_deref(), Some("LICENCE-ACME-7"));
    assert_eq!(store.writes(), 1, "one write converged it");
    let s = status().expect("status");
    assert_eq!(s.provider.as_deref(), Some("testOnly"));
    assert_eq!(s.target.as_deref(), Some("store/acme"));
    assert!(s.drift.is_empty(), "{:?}", s.drift);
    assert_eq!(
        s.facts,
        Some(ProviderFacts::TestOnly(TestOnlyFacts {
            account: "acme".into(),
            licensed: true,
        }))
    );

    // In sync: drift checks keep reading, never write.
    let reads = store.requests();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(store.requests() > reads, "still checked");
    assert_eq!(store.writes(), 1, "in sync: zero writes");
    let stored =
        serde_json::to_string(&server.get::<LicenseEntitlement>(Some(NS), "acme")).expect("json");
    assert!(
        !stored.contains("S3cret-store"),
        "status leaked the password"
    );

    let _ = stop.send(());
    task.abort();
}

#[test]
fn an_external_targets_secrets_are_watched() {
    use crate::controller::watches::{kind_names_config_map, kind_names_secret};
    use crate::plan::license_entitlement::LicenseEntitlementKind as K;
    let spec: LicenseEntitlementSpec = serde_saphyr::from_str(
        "provider:\n  testOnly:\n    endpoint: http://127.0.0.1:9\n    credentialsSecretRef: {name: store-creds}\n    caBundle: {configMapKeyRef: {name: store-ca}}\n    account: acme\n    license: {name: acme-licence, key: licence}\n",
    )
    .expect("spec");
    let licence = LicenseEntitlement::new("acme", spec);
    assert!(
        kind_names_secret::<K>(&licence, "store-creds"),
        "credentials"
    );
    assert!(kind_names_secret::<K>(&licence, "acme-licence"), "its text");
    assert!(!kind_names_secret::<K>(&licence, "other"));
    assert!(
        kind_names_config_map::<K>(&licence, "store-ca"),
        "CA bundle"
    );
    assert!(!kind_names_config_map::<K>(&licence, "other"));
}
