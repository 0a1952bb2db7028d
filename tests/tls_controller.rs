//! The TlsContext controller end to end (issue 13): the real `kube` client
//! and kube-runtime over HTTP against the in-process API server double, a
//! simulated device over HTTP. The device's TLS files are read back from the
//! simulator's store; writes are counted by the simulator and the API
//! server's request log.

mod support;
mod tls_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use mediant_operator::api::{
    ConditionStatus, ConditionType, IniSpec, MediantDevice, MediantDeviceSpec, TlsContext,
    find_condition,
};
use mediant_operator::config::pem;
use mediant_operator::controller::cert_manager::CertificateRequest;
use mediant_operator::controller::{ControllerConfig, ControllerError, Metrics};
use mediant_operator::simulator::{Fleet, FleetConfig, SimulatedDevice};

use support::apiserver::{ApiServer, ResourceType, Verb};
use tls_common::{Ca, csr_public_key, pkcs1_pem, rsa_key};

const NS: &str = "voice";
const WAIT: Duration = Duration::from_secs(30);

struct Harness {
    server: ApiServer,
    fleet: Fleet,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ControllerError>>>,
}

impl Harness {
    async fn start(interval: Duration) -> Harness {
        Harness::start_with(interval, true).await
    }

    /// `cert_manager`: whether the server serves cert-manager's
    /// CertificateRequest (the CSR flow), as its CRD declares it: with a
    /// status subresource.
    async fn start_with(interval: Duration, cert_manager: bool) -> Harness {
        Harness::start_configured(
            cert_manager,
            ControllerConfig {
                interval_override: Some(interval),
                backoff_base: Duration::from_millis(200),
                backoff_max: Duration::from_secs(2),
                ..ControllerConfig::default()
            },
        )
        .await
    }

    async fn start_configured(cert_manager: bool, config: ControllerConfig) -> Harness {
        let server = ApiServer::start().await;
        server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
        server.register(ResourceType::custom::<TlsContext>().with_status_subresource());
        if cert_manager {
            server.register(ResourceType::custom::<CertificateRequest>().with_status_subresource());
        }
        let fleet = Fleet::start(FleetConfig {
            devices: 1,
            reset_time: Duration::from_millis(300),
            ..FleetConfig::default()
        })
        .await
        .expect("simulator starts");
        let metrics = Metrics::new();
        let ready = Arc::new(AtomicBool::new(false));
        let (stop, task) = support::spawn_controller(
            server.client(),
            config,
            Arc::clone(&metrics),
            Arc::clone(&ready),
        );
        let started = Instant::now();
        while !ready.load(Ordering::SeqCst) {
            assert!(
                started.elapsed() < WAIT,
                "the controller did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Harness {
            server,
            fleet,
            metrics,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn sim(&self) -> &SimulatedDevice {
        &self.fleet.devices()[0]
    }

    async fn put_secret(&self, name: &str, type_: &str, data: &[(&str, &str)]) {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(NS.into()),
                ..ObjectMeta::default()
            },
            type_: Some(type_.into()),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        };
        let api = Api::<Secret>::namespaced(self.server.client(), NS);
        let params = PatchParams::apply("test").force();
        api.patch(name, &params, &Patch::Apply(&secret))
            .await
            .expect("secret written");
    }

    async fn create_device(&self) {
        let mut spec = MediantDeviceSpec::new(&self.sim().base_url, "sbc-admin");
        spec.ini = Some(IniSpec {
            inline: Some("GWDEBUGLEVEL = 7\n".into()),
            ..IniSpec::default()
        });
        let mut device = MediantDevice::new("sbc", spec);
        device.metadata.namespace = Some(NS.into());
        Api::<MediantDevice>::namespaced(self.server.client(), NS)
            .create(&PostParams::default(), &device)
            .await
            .expect("device created");
    }

    async fn create_tls(&self, spec: serde_json::Value) {
        self.create_tls_named("teams-tls", spec).await;
    }

    async fn create_tls_named(&self, name: &str, spec: serde_json::Value) {
        let tls: TlsContext = serde_json::from_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "TlsContext",
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        }))
        .expect("TlsContext");
        Api::<TlsContext>::namespaced(self.server.client(), NS)
            .create(&PostParams::default(), &tls)
            .await
            .expect("TlsContext created");
    }

    fn tls(&self) -> TlsContext {
        self.server
            .get::<TlsContext>(Some(NS), "teams-tls")
            .expect("TlsContext exists")
    }

    async fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = check() {
                return v;
            }
            if started.elapsed() > WAIT {
                let status = self.tls().status;
                panic!("timed out waiting for {what}; status: {status:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_condition(&self, t: ConditionType, status: ConditionStatus) -> TlsContext {
        self.wait(&format!("{t}={status:?}"), || {
            let tls = self.tls();
            let s = tls.status.as_ref()?;
            let c = find_condition(&s.conditions, t)?;
            (c.status == status && s.observed_generation == tls.metadata.generation)
                .then(|| tls.clone())
        })
        .await
    }

    fn events(&self) -> Vec<K8sEvent> {
        self.server.list::<K8sEvent>(Some(NS))
    }

    fn metric(&self, series: &str) -> Option<f64> {
        self.metrics
            .encode()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.server.stop().await;
    }

    /// Shuts the controller down and waits for it to end (with `Ok`);
    /// how long that took.
    async fn stop_and_join(mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        let ended = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the controller ends promptly on shutdown");
        assert!(matches!(ended, Ok(Ok(()))), "{ended:?}");
        let took = started.elapsed();
        self.server.stop().await;
        took
    }
}

