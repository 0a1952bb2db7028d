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
use mediant_operator::controller::{ControllerConfig, ControllerError, Metrics, run_controller};
use mediant_operator::simulator::{Fleet, FleetConfig, SimulatedDevice};

use support::apiserver::{ApiServer, ResourceType};
use tls_common::{Ca, pkcs1_pem, rsa_key};

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
        let server = ApiServer::start().await;
        server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
        server.register(ResourceType::custom::<TlsContext>().with_status_subresource());
        let fleet = Fleet::start(FleetConfig {
            devices: 1,
            reset_time: Duration::from_millis(300),
            ..FleetConfig::default()
        })
        .await
        .expect("simulator starts");
        let metrics = Metrics::new();
        let ready = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ControllerConfig {
            interval_override: Some(interval),
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
            ..ControllerConfig::default()
        };
        let task = tokio::spawn(run_controller(
            server.client(),
            config,
            Arc::clone(&metrics),
            Arc::clone(&ready),
            async move {
                let _ = stopped.await;
            },
        ));
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
        let tls: TlsContext = serde_json::from_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "TlsContext",
            "metadata": {"name": "teams-tls", "namespace": NS},
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
