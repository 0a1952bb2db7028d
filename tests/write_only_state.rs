//! Write-only values converge from the command line too: the state file
//! beside the manifests remembers keyed digests of what was sent (issue 12,
//! "write-only values converge everywhere"). Over real HTTP against the
//! simulator; assertions read the simulator's state and request counters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mediant_operator::cmd::{self, Mode, ReconcileArgs};
use mediant_operator::simulator::{Fleet, FleetConfig};
use sha2::{Digest, Sha256};

/// Planted secrets: they must never show in any output or in the state.
const PRIV: &str = "PLANTEDxPRIVxMARKERx4711";
const ACS: &str = "PLANTEDxACSxMARKERx0815";

fn args(files: Vec<PathBuf>) -> ReconcileArgs {
    ReconcileArgs {
        files,
        simulate: false,
        username: None,
        password_file: None,
        color: "never".into(),
        state: None,
        state_key_file: None,
    }
}

async fn run(args: &ReconcileArgs, mode: Mode) -> (Result<u8, String>, String) {
    let mut out = Vec::new();
    let code = cmd::run(args, mode, &mut out)
        .await
        .map_err(|e| e.to_string());
    let out = String::from_utf8_lossy(&out).into_owned();
    for marker in [PRIV, ACS] {
        assert!(
            !out.contains(marker),
            "a planted secret in the output: {out}"
        );
        if let Err(e) = &code {
            assert!(!e.contains(marker), "a planted secret in an error: {e}");
        }
    }
    (code, out)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mediant-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A device manifest with `extra` spec lines and this INI.
fn manifest(dir: &Path, endpoint: &str, extra: &str, ini_mode: &str, ini: &str) -> PathBuf {
    let indented: String = ini.lines().map(|l| format!("      {l}\n")).collect();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  username: Admin\n  password: Admin\n---\n\
         apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: sbc\nspec:\n\
         \x20 endpoint: {endpoint}\n  credentialsSecretRef:\n    name: creds\n{extra}\
         \x20 ini:\n{ini_mode}    inline: |\n{indented}"
    );
    let path = dir.join("device.yaml");
    std::fs::write(&path, text).expect("write manifest");
    path
}

