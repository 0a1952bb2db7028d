//! A save never lost, in a cluster (issue 12): a reconcile records a
//! pending save in status before it writes; a new leader that finds it
//! saves first; and a reconcile dropped between its upload and its save (a
//! lost Lease drops the controller) still saves. The real kube client and
//! controller against the API server double, simulated devices over HTTP;
//! assertions read the simulator's startup configuration and counters.

mod support;
mod tls_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use mediant_operator::api::{
    IniSpec, MediantDevice, MediantDeviceSpec, MediantDeviceStatus, TlsContext, TlsContextStatus,
};
use mediant_operator::controller::{ControllerConfig, Metrics, run_controller};
use mediant_operator::device::{ClientOptions, Credentials, MediantClient};
use mediant_operator::simulator::{Fleet, FleetConfig, SimulatedDevice};

use support::apiserver::{ApiServer, ResourceKey, ResourceType};

const NS: &str = "voice";
const SAVE: &str = "/api/v1/actions/saveConfiguration";
const UPLOAD: &str = "/api/v1/files/ini/incremental";

async fn setup(status: Option<MediantDeviceStatus>) -> (ApiServer, Fleet) {
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(
        ResourceType::custom::<mediant_operator::api::LicenseEntitlement>()
            .with_status_subresource(),
    );
    let fleet = Fleet::start(FleetConfig {
        devices: 1,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator");
    server
        .insert(&Secret {
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
        })
        .expect("secret");
    let mut spec = MediantDeviceSpec::new(&fleet.devices()[0].base_url, "sbc-admin");
    spec.ini = Some(IniSpec {
        inline: Some("[SYSTEM Params]\nGWDEBUGLEVEL = 7\n".into()),
        ..IniSpec::default()
    });
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    device.status = status;
    server.insert(&device).expect("device");
    (server, fleet)
}

fn start(server: &ApiServer) -> tokio::task::JoinHandle<()> {
    let config = ControllerConfig {
        interval_override: Some(Duration::from_secs(60)),
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        ..ControllerConfig::default()
    };
    let client = server.client();
    tokio::spawn(async move {
        let _ = run_controller(
            client,
            config,
            Metrics::new(),
            Arc::new(AtomicBool::new(false)),
            std::future::pending(),
        )
        .await;
    })
}

fn level(c: &mediant_operator::simulator::firmware::config::DeviceConfig) -> Option<String> {
    c.param("GWDebugLevel").map(|p| p.value.clone())
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Resets the device without saving and waits until it is back.
async fn reset_without_save(sim: &SimulatedDevice) {
    sim.device.reset(false);
    wait_for("the device back after its reset", || {
        !sim.device.is_resetting()
    })
    .await;
}

fn pending_save(server: &ApiServer) -> Option<serde_json::Value> {
    server
        .get_value(&ResourceKey::of::<MediantDevice>(), Some(NS), "sbc")
        .map(|v| v["status"]["pendingSave"].clone())
        .filter(|v| !v.is_null())
}

#[tokio::test]
async fn a_new_leader_saves_what_the_last_one_wrote_and_did_not_save() {
    // The last leader wrote GWDebugLevel and was gone before its save; its
    // record is in status.
    let status = MediantDeviceStatus {
        pending_save: Some(Time(Timestamp::from_second(1_700_000_000).expect("time"))),
        ..MediantDeviceStatus::default()
    };
    let (server, fleet) = setup(Some(status)).await;
    let sim = &fleet.devices()[0];
    let client = MediantClient::new(
        &sim.base_url,
        Credentials::new("Admin", "Admin"),
        ClientOptions::default(),
    )
    .expect("client");
    client
        .put_ini_incremental("[SYSTEM Params]\nGWDebugLevel = 7\n")
        .await
        .expect("the last leader's upload");
    assert_eq!(level(&sim.device.startup()), Some("5".into()), "not saved");
    sim.device.counters.reset();

    let controller = start(&server);
    wait_for("the save", || {
        sim.device.counters.snapshot().count("POST", SAVE) == 1
    })
    .await;
    wait_for("the record cleared", || pending_save(&server).is_none()).await;
    controller.abort();
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.writes, 1, "only the save: {counts:?}");
    reset_without_save(sim).await;
    assert_eq!(
        level(&sim.device.running()),
        Some("7".into()),
        "the change survives a reset without save"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_reconcile_dropped_between_its_upload_and_its_save_still_saves() {
    let (server, fleet) = setup(None).await;
    let sim = &fleet.devices()[0];
    // Every answer takes a while, so the controller can be dropped while
    // the upload is in flight.
    sim.device.faults.update(|f| f.latency_ms = 300);
    let controller = start(&server);
    wait_for("the upload sent", || {
        sim.device.counters.snapshot().count("PUT", UPLOAD) == 1
    })
    .await;
    assert!(
        pending_save(&server).is_some(),
        "the pending save is recorded before the upload"
    );
    // As a lost Lease does: the controller (and the reconcile) dropped.
    controller.abort();
    let _ = controller.await;
    wait_for("the save, although the reconcile was dropped", || {
        sim.device.counters.snapshot().count("POST", SAVE) == 1
    })
    .await;
    sim.device.faults.clear();
    wait_for("the save answered", || {
        level(&sim.device.startup()) == Some("7".into())
    })
    .await;
    reset_without_save(sim).await;
    assert_eq!(level(&sim.device.running()), Some("7".into()));
    server.stop().await;
}

// A TlsContext (issue 12 for TLS): its changes end in a save (`TlsAction::Save`)
// just as a MediantDevice's do, so they record a pending save too.

const TLS_ROW: &str = "[ TLSContexts ]\nFORMAT TLSContexts_Index = TLSContexts_DTLSVersion;\nTLSContexts 1 = 12;\n[ \\TLSContexts ]\n";

/// A MediantDevice with nothing to configure (so that only the TlsContext
/// writes) and a TlsContext on its context 1 that sets `DTLSVersion` (the
/// seed has 0) and takes its key and certificate from a Secret.
async fn setup_tls(status: Option<TlsContextStatus>) -> (ApiServer, Fleet) {
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    server.register(ResourceType::custom::<TlsContext>().with_status_subresource());
    let fleet = Fleet::start(FleetConfig {
        devices: 1,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator");
    let ca = tls_common::Ca::new("Voice CA");
    let key = tls_common::rsa_key(1024);
    let secrets = [
        (
            "sbc-admin",
            "Opaque",
            vec![
                ("username", "Admin".to_owned()),
                ("password", "Admin".to_owned()),
            ],
        ),
        (
            "teams-cert",
            "kubernetes.io/tls",
            vec![
                ("tls.key", tls_common::pkcs1_pem(&key)),
                ("tls.crt", ca.issue(&key, "sbc.example.com", 90)),
            ],
        ),
    ];
    for (name, type_, data) in secrets {
        server
            .insert(&Secret {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(NS.into()),
                    ..ObjectMeta::default()
                },
                type_: Some(type_.into()),
                data: Some(
                    data.into_iter()
                        .map(|(k, v)| (k.to_owned(), ByteString(v.into_bytes())))
                        .collect(),
                ),
                ..Secret::default()
            })
            .expect("secret");
    }
    let spec = MediantDeviceSpec::new(&fleet.devices()[0].base_url, "sbc-admin");
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    server.insert(&device).expect("device");
    let mut tls: TlsContext = serde_json::from_value(serde_json::json!({
        "apiVersion": "mediant.io/v1alpha1",
        "kind": "TlsContext",
        "metadata": {"name": "teams-tls", "namespace": NS},
        "spec": {
            "deviceRef": {"name": "sbc"},
            "context": {"index": 1},
            "settings": {"DTLSVersion": 12},
            "certificate": {"secretRef": {"name": "teams-cert"}},
        },
    }))
    .expect("TlsContext");
    tls.status = status;
    server.insert(&tls).expect("TlsContext");
    (server, fleet)
}

fn dtls_version(c: &mediant_operator::simulator::firmware::config::DeviceConfig) -> Option<String> {
    c.table("TLSContexts")?
        .cell("1", "DTLSVersion")
        .map(str::to_owned)
}

fn tls_pending_save(server: &ApiServer) -> Option<serde_json::Value> {
    server
        .get_value(&ResourceKey::of::<TlsContext>(), Some(NS), "teams-tls")
        .map(|v| v["status"]["pendingSave"].clone())
        .filter(|v| !v.is_null())
}

#[tokio::test]
async fn a_tls_context_saves_first_what_an_earlier_reconcile_wrote_and_did_not_save() {
    // The last reconcile wrote the context's row and was gone before its
    // save; its record is in status.
    let status = TlsContextStatus {
        pending_save: Some(Time(Timestamp::from_second(1_700_000_000).expect("time"))),
        ..TlsContextStatus::default()
    };
    let (server, fleet) = setup_tls(Some(status)).await;
    let sim = &fleet.devices()[0];
    let client = MediantClient::new(
        &sim.base_url,
        Credentials::new("Admin", "Admin"),
        ClientOptions::default(),
    )
    .expect("client");
    client
        .put_ini_incremental(TLS_ROW)
        .await
        .expect("the last reconcile's row");
    assert_eq!(
        dtls_version(&sim.device.startup()),
        Some("0".into()),
        "not saved"
    );
    sim.device.counters.reset();
    // Each answer takes 100 ms, so the first write is seen alone.
    sim.device.faults.update(|f| f.latency_ms = 100);

    let controller = start(&server);
    wait_for("the first write", || {
        sim.device.counters.snapshot().writes >= 1
    })
    .await;
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        (counts.writes, counts.count("POST", SAVE)),
        (1, 1),
        "the save comes before any TLS write: {counts:?}"
    );
    // Answered after its latency: the row is in startup while no other
    // write has come yet.
    wait_for("the row saved", || {
        dtls_version(&sim.device.startup()) == Some("12".into())
    })
    .await;
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.writes, 1, "{counts:?}");
    // Then the key and certificate uploads, and their own save.
    wait_for("the key, certificate and their save", || {
        sim.device.counters.snapshot().count("POST", SAVE) == 2
    })
    .await;
    wait_for("the record cleared", || tls_pending_save(&server).is_none()).await;
    controller.abort();
    let _ = controller.await;
    sim.device.faults.clear();
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.count("PUT", "/api/v1/files/tls/1/certificate"),
        1,
        "{counts:?}"
    );
    assert_eq!(
        counts.count("PUT", UPLOAD),
        0,
        "the row was there: {counts:?}"
    );
    reset_without_save(sim).await;
    assert_eq!(
        dtls_version(&sim.device.running()),
        Some("12".into()),
        "the change survives a reset without save"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_tls_change_records_its_pending_save_before_its_first_write_and_clears_it_after() {
    let (server, fleet) = setup_tls(None).await;
    let sim = &fleet.devices()[0];
    sim.device.faults.update(|f| f.latency_ms = 100);
    let controller = start(&server);
    wait_for("the first write", || {
        sim.device.counters.snapshot().writes >= 1
    })
    .await;
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.count("POST", SAVE), 0, "{counts:?}");
    assert!(
        tls_pending_save(&server).is_some(),
        "the pending save is recorded before the first TLS write: {counts:?}"
    );
    // The mark stays until the save was made.
    wait_for("the record cleared", || {
        let cleared = tls_pending_save(&server).is_none();
        if cleared {
            let saves = sim.device.counters.snapshot().count("POST", SAVE);
            assert_eq!(saves, 1, "cleared only after the save");
        }
        cleared
    })
    .await;
    controller.abort();
    let _ = controller.await;
    sim.device.faults.clear();
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.count("PUT", UPLOAD), 1, "the row: {counts:?}");
    assert_eq!(counts.count("POST", SAVE), 1, "{counts:?}");
    assert_eq!(
        dtls_version(&sim.device.startup()),
        Some("12".into()),
        "saved"
    );
    reset_without_save(sim).await;
    assert_eq!(dtls_version(&sim.device.running()), Some("12".into()));
    server.stop().await;
}
