//! LicenseEntitlement through `apply -f` / `diff -f` (in process) against
//! simulated devices: one apply converges, a second writes nothing, a closed
//! gate sends nothing, a serial mismatch is named, and the planted licence
//! key never appears in the output. Device state is read from the simulator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mediant_operator::cmd::{self, Mode, ReconcileArgs};
use mediant_operator::simulator::{Fleet, FleetConfig};

/// A planted key: it must never show in the command's output.
const MARKER: &str = "PLANTEDxLICENCExMARKERx0077";

fn args(dir: &Path) -> ReconcileArgs {
    ReconcileArgs {
        files: vec![dir.to_path_buf()],
        simulate: false,
        username: None,
        password_file: None,
        color: "never".into(),
        state: None,
        state_key_file: None,
    }
}

async fn run(dir: &Path, mode: Mode) -> (Result<u8, String>, String) {
    let mut out = Vec::new();
    let code = cmd::run(&args(dir), mode, &mut out)
        .await
        .map_err(|e| e.to_string());
    (code, String::from_utf8_lossy(&out).into_owned())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mediant-lic-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A MediantDevice at `endpoint` (resetPolicy `reset_policy`), its
/// credentials, a licence Secret holding `MARKER` and a LicenseEntitlement
/// with `extra` spec lines.
fn manifests(dir: &Path, endpoint: &str, reset_policy: &str, entitlement: &str) {
    let text = format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  username: Admin
  password: Admin
---
apiVersion: mediant.io/v1alpha1
kind: MediantDevice
metadata:
  name: sbc
spec:
  endpoint: {endpoint}
  credentialsSecretRef:
    name: creds
  resetPolicy: {reset_policy}
  ini:
    inline: |
      [SYSTEM Params]
      EnableSyslog = 1
---
apiVersion: v1
kind: Secret
metadata:
  name: licence
stringData:
  license.key: {MARKER}
---
apiVersion: mediant.io/v1alpha1
kind: LicenseEntitlement
metadata:
  name: sbc-licence
spec:
  provider:
    mediant:
      deviceRef:
        name: sbc
      licenseKey:
        name: licence
        key: license.key
{entitlement}"#
    );
    std::fs::write(dir.join("sbc.yaml"), text).expect("write manifests");
}

async fn one_device() -> Fleet {
    Fleet::start(FleetConfig {
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator")
}

#[tokio::test]
async fn apply_installs_the_key_once_and_a_second_apply_writes_nothing() {
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("converge");
    manifests(&dir, &sim.base_url, "Allowed", "  disruption: Allowed\n");

    let (code, out) = run(&dir, Mode::Diff).await;
    assert_eq!(code, Ok(1), "a fresh device differs: {out}");
    assert_eq!(
        sim.device.counters.snapshot().writes,
        0,
        "diff sends nothing"
    );

    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(sim.device.license.key(), MARKER, "the device holds the key");
    assert_eq!(sim.device.reset_count(), 1, "one reset for the licence");
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.count("PUT", "/api/v1/license"), 1);
    assert!(
        out.contains("second plan for LicenseEntitlement default/sbc-licence"),
        "{out}"
    );
    assert!(!out.contains(MARKER), "the key leaked: {out}");

    // In sync: a second apply writes nothing to the device.
    let before = sim.device.counters.snapshot();
    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    let after = sim.device.counters.snapshot();
    assert_eq!(after.writes, before.writes, "zero writes: {out}");
    assert_eq!(sim.device.reset_count(), 1);
    assert!(!out.contains(MARKER), "the key leaked: {out}");
}

#[tokio::test]
async fn a_closed_gate_sends_nothing_and_says_why() {
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("gate");
    // The device allows resets; the entitlement's gate (default Never) does not.
    manifests(&dir, &sim.base_url, "Allowed", "");
    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(code, Ok(1), "held back: not converged: {out}");
    assert!(out.contains("spec.disruption is Never"), "{out}");
    assert_ne!(sim.device.license.key(), MARKER);
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/license"),
        0
    );
    assert_eq!(sim.device.reset_count(), 0);

    // The gate allows it, the device's resetPolicy Never does not.
    manifests(&dir, &sim.base_url, "Never", "  disruption: Allowed\n");
    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(code, Ok(1), "{out}");
    assert!(
        out.contains("MediantDevice's spec.resetPolicy is Never"),
        "{out}"
    );
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/license"),
        0
    );
    assert!(!out.contains(MARKER), "the key leaked: {out}");
}

