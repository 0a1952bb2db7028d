//! LicenseEntitlement provider `mediant` over real HTTP against the
//! simulator: the shared contract (gate, drift, status) and the device's
//! licence (v7.4 REST guide chapter 12). Device state is read back from the
//! simulator, never from our own report.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use mediant_operator::api::condition::ConditionType;
use mediant_operator::api::{
    ConditionStatus, Disruption, DisruptionDecision, MaintenanceWindow, MediantLicenseSpec,
    ProviderFacts, SecretKeyRef, find_condition,
};
use mediant_operator::device::{
    ClientOptions, Credentials, LicenseKey, MediantClient, RetryPolicy,
};
use mediant_operator::plan::license_entitlement::{
    self as lic, LicenseFile, Mode, ProviderError,
    mediant::{MediantDesired, MediantLicenseError, MediantProvider, desired_from},
};
use mediant_operator::simulator::device::Dialect as SimDialect;
use mediant_operator::simulator::{Fleet, FleetConfig};

/// A planted key: it must never show in reports, status, errors or Debug.
const MARKER: &str = "PLANTEDxLICENCExMARKERx0042";

async fn fleet(dialect: SimDialect, ha: bool, devices: usize) -> Fleet {
    Fleet::start(FleetConfig {
        devices,
        dialect,
        ha,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client_for(fleet: &Fleet, index: usize, user: &str) -> MediantClient {
    MediantClient::new(
        &fleet.devices()[index].base_url,
        Credentials::new(user, user),
        ClientOptions {
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            request_timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        },
    )
    .expect("client")
}

fn provider(client: &MediantClient) -> MediantProvider<'_> {
    let mut p = MediantProvider::new(client, "sbc-1");
    p.reset_timeout = Duration::from_secs(20);
    p
}

fn key_only(key: &str) -> MediantDesired {
    MediantDesired {
        key: Some(LicenseKey::new(key)),
        ..MediantDesired::default()
    }
}

fn writes(fleet: &Fleet, index: usize) -> u64 {
    fleet.devices()[index].device.counters.snapshot().writes
}

fn no_leak(text: &str) {
    assert!(!text.contains(MARKER), "the licence key leaked: {text}");
}

#[tokio::test]
async fn a_key_converges_in_one_apply_and_in_sync_means_zero_writes() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let p = provider(&client);
    let mut desired = key_only(MARKER);
    desired.serial_number = Some(device.info.serial_number.clone());
    let factory_key = device.license.key();
    assert_ne!(factory_key, MARKER);

    let report = lic::reconcile(&p, &desired, &DisruptionDecision::Allowed, Mode::Apply).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(report.applied.len(), 1);
    assert!(report.in_sync());
    // The device holds the key, after one reset, and took one PUT.
    assert_eq!(device.license.key(), MARKER);
    assert_eq!(device.reset_count(), 1);
    let counts = device.counters.snapshot();
    assert_eq!(counts.count("PUT", "/api/v1/license"), 1);
    assert_eq!(counts.writes, 1);
    let status = lic::status(&report, None, Some(1), Timestamp::now(), None);
    let ready = find_condition(&status.conditions, ConditionType::Ready).unwrap();
    assert_eq!(ready.status, ConditionStatus::True);
    assert_eq!(ready.reason, "Applied");
    assert!(status.drift.is_empty());
    assert!(status.last_applied_time.is_some());
    match &status.facts {
        Some(ProviderFacts::Mediant(f)) => {
            assert_eq!(f.form, "key");
            assert_eq!(f.serial_number, device.info.serial_number);
            assert_eq!(f.features["Board Type"], ["Mediant 800"]);
            assert!(f.features["Coders"].contains(&"G729".to_string()));
        }
        other => panic!("{other:?}"),
    }
    let digest = status.desired_digest.clone().unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    // In sync: the next pass reads and writes nothing.
    let before = device.counters.snapshot();
    let again = lic::reconcile(&p, &desired, &DisruptionDecision::Allowed, Mode::Apply).await;
    assert!(again.error.is_none() && again.drift.is_empty() && again.applied.is_empty());
    let after = device.counters.snapshot();
    assert_eq!(after.writes, before.writes, "in sync: zero writes");
    assert_eq!(
        after.total - before.total,
        2,
        "GET /status and GET /license only"
    );
    assert_eq!(device.reset_count(), 1);
    let status = lic::status(&again, Some(&status), Some(1), Timestamp::now(), None);
    assert_eq!(status.desired_digest.as_deref(), Some(digest.as_str()));
    for shown in [
        format!("{report:?}"),
        format!("{again:?}"),
        format!("{desired:?}"),
        serde_json::to_string(&status).unwrap(),
    ] {
        no_leak(&shown);
    }
}

#[tokio::test]
async fn a_closed_gate_holds_the_change_back_and_sends_nothing() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let p = provider(&client);
    let desired = key_only(MARKER);
    let now = Timestamp::now();
    let gate = Disruption::Never.decide(None, now).unwrap();

    let report = lic::reconcile(&p, &desired, &gate, Mode::Apply).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(writes(&fleet, 0), 0, "nothing sent");
    assert_ne!(device.license.key(), MARKER);
    assert_eq!(device.reset_count(), 0);
    let pending = report.pending.clone().expect("pending");
    assert!(pending.change.contains("resets"), "{pending:?}");
    let status = lic::status(&report, None, Some(3), now, None);
    let ready = find_condition(&status.conditions, ConditionType::Ready).unwrap();
    assert_eq!(ready.status, ConditionStatus::False);
    assert_eq!(ready.reason, "DisruptionPending");
    assert!(
        ready.message.contains("spec.disruption is Never"),
        "{}",
        ready.message
    );
    assert_eq!(ready.observed_generation, Some(3));
    let stalled = find_condition(&status.conditions, ConditionType::Stalled).unwrap();
    assert_eq!(stalled.reason, "DisruptionNotAllowed");
    assert_eq!(status.drift.len(), 1);
    assert!(status.drift[0].starts_with(&format!(
        "licenseKey[S/N {}]: sha256:",
        device.info.serial_number
    )));
    assert!(
        status.drift[0].contains(" → sha256:"),
        "{}",
        status.drift[0]
    );
    no_leak(&serde_json::to_string(&status).unwrap());
}

