//! TlsContext over real HTTP against the simulator (issue 13): the device
//! client's TLS file calls, and observe → plan → apply → verify for each
//! certificate source. Device state is read back from the simulator's TLS
//! store, and writes are counted by the simulator, not by us.

mod tls_common;

use std::collections::BTreeMap;
use std::time::Duration;

use mediant_operator::api::{SourceRef, TlsContextSpec};
use mediant_operator::config::pem;
use mediant_operator::device::{
    ClientOptions, Credentials, DeviceError, MediantClient, RetryPolicy,
};
use mediant_operator::plan::tls_context::io::{TlsApplyError, TlsOutcome, reconcile_tls};
use mediant_operator::plan::tls_context::{TlsMemory, TlsPlanError, tls_desired};
use mediant_operator::simulator::device::Dialect as SimDialect;
use mediant_operator::simulator::{Fleet, FleetConfig};
use serde_json::json;

use tls_common::{Ca, encrypted_pem, pkcs1_pem, rsa_key};

const NS: &str = "voice";

async fn fleet(dialect: SimDialect) -> Fleet {
    Fleet::start(FleetConfig {
        devices: 1,
        dialect,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client(fleet: &Fleet) -> MediantClient {
    MediantClient::new(
        &fleet.devices()[0].base_url,
        Credentials::new("Admin", "Admin"),
        ClientOptions {
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            request_timeout: Duration::from_secs(20),
            ..ClientOptions::default()
        },
    )
    .expect("client")
}

/// Secret and ConfigMap keys, as `(kind, name, key)`.
#[derive(Default, Clone)]
struct Sources(BTreeMap<(&'static str, String, String), String>);

impl Sources {
    fn secret(mut self, name: &str, key: &str, value: &str) -> Self {
        self.0
            .insert(("Secret", name.into(), key.into()), value.to_string());
        self
    }
    fn config_map(mut self, name: &str, key: &str, value: &str) -> Self {
        self.0
            .insert(("ConfigMap", name.into(), key.into()), value.to_string());
        self
    }
    fn lookup(&self, r: &SourceRef) -> Option<String> {
        let key = match r {
            SourceRef::Secret(k) => ("Secret", k.name.clone(), k.key.clone()),
            SourceRef::ConfigMap(k) => ("ConfigMap", k.name.clone(), k.key.clone()),
            SourceRef::File(_) => return None,
        };
        self.0.get(&key).cloned()
    }
}

/// The Secret `teams-cert` as cert-manager writes it: `tls.key`, `tls.crt`.
fn cert_secret(key_pem: &str, cert_pem: &str) -> Sources {
    Sources::default()
        .secret("teams-cert", "tls.key", key_pem)
        .secret("teams-cert", "tls.crt", cert_pem)
}

/// A second reconcile of an in-sync device plans nothing and writes nothing.
async fn assert_quiet_resync(
    device: &mediant_operator::simulator::device::Device,
    client: &MediantClient,
    spec: &TlsContextSpec,
    sources: &Sources,
    memory: &TlsMemory,
) {
    device.counters.reset();
    let again = reconcile(client, spec, sources, memory)
        .await
        .expect("resync");
    assert!(again.plan.is_empty(), "{:?}", again.plan);
    assert_eq!(device.counters.snapshot().writes, 0);
}

fn spec(value: serde_json::Value) -> TlsContextSpec {
    let spec: TlsContextSpec = serde_json::from_value(value).expect("spec");
    spec.validate().expect("valid spec");
    spec
}

fn secret_spec(index: u32) -> TlsContextSpec {
    spec(json!({
        "deviceRef": {"name": "sbc"},
        "context": {"index": index},
        "certificate": {"secretRef": {"name": "teams-cert"}},
    }))
}

async fn reconcile(
    client: &MediantClient,
    spec: &TlsContextSpec,
    sources: &Sources,
    memory: &TlsMemory,
) -> Result<TlsOutcome, TlsApplyError> {
    let desired = tls_desired(NS, "teams-tls", spec, &|r| sources.lookup(r))?;
    reconcile_tls(client, &desired, memory, now(), true).await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn der_of(pem_text: &str) -> Vec<u8> {
    pem::parse_certificates(pem_text).expect("pem")[0]
        .der
        .clone()
}

#[tokio::test]
async fn a_secret_converges_then_a_resync_sends_nothing() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let cert = ca.issue(&key, "sbc.example.com", 90);
    let chain = format!("{cert}{}", ca.cert_pem);
    let sources = cert_secret(&pkcs1_pem(&key), &chain);
    let spec = secret_spec(1);

    let first = reconcile(&client, &spec, &sources, &TlsMemory::default())
        .await
        .expect("apply");
    assert!(first.applied);
    let kinds: Vec<String> = first
        .plan
        .steps
        .iter()
        .map(|s| format!("{:?}", s.action))
        .collect();
    assert_eq!(kinds.len(), 3, "key, certificate, save: {kinds:?}");
    assert!(kinds[0].starts_with("UploadKey"), "{kinds:?}");
    assert!(kinds[1].starts_with("UploadCertificate"), "{kinds:?}");
    assert_eq!(kinds[2], "Save");

    // The device holds the certificate and calls the key valid.
    assert_eq!(device.tls.certificate(1).expect("cert"), der_of(&cert));
    let status = device.tls.key_status(1).expect("key");
    assert_eq!((status.size, status.valid), (1024, true));
    let digest = first.memory.uploaded_key_digest.clone().expect("digest");
    assert_eq!(digest.len(), 64);

    device.counters.reset();
    for _ in 0..3 {
        let again = reconcile(&client, &spec, &sources, &first.memory)
            .await
            .expect("resync");
        assert!(again.plan.is_empty(), "{:?}", again.plan);
        assert_eq!(
            again.memory.uploaded_key_digest.as_deref(),
            Some(digest.as_str())
        );
    }
    let counts = device.counters.snapshot();
    assert_eq!(counts.writes, 0, "{counts:?}");
    // files/tls, status, privateKey, certificate per pass.
    assert_eq!(counts.total, 12, "{counts:?}");
}

#[tokio::test]
async fn a_renewal_rotates_exactly_the_certificate() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let key_pem = pkcs1_pem(&key);
    let sources = cert_secret(&key_pem, &ca.issue(&key, "sbc.example.com", 30));
    let spec = secret_spec(1);
    let first = reconcile(&client, &spec, &sources, &TlsMemory::default())
        .await
        .expect("apply");

    // cert-manager renews with the same key (rotationPolicy: Never).
    let renewed = ca.issue(&key, "sbc.example.com", 90);
    let sources = sources.secret("teams-cert", "tls.crt", &renewed);
    device.counters.reset();
    let second = reconcile(&client, &spec, &sources, &first.memory)
        .await
        .expect("renewal");
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/certificate"),
        1,
        "{counts:?}"
    );
    assert_eq!(counts.count("PUT", "/api/v1/files/tls/1/privateKey"), 0);
    assert_eq!(counts.count("POST", "/api/v1/actions/saveConfiguration"), 1);
    assert_eq!(counts.writes, 2, "certificate and save only: {counts:?}");
    assert_eq!(device.tls.certificate(1).expect("cert"), der_of(&renewed));
    assert_eq!(second.memory, first.memory, "same key, same digest");

    // A renewal with a new key (rotationPolicy: Always) sends key then certificate.
    let new_key = rsa_key(1024);
    let rotated = ca.issue(&new_key, "sbc.example.com", 90);
    let sources = sources
        .secret("teams-cert", "tls.key", &pkcs1_pem(&new_key))
        .secret("teams-cert", "tls.crt", &rotated);
    device.counters.reset();
    let third = reconcile(&client, &spec, &sources, &second.memory)
        .await
        .expect("rotation");
    let counts = device.counters.snapshot();
    assert_eq!(counts.count("PUT", "/api/v1/files/tls/1/privateKey"), 1);
    assert_eq!(counts.count("PUT", "/api/v1/files/tls/1/certificate"), 1);
    assert_ne!(third.memory, second.memory);
    assert_eq!(device.tls.certificate(1).expect("cert"), der_of(&rotated));
    assert!(device.tls.key_status(1).expect("key").valid);
}

#[tokio::test]
async fn a_certificate_of_another_key_is_refused_before_sending_and_by_the_device() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let other = rsa_key(1024);
    let sources = cert_secret(&pkcs1_pem(&key), &ca.issue(&other, "sbc.example.com", 30));
    device.counters.reset();
    let err = reconcile(&client, &secret_spec(1), &sources, &TlsMemory::default())
        .await
        .expect_err("mismatch");
    assert!(
        matches!(err, TlsApplyError::Plan(TlsPlanError::KeyMismatch { .. })),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("Secret `voice/teams-cert`"), "{message}");
    assert!(
        message.contains("does not match the private key"),
        "{message}"
    );
    assert_eq!(device.counters.snapshot().total, 0, "nothing sent");

    // The device itself refuses such a certificate (400), and says so.
    let err = client
        .put_tls_certificate(0, &ca.issue(&other, "x.example.com", 30))
        .await
        .expect_err("device refuses");
    assert!(matches!(err, DeviceError::Rejected { .. }), "{err}");
    assert!(
        err.to_string().contains("does not match the private key"),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_pem_is_reported_by_name_and_nothing_is_sent() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let key_pem = pkcs1_pem(&key);
    let cert = ca.issue(&key, "sbc.example.com", 30);
    // A key whose base64 holds a planted marker (not valid base64: '-' and '!').
    let marker = "KEYMARKER-9f3b!";
    let broken_key = key_pem.replacen('\n', &format!("\n{marker}\n"), 2);
    let truncated_cert = &cert[..cert.len() / 2];
    for (key_text, crt_text, expected) in [
        (broken_key.as_str(), cert.as_str(), "key `tls.key`"),
        (key_pem.as_str(), truncated_cert, "key `tls.crt`"),
        ("not a key at all", cert.as_str(), "key `tls.key`"),
        (
            key_pem.as_str(),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "key `tls.crt`",
        ),
    ] {
        let sources = cert_secret(key_text, crt_text);
        let err = reconcile(&client, &secret_spec(1), &sources, &TlsMemory::default())
            .await
            .expect_err("malformed");
        let message = err.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains(marker), "{message}");
        assert!(!message.contains("MII"), "no base64 of the key: {message}");
        assert!(!format!("{err:?}").contains(marker));
    }
    assert_eq!(device.counters.snapshot().total, 0, "nothing sent");
}

#[tokio::test]
async fn an_encrypted_key_goes_up_with_its_password_which_never_shows() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let password = "PASSWORD-MARKER-71c2";
    let key_pem = encrypted_pem(&key, password);
    let key_line = key_pem.lines().nth(1).expect("a base64 line").to_string();
    let spec = spec(json!({
        "deviceRef": {"name": "sbc"},
        "context": {"index": 0},
        "certificate": {"secretRef": {"name": "teams-cert",
            "keyPasswordSecretRef": {"name": "teams-key-password", "key": "password"}}},
    }));
    let sources = cert_secret(&key_pem, &ca.issue(&key, "sbc.example.com", 30)).secret(
        "teams-key-password",
        "password",
        &format!("{password}\n"),
    );
    let desired = tls_desired(NS, "teams-tls", &spec, &|r| sources.lookup(r)).expect("desired");
    let outcome = reconcile_tls(&client, &desired, &TlsMemory::default(), now(), true)
        .await
        .expect("apply");
    assert!(device.tls.key_status(0).expect("key").valid);
    for shown in [
        format!("{desired:?}"),
        format!("{outcome:?}"),
        format!("{:?}", outcome.plan.steps),
        outcome
            .plan
            .changes()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    ] {
        assert!(!shown.contains(password), "{shown}");
        assert!(!shown.contains(&key_line), "{shown}");
    }

    // A wrong password: refused before sending, without echoing it.
    let wrong = sources.secret("teams-key-password", "password", "WRONG-MARKER");
    device.counters.reset();
    let err = reconcile(&client, &spec, &wrong, &TlsMemory::default())
        .await
        .expect_err("wrong password");
    assert!(err.to_string().contains("cannot be decrypted"), "{err}");
    assert!(!err.to_string().contains("WRONG-MARKER"));
    assert_eq!(device.counters.snapshot().total, 0);
}

#[tokio::test]
async fn trusted_roots_replace_the_store_or_add_to_it() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let (a, b, c, stray) = (
        Ca::new("Root A"),
        Ca::new("Root B"),
        Ca::new("Root C"),
        Ca::new("Stray"),
    );
    client
        .put_tls_trusted_roots(1, &stray.cert_pem)
        .await
        .expect("seed the store");
    let sources = cert_secret(&pkcs1_pem(&key), &ca.issue(&key, "sbc.example.com", 30))
        .secret("roots", "ca.crt", &format!("{}{}", a.cert_pem, b.cert_pem))
        .config_map(
            "more-roots",
            "bundle.pem",
            &format!("{}{}", c.cert_pem, a.cert_pem),
        );
    let with_roots = |mode: &str, sources: serde_json::Value| {
        spec(json!({
            "deviceRef": {"name": "sbc"},
            "context": {"index": 1},
            "certificate": {"secretRef": {"name": "teams-cert"}},
            "trustedRoots": {"mode": mode, "sources": sources},
        }))
    };
    let store = || -> Vec<Vec<u8>> { device.tls.trusted_roots(1) };

    // Replace: exactly A and B, the stray one gone.
    let replace = with_roots(
        "Replace",
        json!([{"secretKeyRef": {"name": "roots", "key": "ca.crt"}}]),
    );
    let first = reconcile(&client, &replace, &sources, &TlsMemory::default())
        .await
        .expect("replace");
    assert_eq!(store(), vec![der_of(&a.cert_pem), der_of(&b.cert_pem)]);
    device.counters.reset();
    let again = reconcile(&client, &replace, &sources, &first.memory)
        .await
        .expect("resync");
    assert!(again.plan.is_empty());
    assert_eq!(device.counters.snapshot().writes, 0);

    // Add: C joins, A (declared twice) is not sent again, B stays.
    let add = with_roots(
        "Add",
        json!([{"configMapKeyRef": {"name": "more-roots", "key": "bundle.pem"}}]),
    );
    device.counters.reset();
    let added = reconcile(&client, &add, &sources, &first.memory)
        .await
        .expect("add");
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/trustedRoot/incremental"),
        1
    );
    assert_eq!(counts.count("PUT", "/api/v1/files/tls/1/trustedRoot"), 0);
    assert_eq!(
        store(),
        vec![
            der_of(&a.cert_pem),
            der_of(&b.cert_pem),
            der_of(&c.cert_pem)
        ]
    );
    device.counters.reset();
    let quiet = reconcile(&client, &add, &sources, &added.memory)
        .await
        .expect("resync");
    assert!(quiet.plan.is_empty());
    assert_eq!(device.counters.snapshot().writes, 0);

    // Replace again with A, B: C is dropped.
    reconcile(&client, &replace, &sources, &added.memory)
        .await
        .expect("replace");
    assert_eq!(store(), vec![der_of(&a.cert_pem), der_of(&b.cert_pem)]);
}