/// Everything the controller logs (at debug and above), for secret checks.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures this process's logs (nextest runs each test in its own process).
    fn capture() -> Logs {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

fn der_of(text: &str) -> Vec<u8> {
    pem::parse_certificates(text).expect("pem")[0].der.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_converges_is_quiet_and_a_renewal_reaches_the_device_within_seconds() {
    let logs = Logs::capture();
    let h = Harness::start(Duration::from_millis(700)).await;
    let ca = Ca::new("Voice CA");
    let key = rsa_key(1024);
    let key_pem = pkcs1_pem(&key);
    let key_line = key_pem.lines().nth(2).expect("base64 line").to_string();
    // Expires in 10 days: inside the 30-day warning window.
    let first = ca.issue(&key, "sbc.example.com", 10);
    h.put_secret(
        "sbc-admin",
        "Opaque",
        &[("username", "Admin"), ("password", "Admin")],
    )
    .await;
    h.put_secret(
        "teams-cert",
        "kubernetes.io/tls",
        &[
            ("tls.key", &key_pem),
            ("tls.crt", &first),
            ("ca.crt", &ca.cert_pem),
        ],
    )
    .await;
    h.create_device().await;
    h.create_tls(json!({
        "deviceRef": {"name": "sbc"},
        "context": {"index": 1},
        "certificate": {"secretRef": {"name": "teams-cert"}},
        "trustedRoots": {"sources": [{"secretKeyRef": {"name": "teams-cert", "key": "ca.crt"}}]},
    }))
    .await;

    let tls = h
        .wait_condition(ConditionType::Ready, ConditionStatus::True)
        .await;
    let device = &h.sim().device;
    assert_eq!(device.tls.certificate(1).expect("cert"), der_of(&first));
    assert_eq!(device.tls.trusted_roots(1), vec![der_of(&ca.cert_pem)]);
    assert!(device.tls.key_status(1).expect("key").valid);
    let status = tls.status.clone().expect("status");
    let cert = status.certificate.clone().expect("certificate status");
    assert_eq!(cert.fingerprint, pem::fingerprint(&der_of(&first)));
    assert_eq!(cert.subject, "CN=sbc.example.com");
    assert_eq!(cert.sans, vec!["DNS:sbc.example.com".to_string()]);
    assert!(
        (9..=10).contains(&cert.days_to_expiry),
        "{}",
        cert.days_to_expiry
    );
    assert_eq!(status.trusted_root_count, Some(1));
    assert_eq!(status.context.as_deref(), Some("1 (Teams)"));
    let key_status = status.private_key.clone().expect("key status");
    assert_eq!((key_status.size, key_status.valid), (1024, true));
    let digest = key_status.uploaded_digest.clone().expect("digest");
    assert_eq!(digest.len(), 64);

    // The expiry metric and one warning event.
    let series = r#"mediant_tls_certificate_expiry_seconds{namespace="voice",name="teams-tls"}"#;
    let left = h.wait("the expiry metric", || h.metric(series)).await;
    assert!((8.9 * 86_400.0..=10.0 * 86_400.0).contains(&left), "{left}");
    let expiring = h
        .wait("a CertificateExpiring event", || {
            let e: Vec<K8sEvent> = h
                .events()
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some("CertificateExpiring"))
                .collect();
            (!e.is_empty()).then_some(e)
        })
        .await;
    assert!(
        expiring[0]
            .note
            .as_deref()
            .unwrap_or("")
            .contains("expires in"),
        "{expiring:?}"
    );

    // Resyncs every 700 ms: the device sees reads only.
    device.counters.reset();
    let status_writes = h.server.writes("tlscontexts");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let counts = device.counters.snapshot();
    assert_eq!(counts.writes, 0, "{counts:?}");
    assert!(
        counts.count("GET", "/api/v1/files/tls/1/certificate") >= 2,
        "resyncs happened: {counts:?}"
    );
    assert_eq!(
        h.server.writes("tlscontexts"),
        status_writes,
        "no status churn"
    );
    let warnings = h
        .events()
        .iter()
        .filter(|e| e.reason.as_deref() == Some("CertificateExpiring"))
        .count();
    assert_eq!(warnings, 1, "warned once per certificate");

    // cert-manager renews (same key): the Secret's watch brings it to the
    // device within seconds, and only the certificate changes.
    let renewed = ca.issue(&key, "sbc.example.com", 90);
    device.counters.reset();
    let started = Instant::now();
    h.put_secret(
        "teams-cert",
        "kubernetes.io/tls",
        &[
            ("tls.key", &key_pem),
            ("tls.crt", &renewed),
            ("ca.crt", &ca.cert_pem),
        ],
    )
    .await;
    h.wait("the renewed certificate on the device", || {
        (device.tls.certificate(1)? == der_of(&renewed)).then_some(())
    })
    .await;
    let took = started.elapsed();
    eprintln!("renewal reached the device in {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let tls = h
        .wait("status showing the renewed certificate", || {
            let tls = h.tls();
            let fp = tls
                .status
                .as_ref()?
                .certificate
                .as_ref()?
                .fingerprint
                .clone();
            (fp == pem::fingerprint(&der_of(&renewed))).then_some(tls)
        })
        .await;
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/certificate"),
        1,
        "{counts:?}"
    );
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/privateKey"),
        0,
        "{counts:?}"
    );
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/trustedRoot"),
        0,
        "{counts:?}"
    );
    assert_eq!(
        counts.count("PUT", "/api/v1/files/ini/incremental"),
        0,
        "{counts:?}"
    );
    assert_eq!(
        tls.status
            .as_ref()
            .and_then(|s| s.private_key.as_ref()?.uploaded_digest.clone()),
        Some(digest)
    );

    // The key never shows in status or events.
    let shown = format!(
        "{}\n{:?}",
        serde_json::to_string(&h.tls()).expect("json"),
        h.events()
    );
    assert!(
        !shown.contains(&key_line),
        "key material in status or events"
    );
    assert!(!shown.contains("PRIVATE KEY"));
    let logged = logs.text();
    assert!(logged.contains("applying"), "logs were captured: {logged}");
    assert!(!logged.contains(&key_line) && !logged.contains("PRIVATE KEY"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_key_stalls_by_name_and_nothing_reaches_the_device() {
    let logs = Logs::capture();
    let h = Harness::start(Duration::from_secs(30)).await;
    let ca = Ca::new("Voice CA");
    let key = rsa_key(1024);
    let marker = "KEY-MARKER-8d1e";
    let broken = pkcs1_pem(&key).replacen('\n', &format!("\n{marker}!\n"), 1);
    h.put_secret(
        "sbc-admin",
        "Opaque",
        &[("username", "Admin"), ("password", "Admin")],
    )
    .await;
    h.put_secret(
        "teams-cert",
        "kubernetes.io/tls",
        &[
            ("tls.key", &broken),
            ("tls.crt", &ca.issue(&key, "sbc.example.com", 30)),
        ],
    )
    .await;
    h.create_device().await;
    h.create_tls(json!({
        "deviceRef": {"name": "sbc"},
        "context": {"index": 1},
        "certificate": {"secretRef": {"name": "teams-cert"}},
    }))
    .await;
    let tls = h
        .wait_condition(ConditionType::Stalled, ConditionStatus::True)
        .await;
    let status = tls.status.expect("status");
    let ready = find_condition(&status.conditions, ConditionType::Ready).expect("Ready");
    assert_eq!(ready.status, ConditionStatus::False);
    assert!(
        ready
            .message
            .contains("Secret `voice/teams-cert` key `tls.key`"),
        "{}",
        ready.message
    );
    assert!(!ready.message.contains(marker), "{}", ready.message);
    let counts = h.sim().device.counters.snapshot();
    assert!(
        counts.requests.keys().all(|k| !k.contains("/files/tls")),
        "nothing sent for the context: {counts:?}"
    );
    // The failure is logged just after the status write: wait for it.
    h.wait("the failure logged by name", || {
        logs.text().contains("tls.key").then_some(())
    })
    .await;
    let shown = format!("{:?}\n{}", h.events(), logs.text());
    assert!(!shown.contains(marker), "{shown}");
    h.stop().await;
}

// ------------------------------------------------------------ the CSR flow

impl Harness {
    /// The CertificateRequests in the namespace, oldest first.
    fn requests(&self) -> Vec<CertificateRequest> {
        let mut all = self.server.list::<CertificateRequest>(Some(NS));
        all.sort_by_key(|r| r.metadata.creation_timestamp.clone().map(|t| t.0));
        all
    }

    /// Writes `status` of CertificateRequest `name` through the status
    /// subresource, as cert-manager's issuer controllers do.
    async fn set_request_status(&self, name: &str, status: serde_json::Value) {
        Api::<CertificateRequest>::namespaced(self.server.client(), NS)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .expect("status written");
    }

    /// Plays the issuer: signs CertificateRequest `name` with `ca` (valid
    /// `days` days) and marks it Ready. Returns the certificate PEM.
    async fn sign(&self, ca: &Ca, name: &str, days: i64) -> String {
        use base64::Engine as _;
        let cr = self
            .requests()
            .into_iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .expect("the request exists");
        let csr = String::from_utf8(cr.spec.request.0.clone()).expect("PEM text");
        let cert = ca.sign_csr(&csr, days);
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        self.set_request_status(
            name,
            json!({
                "conditions": [
                    {"type": "Approved", "status": "True", "reason": "cert-manager.io", "message": "approved"},
                    {"type": "Ready", "status": "True", "reason": "Issued", "message": "Certificate fetched from issuer successfully"},
                ],
                "certificate": b64(&cert),
                "ca": b64(&ca.cert_pem),
            }),
        )
        .await;
        cert
    }

    fn published(&self, name: &str) -> Option<BTreeMap<String, String>> {
        let secret = self.server.get::<Secret>(Some(NS), name)?;
        Some(
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8(v.0).expect("text")))
                .collect(),
        )
    }

    async fn wait_requests(&self, n: usize) -> Vec<CertificateRequest> {
        self.wait(&format!("{n} CertificateRequest(s)"), || {
            let all = self.requests();
            (all.len() >= n).then_some(all)
        })
        .await
    }

    async fn wait_ready_reason(&self, reason: &str) -> TlsContext {
        self.wait(&format!("Ready reason {reason}"), || {
            let tls = self.tls();
            let c = find_condition(&tls.status.as_ref()?.conditions, ConditionType::Ready)?;
            (c.reason == reason).then(|| tls.clone())
        })
        .await
    }
}

