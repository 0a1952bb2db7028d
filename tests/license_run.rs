//! LicenseEntitlement under `run`: the real kube client and controller over
//! HTTP against the in-process API server double, a simulated device over
//! HTTP. A closed gate holds the licence back with a condition that says
//! why and no write; opening it installs the key (the reset awaited, the key
//! verified on the device); in sync, drift checks write nothing. The
//! planted key appears in no status and no event.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use mediant_operator::api::{
    ConditionStatus, ConditionType, Disruption, IniSpec, LicenseEntitlement,
    LicenseEntitlementSpec, LicenseEntitlementStatus, MediantDevice, MediantDeviceSpec,
    MediantLicenseSpec, ProviderFacts, ProviderSpec, ResetPolicy, SecretKeyRef, find_condition,
};
use mediant_operator::controller::{ControllerConfig, Metrics};
use mediant_operator::simulator::{Fleet, FleetConfig};

use support::apiserver::{ApiServer, ResourceKey, ResourceType};

const NS: &str = "voice";
const MARKER: &str = "PLANTEDxLICENCExMARKERx0099";

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

fn status(server: &ApiServer) -> Option<LicenseEntitlementStatus> {
    server
        .get::<LicenseEntitlement>(Some(NS), "sbc-licence")?
        .status
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
async fn run_holds_the_licence_until_the_gate_opens_then_installs_verifies_and_stays_quiet() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(ResourceType::custom::<LicenseEntitlement>().with_status_subresource());
    let fleet = Fleet::start(FleetConfig {
        devices: 1,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator");
    let sim = &fleet.devices()[0];

    server
        .insert(&secret(
            "sbc-admin",
            &[("username", "Admin"), ("password", "Admin")],
        ))
        .expect("credentials");
    server
        .insert(&secret("sbc-licence", &[("license.key", MARKER)]))
        .expect("licence secret");
    let mut spec = MediantDeviceSpec::new(&sim.base_url, "sbc-admin");
    spec.reset_policy = ResetPolicy::Allowed;
    spec.ini = Some(IniSpec {
        inline: Some("[SYSTEM Params]\nEnableSyslog = 1\n".into()),
        ..IniSpec::default()
    });
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    server.insert(&device).expect("device");
    let mut m = MediantLicenseSpec::for_device("sbc");
    m.license_key = Some(SecretKeyRef {
        name: "sbc-licence".into(),
        key: "license.key".into(),
    });
    // disruption defaults to Never: the licence must wait.
    let mut licence = LicenseEntitlement::new(
        "sbc-licence",
        LicenseEntitlementSpec::new(ProviderSpec::Mediant(m)),
    );
    licence.metadata = meta("sbc-licence");
    server.insert(&licence).expect("licence");

    let metrics = Metrics::new();
    let (stop, task) = start_controller(
        &server,
        Duration::from_millis(300),
        (Duration::from_millis(200), Duration::from_secs(2)),
        metrics.clone(),
    );

    // Gate closed: pending, Stalled with the reason, nothing sent.
    wait_for("the licence held back", || {
        status(&server).is_some_and(|s| s.pending_disruption.is_some())
    })
    .await;
    let s = status(&server).expect("status");
    let stalled = find_condition(&s.conditions, ConditionType::Stalled).expect("Stalled");
    assert_eq!(stalled.status, ConditionStatus::True);
    assert!(
        stalled.message.contains("spec.disruption is Never"),
        "{}",
        stalled.message
    );
    let ready = find_condition(&s.conditions, ConditionType::Ready).expect("Ready");
    assert_eq!(ready.status, ConditionStatus::False);
    assert_eq!(ready.observed_generation, Some(1));
    let pending = s.pending_disruption.as_ref().unwrap();
    assert!(pending.change.contains("resets"), "{pending:?}");
    assert!(
        pending.reason.contains("spec.disruption is Never"),
        "{pending:?}"
    );
    assert_eq!(s.provider.as_deref(), Some("mediant"));
    assert!(
        s.target
            .as_deref()
            .is_some_and(|t| t.contains(&sim.device.info.serial_number)),
        "{:?}",
        s.target
    );
    assert_eq!(s.drift.len(), 1, "{:?}", s.drift);
    assert!(s.drift[0].contains(" → "), "{:?}", s.drift);
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/license"),
        0
    );
    assert_eq!(sim.device.reset_count(), 0);
    // The gauge is set before the status write that showed the wait.
    let series = r#"mediant_license_pending{namespace="voice",name="sbc-licence"}"#;
    assert!(
        metrics.encode().contains(&format!("{series} 1")),
        "{}",
        metrics.encode()
    );

    // Open the gate: installed, the reset awaited, verified on the device.
    server
        .modify::<LicenseEntitlement>(Some(NS), "sbc-licence", |l| {
            l.spec.disruption = Disruption::Allowed;
        })
        .expect("open the gate");
    wait_for("the licence Ready", || {
        status(&server).is_some_and(|s| {
            find_condition(&s.conditions, ConditionType::Ready)
                .is_some_and(|c| c.status == ConditionStatus::True)
        })
    })
    .await;
    assert_eq!(sim.device.license.key(), MARKER, "the device holds the key");
    assert_eq!(sim.device.reset_count(), 1, "one reset");
    let s = status(&server).expect("status");
    assert!(s.pending_disruption.is_none(), "{s:#?}");
    assert!(
        metrics.encode().contains(&format!("{series} 0")),
        "{}",
        metrics.encode()
    );
    assert!(s.drift.is_empty(), "{:?}", s.drift);
    assert!(find_condition(&s.conditions, ConditionType::Stalled).is_none());
    assert_eq!(s.observed_generation, Some(2));
    assert!(
        s.desired_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("hmac-sha256:"))
    );
    assert_eq!(s.last_applied_digest, s.desired_digest);
    match &s.facts {
        Some(ProviderFacts::Mediant(f)) => {
            assert_eq!(f.form, "key");
            assert_eq!(f.features["Board Type"], ["Mediant 800"]);
        }
        other => panic!("{other:?}"),
    }

    // In sync: several drift checks, no further write to the device.
    let puts = sim
        .device
        .counters
        .snapshot()
        .count("PUT", "/api/v1/license");
    let reads = sim
        .device
        .counters
        .snapshot()
        .count("GET", "/api/v1/license");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/license"),
        puts,
        "in sync: no PUT"
    );
    assert!(
        counts.count("GET", "/api/v1/license") > reads,
        "still checked"
    );
    assert_eq!(sim.device.reset_count(), 1);

    // The key is in no status and no event.
    let stored = server
        .get_value(
            &ResourceKey::of::<LicenseEntitlement>(),
            Some(NS),
            "sbc-licence",
        )
        .expect("stored");
    assert!(
        !stored.to_string().contains(MARKER),
        "status leaked the key"
    );
    for e in server.list::<K8sEvent>(Some(NS)) {
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains(MARKER), "an event leaked the key: {text}");
    }
    let _ = stop.send(());
    task.abort();
}