async fn one_device() -> Fleet {
    Fleet::start(FleetConfig {
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator")
}

fn secret_ini() -> String {
    format!(
        "[SYSTEM Params]\nGWDEBUGLEVEL = 7\nCLIPrivPass = '{PRIV}'\nTR069ACSPASSWORD = '{ACS}'\n"
    )
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_second_apply_of_hidden_passwords_writes_nothing_and_diff_is_clean() {
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("hidden");
    let file = manifest(&dir, &sim.base_url, "", "", &secret_ini());

    let (code, out) = run(&args(vec![file.clone()]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    // The simulator keeps secrets as `$1$` hashes: a new hash is a new value.
    let held = |name: &str| {
        sim.device
            .running()
            .param(name)
            .map(|p| p.value.clone())
            .unwrap_or_default()
    };
    let priv_hash = held("CLIPrivPass");
    assert!(
        priv_hash.starts_with("$1$"),
        "the device took CLIPrivPass: {priv_hash}"
    );
    assert!(held("TR069ACSPASSWORD").starts_with("$1$"));
    let first_writes = sim.device.counters.snapshot().writes;
    assert!(first_writes >= 1, "the first apply wrote");

    // The next run finds the state beside the manifest: nothing is sent.
    sim.device.counters.reset();
    let (code, out) = run(&args(vec![file.clone()]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(
        sim.device.counters.snapshot().writes,
        0,
        "a second apply of the same passwords writes nothing: {out}"
    );
    let (code, out) = run(&args(vec![file.clone()]), Mode::Diff).await;
    assert_eq!(code, Ok(0), "diff after apply is clean: {out}");
    assert_eq!(sim.device.counters.snapshot().writes, 0);

    // The state holds keyed digests, never the values nor their plain hash.
    let state_path = dir.join(cmd::state::DEFAULT_STATE);
    let text = std::fs::read_to_string(&state_path).expect("state file beside the manifest");
    for marker in [PRIV, ACS] {
        assert!(!text.contains(marker), "{text}");
        assert!(!text.contains(&sha256_hex(marker)), "{text}");
    }
    let state: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let digests = &state["resources"]["MediantDevice default/sbc"]["appliedSecretDigests"];
    let priv_digest = digests["CLIPrivPass"]
        .as_str()
        .expect("CLIPrivPass recorded");
    assert!(priv_digest.starts_with("hmac-sha256:"), "{priv_digest}");
    let serial = sim.device.info.serial_number.clone();
    assert_ne!(
        priv_digest.trim_start_matches("hmac-sha256:"),
        mediant_operator::plan::digest(&serial, "CLIPrivPass", PRIV),
        "not the old salted SHA-256"
    );
    let key = std::fs::read_to_string(dir.join(format!("{}.key", cmd::state::DEFAULT_STATE)))
        .expect("key file beside the state");
    assert!(!text.contains(key.trim()), "the key is not in the state");

    // A changed password is sent again (once).
    let changed = secret_ini().replace(PRIV, "PLANTEDxPRIVxMARKERx4712");
    let file = manifest(&dir, &sim.base_url, "", "", &changed);
    sim.device.counters.reset();
    let (code, out) = run(&args(vec![file]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert!(!out.contains("PLANTEDxPRIVxMARKERx4712"), "{out}");
    let new_hash = held("CLIPrivPass");
    assert!(
        new_hash.starts_with("$1$") && new_hash != priv_hash,
        "{new_hash}"
    );
    assert!(sim.device.counters.snapshot().writes >= 1);
}

#[tokio::test]
async fn a_full_upload_with_a_password_resets_once_over_two_applies() {
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("full");
    let file = manifest(
        &dir,
        &sim.base_url,
        "  resetPolicy: Allowed\n",
        "    mode: Full\n",
        &secret_ini(),
    );
    let (code, out) = run(&args(vec![file.clone()]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(
        sim.device.reset_count(),
        1,
        "the full upload reset the device"
    );
    let held = sim
        .device
        .running()
        .param("CLIPrivPass")
        .map(|p| p.value.clone())
        .unwrap_or_default();
    assert!(
        held.starts_with("$1$"),
        "the device took CLIPrivPass: {held}"
    );
    sim.device.counters.reset();
    let (code, out) = run(&args(vec![file]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(sim.device.reset_count(), 1, "no second reset: {out}");
    assert_eq!(sim.device.counters.snapshot().writes, 0, "{out}");
}

#[tokio::test]
async fn a_full_upload_the_device_does_not_take_is_not_repeated() {
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("loop");
    // The device ignores parameters it does not know (the 7.4 document's
    // "parameters (column)" rule, see the simulator's ini_load).
    let file = manifest(
        &dir,
        &sim.base_url,
        "  resetPolicy: Allowed\n",
        "    mode: Full\n",
        "[SYSTEM Params]\nGWDEBUGLEVEL = 7\nNoSuchParameterAnywhere = 1\n",
    );
    let (code, out) = run(&args(vec![file.clone()]), Mode::Apply).await;
    assert_eq!(sim.device.reset_count(), 1, "{out}");
    assert_eq!(code, Ok(2), "the repeat is refused by name: {out}");
    assert!(out.contains("refused to reset the device again"), "{out}");
    assert!(out.contains("NoSuchParameterAnywhere"), "{out}");

    sim.device.counters.reset();
    let (code, out) = run(&args(vec![file.clone()]), Mode::Apply).await;
    assert_eq!(code, Ok(2), "{out}");
    assert!(out.contains("refused to reset the device again"), "{out}");
    assert_eq!(sim.device.reset_count(), 1, "never a second reset: {out}");
    assert_eq!(sim.device.counters.snapshot().writes, 0, "{out}");
    let (code, out) = run(&args(vec![file]), Mode::Diff).await;
    assert_eq!(code, Ok(2), "{out}");
}

#[tokio::test]
async fn a_second_apply_waits_for_the_first_to_release_the_state() {
    let dir = temp_dir("lock");
    let path = dir.join(cmd::state::DEFAULT_STATE);
    let held = cmd::state::State::open(&path, None, true).expect("first");
    let fleet = one_device().await;
    let file = manifest(&dir, &fleet.devices()[0].base_url, "", "", &secret_ini());
    let (code, _) = run(&args(vec![file.clone()]), Mode::Apply).await;
    let err = code.expect_err("locked");
    assert!(err.contains("locked"), "{err}");
    assert_eq!(fleet.devices()[0].device.counters.snapshot().total, 0);
    drop(held);
    let (code, out) = run(&args(vec![file]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
}

/// Runs `apply` and drops it (as a killed process stops) the moment the
/// device has received its save request, which the device holds back by
/// its latency and then drops unanswered: the writes were made, the save
/// never happened.
async fn apply_killed_before_the_save(
    sim: &mediant_operator::simulator::SimulatedDevice,
    args: &ReconcileArgs,
) {
    const SAVE: &str = "/api/v1/actions/saveConfiguration";
    sim.device.faults.update(|f| f.latency_ms = 400);
    let mut out = Vec::new();
    let mut apply = Box::pin(cmd::run(args, Mode::Apply, &mut out));
    let watch = async {
        while sim.device.counters.snapshot().count("POST", SAVE) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Answered after the latency: by then it is dropped, unexecuted.
        sim.device.faults.update(|f| f.drop_connections = 1000);
    };
    tokio::select! {
        result = &mut apply => panic!("apply finished before its save: {result:?}"),
        () = watch => {}
    }
    drop(apply);
    // Let the held request meet its fault, then disarm.
    tokio::time::sleep(Duration::from_millis(600)).await;
    sim.device.faults.clear();
}

#[tokio::test]
async fn an_apply_killed_between_its_upload_and_its_save_is_saved_by_the_next_run() {
    let fleet = one_device().await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("killed");
    let file = manifest(
        &dir,
        &sim.base_url,
        "  saveAfterApply: true\n",
        "",
        "[SYSTEM Params]\nGWDEBUGLEVEL = 7\n",
    );
    let level = |c: &mediant_operator::simulator::firmware::config::DeviceConfig| {
        c.param("GWDebugLevel").map(|p| p.value.clone())
    };
    apply_killed_before_the_save(sim, &args(vec![file.clone()])).await;
    assert_eq!(
        level(&sim.device.running()),
        Some("7".into()),
        "the upload ran"
    );
    assert_eq!(
        level(&sim.device.startup()),
        Some("5".into()),
        "the save did not happen"
    );

    // The next run saves first; nothing else differs.
    sim.device.counters.reset();
    let (code, out) = run(&args(vec![file.clone()]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    let counts = sim.device.counters.snapshot();
    assert_eq!(
        counts.count("POST", "/api/v1/actions/saveConfiguration"),
        1,
        "{out}"
    );
    assert_eq!(counts.writes, 1, "only the save: {out}");

    // A reset without save keeps the change: it was saved.
    sim.device.reset(false);
    for _ in 0..100 {
        if !sim.device.is_resetting() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(level(&sim.device.running()), Some("7".into()));
    // And the record is gone: another run writes nothing.
    sim.device.counters.reset();
    let (code, out) = run(&args(vec![file]), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(sim.device.counters.snapshot().writes, 0, "{out}");
}
