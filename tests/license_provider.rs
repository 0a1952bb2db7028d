//! LicenseEntitlement provider `mediant` through the engine façade (the
//! same `survey`/`converge` as `apply -f` and `run`) over real HTTP against
//! the simulator (v7.4 REST guide chapter 12). Device state is read back
//! from the simulator, never from our own report.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use mediant_operator::api::{
    Disruption, LicenseEntitlement, LicenseEntitlementSpec, MaintenanceWindow, MediantLicenseSpec,
    ProviderFacts, ProviderSpec, ResetDecision, ResolvedSources, SecretKeyRef, SourceRef,
};
use mediant_operator::device::{
    ClientOptions, Credentials, DeviceError, MediantClient, Privilege, RetryPolicy,
};
use mediant_operator::plan::license_entitlement::{
    EntitlementClient, EntitlementDesired, EntitlementObserved, LicenseEntitlementKind,
    ProviderObserved, combine,
};
use mediant_operator::plan::{self, ApplyError, Kind, Reconciled, ResetPermission, SecretDigests};
use mediant_operator::simulator::device::Dialect as SimDialect;
use mediant_operator::simulator::{Fleet, FleetConfig};

type K = LicenseEntitlementKind;

/// A planted key: it must never show in plans, errors or Debug.
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

fn client_for(fleet: &Fleet, index: usize, user: &str) -> EntitlementClient {
    EntitlementClient::Mediant(device_client_for(fleet, index, user))
}

