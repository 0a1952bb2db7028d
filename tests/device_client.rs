//! The device client's retry, timeout and pagination rules (issues 8 and
//! 12), over real HTTP against the simulator on loopback; the device's own
//! request counters say what was sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mediant_operator::device::{
    ClientOptions, Credentials, DeviceError, MediantClient, OnBusy, RetryPolicy, TlsTrust,
};
use mediant_operator::simulator::alarms::{Condition, Severity};
use mediant_operator::simulator::device::Dialect as SimDialect;
use mediant_operator::simulator::faults::FaultPlan;
use mediant_operator::simulator::{Fleet, FleetConfig};

async fn fleet(tls: bool) -> Fleet {
    Fleet::start(FleetConfig {
        devices: 1,
        dialect: SimDialect::V74,
        tls,
        reset_time: Duration::from_millis(200),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
        },
        request_timeout: Duration::from_secs(10),
        busy_budget: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

fn client_with(base: &str, options: ClientOptions) -> MediantClient {
    MediantClient::new(base, Credentials::new("Admin", "Admin"), options).expect("client")
}

#[tokio::test]
async fn every_alarm_page_is_followed_through_string_cursors() {
    let fleet = fleet(false).await;
    let sim = &fleet.devices()[0];
    for i in 0..250 {
        sim.device.alarms.raise(Condition {
            description: format!("test alarm {i}"),
            severity: Severity::Minor,
            source: "Board#1".into(),
            oid: "1.3.6.1.4.1.5003.9.10.1.21.2.0.1".into(),
        });
    }
    let expected = sim.device.alarms.active().len();
    assert!(expected >= 250);
    sim.device.counters.reset();
    let client = client_with(&sim.base_url, options());
    let count = client.active_alarm_count().await.expect("alarms");
    assert_eq!(count, expected, "every page counted, not just the first");
    let pages = sim
        .device
        .counters
        .snapshot()
        .count("GET", "/api/v1/alarms/active");
    assert_eq!(
        pages as usize,
        expected.div_ceil(100),
        "one GET per page of 100"
    );
}

#[tokio::test]
async fn a_lost_answer_to_a_full_upload_is_not_sent_again() {
    let fleet = fleet(false).await;
    let sim = &fleet.devices()[0];
    let client = client_with(&sim.base_url, options());
    let ini = client.ini().await.expect("ini");
    client.dialect().await.expect("dialect");
    sim.device.counters.reset();
    sim.device.faults.set(FaultPlan {
        drop_connections: 1,
        ..FaultPlan::default()
    });
    let err = client.put_ini_full(&ini).await.expect_err("answer lost");
    assert!(matches!(err, DeviceError::Unconfirmed { .. }), "{err}");
    assert!(err.state_unknown());
    let text = err.to_string();
    assert!(
        text.contains("may have applied") && text.contains("re-observe"),
        "{text}"
    );
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.count("PUT", "/api/v1/files/ini"), 1, "{counts:?}");
    assert_eq!(counts.writes, 1, "{counts:?}");
}

#[tokio::test]
async fn a_lost_answer_to_a_reset_or_a_cli_script_is_not_sent_again() {
    let fleet = fleet(false).await;
    let sim = &fleet.devices()[0];
    let client = client_with(&sim.base_url, options());
    client.dialect().await.expect("dialect");
    sim.device.counters.reset();
    sim.device.faults.set(FaultPlan {
        drop_connections: 2,
        ..FaultPlan::default()
    });
    let err = client.reset(false).await.expect_err("answer lost");
    assert!(matches!(err, DeviceError::Unconfirmed { .. }), "{err}");
    let err = client
        .put_cli_incremental("configure voip\n no ip-group 9\nexit\n")
        .await
        .expect_err("answer lost");
    assert!(matches!(err, DeviceError::Unconfirmed { .. }), "{err}");
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.count("POST", "/api/v1/actions/reset"),
        1,
        "{counts:?}"
    );
    assert_eq!(
        counts.count("PUT", "/api/v1/files/cliScript/incremental"),
        1,
        "{counts:?}"
    );
    assert_eq!(sim.device.reset_count(), 0, "the dropped reset did not run");
}