#[tokio::test]
async fn outside_the_window_it_waits_and_inside_it_is_applied_reset_awaited_and_verified() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let p = provider(&client);
    let desired = key_only(MARKER);
    let window = MaintenanceWindow {
        days: vec![],
        start: "02:00".into(),
        duration: "1h".into(),
    };
    // 2024-01-01 12:00 UTC: closed until 2024-01-02 02:00.
    let noon = Timestamp::from_second(1_704_067_200 + 12 * 3600).unwrap();
    let closed = Disruption::MaintenanceWindow
        .decide(Some(&window), noon)
        .unwrap();
    let report = lic::reconcile(&p, &desired, &closed, Mode::Apply).await;
    let pending = report.pending.clone().expect("pending");
    assert_eq!(
        pending.opens_at.as_ref().map(|t| t.0.to_string()),
        Some("2024-01-02T02:00:00Z".to_string())
    );
    assert!(
        pending.reason.contains("maintenanceWindow"),
        "{}",
        pending.reason
    );
    assert_eq!(writes(&fleet, 0), 0);
    let status = lic::status(&report, None, Some(1), noon, None);
    assert!(
        find_condition(&status.conditions, ConditionType::Stalled).is_none(),
        "a window opens by itself: not stalled"
    );

    // 02:30: the window is open.
    let open = Disruption::MaintenanceWindow
        .decide(
            Some(&window),
            Timestamp::from_second(1_704_067_200 + 2 * 3600 + 1800).unwrap(),
        )
        .unwrap();
    let report = lic::reconcile(&p, &desired, &open, Mode::Apply).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(report.applied.len(), 1);
    assert!(report.pending.is_none());
    assert_eq!(device.reset_count(), 1, "the device reset once");
    assert!(!device.is_resetting(), "the reset was awaited");
    assert_eq!(device.license.key(), MARKER, "verified on the device");
    // The verification read happened after the device came back.
    let counts = device.counters.snapshot();
    assert!(counts.count("GET", "/api/v1/license") >= 3, "{counts:?}");
}