/// The API server double with both kinds, one simulated device, its
/// credentials (`password`), the licence Secret and a `sbc-licence` key
/// entitlement on MediantDevice `sbc`: what the retry tests share.
async fn licence_on_one_device(password: &str) -> (ApiServer, Fleet) {
    licence_on(password, FleetConfig::default()).await
}

/// [`licence_on_one_device`] on the first device of a fleet started with `fleet`.
async fn licence_on(password: &str, fleet: FleetConfig) -> (ApiServer, Fleet) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(ResourceType::custom::<LicenseEntitlement>().with_status_subresource());
    let fleet = Fleet::start(fleet).await.expect("simulator");
    server
        .insert(&secret(
            "sbc-admin",
            &[("username", "Admin"), ("password", password)],
        ))
        .expect("credentials");
    server
        .insert(&secret("sbc-licence", &[("license.key", MARKER)]))
        .expect("licence secret");
    let mut device = MediantDevice::new(
        "sbc",
        MediantDeviceSpec::new(&fleet.devices()[0].base_url, "sbc-admin"),
    );
    device.metadata.namespace = Some(NS.into());
    server.insert(&device).expect("device");
    let mut m = MediantLicenseSpec::for_device("sbc");
    m.license_key = Some(SecretKeyRef::new("sbc-licence", "license.key"));
    let mut licence = LicenseEntitlement::new(
        "sbc-licence",
        LicenseEntitlementSpec::new(ProviderSpec::Mediant(m)),
    );
    licence.metadata = meta("sbc-licence");
    server.insert(&licence).expect("licence");
    (server, fleet)
}

/// The device's reset policy and the licence's disruption gate both open.
fn allow_resets(server: &ApiServer) {
    server
        .modify::<MediantDevice>(Some(NS), "sbc", |d| {
            d.spec.reset_policy = ResetPolicy::Allowed
        })
        .expect("resets allowed");
    server
        .modify::<LicenseEntitlement>(Some(NS), "sbc-licence", |l| {
            l.spec.disruption = Disruption::Allowed
        })
        .expect("disruption allowed");
}

/// The controller over `server`: resyncs every `interval`, failure delays
/// between the `backoff` base and ceiling (equal jitter), metrics into `metrics`.
fn start_controller(
    server: &ApiServer,
    interval: Duration,
    backoff: (Duration, Duration),
    metrics: Arc<Metrics>,
) -> (tokio::sync::oneshot::Sender<()>, support::ControllerTask) {
    support::spawn_controller(
        server.client(),
        ControllerConfig {
            interval_override: Some(interval),
            backoff_base: backoff.0,
            backoff_max: backoff.1,
            ..ControllerConfig::default()
        },
        metrics,
        Arc::new(AtomicBool::new(false)),
    )
}