#[tokio::test]
async fn reads_and_idempotent_writes_retry_server_errors_and_lost_answers() {
    let fleet = fleet(false).await;
    let sim = &fleet.devices()[0];
    let client = client_with(&sim.base_url, options());
    client.dialect().await.expect("dialect");
    sim.device.counters.reset();
    sim.device.faults.set(FaultPlan {
        server_errors: 2,
        ..FaultPlan::default()
    });
    client.status().await.expect("a 500 on a GET is retried");
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("GET", "/api/v1/status"),
        3
    );

    sim.device.counters.reset();
    sim.device.faults.set(FaultPlan {
        drop_connections: 1,
        ..FaultPlan::default()
    });
    client
        .put_ini_incremental("[SYSTEM Params]\r\nGWDEBUGLEVEL = 7\r\n")
        .await
        .expect("an incremental INI is idempotent: retried");
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/files/ini/incremental"),
        2
    );
    let ini = client.ini().await.expect("ini");
    assert!(ini.contains("GWDEBUGLEVEL = 7"), "the device took it");

    // A 500 to a write is not retried.
    sim.device.counters.reset();
    sim.device.faults.set(FaultPlan {
        server_errors: 1,
        ..FaultPlan::default()
    });
    let err = client.save_configuration().await.expect_err("500");
    assert!(
        matches!(err, DeviceError::Server { status: 500, .. }),
        "{err}"
    );
    assert_eq!(sim.device.counters.snapshot().writes, 1);
}

#[tokio::test]
async fn busy_answers_are_waited_out_within_the_budget_and_no_longer() {
    let fleet = fleet(false).await;
    let sim = &fleet.devices()[0];
    let client = client_with(&sim.base_url, options());
    sim.device.counters.reset();
    sim.device.faults.set(FaultPlan {
        ha_sync_writes: 12,
        ..FaultPlan::default()
    });
    // More 409s than the attempt count of the retry policy: the budget,
    // not the attempts, bounds HA waiting.
    client.save_configuration().await.expect("waited out");
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("POST", "/api/v1/actions/saveConfiguration"),
        13
    );

    let budget = Duration::from_millis(300);
    let short = client_with(
        &sim.base_url,
        ClientOptions {
            busy_budget: budget,
            ..options()
        },
    );
    sim.device.faults.set(FaultPlan {
        ha_sync_writes: 10_000,
        ..FaultPlan::default()
    });
    let started = Instant::now();
    let err = short.save_configuration().await.expect_err("busy");
    assert!(matches!(err, DeviceError::Busy { .. }), "{err}");
    let took = started.elapsed();
    assert!(took < budget + Duration::from_millis(700), "{took:?}");
}

#[tokio::test]
async fn a_busy_answer_that_is_permanent_is_not_retried() {
    let fleet = fleet(false).await;
    let sim = &fleet.devices()[0];
    let client = client_with(&sim.base_url, options());
    sim.device.counters.reset();
    sim.device.faults.set(FaultPlan {
        ha_sync_writes: 5,
        ..FaultPlan::default()
    });
    let err = client
        .write_once(
            "PUT",
            "license",
            Some(serde_json::json!({ "licenseKey": "MARKER-licence" })),
            None,
            "the licence key and reset",
            OnBusy::Permanent,
        )
        .await
        .expect_err("409");
    assert!(
        matches!(err, DeviceError::Busy { attempts: 1, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("MARKER"), "{err}");
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/license"),
        1
    );
}

#[tokio::test]
async fn a_device_that_never_answers_is_reported_within_the_deadline() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        deadline: Duration::from_millis(800),
        retry: RetryPolicy {
            attempts: 50,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
        },
        dialect: Some(mediant_operator::device::Dialect::V74),
        ..ClientOptions::default()
    };
    let client = client_with(&format!("http://{addr}"), options);
    let started = Instant::now();
    let err = client.status().await.expect_err("no answer");
    let took = started.elapsed();
    assert!(matches!(err, DeviceError::Timeout { .. }), "{err}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // A reset-causing write waits one request timeout and stops.
    let started = Instant::now();
    let err = client
        .put_ini_full("A = 1\r\n")
        .await
        .expect_err("no answer");
    assert!(matches!(err, DeviceError::Unconfirmed { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_millis(700));
}

#[tokio::test]
async fn a_certificate_that_fails_verification_is_permanent_and_says_so() {
    let fleet = fleet(true).await;
    let sim = &fleet.devices()[0];
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&attempts);
    let options = ClientOptions {
        tls: TlsTrust::System,
        observer: Some(Arc::new(move |_: &str, _: &str, _: Option<u16>| {
            seen.fetch_add(1, Ordering::SeqCst);
        })),
        ..options()
    };
    let client = client_with(&sim.base_url, options);
    let err = client.status().await.expect_err("self-signed certificate");
    assert!(matches!(err, DeviceError::TlsVerification { .. }), "{err}");
    assert!(!err.is_unreachable());
    assert!(err.to_string().contains("TLS verification"), "{err}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(sim.device.counters.snapshot().total, 0);
}