fn csr_spec(extra: serde_json::Value) -> serde_json::Value {
    let mut request = json!({
        "subject": {"commonName": "sbc.example.com", "organization": "Example"},
        "issuerRef": {"name": "voice-ca", "kind": "Issuer"},
        "duration": "2160h",
    });
    if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            r.insert(k.clone(), v.clone());
        }
    }
    let key_size = extra.get("keySize").cloned().unwrap_or(json!(2048));
    if let Some(r) = request.as_object_mut() {
        r.remove("keySize");
    }
    json!({
        "deviceRef": {"name": "sbc"},
        "context": {"index": 1},
        "certificate": {"generateOnDevice": {"keySize": key_size, "certificateRequest": request}},
    })
}

async fn csr_harness() -> Harness {
    csr_harness_with(true).await
}

async fn csr_harness_with(cert_manager: bool) -> Harness {
    let h = Harness::start_with(Duration::from_millis(700), cert_manager).await;
    h.put_secret(
        "sbc-admin",
        "Opaque",
        &[("username", "Admin"), ("password", "Admin")],
    )
    .await;
    h.create_device().await;
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_csr_is_signed_through_a_certificate_request_uploaded_and_then_quiet() {
    let logs = Logs::capture();
    let h = csr_harness().await;
    let ca = Ca::new("Voice CA");
    h.create_tls(csr_spec(json!({}))).await;

    // The request: the device's CSR, our issuerRef, usages and duration,
    // owned by the TlsContext.
    let cr = h.wait_requests(1).await.remove(0);
    let name = cr.metadata.name.clone().expect("name");
    assert!(name.starts_with("teams-tls-"), "{name}");
    let csr = String::from_utf8(cr.spec.request.0.clone()).expect("PEM");
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    let parsed = pem::SigningRequest::parse(&csr).expect("a CSR");
    assert!(
        parsed.subject.contains("CN=sbc.example.com"),
        "{}",
        parsed.subject
    );
    assert_eq!(cr.spec.issuer_ref.name, "voice-ca");
    assert_eq!(cr.spec.issuer_ref.kind.as_deref(), Some("Issuer"));
    assert_eq!(cr.spec.duration.as_deref(), Some("2160h"));
    assert_eq!(
        cr.spec.usages,
        [
            "digital signature",
            "key encipherment",
            "server auth",
            "client auth"
        ]
    );
    let tls = h.tls();
    let owner = &cr.metadata.owner_references.as_ref().expect("owned")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("TlsContext", "teams-tls")
    );
    assert_eq!(Some(owner.uid.clone()), tls.metadata.uid);
    // The key stayed: the CSR is for the key the device holds (2048 bits,
    // as keySize asks), and no key was generated or uploaded.
    let device = &h.sim().device;
    let factory = device.tls.certificate(1).expect("factory certificate");
    let factory_cert = pem::Certificate::from_der(&factory, 0).expect("x509");
    assert!(
        parsed.matches(&factory_cert),
        "the CSR is for the device's key"
    );
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("POST", "/api/v1/files/tls/1/privateKey/generate"),
        0,
        "{counts:?}"
    );
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/privateKey"),
        0,
        "{counts:?}"
    );
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/certificate"),
        0,
        "{counts:?}"
    );

    // While it waits: Ready=False naming the request, published CSR.
    let tls = h.wait_ready_reason("CertificateRequestPending").await;
    let status = tls.status.clone().expect("status");
    let ready = find_condition(&status.conditions, ConditionType::Ready).expect("Ready");
    assert!(ready.message.contains(&name), "{}", ready.message);
    assert!(find_condition(&status.conditions, ConditionType::Reconciling).is_some());
    let flight = status.certificate_request.clone().expect("in flight");
    assert_eq!(
        (flight.name.as_str(), flight.state.as_str()),
        (name.as_str(), "Pending")
    );
    let published = h.published("teams-tls-csr").expect("published Secret");
    assert_eq!(published.get("tls.csr").map(|c| c.trim()), Some(csr.trim()));
    assert!(!published.contains_key("tls.crt"));

    // The issuer signs: the watch brings the certificate to the device.
    let started = Instant::now();
    let cert = h.sign(&ca, &name, 90).await;
    h.wait("the signed certificate on the device", || {
        (device.tls.certificate(1)? == der_of(&cert)).then_some(())
    })
    .await;
    let took = started.elapsed();
    eprintln!("signed certificate reached the device in {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(device.tls.key_status(1).expect("key").valid);
    let tls = h
        .wait_condition(ConditionType::Ready, ConditionStatus::True)
        .await;
    let status = tls.status.clone().expect("status");
    assert_eq!(
        status.certificate.as_ref().map(|c| c.fingerprint.clone()),
        Some(pem::fingerprint(&der_of(&cert)))
    );
    assert_eq!(
        status
            .certificate_request
            .as_ref()
            .map(|r| r.state.as_str()),
        Some("Issued")
    );
    let published = h
        .wait("the chain published", || {
            h.published("teams-tls-csr")
                .filter(|p| p.contains_key("tls.crt"))
        })
        .await;
    assert_eq!(published.get("tls.crt"), Some(&cert));
    assert_eq!(published.get("ca.crt"), Some(&ca.cert_pem));
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/certificate"),
        1,
        "{counts:?}"
    );
    assert!(
        counts.count("POST", "/api/v1/actions/saveConfiguration") >= 1,
        "saved after the upload: {counts:?}"
    );

    // In sync: resyncs every 700 ms make no device write, no new request,
    // no Secret or status write.
    device.counters.reset();
    h.server.clear_requests();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let counts = device.counters.snapshot();
    assert_eq!(counts.writes, 0, "{counts:?}");
    assert!(
        counts.count("GET", "/api/v1/files/tls/1/certificate") >= 2,
        "resyncs happened: {counts:?}"
    );
    assert_eq!(h.requests().len(), 1);
    assert_eq!(h.server.writes("certificaterequests"), 0);
    assert_eq!(h.server.writes("secrets"), 0);
    assert_eq!(h.server.writes("tlscontexts"), 0, "no status churn");

    // No private key anywhere the operator writes.
    let shown = format!(
        "{}\n{:?}\n{:?}\n{:?}\n{}",
        serde_json::to_string(&h.tls()).expect("json"),
        h.events(),
        h.requests(),
        h.published("teams-tls-csr"),
        logs.text()
    );
    assert!(!shown.contains("PRIVATE KEY"), "key material shown");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_request_is_named_in_the_conditions_and_nothing_is_uploaded() {
    let h = csr_harness().await;
    // A context created for it (by name), as in the real-server suite.
    let mut spec = csr_spec(json!({}));
    spec["context"] = json!({"name": "Strict"});
    h.create_tls(spec).await;
    let name = h.wait_requests(1).await[0]
        .metadata
        .name
        .clone()
        .expect("name");
    h.set_request_status(
        &name,
        json!({
            "conditions": [
                {"type": "Denied", "status": "True", "reason": "PolicyDenied", "message": "sbc.example.com is not allowed by approver policy"},
                {"type": "Ready", "status": "False", "reason": "Denied", "message": "The CertificateRequest was denied by an approval controller"},
            ],
        }),
    )
    .await;
    let tls = h
        .wait_condition(ConditionType::Stalled, ConditionStatus::True)
        .await;
    let status = tls.status.expect("status");
    for t in [ConditionType::Stalled, ConditionType::Ready] {
        let c = find_condition(&status.conditions, t).expect("condition");
        assert_eq!(c.reason, "CertificateRequestDenied", "{t}");
        assert!(c.message.contains(&name), "{}", c.message);
        assert!(
            c.message.contains("not allowed by approver policy"),
            "{}",
            c.message
        );
    }
    assert_eq!(
        status.certificate_request.map(|r| r.state),
        Some("Denied".to_string())
    );
    let id = status.context_index.expect("the context's index");
    assert_eq!(
        status.context.as_deref(),
        Some(format!("{id} (Strict)").as_str())
    );
    let device = &h.sim().device;
    let counts = device.counters.snapshot();
    let path = |file: &str| format!("/api/v1/files/tls/{id}/{file}");
    assert_eq!(counts.count("PUT", &path("certificate")), 0, "{counts:?}");
    assert_eq!(counts.count("PUT", &path("privateKey")), 0, "{counts:?}");
    assert!(
        pem::Certificate::from_der(&device.tls.certificate(id).expect("cert"), 0)
            .expect("x509")
            .is_self_issued(),
        "the factory certificate stays"
    );
    // Denied is final: no second request while it stands.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.requests().len(), 1);

    // Deleting it asks again, for the same key (rotateKey is false).
    let first_csr = h.requests()[0].spec.request.0.clone();
    Api::<CertificateRequest>::namespaced(h.server.client(), NS)
        .delete(&name, &Default::default())
        .await
        .expect("deleted");
    let again = h
        .wait("a new request", || {
            let all = h.requests();
            all.iter()
                .find(|r| r.status.is_none())
                .and_then(|r| r.metadata.name.clone())
        })
        .await;
    let second = h
        .requests()
        .into_iter()
        .find(|r| r.metadata.name.as_deref() == Some(again.as_str()))
        .expect("the new request");
    assert_eq!(
        csr_public_key(&String::from_utf8(second.spec.request.0).expect("PEM")),
        csr_public_key(&String::from_utf8(first_csr).expect("PEM")),
        "the same device key"
    );
    let cert = h.sign(&Ca::new("Voice CA"), &again, 90).await;
    h.wait("the certificate on the device", || {
        (device.tls.certificate(id)? == der_of(&cert)).then_some(())
    })
    .await;
    let tls = h
        .wait_condition(ConditionType::Ready, ConditionStatus::True)
        .await;
    let conditions = tls.status.expect("status").conditions;
    assert!(
        find_condition(&conditions, ConditionType::Stalled).is_none(),
        "{conditions:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_generates_a_fresh_key_before_each_csr_and_renews_before_expiry() {
    let h = csr_harness().await;
    let ca = Ca::new("Voice CA");
    let device = &h.sim().device;
    // As the example: a context created by name, a fresh key each time.
    let mut spec = csr_spec(json!({"keySize": 1024, "rotateKey": true}));
    spec["context"] = json!({"name": "Carrier"});
    h.create_tls(spec).await;
    let first = h.wait_requests(1).await.remove(0);
    let id = h
        .wait("the context's index", || h.tls().status?.context_index)
        .await;
    assert_ne!(id, 1, "Carrier is a new context, not Teams");
    let generate = format!("/api/v1/files/tls/{id}/privateKey/generate");
    let csr1 = String::from_utf8(first.spec.request.0.clone()).expect("PEM");
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("POST", &generate),
        1,
        "a fresh key before the first CSR: {counts:?}"
    );
    assert_eq!(device.tls.key_status(id).expect("key").size, 1024);
    let name1 = first.metadata.name.clone().expect("name");
    // Valid 10 days (240 h); renewBefore 720h is not shorter than that, so
    // renewal is due at two thirds: not yet.
    let cert1 = h.sign(&ca, &name1, 10).await;
    h.wait("the first certificate on the device", || {
        (device.tls.certificate(id)? == der_of(&cert1)).then_some(())
    })
    .await;
    h.wait_condition(ConditionType::Ready, ConditionStatus::True)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status_writes = h.server.writes("tlscontexts");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.requests().len(), 1, "not due yet");
    assert_eq!(
        h.server.writes("tlscontexts"),
        status_writes,
        "no status churn: {:#?}",
        h.tls().status
    );

    // renewBefore just over the time left: due now. A new key first, then
    // a CSR for it.
    let api = Api::<TlsContext>::namespaced(h.server.client(), NS);
    api.patch(
        "teams-tls",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"certificate": {"generateOnDevice": {"certificateRequest": {"renewBefore": "240h30m"}}}}})),
    )
    .await
    .expect("spec patched");
    let all = h.wait_requests(2).await;
    let second = all
        .iter()
        .find(|r| r.metadata.name.as_deref() != Some(name1.as_str()))
        .expect("a second request");
    let csr2 = String::from_utf8(second.spec.request.0.clone()).expect("PEM");
    assert_ne!(csr_public_key(&csr1), csr_public_key(&csr2), "a fresh key");
    let counts = device.counters.snapshot();
    assert_eq!(counts.count("POST", &generate), 2, "{counts:?}");
    let name2 = second.metadata.name.clone().expect("name");
    let cert2 = h.sign(&ca, &name2, 90).await;
    h.wait("the renewed certificate on the device", || {
        (device.tls.certificate(id)? == der_of(&cert2)).then_some(())
    })
    .await;
    let renewed = pem::Certificate::from_der(&der_of(&cert2), 0).expect("x509");
    assert!(
        pem::SigningRequest::parse(&csr2)
            .expect("csr")
            .matches(&renewed)
    );
    h.wait_condition(ConditionType::Ready, ConditionStatus::True)
        .await;
    device.counters.reset();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(device.counters.snapshot().writes, 0);
    assert_eq!(h.requests().len(), 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cert_manager_the_csr_flow_says_so_and_retries() {
    let h = csr_harness_with(false).await;
    h.create_tls(csr_spec(json!({}))).await;
    let tls = h
        .wait_condition(ConditionType::Reconciling, ConditionStatus::True)
        .await;
    let status = tls.status.expect("status");
    let c = find_condition(&status.conditions, ConditionType::Reconciling).expect("Reconciling");
    assert_eq!(c.reason, "KubeApiError");
    assert!(c.message.contains("install cert-manager"), "{}", c.message);
    assert!(find_condition(&status.conditions, ConditionType::Stalled).is_none());
    let counts = h.sim().device.counters.snapshot();
    let tls_writes: Vec<&String> = counts
        .requests
        .keys()
        .filter(|k| k.contains("/files/tls") && !k.starts_with("GET "))
        .collect();
    assert!(
        tls_writes.is_empty(),
        "nothing sent for the context: {counts:?}"
    );
    // The recheck for cert-manager (every 60 s by default) does not hold
    // the shutdown up.
    let took = h.stop_and_join().await;
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// A loopback port that accepts connections and closes them at once,
/// counting them: a device that is down.
async fn down_device() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, accepted)
}