/// `k8s Time` → `SystemTime`.
fn system_time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.0.as_second()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_error_says_when_the_controller_retries_and_a_permanent_error_has_no_retry() {
    let (server, fleet) = licence_on_one_device("Admin").await;
    let sim = &fleet.devices()[0];
    // Every request answers 500 until the faults are cleared: retryable.
    sim.device.faults.update(|f| f.server_errors = u32::MAX);

    // Delays of 1 to 2 s (equal jitter on a 2 s ceiling).
    let (stop, task) = start_controller(
        &server,
        Duration::from_secs(60),
        (Duration::from_secs(2), Duration::from_secs(2)),
        Metrics::new(),
    );

    let retry_at = |s: &LicenseEntitlementStatus| {
        s.last_error
            .as_ref()
            .filter(|e| e.retryable)
            .and_then(|e| e.retry_at.clone())
    };
    let reads = || {
        sim.device
            .counters
            .snapshot()
            .count("GET", "/api/v1/license")
    };
    // Skip the first failure: the MediantDevice's own first status write
    // also triggers the licence (its deviceRef is watched).
    wait_for("a first retryable failure", || {
        status(&server).is_some_and(|s| retry_at(&s).is_some())
    })
    .await;
    let first = status(&server).and_then(|s| retry_at(&s)).unwrap();
    let mut checked = 0;
    let mut previous = first;
    while checked < 2 {
        wait_for("the next failure's retryAt", || {
            status(&server)
                .and_then(|s| retry_at(&s))
                .is_some_and(|t| t != previous)
        })
        .await;
        let s = status(&server).expect("status");
        let error = s.last_error.as_ref().unwrap();
        assert!(error.retryable);
        assert_eq!(error.reason, "DeviceError", "{error:?}");
        let at = system_time(error.retry_at.as_ref().unwrap());
        let seen = std::time::SystemTime::now();
        // Announced 1 to 2 s after the failure (rounded up to the second).
        assert!(at > seen, "{at:?} is not in the future ({seen:?})");
        assert!(
            at <= seen + Duration::from_secs(3),
            "{at:?} is beyond the 2 s backoff ceiling"
        );
        // The controller's next attempt comes when announced: not before
        // (less the rounding to the second), not much after.
        let before = reads();
        wait_for("the retry", || reads() > before).await;
        let retried = std::time::SystemTime::now();
        assert!(
            retried + Duration::from_secs(1) >= at,
            "retried at {retried:?}, before the announced {at:?}"
        );
        assert!(
            retried <= at + Duration::from_millis(1500),
            "retried at {retried:?}, long after the announced {at:?}"
        );
        previous = error.retry_at.clone().unwrap();
        checked += 1;
    }

    // A permanent error: not retried, so no retryAt.
    sim.device.faults.clear();
    server
        .modify::<LicenseEntitlement>(Some(NS), "sbc-licence", |l| {
            let ProviderSpec::Mediant(m) = &mut l.spec.provider;
            m.serial_number = Some("999".into());
        })
        .expect("a wrong serial number");
    let started = Instant::now();
    while status(&server)
        .and_then(|s| s.last_error)
        .is_none_or(|e| e.retryable)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no permanent failure: {:#?}",
            server
                .get::<LicenseEntitlement>(Some(NS), "sbc-licence")
                .map(|l| (l.metadata, l.spec))
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let s = status(&server).expect("status");
    let error = s.last_error.as_ref().unwrap();
    assert!(
        error.message.contains("serial number mismatch"),
        "{error:?}"
    );
    assert_eq!(error.retry_at, None, "a permanent error has no retryAt");
    assert_eq!(
        find_condition(&s.conditions, ConditionType::Stalled).map(|c| c.status),
        Some(ConditionStatus::True)
    );
    let _ = stop.send(());
    task.abort();
}

/// Never a reset loop under `run`: the device accepts the key, resets and
/// keeps its old key; the controller installs once, then holds the same
/// install back (Stalled `ResetLoopRefused`, a Warning event) and sends
/// nothing more, whatever the number of checks. The key shows nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_to_reset_again_for_a_key_the_device_did_not_take() {
    use mediant_operator::simulator::faults::FaultPlan;
    let (server, fleet) = licence_on(
        "Admin",
        FleetConfig {
            devices: 1,
            reset_time: Duration::from_millis(300),
            ..FleetConfig::default()
        },
    )
    .await;
    let sim = &fleet.devices()[0];
    let factory = sim.device.license.key();
    sim.device.faults.set(FaultPlan {
        ignore_license_installs: u32::MAX,
        ..FaultPlan::default()
    });
    allow_resets(&server);

    let (stop, task) = start_controller(
        &server,
        Duration::from_millis(300),
        (Duration::from_millis(200), Duration::from_secs(2)),
        Metrics::new(),
    );
    let stalled = |s: &LicenseEntitlementStatus| {
        find_condition(&s.conditions, ConditionType::Stalled)
            .filter(|c| c.status == ConditionStatus::True && c.reason == "ResetLoopRefused")
            .map(|c| c.message.clone())
    };
    wait_for("Stalled ResetLoopRefused", || {
        status(&server).is_some_and(|s| stalled(&s).is_some())
    })
    .await;
    // Several more checks: nothing sent again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let puts = sim
        .device
        .counters
        .snapshot()
        .count("PUT", "/api/v1/license");
    assert_eq!(puts, 1, "one install, never repeated");
    assert_eq!(sim.device.reset_count(), 1, "one reset, never repeated");
    assert_eq!(sim.device.license.key(), factory, "the device kept its key");
    let s = status(&server).expect("status");
    let message = stalled(&s).expect("still Stalled ResetLoopRefused");
    assert!(
        message.starts_with("refused to reset the device again"),
        "{message}"
    );
    assert!(s.applied_secret_digests.contains_key("@reset/license-key"));
    let events = server.list::<K8sEvent>(Some(NS));
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("ResetLoopRefused")
                && e.type_.as_deref() == Some("Warning")),
        "no ResetLoopRefused Warning event"
    );
    let stored = server
        .get_value(
            &ResourceKey::of::<LicenseEntitlement>(),
            Some(NS),
            "sbc-licence",
        )
        .expect("stored");
    assert!(
        !stored.to_string().contains(MARKER),
        "status leaked the key"
    );
    for e in events {
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains(MARKER), "an event leaked the key: {text}");
    }
    let _ = stop.send(());
    task.abort();
}