#[tokio::test]
async fn a_serial_mismatch_is_named_and_nothing_is_sent() {
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("serial");
    manifests(
        &dir,
        &sim.base_url,
        "Allowed",
        "      serialNumber: \"277522263687112\"\n  disruption: Allowed\n",
    );
    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(code, Ok(2), "a failed target: {out}");
    assert!(out.contains("serial number mismatch"), "{out}");
    assert!(out.contains("277522263687112"), "{out}");
    assert!(out.contains(&sim.device.info.serial_number), "{out}");
    assert_eq!(
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/license"),
        0
    );
    assert!(!out.contains(MARKER), "the key leaked: {out}");
}

/// Never a reset loop: a device that accepts the key, resets and still
/// shows its old key gets the install once; the next apply refuses to
/// install that very key again (no PUT, no reset, exit 2, the refusal by
/// name); another key is installed normally. The keys never show.
#[tokio::test]
async fn a_key_the_device_does_not_take_is_not_installed_again() {
    use mediant_operator::simulator::device::faults::FaultPlan;
    const OTHER: &str = "PLANTEDxLICENCExMARKERx0078";
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("loop");
    manifests(&dir, &sim.base_url, "Allowed", "  disruption: Allowed\n");
    let factory = sim.device.license.key();
    sim.device.faults.set(FaultPlan {
        ignore_license_installs: 1,
        ..FaultPlan::default()
    });
    let puts = || {
        sim.device
            .counters
            .snapshot()
            .count("PUT", "/api/v1/license")
    };

    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(puts(), 1, "one install: {out}");
    assert_eq!(sim.device.reset_count(), 1, "one reset: {out}");
    assert_eq!(sim.device.license.key(), factory, "the device kept its key");
    assert_eq!(code, Ok(2), "the verification names the loop: {out}");
    assert!(out.contains("refused to reset the device again"), "{out}");

    // The device did not take it: the same key is not sent again.
    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(code, Ok(2), "{out}");
    assert!(
        out.contains("error: install the licence key")
            && out.contains("refused to reset the device again")
            && out.contains("@reset/license-key"),
        "{out}"
    );
    assert_eq!(puts(), 1, "no second install: {out}");
    assert_eq!(sim.device.reset_count(), 1, "no second reset: {out}");
    let (code, out) = run(&dir, Mode::Diff).await;
    assert_eq!(code, Ok(2), "diff names the loop too: {out}");
    assert!(!out.contains(MARKER), "the key leaked: {out}");

    // Another key is installed normally (the fault is used up).
    let path = dir.join("sbc.yaml");
    let text = std::fs::read_to_string(&path).expect("manifests");
    std::fs::write(&path, text.replace(MARKER, OTHER)).expect("write manifests");
    let (code, out) = run(&dir, Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(puts(), 2, "{out}");
    assert_eq!(sim.device.reset_count(), 2, "{out}");
    assert_eq!(sim.device.license.key(), OTHER);
    assert!(
        !out.contains(MARKER) && !out.contains(OTHER),
        "a key leaked: {out}"
    );
    let state = std::fs::read_to_string(dir.join("mediant-operator.state.json")).expect("state");
    assert!(state.contains("@reset/license-key"), "{state}");
    assert!(
        !state.contains(MARKER) && !state.contains(OTHER),
        "a key leaked: {state}"
    );
}