#[tokio::test]
async fn a_self_signed_certificate_is_generated_on_the_device_once() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let spec = spec(json!({
        "deviceRef": {"name": "sbc"},
        "context": {"index": 1},
        "certificate": {"generateOnDevice": {"keySize": 1024,
            "selfSigned": {"subject": {"commonName": "sbc.example.com", "organization": "Example", "country": "de"}}}},
    }));
    let sources = Sources::default();
    let first = reconcile(&client, &spec, &sources, &TlsMemory::default())
        .await
        .expect("generate");
    assert!(first.applied);
    let cert =
        pem::Certificate::from_der(&device.tls.certificate(1).expect("cert"), 1).expect("x509");
    assert_eq!(
        cert.subject_attribute("CN").as_deref(),
        Some("sbc.example.com")
    );
    assert_eq!(cert.subject_attribute("C").as_deref(), Some("DE"));
    assert!(cert.is_self_issued());
    assert_eq!(device.tls.key_status(1).expect("key").size, 1024);

    assert_quiet_resync(device, &client, &spec, &sources, &first.memory).await;
}

#[tokio::test]
async fn a_context_named_but_absent_is_created_with_its_settings() {
    let fleet = fleet(SimDialect::V74).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let sources = cert_secret(&pkcs1_pem(&key), &ca.issue(&key, "sbc.example.com", 30));
    let spec = spec(json!({
        "deviceRef": {"name": "sbc"},
        "context": {"name": "Carrier"},
        "settings": {"TLSVersion": 12},
        "certificate": {"secretRef": {"name": "teams-cert"}},
    }));
    let before = client.tls_contexts().await.expect("list");
    assert!(!before.iter().any(|c| c.name == "Carrier"));
    let first = reconcile(&client, &spec, &sources, &TlsMemory::default())
        .await
        .expect("create");
    assert!(first.plan.creates_context);
    let id = first.plan.context_id;
    assert!(!before.iter().any(|c| c.id == id), "a free index");
    let after = client.tls_contexts().await.expect("list");
    assert!(
        after.iter().any(|c| c.id == id && c.name == "Carrier"),
        "{after:?}"
    );
    let ini = mediant_operator::config::ini::parse(&client.ini().await.expect("ini")).expect("ini");
    let row = mediant_operator::config::ini::RowIndex::new(&id.to_string());
    assert_eq!(
        ini.table("TLSContexts")
            .and_then(|t| t.cell(&row, "TLSVersion")),
        Some("12")
    );
    assert!(device.tls.key_status(id).expect("key").valid);

    assert_quiet_resync(device, &client, &spec, &sources, &first.memory).await;
}

