//! Write-only values converge in a cluster across restarts (issue 12): the
//! leader keys the digests in status with a Secret it creates when absent,
//! a restarted controller finds them valid and writes nothing, the digests
//! are HMAC (not a hash anyone can recompute) and a full upload the device
//! does not take is never repeated. The real controller (`lead_and_run`)
//! against the API server double; devices are simulated over HTTP.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use mediant_operator::api::MediantDevice;
use mediant_operator::controller::leader::LeaseConfig;
use mediant_operator::controller::run::lead_and_run;
use mediant_operator::controller::{ControllerConfig, DIGEST_KEY_SECRET};
use mediant_operator::simulator::{Fleet, FleetConfig, SimulatedDevice};

use support::apiserver::{ApiServer, ResourceKey, ResourceType};
use support::free_addr;

const NS: &str = "voice";
const LEASE_NS: &str = "mediant-system";
/// A planted secret: never in status, events or the Secret.
const MARKER: &str = "PLANTEDxCLUSTERxPRIVx2718";

async fn setup(spec_extra: Value, ini: &str) -> (ApiServer, Fleet) {
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
    let mut spec = json!({
        "endpoint": fleet.devices()[0].base_url,
        "credentialsSecretRef": {"name": "sbc-admin"},
        "ini": {"inline": ini},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            if k == "ini" {
                for (ik, iv) in v.as_object().expect("ini object") {
                    spec["ini"][ik] = iv.clone();
                }
            } else {
                spec.insert(k.clone(), v.clone());
            }
        }
    }
    server
        .insert_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "MediantDevice",
            "metadata": {"name": "sbc", "namespace": NS},
            "spec": spec,
        }))
        .expect("device");
    (server, fleet)
}

/// One replica; stop it by sending `true`.
fn replica(server: &ApiServer) -> (tokio::task::JoinHandle<()>, watch::Sender<bool>) {
    let (stop, stop_rx) = watch::channel(false);
    let lease = LeaseConfig {
        renew_every: Duration::from_millis(100),
        ..LeaseConfig::new("mediant-operator", LEASE_NS, "replica-a")
    };
    let config = ControllerConfig {
        interval_override: Some(Duration::from_millis(300)),
        ..ControllerConfig::default()
    };
    let task = tokio::spawn({
        let client = server.client();
        async move {
            lead_and_run(client, lease, config, free_addr(), stop_rx)
                .await
                .expect("clean exit");
        }
    });
    (task, stop)
}

