//! `diff -f` and `apply -f` over manifests, run in-process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mediant_operator::cmd::{self, Mode, ReconcileArgs};
use mediant_operator::simulator::{Fleet, FleetConfig};

fn args(files: Vec<PathBuf>, simulate: bool) -> ReconcileArgs {
    ReconcileArgs {
        files,
        simulate,
        username: None,
        password_file: None,
        color: "never".into(),
    }
}

async fn run(args: &ReconcileArgs, mode: Mode) -> (Result<u8, String>, String) {
    let mut out = Vec::new();
    let code = cmd::run(args, mode, &mut out)
        .await
        .map_err(|e| e.to_string());
    (code, String::from_utf8_lossy(&out).into_owned())
}

fn manifest(dir: &Path, endpoint: &str, password: &str, ini: &str) -> PathBuf {
    let indented: String = ini.lines().map(|l| format!("      {l}\n")).collect();
    let text = [
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  username: Admin\n"
            .to_string(),
        format!("  password: {password}\n---\n"),
        "apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: sbc\nspec:\n"
            .to_string(),
        format!("  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: creds\n"),
        format!("  ini:\n    inline: |\n{indented}"),
    ]
    .concat();
    let path = dir.join("device.yaml");
    std::fs::write(&path, text).expect("write manifest");
    path
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mediant-cmd-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
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
async fn apply_simulate_over_the_examples_converges_and_the_second_plan_is_empty() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let (code, out) = run(&args(vec![examples.clone()], true), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert!(
        out.contains("verified: the device matches the desired state"),
        "{out}"
    );
    assert_eq!(
        out.matches("second plan for").count(),
        out.matches("simulated device for").count(),
        "{out}"
    );
    assert!(!out.contains("NOT empty"), "{out}");

    let (code, out) = run(&args(vec![examples], true), Mode::Diff).await;
    assert_eq!(code, Ok(1), "a fresh simulated device differs: {out}");
}

#[tokio::test]
async fn diff_exit_codes_follow_kubectl_diff() {
    let fleet = one_device().await;
    let dir = temp_dir("exit");
    let file = manifest(
        &dir,
        &fleet.devices()[0].base_url,
        "Admin",
        "GWDEBUGLEVEL = 7\n",
    );
    let (code, out) = run(&args(vec![file.clone()], false), Mode::Diff).await;
    assert_eq!(code, Ok(1), "{out}");
    assert!(
        out.contains("+ GWDEBUGLEVEL = 7") || out.contains("- GWDEBUGLEVEL"),
        "{out}"
    );
    let (code, out) = run(&args(vec![file.clone()], false), Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    let (code, out) = run(&args(vec![file], false), Mode::Diff).await;
    assert_eq!(code, Ok(0), "{out}");
    assert!(out.contains("in sync"), "{out}");
}

#[tokio::test]
async fn malformed_ini_in_a_manifest_fails_before_any_request_naming_file_and_line() {
    let fleet = one_device().await;
    let device = &fleet.devices()[0].device;
    let dir = temp_dir("malformed");
    let file = manifest(
        &dir,
        &fleet.devices()[0].base_url,
        "Admin",
        "GWDEBUGLEVEL = 7\nBroken = 'unterminated\n",
    );
    device.counters.reset();
    let (code, out) = run(&args(vec![file], false), Mode::Apply).await;
    let err = code.expect_err("refused");
    assert!(err.contains("device.yaml"), "names the file: {err}");
    assert!(
        err.contains("spec.ini.inline: line 2") && err.contains("unterminated quote"),
        "{err}"
    );
    assert_eq!(device.counters.snapshot().total, 0, "nothing sent: {out}");
}

#[tokio::test]
async fn a_missing_secret_is_named_and_nothing_is_sent() {
    let fleet = one_device().await;
    let device = &fleet.devices()[0].device;
    let dir = temp_dir("nosecret");
    let text = format!(
        "apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: sbc\n  namespace: voice\nspec:\n  endpoint: {}\n  credentialsSecretRef:\n    name: sbc-admin\n  ini:\n    inline: \"GWDEBUGLEVEL = 7\"\n",
        fleet.devices()[0].base_url
    );
    let file = dir.join("device.yaml");
    std::fs::write(&file, text).expect("write");
    device.counters.reset();
    let (code, _) = run(&args(vec![file], false), Mode::Diff).await;
    let err = code.expect_err("refused");
    assert!(err.contains("Secret voice/sbc-admin"), "{err}");
    assert_eq!(device.counters.snapshot().total, 0);
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_that_never_shows_the_password() {
    let fleet = one_device().await;
    let dir = temp_dir("wrongpw");
    let file = manifest(
        &dir,
        &fleet.devices()[0].base_url,
        "Wr0ngPassw0rd",
        "GWDEBUGLEVEL = 7\n",
    );
    let (code, out) = run(&args(vec![file], false), Mode::Apply).await;
    assert_eq!(code, Ok(2), "{out}");
    assert!(out.contains("rejected the credentials (401"), "{out}");
    assert!(!out.contains("Wr0ngPassw0rd"), "{out}");
}
