//! The MediantDevice controller end to end: the real `kube` client and
//! kube-runtime `Controller` over HTTP against the in-process API server
//! double, and simulated devices over HTTP.
//!
//! What is expected comes from the issue and the documents: kstatus
//! conditions (`Ready`, `Stalled`, `Reconciling`, `observedGeneration`), the
//! device's REST API (401 for wrong credentials), and "in sync means zero
//! write requests" (DESIGN.md), counted on both sides: the simulator's
//! request counters and the API server's request log.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use mediant_operator::api::{
    Condition, ConditionStatus, ConditionType, IniSpec, MediantDevice, MediantDeviceSpec,
    find_condition,
};
use mediant_operator::controller::{ControllerConfig, ControllerError, Metrics, run_controller};
use mediant_operator::simulator::{Fleet, FleetConfig, SimulatedDevice};

use support::apiserver::{ApiServer, ResourceType, Verb};

const NS: &str = "voice";
const SECRET: &str = "sbc-admin";
const DESIRED_INI: &str =
    "[SYSTEM Params]\nGWDEBUGLEVEL = 7\nSyslogServerIP = 10.9.8.7\nEnableSyslog = 1\n";
/// Generous: a reconcile with device retries can take several seconds.
const WAIT: Duration = Duration::from_secs(20);

/// The API server, simulated devices and a running controller.
struct Harness {
    server: ApiServer,
    fleet: Fleet,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ControllerError>>>,
}

/// Settings with short periods, so a test sees several resyncs and retries.
fn fast(interval: Duration) -> ControllerConfig {
    ControllerConfig {
        interval_override: Some(interval),
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        ..ControllerConfig::default()
    }
}

impl Harness {
    async fn start(devices: usize, config: ControllerConfig) -> Harness {
        Self::start_with(devices, config, ResourceType::custom::<MediantDevice>()).await
    }