async fn stop(replica: (tokio::task::JoinHandle<()>, watch::Sender<bool>)) {
    let (task, stop) = replica;
    stop.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .expect("join");
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

fn device(server: &ApiServer) -> Value {
    server
        .get_value(&ResourceKey::of::<MediantDevice>(), Some(NS), "sbc")
        .expect("device stored")
}

fn condition(server: &ApiServer, kind: &str) -> Option<(String, String)> {
    device(server)["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
}

/// Waits until the device has been read at least `n` more times.
async fn reconciled(sim: &SimulatedDevice, n: u64) {
    let start = sim
        .device
        .counters
        .snapshot()
        .count("GET", "/api/v1/files/ini");
    wait_for("reconciles", || {
        sim.device
            .counters
            .snapshot()
            .count("GET", "/api/v1/files/ini")
            >= start + n
    })
    .await;
}

#[tokio::test]
async fn digests_are_keyed_by_the_operator_secret_and_survive_a_restart() {
    let ini = format!("[SYSTEM Params]\nGWDEBUGLEVEL = 7\nCLIPrivPass = '{MARKER}'\n");
    let (server, fleet) = setup(json!({}), &ini).await;
    let sim = &fleet.devices()[0];

    let first = replica(&server);
    wait_for("Ready", || {
        condition(&server, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    let hash = sim
        .device
        .running()
        .param("CLIPrivPass")
        .map(|p| p.value.clone())
        .unwrap_or_default();
    assert!(
        hash.starts_with("$1$"),
        "the device took CLIPrivPass: {hash}"
    );
    stop(first).await;

    // The key Secret was created beside the Lease.
    let secrets: Vec<Secret> = server.list(Some(LEASE_NS));
    let key = secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(DIGEST_KEY_SECRET))
        .and_then(|s| s.data.as_ref()?.get("key").cloned())
        .expect("the digest key Secret with its key");
    assert!(key.0.len() >= 32, "{} bytes", key.0.len());

    let stored = device(&server);
    let digest = stored["status"]["appliedSecretDigests"]["CLIPrivPass"]
        .as_str()
        .expect("CLIPrivPass digest in status")
        .to_owned();
    assert!(digest.starts_with("hmac-sha256:"), "{digest}");
    let serial = sim.device.info.serial_number.clone();
    // Keyed by the Secret's key (so another process with the Secret, and
    // only such a process, can check it).
    let keyed = mediant_operator::plan::SecretDigests::keyed(
        mediant_operator::plan::DigestKey::from_text(std::str::from_utf8(&key.0).expect("text"))
            .expect("a key"),
        BTreeMap::new(),
    );
    assert_eq!(digest, keyed.seal(&serial, "CLIPrivPass", MARKER));
    let plain: String = Sha256::digest(MARKER.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let hex = digest.trim_start_matches("hmac-sha256:");
    assert_ne!(hex, plain);
    assert_ne!(
        hex,
        mediant_operator::plan::digest(&serial, "CLIPrivPass", MARKER)
    );
    // The revision covers the INI text, the marker included: shown keyed,
    // never as the plain SHA-256 anyone could check a guess against.
    let revision = stored["status"]["lastAppliedRevision"]
        .as_str()
        .expect("lastAppliedRevision")
        .to_owned();
    let spec: MediantDevice = serde_json::from_value(stored.clone()).expect("device");
    let plain_revision = mediant_operator::api::desired_revision(
        &spec.spec,
        &mediant_operator::api::ResolvedSources::new(),
    );
    assert_eq!(
        revision,
        keyed.seal_digest("MediantDevice", &plain_revision),
        "keyed with the operator's key"
    );
    assert!(!revision.contains(plain_revision.trim_start_matches("sha256:")));
    // (The spec holds the INI itself; status must not.)
    assert!(!stored["status"].to_string().contains(MARKER));
    for event in server.list::<Event>(Some(NS)) {
        assert!(!format!("{event:?}").contains(MARKER), "{event:?}");
    }

    // A restarted controller reads the same key: the hidden password is
    // still in sync, nothing is written over several resyncs.
    sim.device.counters.reset();
    let second = replica(&server);
    reconciled(sim, 3).await;
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.writes, 0, "in sync after a restart: {counts:?}");
    assert_eq!(
        device(&server)["status"]["lastAppliedRevision"].as_str(),
        Some(revision.as_str()),
        "the same key, the same revision"
    );
    stop(second).await;
    server.stop().await;
}

#[tokio::test]
async fn a_full_upload_the_device_does_not_take_stalls_instead_of_resetting_again() {
    // The device ignores parameters it does not know.
    let (server, fleet) = setup(
        json!({"resetPolicy": "Allowed", "ini": {"mode": "Full"}}),
        "[SYSTEM Params]\nGWDEBUGLEVEL = 7\nNoSuchParameterAnywhere = 1\n",
    )
    .await;
    let sim = &fleet.devices()[0];
    let running = replica(&server);
    wait_for("Stalled ResetLoopRefused", || {
        condition(&server, "Stalled") == Some(("True".into(), "ResetLoopRefused".into()))
    })
    .await;
    assert_eq!(sim.device.reset_count(), 1, "one reset");
    reconciled(sim, 3).await;
    assert_eq!(sim.device.reset_count(), 1, "never a second reset");
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/files/ini"),
        1,
        "the full upload was sent once"
    );
    let events = server.list::<Event>(Some(NS));
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("ResetLoopRefused")),
        "{events:?}"
    );
    stop(running).await;
    server.stop().await;
}
