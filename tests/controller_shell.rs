//! The controller process shell: leader election through a Lease, the
//! health/metrics endpoints, hand-over on shutdown — through the real kube
//! client against the in-process API server double.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use mediant_operator::api::MediantDevice;
use mediant_operator::controller::ControllerConfig;
use mediant_operator::controller::leader::{LeaderElector, LeaseConfig};
use mediant_operator::controller::run::lead_and_run;
use support::apiserver::{ApiServer, ResourceType};
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

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_a_standby_takes_over_on_shutdown() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    let (addr_a, addr_b) = (free_addr(), free_addr());
    let (stop_a, stop_a_rx) = watch::channel(false);
    let (stop_b, stop_b_rx) = watch::channel(false);
    let a = tokio::spawn(lead_and_run(
        server.client(),
        lease("replica-a", Duration::from_secs(30)),
        ControllerConfig::default(),
        addr_a,
        stop_a_rx,
    ));
    wait_for("replica-a to lead and be ready", async || {
        get(addr_a, "/readyz").await == Some((200, "ready".into()))
    })
    .await;
    assert_eq!(get(addr_a, "/healthz").await, Some((200, "ok".into())));
    let metrics = get(addr_a, "/metrics").await.expect("metrics");
    assert_eq!(metrics.0, 200);
    assert!(metrics.1.contains("mediant_devices_ready"), "{}", metrics.1);

    let b = tokio::spawn(lead_and_run(
        server.client(),
        lease("replica-b", Duration::from_secs(30)),
        ControllerConfig::default(),
        addr_b,
        stop_b_rx,
    ));
    wait_for("replica-b to serve as a standby", async || {
        get(addr_b, "/readyz").await == Some((200, "standby".into()))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
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

    stop_b.send(true).expect("stop b");
    let result = tokio::time::timeout(Duration::from_secs(10), b)
        .await
        .expect("replica-b stops")
        .expect("join");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(holder(&server).await, None, "released on shutdown");
}