#[tokio::test]
async fn a_2015_device_is_told_plainly_that_it_has_no_tls_file_api() {
    let fleet = fleet(SimDialect::V2015).await;
    let device = &fleet.devices()[0].device;
    let client = client(&fleet);
    let ca = Ca::new("Test CA");
    let key = rsa_key(1024);
    let sources = cert_secret(&pkcs1_pem(&key), &ca.issue(&key, "sbc.example.com", 30));
    let err = reconcile(&client, &secret_spec(1), &sources, &TlsMemory::default())
        .await
        .expect_err("2015");
    let message = err.to_string();
    assert!(
        message.contains("not supported on 2015 firmware"),
        "{message}"
    );
    let counts = device.counters.snapshot();
    assert_eq!(counts.writes, 0, "{counts:?}");
    assert!(
        counts.requests.keys().all(|k| !k.contains("/files/tls")),
        "no TLS request sent: {counts:?}"
    );
}

#[tokio::test]
async fn an_administrator_is_told_the_tls_files_need_security_administrator() {
    let fleet = fleet(SimDialect::V74).await;
    let client = MediantClient::new(
        &fleet.devices()[0].base_url,
        Credentials::new("Operator", "Operator"),
        ClientOptions::default(),
    )
    .expect("client");
    let err = client.tls_private_key(0).await.expect_err("forbidden");
    assert!(matches!(err, DeviceError::Forbidden { .. }), "{err}");
    assert!(err.to_string().contains("Security Administrator"), "{err}");
}
