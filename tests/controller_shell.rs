//! The controller process shell: leader election through a Lease, the
//! health/metrics endpoints, hand-over on shutdown — through the real kube
//! client against the in-process API server double.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use mediant_operator::api::{IniSpec, MediantDevice, MediantDeviceSpec};
use mediant_operator::controller::ControllerConfig;
use mediant_operator::controller::leader::{LeaderElector, LeaseConfig};
use mediant_operator::controller::run::{RunError, lead_and_run};
use mediant_operator::simulator::{Fleet, FleetConfig};
use support::apiserver::{ApiServer, ResourceType};
use support::free_addr;
use tokio::sync::watch;

const NS: &str = "operators";

fn lease(identity: &str, duration: Duration) -> LeaseConfig {
    LeaseConfig {
        duration,
        renew_every: Duration::from_millis(200),
        ..LeaseConfig::new("mediant-operator", NS, identity)
    }
}

async fn holder(server: &ApiServer) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(server.client(), NS);
    leases
        .get_opt("mediant-operator")
        .await
        .expect("get lease")?
        .spec?
        .holder_identity
}

#[tokio::test]
async fn a_second_replica_stays_passive_until_the_first_releases_the_lease() {
    let server = ApiServer::start().await;
    let a = LeaderElector::new(server.client(), lease("replica-a", Duration::from_secs(30)));
    let b = LeaderElector::new(server.client(), lease("replica-b", Duration::from_secs(30)));
    assert!(
        a.try_acquire_or_renew().await.expect("a"),
        "the first candidate creates the Lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.expect("b"),
        "the second stays passive"
    );
    assert!(
        a.try_acquire_or_renew().await.expect("renew"),
        "the holder renews"
    );
    assert!(!b.try_acquire_or_renew().await.expect("b"));
    assert_eq!(holder(&server).await.as_deref(), Some("replica-a"));

    a.release().await.expect("release");
    assert_eq!(holder(&server).await, None);
    assert!(
        b.try_acquire_or_renew().await.expect("b"),
        "a released Lease is taken at once"
    );
    assert!(
        !a.try_acquire_or_renew().await.expect("a"),
        "the old holder is now a follower"
    );
    assert_eq!(holder(&server).await.as_deref(), Some("replica-b"));
}

#[tokio::test]
async fn a_dead_holder_is_replaced_once_its_lease_expires() {
    let server = ApiServer::start().await;
    let a = LeaderElector::new(server.client(), lease("replica-a", Duration::from_secs(1)));
    let b = LeaderElector::new(server.client(), lease("replica-b", Duration::from_secs(1)));
    assert!(a.try_acquire_or_renew().await.expect("a"));
    assert!(
        !b.try_acquire_or_renew().await.expect("b"),
        "an unexpired Lease is respected"
    );
    // replica-a "dies": it neither renews nor releases.
    let started = Instant::now();
    loop {
        if b.try_acquire_or_renew().await.expect("b") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the expired Lease was never taken"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "taken before expiry"
    );
    assert_eq!(holder(&server).await.as_deref(), Some("replica-b"));
}

async fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let response = reqwest::get(format!("http://{addr}{path}")).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A replica running `lead_and_run` with a 30 s Lease: its task, the sender
/// that stops it (as SIGTERM does), and the address of its endpoints.
fn replica(
    server: &ApiServer,
    identity: &str,
) -> (
    tokio::task::JoinHandle<Result<(), RunError>>,
    watch::Sender<bool>,
    SocketAddr,
) {
    let addr = free_addr();
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(lead_and_run(
        server.client(),
        lease(identity, Duration::from_secs(30)),
        ControllerConfig::default(),
        addr,
        stop_rx,
    ));
    (task, stop, addr)
}