/// A fix to the named device's credentials reaches the licence at once,
/// not at its next retry: the Secret the device names is followed by the
/// device's dependents. (The device's own status writes no longer trigger
/// them, so nothing else would wake the licence within its 30 s backoff.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_device_credentials_reach_the_licence_before_its_retry() {
    let (server, _fleet) = licence_on_one_device("wrong").await;

    let (stop, task) = start_controller(
        &server,
        Duration::from_secs(60),
        (Duration::from_secs(30), Duration::from_secs(30)),
        Metrics::new(),
    );
    wait_for("the licence's 401", || {
        status(&server)
            .and_then(|s| s.last_error)
            .is_some_and(|e| e.message.contains("401"))
    })
    .await;

    server
        .modify::<Secret>(Some(NS), "sbc-admin", |s| {
            s.data = None;
            s.string_data = Some(BTreeMap::from([
                ("username".into(), "Admin".into()),
                ("password".into(), "Admin".into()),
            ]));
        })
        .expect("fixed credentials");
    let fixed = Instant::now();
    wait_for("the licence without its error", || {
        status(&server).is_some_and(|s| s.last_error.is_none())
    })
    .await;
    assert!(
        fixed.elapsed() < Duration::from_secs(10),
        "the licence waited {:?} for its retry",
        fixed.elapsed()
    );
    let _ = stop.send(());
    task.abort();
}

/// A lagging watch never repeats a reset: the controller's cached copy of
/// the entitlement trails its own status writes by 1 s while it resyncs
/// every 300 ms. The record of the install the device did not take is in
/// the status it wrote, so the next reconcile reads the API server's copy
/// rather than the stale one: still exactly 1 PUT and 1 reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_watch_cache_never_repeats_a_licence_reset() {
    use mediant_operator::simulator::faults::FaultPlan;
    let (server, fleet) = licence_on_one_device("Admin").await;
    let sim = &fleet.devices()[0];
    sim.device.faults.set(FaultPlan {
        ignore_license_installs: u32::MAX,
        ..FaultPlan::default()
    });
    allow_resets(&server);
    server.set_watch_delay(Duration::from_secs(1));
    let (stop, task) = start_controller(
        &server,
        Duration::from_millis(300),
        (Duration::from_millis(200), Duration::from_secs(1)),
        Metrics::new(),
    );
    wait_for("the install the device did not take", || {
        sim.device.reset_count() >= 1
            && status(&server)
                .is_some_and(|s| s.applied_secret_digests.contains_key("@reset/license-key"))
    })
    .await;
    // Resyncs every 300 ms for 3 s, each with a cached copy up to 1 s old.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let puts = sim
        .device
        .counters
        .snapshot()
        .count("PUT", "/api/v1/license");
    assert_eq!(puts, 1, "one install, never repeated");
    assert_eq!(sim.device.reset_count(), 1, "one reset, never repeated");
    let _ = stop.send(());
    task.abort();
}