#[tokio::test]
async fn an_ha_pair_gets_the_licence_file_and_a_key_alone_is_refused_before_sending() {
    let fleet = fleet(SimDialect::V74, true, 1).await;
    let device = &fleet.devices()[0].device;
    let serial = device.info.serial_number.clone();
    let client = client_for(&fleet, 0, "Admin");
    let p = provider(&client);

    // Only a key: the HA state says it cannot work, so nothing is sent.
    let report = lic::reconcile(
        &p,
        &key_only(MARKER),
        &DisruptionDecision::Allowed,
        Mode::Apply,
    )
    .await;
    let err = report.error.expect("refused");
    assert!(
        matches!(err, MediantLicenseError::HaNeedsFile { .. }),
        "{err}"
    );
    assert!(!err.retryable());
    assert!(err.to_string().contains("licenseFile"), "{err}");
    assert_eq!(writes(&fleet, 0), 0);

    // Key and file: the file form is chosen from /status, not from a 409.
    // The pair's file: a key for each unit (and one for another device).
    let redundant = device.license.redundant_serial().expect("an HA pair");
    let file = format!(
        "; fleet licence\nS/N277522263687112 QUJDREVGR0hJSktMTU5PUA==\nS/N{serial} {MARKER}\nS/N{redundant} UmVkdW5kYW50VW5pdEtleQ==\n"
    );
    let desired = MediantDesired {
        key: Some(LicenseKey::new("c29tZU90aGVyS2V5Rm9ySlNPTg==")),
        file: LicenseFile::parse(file.into_bytes()),
        serial_number: None,
    };
    let report = lic::reconcile(&p, &desired, &DisruptionDecision::Allowed, Mode::Apply).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(device.license.key(), MARKER);
    let counts = device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/license"),
        1,
        "one PUT, no 409 first"
    );
    assert_eq!(
        device.license.redundant_key().as_deref(),
        Some("UmVkdW5kYW50VW5pdEtleQ=="),
        "both units of the pair got their key"
    );
    match &report.facts {
        Some(ProviderFacts::Mediant(f)) => {
            assert_eq!(f.form, "file");
            assert_eq!(f.ha_state, "Active");
            assert_eq!(f.file_serials, Some(3));
        }
        other => panic!("{other:?}"),
    }
    no_leak(&format!("{report:?}"));
}

#[tokio::test]
async fn a_serial_mismatch_is_a_named_error_and_nothing_is_sent() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let p = provider(&client);
    let mut desired = key_only(MARKER);
    desired.serial_number = Some("277522263687112".into());
    let report = lic::reconcile(&p, &desired, &DisruptionDecision::Allowed, Mode::Apply).await;
    let err = report.error.as_ref().expect("mismatch");
    assert_eq!(err.reason(), "SerialMismatch");
    assert!(!err.retryable());
    let message = err.to_string();
    assert!(message.contains("277522263687112"), "{message}");
    assert!(message.contains(&device.info.serial_number), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");
    assert_eq!(writes(&fleet, 0), 0);
    let status = lic::status(&report, None, Some(1), Timestamp::now(), None);
    let stalled = find_condition(&status.conditions, ConditionType::Stalled).unwrap();
    assert_eq!(stalled.reason, "SerialMismatch");
    let last = status.last_error.as_ref().unwrap();
    assert!(!last.retryable && last.retry_at.is_none());
    no_leak(&format!("{report:?} {message} {status:?}"));
}