/// The sum of a counter family in a replica's `/metrics` text.
fn metric_sum(metrics: &str, family: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A replica's `/metrics` text.
async fn metrics_of(addr: SocketAddr) -> String {
    let (code, text) = get(addr, "/metrics").await.expect("metrics");
    assert_eq!(code, 200);
    text
}

const DEVICE_REQUESTS: &str = "mediant_device_requests_total";
const RECONCILES: &str = "mediant_reconciles_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_a_standby_takes_over_on_shutdown() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(
        ResourceType::custom::<mediant_operator::api::LicenseEntitlement>()
            .with_status_subresource(),
    );
    let fleet = Fleet::start(FleetConfig {
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts");
    let sim = &fleet.devices()[0];
    let (a, stop_a, addr_a) = replica(&server, "replica-a");
    wait_for("replica-a to lead and be ready", async || {
        get(addr_a, "/readyz").await == Some((200, "ready".into()))
    })
    .await;
    assert_eq!(get(addr_a, "/healthz").await, Some((200, "ok".into())));
    assert!(metrics_of(addr_a).await.contains("mediant_devices_ready"));

    let (b, stop_b, addr_b) = replica(&server, "replica-b");
    wait_for("replica-b to serve as a standby", async || {
        get(addr_b, "/readyz").await == Some((200, "standby".into()))
    })
    .await;

    // A device for both replicas to see; the seed holds GWDebugLevel 5.
    let gw = || {
        sim.device
            .running()
            .param("GWDebugLevel")
            .map(|p| p.value.clone())
    };
    assert_eq!(gw().as_deref(), Some("5"));
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("sbc-admin".into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        string_data: Some(BTreeMap::from([
            ("username".to_owned(), "Admin".to_owned()),
            ("password".to_owned(), "Admin".to_owned()),
        ])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(server.client(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
    let mut spec = MediantDeviceSpec::new(&sim.base_url, "sbc-admin");
    spec.ini = Some(IniSpec {
        inline: Some("[SYSTEM Params]\nGWDEBUGLEVEL = 7\n".into()),
        ..IniSpec::default()
    });
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    Api::<MediantDevice>::namespaced(server.client(), NS)
        .create(&PostParams::default(), &device)
        .await
        .expect("device created");

    // The leader reconciles it: the device holds the value, and saved it
    // (the save follows the upload, so both are waited for).
    let saved = || {
        sim.device
            .startup()
            .param("GWDebugLevel")
            .map(|p| p.value.clone())
    };
    wait_for(
        "the device to take and save the desired value",
        async || gw().as_deref() == Some("7") && saved().as_deref() == Some("7"),
    )
    .await;
    wait_for("replica-a to count its reconcile", async || {
        metric_sum(&metrics_of(addr_a).await, RECONCILES) >= 1.0
    })
    .await;
    // Every request the device received came from the leader: the device's
    // own count and the leader's count of what it sent meet (a standby
    // request would keep the device's count ahead for good).
    wait_for(
        "the leader's requests to account for all the device saw",
        async || {
            let sent = metric_sum(&metrics_of(addr_a).await, DEVICE_REQUESTS);
            sent > 0.0 && sent == sim.device.counters.snapshot().total as f64
        },
    )
    .await;
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.writes, 2,
        "one upload and one save, once: {counts:?}"
    );
    // The standby, several renewals later, has sent nothing to the device
    // and reconciled nothing.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let standby = metrics_of(addr_b).await;
    assert_eq!(metric_sum(&standby, DEVICE_REQUESTS), 0.0, "{standby}");
    assert_eq!(metric_sum(&standby, RECONCILES), 0.0, "{standby}");
    assert_eq!(
        sim.device.counters.snapshot(),
        counts,
        "nothing more reached the device"
    );
    assert_eq!(
        get(addr_b, "/readyz").await,
        Some((200, "standby".into())),
        "still passive"
    );
    assert_eq!(holder(&server).await.as_deref(), Some("replica-a"));

    // SIGTERM on the leader: it releases the Lease and exits cleanly.
    stop_a.send(true).expect("stop a");
    let result = tokio::time::timeout(Duration::from_secs(10), a)
        .await
        .expect("replica-a stops")
        .expect("join");
    assert!(result.is_ok(), "{result:?}");
    wait_for("replica-b to take over", async || {
        get(addr_b, "/readyz").await == Some((200, "ready".into()))
    })
    .await;
    assert_eq!(holder(&server).await.as_deref(), Some("replica-b"));
    // The new leader checks the device; it is in sync, so nothing is written.
    wait_for("replica-b to reconcile the device", async || {
        metric_sum(&metrics_of(addr_b).await, RECONCILES) >= 1.0
    })
    .await;
    let after = sim.device.counters.snapshot();
    assert!(after.total > counts.total, "replica-b observed: {after:?}");
    assert_eq!(after.writes, counts.writes, "in sync: no writes: {after:?}");

    stop_b.send(true).expect("stop b");
    let result = tokio::time::timeout(Duration::from_secs(10), b)
        .await
        .expect("replica-b stops")
        .expect("join");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(holder(&server).await, None, "released on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_its_lease_stops_at_once_and_says_so() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(
        ResourceType::custom::<mediant_operator::api::LicenseEntitlement>()
            .with_status_subresource(),
    );
    let (a, _stop, addr) = replica(&server, "replica-a");
    wait_for("replica-a to lead", async || {
        get(addr, "/readyz").await == Some((200, "ready".into()))
    })
    .await;
    // Another replica takes the Lease (say, after a long network partition
    // of this one): its next renewal sees a live foreign holder.
    server
        .modify::<Lease>(Some(NS), "mediant-operator", |l| {
            let spec = l.spec.get_or_insert_default();
            spec.holder_identity = Some("replica-b".into());
            spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        })
        .expect("lease taken over");
    let result = tokio::time::timeout(Duration::from_secs(5), a)
        .await
        .expect("replica-a stops within a renewal period or two")
        .expect("join");
    assert!(
        matches!(result, Err(RunError::LostLease(ref name)) if name == "mediant-operator"),
        "{result:?}"
    );
    assert_eq!(
        holder(&server).await.as_deref(),
        Some("replica-b"),
        "the loser does not touch the new holder's Lease"
    );
    assert_eq!(
        get(addr, "/healthz").await,
        None,
        "endpoints closed on exit"
    );
}

#[test]
fn the_renew_deadline_leaves_a_margin_before_followers_may_take_over() {
    let config = LeaseConfig::new("mediant-operator", NS, "a");
    assert_eq!(config.duration, Duration::from_secs(15));
    assert_eq!(config.renew_deadline(), Duration::from_secs(10));
    assert!(config.renew_every * 2 <= config.renew_deadline());
}

/// The real binary: `run --kubeconfig` reaches the API server, serves
/// `/readyz`, logs JSON, and on SIGTERM releases the Lease and exits 0.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_command_leads_logs_json_and_exits_cleanly_on_sigterm() {
    use std::process::{Command, Stdio};

    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(
        ResourceType::custom::<mediant_operator::api::LicenseEntitlement>()
            .with_status_subresource(),
    );
    let dir = std::env::temp_dir().join(format!("mediant-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: {}\n\
             contexts:\n- name: double\n  context:\n    cluster: double\n    user: nobody\n    namespace: {NS}\n\
             current-context: double\nusers:\n- name: nobody\n  user: {{}}\n",
            server.url()
        ),
    )
    .expect("kubeconfig written");
    let addr = free_addr();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mediant-operator"))
        .args(["run", "--log-format", "json", "--identity", "pod-a"])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg(format!("--metrics-addr={addr}"))
        .env_remove("POD_NAME")
        .env_remove("POD_NAMESPACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    wait_for("the process to lead and be ready", async || {
        get(addr, "/readyz").await == Some((200, "ready".into()))
    })
    .await;
    // The Lease lives in the kubeconfig context's namespace.
    assert_eq!(holder(&server).await.as_deref(), Some("pod-a"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let output = child.wait_with_output().expect("output");
    let logs = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(exit.success(), "exit {exit:?}; logs:\n{logs}");
    assert_eq!(holder(&server).await, None, "Lease released on SIGTERM");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    for expected in ["acquired the leader Lease", "shutdown requested"] {
        assert!(
            messages.contains(&expected),
            "{expected:?} not logged: {messages:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