fn device_client_for(fleet: &Fleet, index: usize, user: &str) -> MediantClient {
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

fn key_ref() -> SecretKeyRef {
    SecretKeyRef {
        name: "licence".into(),
        key: "license.key".into(),
    }
}

fn file_ref() -> SecretKeyRef {
    SecretKeyRef {
        name: "licence".into(),
        key: "license.txt".into(),
    }
}

/// A LicenseEntitlement for MediantDevice `sbc-1` with a key and/or a file.
fn entitlement(key: bool, file: bool, serial: Option<&str>) -> LicenseEntitlement {
    let mut m = MediantLicenseSpec::for_device("sbc-1");
    m.license_key = key.then(key_ref);
    m.license_file = file.then(file_ref);
    m.serial_number = serial.map(str::to_string);
    let mut e = LicenseEntitlement::new(
        "sbc-1",
        LicenseEntitlementSpec::new(ProviderSpec::Mediant(m)),
    );
    e.metadata.namespace = Some("default".into());
    e.metadata.uid = Some("0b9d7c43-5d0e-4f57-9a51-3f1b2c3d4e5f".into());
    e
}

/// The desired state from `resource` with these Secret texts.
fn desired(
    resource: &LicenseEntitlement,
    key: Option<&str>,
    file: Option<&str>,
    reset: ResetPermission,
) -> EntitlementDesired {
    let mut resolved = ResolvedSources::new();
    if let Some(k) = key {
        resolved.insert(SourceRef::Secret(key_ref()), k.to_string());
    }
    if let Some(f) = file {
        resolved.insert(SourceRef::Secret(file_ref()), f.to_string());
    }
    K::validate(resource, plan::Origin::Manifests).expect("valid");
    K::desired(resource, &resolved, reset).expect("desired")
}

fn key_only(key: &str) -> EntitlementDesired {
    desired(
        &entitlement(true, false, None),
        Some(key),
        None,
        ResetPermission::Allowed,
    )
}

async fn once(
    client: &EntitlementClient,
    desired: &EntitlementDesired,
) -> Result<Reconciled<K>, ApplyError> {
    plan::reconcile_once::<K>(client, desired, &SecretDigests::new(), false).await
}

fn facts(o: &EntitlementObserved) -> mediant_operator::api::MediantLicenseFacts {
    match &o.facts {
        ProviderFacts::Mediant(f) => f.clone(),
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
    let serial = device.info.serial_number.clone();
    let resource = entitlement(true, false, Some(&serial));
    let d = desired(&resource, Some(MARKER), None, ResetPermission::Allowed);
    assert_ne!(device.license.key(), MARKER);

    let done = once(&client, &d).await.expect("reconcile");
    let outcome = done.outcome.expect("applied");
    assert_eq!(outcome.steps.len(), 1);
    assert!(outcome.remaining.is_empty(), "verified: nothing left");
    assert!(outcome.not_taken.is_empty());
    // The device holds the key, after one reset, and took one PUT.
    assert_eq!(device.license.key(), MARKER);
    assert_eq!(device.reset_count(), 1);
    let counts = device.counters.snapshot();
    assert_eq!(counts.count("PUT", "/api/v1/license"), 1);
    assert_eq!(counts.writes, 1);
    let f = facts(&outcome.observed);
    assert_eq!(f.form, "key");
    assert_eq!(f.serial_number, serial);
    assert_eq!(f.features["Board Type"], ["Mediant 800"]);
    assert!(f.features["Coders"].contains(&"G729".to_string()));
    assert!(d.digest.starts_with("sha256:") && d.digest.len() == 71);

    // In sync: the next pass reads and writes nothing.
    let before = device.counters.snapshot();
    let again = once(&client, &d).await.expect("reconcile");
    assert!(again.survey.plan.is_empty());
    let after = device.counters.snapshot();
    assert_eq!(after.writes, before.writes, "in sync: zero writes");
    assert_eq!(
        after.total - before.total,
        2,
        "GET /status and GET /license only"
    );
    assert_eq!(device.reset_count(), 1);
    for shown in [
        format!("{:?}", again.survey.observed),
        format!("{:?}", again.survey.plan),
        format!("{d:?}"),
        format!("{:?}", outcome.steps),
    ] {
        no_leak(&shown);
    }
}

#[tokio::test]
async fn a_closed_gate_holds_the_change_back_and_sends_nothing() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let now = Timestamp::now();
    // The device allows resets; the entitlement's gate says Never.
    let gate = Disruption::Never.decide(None, now).unwrap();
    let reset = combine(ResetDecision::Allowed, gate).into();
    let d = desired(&entitlement(true, false, None), Some(MARKER), None, reset);
    let done = once(&client, &d).await.expect("reconcile");
    let plan = &done.survey.plan;
    assert!(plan.steps.is_empty());
    assert_eq!(plan.blocked.len(), 1);
    assert!(plan.blocked[0].0.description.contains("resets"));
    assert!(
        plan.blocked[0].1.contains("spec.disruption is Never"),
        "{}",
        plan.blocked[0].1
    );
    assert_eq!(plan.drift_count, 1);
    let serial = &device.info.serial_number;
    assert!(plan.drift_keys[0].starts_with(&format!("licenseKey[S/N {serial}]: sha256:")));
    assert!(
        plan.drift_keys[0].contains(" → sha256:"),
        "{}",
        plan.drift_keys[0]
    );
    assert_eq!(writes(&fleet, 0), 0, "nothing sent");
    assert_ne!(device.license.key(), MARKER);
    assert_eq!(device.reset_count(), 0);
    // The device's own policy Never holds it back too, and says whose.
    let reset = combine(
        ResetDecision::Refused {
            how_to_allow: "spec.resetPolicy is Never".into(),
        },
        ResetDecision::Allowed,
    )
    .into();
    let d = desired(&entitlement(true, false, None), Some(MARKER), None, reset);
    let done = once(&client, &d).await.expect("reconcile");
    assert!(
        done.survey.plan.blocked[0]
            .1
            .contains("MediantDevice's spec.resetPolicy")
    );
    assert_eq!(writes(&fleet, 0), 0);
    no_leak(&format!("{:?}", done.survey.plan));
}

#[tokio::test]
async fn outside_the_window_it_waits_and_inside_it_is_applied_reset_awaited_and_verified() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let window = MaintenanceWindow {
        days: vec![],
        start: "02:00".into(),
        duration: "1h".into(),
    };
    let resource = {
        let mut e = entitlement(true, false, None);
        e.spec.disruption = Disruption::MaintenanceWindow;
        e.spec.maintenance_window = Some(window.clone());
        e
    };
    // 2024-01-01 12:00 UTC: closed until 2024-01-02 02:00.
    let noon = Timestamp::from_second(1_704_067_200 + 12 * 3600).unwrap();
    let device_spec = mediant_operator::api::MediantDevice::test();
    let mut device_res = device_spec.clone();
    device_res.spec.reset_policy = mediant_operator::api::ResetPolicy::Allowed;
    let closed = K::reset_decision(&resource, Some(&device_res), noon).unwrap();
    match &closed {
        ResetDecision::NotNow { opens_at, reason } => {
            assert_eq!(opens_at.to_string(), "2024-01-02T02:00:00Z");
            assert!(reason.contains("maintenanceWindow"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let d = desired(&resource, Some(MARKER), None, closed.into());
    let done = once(&client, &d).await.expect("reconcile");
    assert_eq!(done.survey.plan.blocked.len(), 1);
    assert_eq!(writes(&fleet, 0), 0);

    // 02:30: the window is open.
    let half_past_two = Timestamp::from_second(1_704_067_200 + 2 * 3600 + 1800).unwrap();
    let open = K::reset_decision(&resource, Some(&device_res), half_past_two).unwrap();
    assert_eq!(open, ResetDecision::Allowed);
    let d = desired(&resource, Some(MARKER), None, open.into());
    let done = once(&client, &d).await.expect("reconcile");
    let outcome = done.outcome.expect("applied");
    assert_eq!(outcome.steps.len(), 1);
    assert!(outcome.remaining.is_empty());
    assert_eq!(device.reset_count(), 1, "the device reset once");
    assert!(!device.is_resetting(), "the reset was awaited");
    assert_eq!(device.license.key(), MARKER, "verified on the device");
    let ProviderObserved::Mediant(after) = &outcome.observed.provider;
    assert_eq!(
        after.license.key.expose(),
        MARKER,
        "read back after the reset"
    );
}

#[tokio::test]
async fn an_ha_pair_gets_the_licence_file_and_a_key_alone_is_refused_before_sending() {
    let fleet = fleet(SimDialect::V74, true, 1).await;
    let device = &fleet.devices()[0].device;
    let serial = device.info.serial_number.clone();
    let client = client_for(&fleet, 0, "Admin");

    // Only a key: the HA state says it cannot work, so nothing is sent.
    let err = once(&client, &key_only(MARKER))
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(matches!(err, ApplyError::Plan(_)), "{message}");
    assert!(
        message.contains("HA pair") && message.contains("licenseFile"),
        "{message}"
    );
    assert_eq!(writes(&fleet, 0), 0);

    // Key and file: the file form is chosen from /status, not from a 409.
    // The pair's file: a key for each unit (and one for another device).
    let redundant = device.license.redundant_serial().expect("an HA pair");
    let file = format!(
        "; fleet licence\nS/N277522263687112 QUJDREVGR0hJSktMTU5PUA==\nS/N{serial} {MARKER}\nS/N{redundant} UmVkdW5kYW50VW5pdEtleQ==\n"
    );
    let d = desired(
        &entitlement(true, true, None),
        Some("c29tZU90aGVyS2V5Rm9ySlNPTg=="),
        Some(&file),
        ResetPermission::Allowed,
    );
    let outcome = once(&client, &d)
        .await
        .expect("reconcile")
        .outcome
        .expect("applied");
    assert!(outcome.remaining.is_empty());
    assert_eq!(device.license.key(), MARKER);
    assert_eq!(
        device.counters.snapshot().count("PUT", "/api/v1/license"),
        1,
        "one PUT, no 409 first"
    );
    assert_eq!(
        device.license.redundant_key().as_deref(),
        Some("UmVkdW5kYW50VW5pdEtleQ=="),
        "both units of the pair got their key"
    );
    let f = facts(&outcome.observed);
    assert_eq!(f.form, "file");
    assert_eq!(f.ha_state, "Active");
    assert_eq!(f.file_serials, Some(3));
    no_leak(&format!("{outcome:?}"));
}

#[tokio::test]
async fn a_serial_mismatch_is_a_named_error_and_nothing_is_sent() {
    let fleet = fleet(SimDialect::V74, false, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let d = desired(
        &entitlement(true, false, Some("277522263687112")),
        Some(MARKER),
        None,
        ResetPermission::Allowed,
    );
    let err = once(&client, &d).await.err().expect("mismatch");
    let message = err.to_string();
    assert!(message.contains("serial number mismatch"), "{message}");
    assert!(message.contains("277522263687112"), "{message}");
    assert!(message.contains(&device.info.serial_number), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");
    assert_eq!(writes(&fleet, 0), 0);
    no_leak(&format!("{err:?} {message}"));
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
    let d = desired(
        &entitlement(false, true, None),
        None,
        Some(&file),
        ResetPermission::Allowed,
    );
    for i in 0..3 {
        let client = client_for(&fleet, i, "Admin");
        let result = once(&client, &d).await;
        let device = &fleet.devices()[i].device;
        if i == 1 {
            let message = result.err().expect("no key for device 1").to_string();
            assert!(
                message.contains(&s(1)) && message.contains("2 other"),
                "{message}"
            );
            assert_eq!(writes(&fleet, 1), 0, "nothing sent to device 1");
        } else {
            let outcome = result.expect("reconcile").outcome.expect("applied");
            assert!(outcome.remaining.is_empty(), "{i}");
            // The 2015 dialect: the file went as application/octet-stream.
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
    let err = once(&client, &key_only(MARKER))
        .await
        .err()
        .expect("forbidden");
    match &err {
        ApplyError::Step {
            source: DeviceError::Forbidden { needed, .. },
            ..
        } => assert_eq!(*needed, Privilege::SecurityAdministrator),
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .contains("needs at least Security Administrator"),
        "{err}"
    );
    assert_eq!(device.reset_count(), 0);
    assert_ne!(device.license.key(), MARKER);
    // A Monitor cannot even read it; the error names Administrator.
    let client = client_for(&fleet, 0, "Monitor");
    let err = plan::survey::<K>(&client, &key_only(MARKER), &SecretDigests::new(), false)
        .await
        .err()
        .expect("forbidden");
    assert!(
        err.to_string().contains("needs at least Administrator"),
        "{err}"
    );
    no_leak(&err.to_string());
}

#[tokio::test]
async fn the_json_409_of_an_ha_device_is_permanent_and_sent_once() {
    // A device that turned HA after the plan was made: the 409 is final.
    let fleet = fleet(SimDialect::V74, true, 1).await;
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let d = key_only(MARKER);
    let mut observed = K::observe(&client, &d, false).await.expect("observe");
    let ProviderObserved::Mediant(o) = &mut observed.provider;
    o.status.high_availability = "Not Operational".into();
    let plan = K::plan(&d, &observed, &SecretDigests::new()).expect("plan");
    let err = K::run_step(&client, &d, &observed, &plan.steps[0].action)
        .await
        .expect_err("409");
    assert!(matches!(err, DeviceError::Rejected { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("License key can't be applied to device in HA configuration"),
        "{err}"
    );
    assert_eq!(
        device.counters.snapshot().count("PUT", "/api/v1/license"),
        1,
        "sent once, not retried"
    );
    assert_eq!(device.reset_count(), 0);
}

#[test]
fn the_public_crd_offers_only_working_providers() {
    // The provider registry's test-only entry (`testOnly`, compiled into the
    // library's own unit tests) never reaches the CRD users install.
    let yaml = mediant_operator::api::crd_yaml().expect("CRDs render");
    let start = yaml
        .find("name: licenseentitlements.mediant.io")
        .expect("the LicenseEntitlement CRD");
    let crd = &yaml[start..];
    assert!(crd.contains("mediant:"), "the mediant provider key");
    assert!(!crd.contains("testOnly"), "no placeholder provider key");
    let checked_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crds/mediant.io_licenseentitlements.yaml"
    ))
    .expect("the checked-in CRD");
    assert!(checked_in.contains("mediant:") && !checked_in.contains("testOnly"));
}

#[tokio::test]
async fn a_2015_device_without_uptime_is_awaited_through_its_unreachable_window() {
    // Firmware 7.00: /status has no systemUpTime (the 2015 document's
    // example), and the device keeps answering for a while after "Device
    // will reset now" before it goes down.
    let fleet = Fleet::start(FleetConfig {
        dialect: SimDialect::V2015,
        firmware: Some("7.00A.018.005".into()),
        reset_time: Duration::from_millis(1_000),
        faults: mediant_operator::simulator::faults::FaultPlan {
            reset_delay_ms: 2_200,
            ..Default::default()
        },
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts");
    let device = &fleet.devices()[0].device;
    let client = client_for(&fleet, 0, "Admin");
    let status = device_client_for(&fleet, 0, "Admin")
        .status()
        .await
        .expect("status");
    assert_eq!(status.system_up_time, None, "no uptime to compare");
    assert_eq!(status.version_id, "7.00A.018.005");

    let started = std::time::Instant::now();
    let done = once(&client, &key_only(MARKER)).await.expect("reconcile");
    let outcome = done.outcome.expect("applied");
    assert_eq!(outcome.steps.len(), 1);
    // Not taken for back while it still answered before going down: the
    // reset had happened and ended when the apply returned.
    assert_eq!(device.reset_count(), 1, "the device went down once");
    assert!(!device.is_resetting(), "and was back");
    assert!(
        started.elapsed() >= Duration::from_millis(3_200),
        "returned after {:?}, before the reset could have ended",
        started.elapsed()
    );
    assert!(outcome.remaining.is_empty(), "verified after the reset");
    assert_eq!(device.license.key(), MARKER, "read back from the device");
    assert_eq!(
        device.counters.snapshot().count("PUT", "/api/v1/license"),
        1,
        "sent once"
    );
    // In sync afterwards: zero writes.
    let writes_before = writes(&fleet, 0);
    let again = once(&client, &key_only(MARKER)).await.expect("in sync");
    assert!(again.survey.plan.is_empty());
    assert_eq!(writes(&fleet, 0), writes_before);
}