#[tokio::test]
async fn a_fleet_file_applies_to_the_devices_it_holds_and_says_so_for_the_others() {
    let fleet = fleet(SimDialect::V2015, false, 3).await;
    // Keys for devices 0 and 2 only.
    let s = |i: usize| fleet.devices()[i].device.info.serial_number.clone();
    let file = format!(
        "S/N{} S2V5Rm9yRGV2aWNlWmVybzAw\r\nS/N{} S2V5Rm9yRGV2aWNlVHdvMDAw\r\n",
        s(0),
        s(2)
    );
    let spec = {
        let mut m = MediantLicenseSpec::for_device("sbc");
        m.license_file = Some(SecretKeyRef {
            name: "fleet-licence".into(),
            key: "license.txt".into(),
        });
        m
    };
    let desired = desired_from(&spec, |r| {
        (r.name == "fleet-licence" && r.key == "license.txt").then(|| file.clone().into_bytes())
    })
    .expect("desired");
    for i in 0..3 {
        let client = client_for(&fleet, i, "Admin");
        let p = provider(&client);
        let report = lic::reconcile(&p, &desired, &DisruptionDecision::Allowed, Mode::Apply).await;
        let device = &fleet.devices()[i].device;
        if i == 1 {
            let err = report.error.expect("no key for device 1");
            assert_eq!(err.reason(), "NoKeyForSerial");
            let message = err.to_string();
            assert!(
                message.contains(&s(1)) && message.contains("2 other"),
                "{message}"
            );
            assert_eq!(writes(&fleet, 1), 0, "nothing sent to device 1");
        } else {
            assert!(report.error.is_none(), "{i}: {:?}", report.error);
            // The 2015 dialect: the file went as application/octet-stream.
            assert!(device.license.key().starts_with("S2V5Rm9yRGV2aWNl"));
            assert_eq!(device.reset_count(), 1);
        }
    }
    assert_eq!(
        fleet.devices()[0].device.license.key(),
        "S2V5Rm9yRGV2aWNlWmVybzAw"
    );
    assert_eq!(
        fleet.devices()[2].device.license.key(),
        "S2V5Rm9yRGV2aWNlVHdvMDAw"
    );
}

#[tokio::test]
async fn an_administrator_may_read_but_not_install_and_the_error_names_the_level() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    // `Operator` is an Administrator: GET /license is allowed, PUT is not.
    let client = client_for(&fleet, 0, "Operator");
    let p = provider(&client);
    let report = lic::reconcile(
        &p,
        &key_only(MARKER),
        &DisruptionDecision::Allowed,
        Mode::Apply,
    )
    .await;
    let err = report.error.expect("forbidden");
    assert_eq!(err.reason(), "InsufficientPrivilege");
    assert!(!err.retryable());
    assert!(
        err.to_string()
            .contains("needs at least Security Administrator"),
        "{err}"
    );
    assert_eq!(device.reset_count(), 0);
    assert_ne!(device.license.key(), MARKER);
    // A Monitor cannot even read it; the error names Administrator.
    let client = client_for(&fleet, 0, "Monitor");
    let p = provider(&client);
    let report = lic::reconcile(
        &p,
        &key_only(MARKER),
        &DisruptionDecision::Allowed,
        Mode::Diff,
    )
    .await;
    let err = report.error.expect("forbidden");
    assert!(
        err.to_string().contains("needs at least Administrator"),
        "{err}"
    );
    no_leak(&err.to_string());
}

#[tokio::test]
async fn the_json_409_of_an_ha_device_is_permanent_and_sent_once() {
    // A device that turned HA after the plan was made: the 409 is not retried.
    let fleet = fleet(SimDialect::V74, true, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let p = provider(&client);
    let observed = {
        use mediant_operator::plan::license_entitlement::Provider as _;
        let mut o = p.observe(&key_only(MARKER)).await.expect("observe");
        o.status.high_availability = "Not Operational".into();
        o
    };
    use mediant_operator::plan::license_entitlement::Provider as _;
    let plan = p.plan(&key_only(MARKER), &observed).expect("plan");
    let err = p
        .apply(&key_only(MARKER), &observed, &plan.changes[0])
        .await
        .expect_err("409");
    assert!(
        matches!(err, MediantLicenseError::HaRefusedKey { .. }),
        "{err}"
    );
    assert!(!err.retryable());
    assert!(
        err.to_string()
            .contains("License key can't be applied to device in HA configuration"),
        "{err}"
    );
    assert_eq!(
        device.counters.snapshot().count("PUT", "/api/v1/license"),
        1,
        "sent once"
    );
    assert_eq!(device.reset_count(), 0);
}