    async fn start_with(devices: usize, config: ControllerConfig, crd: ResourceType) -> Harness {
        let server = ApiServer::start().await;
        server.register(crd.with_status_subresource());
        server.register(
            ResourceType::custom::<mediant_operator::api::LicenseEntitlement>()
                .with_status_subresource(),
        );
        let fleet = Fleet::start(FleetConfig {
            devices,
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
        let h = Harness {
            server,
            fleet,
            metrics,
            ready,
            stop: Some(stop),
            task: Some(task),
        };
        let started = Instant::now();
        while !h.ready.load(Ordering::SeqCst) {
            let finished = h.task.as_ref().is_some_and(|t| t.is_finished());
            if finished || started.elapsed() > WAIT {
                let mut h = h;
                let result = match h.task.take() {
                    Some(t) if finished => format!("{:?}", t.await),
                    _ => "still running".into(),
                };
                let log: Vec<String> = h.server.requests().iter().map(|r| r.to_string()).collect();
                panic!("the controller did not become ready: {result}; requests: {log:#?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        h
    }

    fn sim(&self, i: usize) -> &SimulatedDevice {
        &self.fleet.devices()[i]
    }

    fn devices(&self) -> Api<MediantDevice> {
        Api::namespaced(self.server.client(), NS)
    }

    async fn create_secret(&self, name: &str, user: &str, password: &str) {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(NS.into()),
                ..ObjectMeta::default()
            },
            string_data: Some(BTreeMap::from([
                ("username".to_owned(), user.to_owned()),
                ("password".to_owned(), password.to_owned()),
            ])),
            ..Secret::default()
        };
        Api::<Secret>::namespaced(self.server.client(), NS)
            .create(&PostParams::default(), &secret)
            .await
            .expect("secret created");
    }

    async fn create_device(&self, name: &str, endpoint: &str, ini: &str) -> MediantDevice {
        let mut spec = MediantDeviceSpec::new(endpoint, SECRET);
        spec.ini = Some(IniSpec {
            inline: Some(ini.into()),
            ..IniSpec::default()
        });
        let mut device = MediantDevice::new(name, spec);
        device.metadata.namespace = Some(NS.into());
        self.devices()
            .create(&PostParams::default(), &device)
            .await
            .expect("device created")
    }

    fn get(&self, name: &str) -> MediantDevice {
        self.server
            .get::<MediantDevice>(Some(NS), name)
            .expect("device exists")
    }

    fn condition(&self, name: &str, type_: ConditionType) -> Option<Condition> {
        let d = self.get(name);
        let status = d.status?;
        find_condition(&status.conditions, type_).cloned()
    }

    /// Polls `check` until it gives a value.
    async fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = check() {
                return v;
            }
            if started.elapsed() > WAIT {
                let status = self
                    .server
                    .get_value(
                        &support::apiserver::ResourceKey::of::<MediantDevice>(),
                        Some(NS),
                        "sbc",
                    )
                    .and_then(|v| v.get("status").cloned());
                panic!("timed out waiting for {what}; status of sbc: {status:#?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until `name` has a condition of type `t` with `reason`.
    async fn wait_reason(&self, name: &str, t: ConditionType, reason: &str) -> Condition {
        self.wait(&format!("{t} with reason {reason}"), || {
            self.condition(name, t).filter(|c| c.reason == reason)
        })
        .await
    }

    /// Waits until `name` is Ready=True for its current generation.
    async fn wait_ready(&self, name: &str) -> MediantDevice {
        self.wait("Ready=True at the current generation", || {
            let d = self.get(name);
            let status = d.status.as_ref()?;
            let ready = find_condition(&status.conditions, ConditionType::Ready)?;
            (ready.status == ConditionStatus::True
                && status.observed_generation == d.metadata.generation
                && ready.observed_generation == d.metadata.generation)
                .then(|| d.clone())
        })
        .await
    }

    /// The value of a counter in the metrics text, 0 when absent.
    fn metric(&self, series: &str) -> f64 {
        self.metrics
            .encode()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    fn events(&self, reason: &str) -> Vec<K8sEvent> {
        self.server
            .list::<K8sEvent>(Some(NS))
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .collect()
    }

    /// Ends the controller without waiting for running reconciliations
    /// (a graceful stop would wait out a device's retries).
    async fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.server.stop().await;
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the controller stops on shutdown")
                .expect("no panic");
            result.expect("the controller ends cleanly");
        }
        self.server.stop().await;
    }
}

fn param(sim: &SimulatedDevice, name: &str) -> Option<String> {
    sim.device.running().param(name).map(|p| p.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_converges_and_reports_ready_for_its_generation() {
    let h = Harness::start(1, fast(Duration::from_secs(30))).await;
    // The seed differs in two of the three declared values.
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("5"));
    assert_eq!(
        param(h.sim(0), "SyslogServerIP").as_deref(),
        Some("10.4.2.10")
    );
    h.create_secret(SECRET, "Admin", "Admin").await;
    h.create_device("sbc", &h.sim(0).base_url, DESIRED_INI)
        .await;

    let d = h.wait_ready("sbc").await;
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("7"));
    assert_eq!(
        param(h.sim(0), "SyslogServerIP").as_deref(),
        Some("10.9.8.7")
    );
    assert_eq!(param(h.sim(0), "EnableSyslog").as_deref(), Some("1"));
    // The device saved what it took: a restart keeps it.
    let saved = h.sim(0).device.startup();
    assert_eq!(
        saved.param("GWDebugLevel").map(|p| p.value.as_str()),
        Some("7")
    );

    let status = d.status.expect("status");
    for t in [ConditionType::Reachable, ConditionType::Synced] {
        let c = find_condition(&status.conditions, t).expect("condition");
        assert_eq!(c.status, ConditionStatus::True, "{t}: {c:?}");
    }
    for t in [ConditionType::Stalled, ConditionType::Reconciling] {
        assert!(
            find_condition(&status.conditions, t).is_none(),
            "{t} is abnormal-true"
        );
    }
    let facts = status.device.expect("device facts");
    assert_eq!(facts.product, h.sim(0).device.info.product);
    assert_eq!(facts.serial, h.sim(0).device.info.serial_number);
    assert_eq!(facts.version, h.sim(0).device.info.software_version);
    assert_eq!(status.drift.map(|d| d.count), Some(0));
    let revision = status.last_applied_revision.expect("revision");
    assert!(
        revision.starts_with("hmac-sha256:") && revision.len() == 76,
        "{revision}"
    );
    assert!(status.last_sync_time.is_some());

    // One Applied event naming keys, never values; metrics by bounded labels.
    let applied = h.events("Applied");
    assert_eq!(applied.len(), 1, "{applied:?}");
    let note = applied[0].note.clone().unwrap_or_default();
    assert!(
        note.contains("2 setting(s)") && note.to_lowercase().contains("gwdebuglevel"),
        "{note}"
    );
    assert!(
        !note.contains("10.9.8.7"),
        "values stay out of events: {note}"
    );
    // The reconcile is counted when it returns, just after its status write.
    let success = r#"mediant_reconciles_total{kind="MediantDevice",result="success"}"#;
    h.wait("a successful reconcile counted", || {
        (h.metric(success) >= 1.0).then_some(())
    })
    .await;
    assert!(h.metric(r#"mediant_device_requests_total{code="200"}"#) >= 4.0);
    assert_eq!(h.metric("mediant_devices_ready"), 1.0);
    assert_eq!(
        h.metric(r#"mediant_device_drift{namespace="voice",name="sbc"}"#),
        0.0
    );
    assert_eq!(
        h.metric(r#"mediant_device_ready{namespace="voice",name="sbc"}"#),
        1.0
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_edit_is_applied_and_observed_at_the_new_generation() {
    let h = Harness::start(1, fast(Duration::from_secs(30))).await;
    h.create_secret(SECRET, "Admin", "Admin").await;
    h.create_device("sbc", &h.sim(0).base_url, DESIRED_INI)
        .await;
    let first = h.wait_ready("sbc").await;
    let first_revision = first.status.and_then(|s| s.last_applied_revision);

    let patch = json!({"spec": {"ini": {"inline": "[SYSTEM Params]\nGWDEBUGLEVEL = 3\n"}}});
    let edited = h
        .devices()
        .patch("sbc", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("spec edited");
    assert_eq!(edited.metadata.generation, Some(2));
    let d = h.wait_ready("sbc").await;
    assert_eq!(
        d.status.as_ref().and_then(|s| s.observed_generation),
        Some(2)
    );
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("3"));
    // Only declared state is managed: what the edit no longer declares stays.
    assert_eq!(
        param(h.sim(0), "SyslogServerIP").as_deref(),
        Some("10.9.8.7")
    );
    assert_ne!(
        d.status.and_then(|s| s.last_applied_revision),
        first_revision
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_named_and_nothing_reaches_the_device_until_it_exists() {
    // A backoff far beyond the test's patience: only the watch on Secrets
    // can bring the device back before it.
    let config = ControllerConfig {
        backoff_base: Duration::from_secs(120),
        backoff_max: Duration::from_secs(120),
        ..fast(Duration::from_secs(30))
    };
    let h = Harness::start(1, config).await;
    h.create_device("sbc", &h.sim(0).base_url, DESIRED_INI)
        .await;

    let ready = h
        .wait_reason("sbc", ConditionType::Ready, "SecretNotFound")
        .await;
    assert_eq!(ready.status, ConditionStatus::False);
    assert!(ready.message.contains(SECRET), "{}", ready.message);
    assert!(ready.message.contains(NS), "{}", ready.message);
    let stalled = h.condition("sbc", ConditionType::Stalled).expect("Stalled");
    assert_eq!(
        (stalled.status, stalled.reason.as_str()),
        (ConditionStatus::True, "SecretNotFound")
    );
    let d = h.get("sbc");
    assert_eq!(d.status.and_then(|s| s.observed_generation), Some(1));
    // A Warning event with the category as reason.
    let events = h.events("SecretNotFound");
    assert!(!events.is_empty());
    assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    // The device hears nothing at all.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let counters = h.sim(0).device.counters.snapshot();
    assert_eq!(counters.total, 0, "{counters:?}");
    assert!(
        h.metric(
            r#"mediant_reconcile_errors_total{kind="MediantDevice",category="SecretNotFound"}"#
        ) >= 1.0
    );

    // Creating the Secret requeues the device (watch on Secrets) and it
    // converges long before the backoff would have retried.
    let created = Instant::now();
    h.create_secret(SECRET, "Admin", "Admin").await;
    h.wait_ready("sbc").await;
    assert!(created.elapsed() < Duration::from_secs(20));
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("7"));
    assert!(h.condition("sbc", ConditionType::Stalled).is_none());
    h.stop().await;
}

/// A TCP port that accepts connections and closes them at once (a device
/// whose web server is down), recording when each connection came.
async fn dead_port() -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            log.lock().expect("log").push(Instant::now());
            drop(socket);
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_device_is_reported_and_retried_after_a_backoff() {
    let config = ControllerConfig {
        backoff_base: Duration::from_secs(2),
        ..fast(Duration::from_secs(30))
    };
    let h = Harness::start(1, config).await;
    let (addr, connections) = dead_port().await;
    h.create_secret(SECRET, "Admin", "Admin").await;
    h.create_device("sbc", &format!("http://{addr}"), DESIRED_INI)
        .await;

    let errors = r#"mediant_reconcile_errors_total{kind="MediantDevice",category="Unreachable"}"#;
    let first_failure = h
        .wait("the first failed reconcile", || {
            (h.metric(errors) >= 1.0).then(Instant::now)
        })
        .await;
    let reachable = h
        .wait("Reachable=False", || {
            h.condition("sbc", ConditionType::Reachable)
                .filter(|c| c.status == ConditionStatus::False)
        })
        .await;
    assert_eq!(reachable.reason, "Unreachable");
    assert!(
        reachable.message.contains("unreachable"),
        "{}",
        reachable.message
    );
    let reconciling = h
        .condition("sbc", ConditionType::Reconciling)
        .expect("Reconciling");
    assert_eq!(reconciling.status, ConditionStatus::True);
    assert!(
        h.condition("sbc", ConditionType::Stalled).is_none(),
        "time fixes this, not the user"
    );
    let ready = h.condition("sbc", ConditionType::Ready).expect("Ready");
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "Unreachable")
    );

    // The next attempt waits for the backoff (2 s base, equal jitter: at
    // least 1 s), even though the status write just changed the object.
    let next_attempt = h
        .wait("the second attempt", || {
            connections
                .lock()
                .expect("log")
                .iter()
                .copied()
                .find(|t| *t > first_failure)
        })
        .await;
    let gap = next_attempt.duration_since(first_failure);
    assert!(
        gap >= Duration::from_millis(950),
        "retried after only {gap:?}"
    );
    h.abort().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_over_several_resyncs_sends_no_writes_anywhere() {
    let h = Harness::start(1, fast(Duration::from_millis(300))).await;
    h.create_secret(SECRET, "Admin", "Admin").await;
    h.create_device("sbc", &h.sim(0).base_url, DESIRED_INI)
        .await;
    h.wait_ready("sbc").await;
    // Let the echo of the last status write pass, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.server.clear_requests();
    h.sim(0).device.counters.reset();
    let (running, startup) = (h.sim(0).device.running(), h.sim(0).device.startup());
    let success = r#"mediant_reconciles_total{kind="MediantDevice",result="success"}"#;
    let before = h.metric(success);

    tokio::time::sleep(Duration::from_secs(3)).await;

    let resyncs = h.metric(success) - before;
    assert!(
        resyncs >= 5.0,
        "only {resyncs} resyncs in 3 s at a 300 ms interval"
    );
    let counters = h.sim(0).device.counters.snapshot();
    assert_eq!(counters.writes, 0, "{counters:?}");
    let writes: Vec<String> = counters
        .requests
        .keys()
        .filter(|k| !k.starts_with("GET "))
        .cloned()
        .collect();
    assert!(
        writes.is_empty(),
        "only reads reach the device: {counters:?}"
    );
    assert_eq!(*h.sim(0).device.running(), *running, "running untouched");
    assert_eq!(*h.sim(0).device.startup(), *startup, "startup untouched");
    // Only the reads that observe: /status and the INI file, once per resync
    // (plus the alarm count once per interval).
    let status_reads = counters.count("GET", "/api/v1/status");
    assert!(
        status_reads as f64 >= resyncs && status_reads as f64 <= resyncs + 1.0,
        "{counters:?}"
    );
    // Every request the API server answered, of any verb and resource: none
    // is a write (no status patch, no event, no Lease or finalizer update).
    let log = h.server.requests();
    let api_writes: Vec<String> = log
        .iter()
        .filter(|r| r.verb.is_write() || r.verb == Verb::Other)
        .map(ToString::to_string)
        .collect();
    assert!(
        api_writes.is_empty(),
        "API writes in steady state: {api_writes:#?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_device_does_not_take_is_reported_and_not_resent_every_resync() {
    // A Mediant accepts and ignores scalar parameters it does not know.
    let h = Harness::start(1, fast(Duration::from_millis(300))).await;
    h.create_secret(SECRET, "Admin", "Admin").await;
    h.create_device(
        "sbc",
        &h.sim(0).base_url,
        "[SYSTEM Params]\nGWDEBUGLEVEL = 7\nNoSuchParameter = 1\n",
    )
    .await;
    let synced = h
        .wait_reason("sbc", ConditionType::Synced, "NotTaken")
        .await;
    assert_eq!(synced.status, ConditionStatus::False);
    assert!(
        synced.message.contains("NoSuchParameter"),
        "{}",
        synced.message
    );
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("7"));
    let applied = h.events("Applied");
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert!(
        applied[0]
            .note
            .as_deref()
            .is_some_and(|n| n.contains("did not take")),
        "{applied:?}"
    );

    h.sim(0).device.counters.reset();
    let success = r#"mediant_reconciles_total{kind="MediantDevice",result="success"}"#;
    let before = h.metric(success);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(h.metric(success) - before >= 3.0, "resyncs happened");
    let counters = h.sim(0).device.counters.snapshot();
    assert_eq!(
        counters.writes, 0,
        "the same refused change is not resent: {counters:?}"
    );
    assert_eq!(h.events("Applied").len(), 1, "no event per resync");
    let still = h.condition("sbc", ConditionType::Synced).expect("Synced");
    assert_eq!(still.reason, "NotTaken", "still reported");
    // Why, on every check, not only after the write: a parameter missing
    // from the dump is at its default or unknown (spec.ini.defaults).
    assert!(
        still.message.contains("spec.ini.defaults") && still.message.contains("spelling"),
        "{}",
        still.message
    );
    assert!(
        applied[0]
            .note
            .as_deref()
            .is_some_and(|n| n.contains("spec.ini.defaults")),
        "{applied:?}"
    );

    // A spec edit is a new attempt.
    let patch = json!({"spec": {"ini": {"inline": "[SYSTEM Params]\nGWDEBUGLEVEL = 3\nNoSuchParameter = 1\n"}}});
    h.devices()
        .patch("sbc", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("edited");
    h.wait("the edit applied", || {
        (param(h.sim(0), "GWDebugLevel").as_deref() == Some("3")).then_some(())
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_password_in_the_secret_is_picked_up_after_growing_retries() {
    let h = Harness::start(1, fast(Duration::from_secs(30))).await;
    h.create_secret(SECRET, "Admin", "wrong-password").await;
    h.create_device("sbc", &h.sim(0).base_url, DESIRED_INI)
        .await;

    let reachable = h
        .wait_reason("sbc", ConditionType::Reachable, "Unauthorized")
        .await;
    assert_eq!(reachable.status, ConditionStatus::False);
    assert!(!reachable.message.contains("wrong-password"));
    let stalled = h.condition("sbc", ConditionType::Stalled).expect("Stalled");
    assert_eq!(stalled.reason, "Unauthorized");

    // Retries slow down: 200 ms doubling to a 2 s cap is at most ~7 attempts
    // in 3 s (equal jitter: each delay at least half its ceiling).
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut last = h
        .sim(0)
        .device
        .counters
        .snapshot()
        .count("GET", "/api/v1/status");
    while started.elapsed() < Duration::from_secs(3) {
        let now = h
            .sim(0)
            .device
            .counters
            .snapshot()
            .count("GET", "/api/v1/status");
        if now != last {
            seen.push(Instant::now());
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        (2..=8).contains(&seen.len()),
        "{} attempts in 3 s",
        seen.len()
    );
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.last() > gaps.first(), "delays grow: {gaps:?}");
    assert_eq!(h.sim(0).device.counters.snapshot().writes, 0);

    // The fixed Secret is picked up (how fast is the next test's concern).
    let fixed = json!({"stringData": {"password": "Admin"}});
    Api::<Secret>::namespaced(h.server.client(), NS)
        .patch(SECRET, &PatchParams::default(), &Patch::Merge(&fixed))
        .await
        .expect("secret fixed");
    h.wait_ready("sbc").await;
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("7"));
    let reachable = h
        .condition("sbc", ConditionType::Reachable)
        .expect("Reachable");
    assert_eq!(reachable.status, ConditionStatus::True);
    assert!(h.condition("sbc", ConditionType::Stalled).is_none());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_password_requeues_the_device_at_once_not_after_the_backoff() {
    // A backoff (and interval) far beyond the bound below: only the watch on
    // Secrets can bring the device back within it.
    let config = ControllerConfig {
        backoff_base: Duration::from_secs(120),
        backoff_max: Duration::from_secs(120),
        ..fast(Duration::from_secs(600))
    };
    let h = Harness::start(1, config).await;
    h.create_secret(SECRET, "Admin", "wrong-password").await;
    h.create_device("sbc", &h.sim(0).base_url, DESIRED_INI)
        .await;
    h.wait_reason("sbc", ConditionType::Reachable, "Unauthorized")
        .await;
    // Let the failed reconcile's status write and its echo pass: the next
    // attempt is now at least 60 s away (equal jitter on 120 s).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attempts = h
        .sim(0)
        .device
        .counters
        .snapshot()
        .count("GET", "/api/v1/status");
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("5"));

    let fixed = json!({"stringData": {"password": "Admin"}});
    let patched = Instant::now();
    Api::<Secret>::namespaced(h.server.client(), NS)
        .patch(SECRET, &PatchParams::default(), &Patch::Merge(&fixed))
        .await
        .expect("secret fixed");
    h.wait("the device to take the desired value", || {
        (param(h.sim(0), "GWDebugLevel").as_deref() == Some("7")).then_some(())
    })
    .await;
    let took = patched.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}; the backoff alone would take at least 60 s"
    );
    assert!(
        h.sim(0)
            .device
            .counters
            .snapshot()
            .count("GET", "/api/v1/status")
            > attempts
    );
    h.wait_ready("sbc").await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_stops_writes_but_drift_is_still_reported() {
    let h = Harness::start(1, fast(Duration::from_millis(300))).await;
    h.create_secret(SECRET, "Admin", "Admin").await;
    let mut spec = MediantDeviceSpec::new(&h.sim(0).base_url, SECRET);
    spec.ini = Some(IniSpec {
        inline: Some(DESIRED_INI.into()),
        ..IniSpec::default()
    });
    spec.suspend = true;
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    h.devices()
        .create(&PostParams::default(), &device)
        .await
        .expect("created");

    let synced = h
        .wait_reason("sbc", ConditionType::Synced, "Suspended")
        .await;
    assert_eq!(synced.status, ConditionStatus::False);
    let d = h.get("sbc");
    let drift = d
        .status
        .as_ref()
        .and_then(|s| s.drift.clone())
        .expect("drift");
    assert_eq!(drift.count, 2);
    assert!(
        drift
            .keys
            .iter()
            .any(|k| k.eq_ignore_ascii_case("GWDebugLevel")),
        "{drift:?}"
    );
    let ready = h.condition("sbc", ConditionType::Ready).expect("Ready");
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "Suspended")
    );
    assert_eq!(
        h.metric(r#"mediant_device_drift{namespace="voice",name="sbc"}"#),
        2.0
    );
    // Present and 0 (`metric` reads an absent series as 0 too).
    assert!(
        h.metrics
            .encode()
            .contains(r#"mediant_device_ready{namespace="voice",name="sbc"} 0"#)
    );
    // Several resyncs later: still observing, never writing, one event.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counters = h.sim(0).device.counters.snapshot();
    assert_eq!(counters.writes, 0, "{counters:?}");
    assert!(counters.count("GET", "/api/v1/status") >= 3, "{counters:?}");
    assert_eq!(h.events("DriftDetected").len(), 1);
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("5"));

    // The pause annotation holds writes back too; lifting both converges.
    let patch = json!({
        "metadata": {"annotations": {"mediant.io/paused": "true"}},
        "spec": {"suspend": false},
    });
    h.sim(0).device.counters.reset();
    let success = r#"mediant_reconciles_total{kind="MediantDevice",result="success"}"#;
    let before = h.metric(success);
    let patched = h
        .devices()
        .patch("sbc", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patched");
    assert_eq!(patched.metadata.generation, Some(2));
    // The controller has reconciled the unsuspended generation (its status
    // says so) and resynced a few times more: had it ignored the
    // annotation, the device would hold the desired value by now.
    h.wait("generation 2 observed while paused", || {
        let d = h.get("sbc");
        let status = d.status.as_ref()?;
        let synced = find_condition(&status.conditions, ConditionType::Synced)?;
        (status.observed_generation == Some(2) && synced.reason == "Suspended").then_some(())
    })
    .await;
    // Three more reconciles that looked at the device (a reconcile woken
    // by our own status write may skip the device; under load there are
    // more of those, so both counts are awaited).
    h.wait("three more observing reconciles while paused", || {
        let observed = h
            .sim(0)
            .device
            .counters
            .snapshot()
            .count("GET", "/api/v1/status");
        (h.metric(success) - before >= 3.0 && observed >= 3).then_some(())
    })
    .await;
    let counters = h.sim(0).device.counters.snapshot();
    assert_eq!(counters.writes, 0, "{counters:?}");
    assert!(counters.count("GET", "/api/v1/status") >= 3, "{counters:?}");
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("5"));
    let unpause = json!({"metadata": {"annotations": {"mediant.io/paused": null}}});
    h.devices()
        .patch("sbc", &PatchParams::default(), &Patch::Merge(&unpause))
        .await
        .expect("patched");
    h.wait_ready("sbc").await;
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("7"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_resource_gets_a_condition_and_the_good_one_still_converges() {
    // kube-apiserver accepts status writes to an object whose unchanged spec
    // no longer fits the schema (validation ratcheting); the double cannot
    // model ratcheting, so it checks no schema here.
    let crd = ResourceType::custom::<MediantDevice>().with_validator(None);
    let h = Harness::start_with(2, fast(Duration::from_secs(30)), crd).await;
    h.create_secret(SECRET, "Admin", "Admin").await;
    // `interval` must be a string and `endpoint` is required.
    h.server
        .insert_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "MediantDevice",
            "metadata": {"name": "broken", "namespace": NS},
            "spec": {
                "credentialsSecretRef": {"name": SECRET},
                "interval": 300,
                "ini": {"inline": "[SYSTEM Params]\nGWDEBUGLEVEL = 7\n"},
            },
        }))
        .expect("malformed object stored");
    h.create_device("sbc", &h.sim(0).base_url, DESIRED_INI)
        .await;

    h.wait_ready("sbc").await;
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("7"));
    let key = support::apiserver::ResourceKey::of::<MediantDevice>();
    let stalled = h
        .wait("Stalled=True InvalidSpec on the malformed object", || {
            let raw = h.server.get_value(&key, Some(NS), "broken")?;
            let conditions: Vec<Condition> =
                serde_json::from_value(raw.get("status")?.get("conditions")?.clone()).ok()?;
            conditions
                .into_iter()
                .find(|c| c.is(ConditionType::Stalled))
        })
        .await;
    assert_eq!(stalled.status, ConditionStatus::True);
    assert_eq!(stalled.reason, "InvalidSpec");
    assert!(
        stalled.message.contains("MediantDevice schema"),
        "{}",
        stalled.message
    );
    let raw = h
        .server
        .get_value(&key, Some(NS), "broken")
        .expect("stored");
    assert_eq!(raw["status"]["observedGeneration"], json!(1));
    // Nothing was sent to the other simulated device (the broken one has no endpoint).
    assert_eq!(h.sim(1).device.counters.snapshot().total, 0);
    // One status write for the malformed object: its echo does not loop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = h
        .server
        .requests()
        .iter()
        .filter(|r| r.is_for("mediantdevices/status") && r.name.as_deref() == Some("broken"))
        .filter(|r| r.verb == Verb::Patch)
        .count();
    assert_eq!(writes, 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map_edit_is_applied_without_waiting_for_the_interval() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use mediant_operator::api::ConfigMapKeyRef;

    // A 10-minute interval: only the watch on ConfigMaps can explain a change.
    let h = Harness::start(1, fast(Duration::from_secs(600))).await;
    h.create_secret(SECRET, "Admin", "Admin").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(h.server.client(), NS);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("base-config".into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "device.ini".to_owned(),
            "[SYSTEM Params]\nGWDebugLevel = 6\n".to_owned(),
        )])),
        ..ConfigMap::default()
    };
    config_maps
        .create(&PostParams::default(), &cm)
        .await
        .expect("config map created");
    let mut spec = MediantDeviceSpec::new(&h.sim(0).base_url, SECRET);
    spec.ini = Some(IniSpec {
        config_map_refs: vec![ConfigMapKeyRef {
            name: "base-config".into(),
            key: "device.ini".into(),
        }],
        ..IniSpec::default()
    });
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    h.devices()
        .create(&PostParams::default(), &device)
        .await
        .expect("created");
    let first = h.wait_ready("sbc").await;
    assert_eq!(param(h.sim(0), "GWDebugLevel").as_deref(), Some("6"));

    let edit = json!({"data": {"device.ini": "[SYSTEM Params]\nGWDebugLevel = 2\n"}});
    config_maps
        .patch("base-config", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .expect("config map edited");
    h.wait("the device takes the ConfigMap's new value", || {
        (param(h.sim(0), "GWDebugLevel").as_deref() == Some("2")).then_some(())
    })
    .await;
    // The revision follows the referenced text, though the spec is unchanged.
    let d = h.wait_ready("sbc").await;
    assert_eq!(d.metadata.generation, Some(1));
    let revision = |d: &MediantDevice| {
        d.status
            .as_ref()
            .and_then(|s| s.last_applied_revision.clone())
    };
    h.wait("a new revision", || {
        let now = h.get("sbc");
        (revision(&now) != revision(&first)).then_some(())
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_crd_the_controller_stops_at_start_and_says_so() {
    let server = ApiServer::start().await;
    let result = run_controller(
        server.client(),
        ControllerConfig::default(),
        Metrics::new(),
        Arc::new(AtomicBool::new(false)),
        std::future::pending(),
    )
    .await;
    match result {
        Err(e @ ControllerError::CrdMissing(_)) => {
            assert!(e.to_string().contains("crds/"), "{e}");
        }
        other => panic!("expected CrdMissing, got {other:?}"),
    }
    server.stop().await;
}