/// The gap left at stop 8: cert-manager installed after the operator
/// started. The CertificateRequest type is not served at start (the double
/// answers 404, as kube-apiserver does for an uninstalled CRD); once it is
/// registered, the controller notices within its recheck (200 ms here),
/// rebuilds itself with the CertificateRequest watch, retries the waiting
/// context at once (its backoff is 10–20 s here), and the signed
/// certificate reaches the device in seconds — not at the 60 s interval.
/// A context failing for another reason keeps its backoff across the
/// rebuild: its device is not contacted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_manager_installed_later_is_followed_without_a_restart() {
    let logs = Logs::capture();
    let h = Harness::start_configured(
        false,
        ControllerConfig {
            interval_override: Some(Duration::from_secs(60)),
            backoff_base: Duration::from_secs(20),
            backoff_max: Duration::from_secs(60),
            cert_manager_recheck: Duration::from_millis(200),
            ..ControllerConfig::default()
        },
    )
    .await;
    let ca = Ca::new("Voice CA");
    h.put_secret(
        "sbc-admin",
        "Opaque",
        &[("username", "Admin"), ("password", "Admin")],
    )
    .await;
    h.create_device().await;

    // A second device, down, with a context from a Secret: it fails and
    // backs off (10–20 s).
    let (down_url, accepted) = down_device().await;
    let mut down = MediantDevice::new("sbc-down", MediantDeviceSpec::new(&down_url, "sbc-admin"));
    down.metadata.namespace = Some(NS.into());
    Api::<MediantDevice>::namespaced(h.server.client(), NS)
        .create(&PostParams::default(), &down)
        .await
        .expect("device created");
    let key = rsa_key(1024);
    h.put_secret(
        "down-cert",
        "kubernetes.io/tls",
        &[
            ("tls.key", &pkcs1_pem(&key)),
            ("tls.crt", &ca.issue(&key, "down.example.com", 90)),
        ],
    )
    .await;
    h.create_tls_named(
        "down-tls",
        json!({
            "deviceRef": {"name": "sbc-down"},
            "context": {"index": 1},
            "certificate": {"secretRef": {"name": "down-cert"}},
        }),
    )
    .await;

    // The CSR context: without cert-manager it says so and backs off.
    h.create_tls(csr_spec(json!({}))).await;
    let tls = h
        .wait_condition(ConditionType::Reconciling, ConditionStatus::True)
        .await;
    let c = find_condition(
        &tls.status.expect("status").conditions,
        ConditionType::Reconciling,
    )
    .cloned()
    .expect("Reconciling");
    assert_eq!(c.reason, "KubeApiError", "{c:?}");
    assert!(c.message.contains("install cert-manager"), "{}", c.message);
    let down_status = h
        .wait("the down context failing", || {
            let tls = h.server.get::<TlsContext>(Some(NS), "down-tls")?;
            let s = tls.status?;
            let c = find_condition(&s.conditions, ConditionType::Reconciling)?;
            (c.status == ConditionStatus::True).then_some(s)
        })
        .await;
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the down device was tried"
    );
    assert!(
        h.server.count(Verb::Watch, "certificaterequests") == 0,
        "an unserved API is not watched"
    );
    // Let every first attempt and its status write settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tried = accepted.load(Ordering::SeqCst);

    // cert-manager is installed.
    let installed = Instant::now();
    h.server
        .register(ResourceType::custom::<CertificateRequest>().with_status_subresource());
    h.wait("the CertificateRequest watch", || {
        h.server
            .requests()
            .iter()
            .any(|r| r.verb == Verb::Watch && r.is_for("certificaterequests") && r.code == 200)
            .then_some(())
    })
    .await;
    let watching = installed.elapsed();
    let cr = h.wait_requests(1).await.remove(0);
    let requested = installed.elapsed();
    assert!(
        requested < Duration::from_secs(5),
        "the waiting context was retried at once, not after its backoff: {requested:?}"
    );

    // The issuer signs: the watch brings the certificate to the device.
    let name = cr.metadata.name.clone().expect("name");
    let signed = Instant::now();
    let cert = h.sign(&ca, &name, 90).await;
    let device = &h.sim().device;
    h.wait("the signed certificate on the device", || {
        (device.tls.certificate(1)? == der_of(&cert)).then_some(())
    })
    .await;
    let delivered = signed.elapsed();
    eprintln!(
        "after registration: watch after {watching:?}, request after {requested:?}; certificate on the device {delivered:?} after signing ({:?} after registration)",
        installed.elapsed()
    );
    assert!(
        delivered < Duration::from_secs(5),
        "through the watch, not the 60 s interval: {delivered:?}"
    );
    h.wait_condition(ConditionType::Ready, ConditionStatus::True)
        .await;

    // The other context kept its backoff: its device was not contacted
    // again, and its status (with its retryAt) is as it was.
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        tried,
        "the down device was not retried early"
    );
    let after = h
        .server
        .get::<TlsContext>(Some(NS), "down-tls")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(after, down_status, "its status is unchanged");
    let text = logs.text();
    assert_eq!(
        text.matches("CertificateRequests are served now: following them")
            .count(),
        1,
        "noticed once"
    );
    assert!(
        text.contains("checked again every 0.2 s"),
        "the warning says when"
    );
    assert!(!text.contains("restart the operator"));
    // The rebuilt controller ends on the operator's shutdown.
    let took = h.stop_and_join().await;
    assert!(took < Duration::from_secs(2), "{took:?}");
}
