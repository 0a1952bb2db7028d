//! INI text from Secrets (`spec.ini.secretRefs`, issue 12 "Secret values
//! from Secrets"), over HTTP against the simulator through both front
//! ends: `diff`/`apply -f` (the manifests' Secrets, in-process) and `run`
//! (the controller over the API server double). What is judged is read
//! back from the simulated device (its running and startup configuration,
//! its request counters) and the printed or stored output (planted
//! markers must never appear).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use mediant_operator::api::{
    ConditionStatus, ConditionType, ConfigMapKeyRef, IniSpec, MediantDevice, MediantDeviceSpec,
    SecretKeyRef, find_condition,
};
use mediant_operator::cmd::{self, Mode};
use mediant_operator::config::ini;
use mediant_operator::controller::{ControllerConfig, Metrics, run_controller};
use mediant_operator::device::{ClientOptions, Credentials, MediantClient};
use mediant_operator::plan::{self, DesiredState, MediantDeviceKind, SecretDigests};
use mediant_operator::simulator::{Fleet, FleetConfig, SimulatedDevice};

use support::apiserver::{ApiServer, ResourceKey, ResourceType, Verb};

const NS: &str = "voice";
/// Planted in the Secret: a password, and a user name (a column whose name
/// does not look secret; only its source makes it so).
const PASSWORD: &str = "MARKER-pw-5e1f9c";
const USER: &str = "MARKER-user-77ab";
/// What the ConfigMap declares of the same row, and a plain parameter.
const BASE_INI: &str = "[SYSTEM Params]\nGWDEBUGLEVEL = 7\n[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_UserLevel;\nWebUsers 5 = 100;\n[ \\WebUsers ]\n";

/// The Secret's INI: the secret columns of row 5 only.
fn secret_ini(user: &str, password: &str) -> String {
    format!(
        "[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password;\nWebUsers 5 = \"{user}\", \"{password}\";\n[ \\WebUsers ]\n"
    )
}

async fn fleet(devices: usize) -> Fleet {
    Fleet::start(FleetConfig {
        devices,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// A cell of the device's running configuration, read from the simulator.
fn web_user(sim: &SimulatedDevice, column: &str) -> Option<String> {
    sim.device
        .running()
        .table("WebUsers")?
        .cell("5", column)
        .map(str::to_string)
}

/// What the device stores for `password` when it is sent inline (the
/// control: the Secret route must send exactly the Secret's value).
async fn stored_form_of(sim: &SimulatedDevice, password: &str) -> String {
    let client = MediantClient::new(
        &sim.base_url,
        Credentials::new("Admin", "Admin"),
        ClientOptions::default(),
    )
    .expect("client");
    let desired = DesiredState {
        ini: Some(ini::parse(&secret_ini("control", password)).expect("parses")),
        save_after_apply: false,
        ..DesiredState::default()
    };
    let done =
        plan::reconcile_once::<MediantDeviceKind>(&client, &desired, &SecretDigests::new(), false)
            .await
            .expect("control applies");
    let outcome = done.outcome.expect("applied");
    assert!(outcome.remaining.is_empty());
    web_user(sim, "Password").expect("control row")
}

// ------------------------------------------------------------ diff/apply -f

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("mediant-secret-src-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes the manifests: credentials, the ConfigMap, the device naming
/// both, and (unless `secret` is `None`) the Secret with `secret` as its
/// data.
fn write_manifests(dir: &Path, endpoint: &str, secret: Option<(&str, &str)>) -> PathBuf {
    let indent = |text: &str| -> String { text.lines().map(|l| format!("    {l}\n")).collect() };
    let mut text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sbc-admin\n  namespace: {NS}\nstringData:\n  username: Admin\n  password: Admin\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sbc-base\n  namespace: {NS}\ndata:\n  base.ini: |\n{}---\n\
         apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: sbc\n  namespace: {NS}\nspec:\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: sbc-admin\n  ini:\n    configMapRefs:\n    - name: sbc-base\n      key: base.ini\n    secretRefs:\n    - name: sbc-secrets\n      key: webusers.ini\n",
        indent(BASE_INI)
    );
    if let Some((key, value)) = secret {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: sbc-secrets\n  namespace: {NS}\nstringData:\n  {key}: |\n{}",
            indent(value)
        ));
    }
    let path = dir.join("device.yaml");
    std::fs::write(&path, text).expect("write manifests");
    path
}

/// Runs `diff` or `apply` on `file` as the command line would parse it.
async fn run_cli(file: &Path, mode: Mode) -> (Result<u8, String>, String) {
    let verb = match mode {
        Mode::Diff => "diff",
        Mode::Apply => "apply",
    };
    let file = file.to_string_lossy().into_owned();
    let parsed =
        cmd::Cli::try_parse_from(["mediant-operator", verb, "-f", &file, "--color", "never"])
            .expect("arguments parse");
    let (cmd::Command::Diff(args) | cmd::Command::Apply(args)) = parsed.command else {
        panic!("not diff/apply");
    };
    let mut out = Vec::new();
    let code = cmd::run(&args, mode, &mut out)
        .await
        .map_err(|e| e.to_string());
    (code, String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn apply_takes_an_ini_password_from_a_secret_and_never_prints_it() {
    let fleet = fleet(2).await;
    let (sim, control) = (&fleet.devices()[0], &fleet.devices()[1]);
    let dir = temp_dir("apply");
    let file = write_manifests(
        &dir,
        &sim.base_url,
        Some(("webusers.ini", &secret_ini(USER, PASSWORD))),
    );

    let (code, diff_out) = run_cli(&file, Mode::Diff).await;
    assert_eq!(code, Ok(1), "the device differs: {diff_out}");
    assert!(diff_out.contains("WebUsers[5]"), "{diff_out}");
    assert_eq!(
        sim.device.counters.snapshot().writes,
        0,
        "diff writes nothing"
    );

    let (code, out) = run_cli(&file, Mode::Apply).await;
    assert_eq!(code, Ok(0), "converged: {out}");
    for shown in [&diff_out, &out] {
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(
            !shown.contains(USER),
            "a value from a Secret is masked: {shown}"
        );
    }
    // The device holds the merged row: the ConfigMap's level, the Secret's
    // user and (stored as the device stores passwords) its password.
    assert_eq!(web_user(sim, "UserLevel").as_deref(), Some("100"));
    assert_eq!(web_user(sim, "Username").as_deref(), Some(USER));
    let stored = web_user(sim, "Password").expect("password cell");
    assert!(
        stored.starts_with("$1$") && !stored.contains(PASSWORD),
        "{stored}"
    );
    assert_eq!(
        stored,
        stored_form_of(control, PASSWORD).await,
        "the Secret's value was sent"
    );
    let saved = sim.device.startup();
    assert_eq!(
        saved
            .table("WebUsers")
            .and_then(|t| t.cell("5", "Username"))
            .map(str::to_string)
            .as_deref(),
        Some(USER),
        "saved: a restart keeps it"
    );
}

#[tokio::test]
async fn a_missing_secret_or_key_is_named_and_nothing_is_sent() {
    let fleet = fleet(1).await;
    let sim = &fleet.devices()[0];
    let cases = [
        (
            None,
            "Secret voice/sbc-secrets (named in spec secretRefs) is not among the manifests",
        ),
        (
            Some(("other.ini", secret_ini(USER, PASSWORD))),
            "Secret `sbc-secrets` has no key `webusers.ini` (named in spec secretRefs)",
        ),
    ];
    for (i, (secret, expected)) in cases.into_iter().enumerate() {
        let dir = temp_dir(&format!("missing-{i}"));
        let file = write_manifests(
            &dir,
            &sim.base_url,
            secret.as_ref().map(|(k, v)| (*k, v.as_str())),
        );
        sim.device.counters.reset();
        for mode in [Mode::Diff, Mode::Apply] {
            let (code, out) = run_cli(&file, mode).await;
            let err = code.expect_err("refused");
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("voice/sbc"), "names the device: {err}");
            for shown in [&err, &out] {
                assert!(
                    !shown.contains(PASSWORD) && !shown.contains(USER),
                    "{shown}"
                );
            }
        }
        assert_eq!(sim.device.counters.snapshot().total, 0, "nothing sent");
    }
}

#[tokio::test]
async fn a_malformed_secret_text_is_named_by_line_without_its_values() {
    let fleet = fleet(1).await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("malformed");
    let bad = format!(
        "[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Password;\nWebUsers 5 = \"{PASSWORD};\n"
    );
    let file = write_manifests(&dir, &sim.base_url, Some(("webusers.ini", &bad)));
    sim.device.counters.reset();
    let (code, out) = run_cli(&file, Mode::Apply).await;
    let err = code.expect_err("refused");
    assert!(
        err.contains("Secret `sbc-secrets` key `webusers.ini`: line 3"),
        "{err}"
    );
    assert!(
        !err.contains(PASSWORD) && !out.contains(PASSWORD),
        "{err} {out}"
    );
    assert_eq!(sim.device.counters.snapshot().total, 0, "nothing sent");
}

// ------------------------------------------------------------------- run

/// Polls `check` until it gives a value, for up to 20 s.
async fn wait<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn secret_object(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}

/// Whether `name` is Ready=True at its current generation.
fn ready(server: &ApiServer, name: &str) -> bool {
    server
        .get::<MediantDevice>(Some(NS), name)
        .and_then(|d| {
            let status = d.status?;
            let c = find_condition(&status.conditions, ConditionType::Ready)?;
            Some(
                c.status == ConditionStatus::True
                    && status.observed_generation == d.metadata.generation,
            )
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_takes_an_ini_password_from_a_secret_converges_and_is_then_quiet() {
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    let fleet = fleet(2).await;
    let (sim, control) = (&fleet.devices()[0], &fleet.devices()[1]);
    let client = server.client();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let post = PostParams::default();
    secrets
        .create(
            &post,
            &secret_object("sbc-admin", &[("username", "Admin"), ("password", "Admin")]),
        )
        .await
        .expect("credentials");
    secrets
        .create(
            &post,
            &secret_object(
                "sbc-secrets",
                &[("webusers.ini", &secret_ini(USER, PASSWORD))],
            ),
        )
        .await
        .expect("secret INI");
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("sbc-base".into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "base.ini".to_string(),
            BASE_INI.to_string(),
        )])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), NS)
        .create(&post, &cm)
        .await
        .expect("config map");
    let mut spec = MediantDeviceSpec::new(&sim.base_url, "sbc-admin");
    spec.ini = Some(IniSpec {
        config_map_refs: vec![ConfigMapKeyRef {
            name: "sbc-base".into(),
            key: "base.ini".into(),
        }],
        secret_refs: vec![SecretKeyRef::new("sbc-secrets", "webusers.ini")],
        ..IniSpec::default()
    });
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    Api::<MediantDevice>::namespaced(client.clone(), NS)
        .create(&post, &device)
        .await
        .expect("device");

    let config = ControllerConfig {
        interval_override: Some(Duration::from_millis(300)),
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        ..ControllerConfig::default()
    };
    let metrics = Metrics::new();
    let is_ready = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_controller(
        server.client(),
        config,
        metrics,
        Arc::clone(&is_ready),
        async move {
            let _ = stopped.await;
        },
    ));
    wait("the controller ready", || {
        is_ready.load(Ordering::SeqCst).then_some(())
    })
    .await;
    wait("sbc Ready", || ready(&server, "sbc").then_some(())).await;

    // Converged, judged on the device.
    assert_eq!(web_user(sim, "Username").as_deref(), Some(USER));
    assert_eq!(web_user(sim, "UserLevel").as_deref(), Some("100"));
    let first = web_user(sim, "Password").expect("password");
    assert_eq!(first, stored_form_of(control, PASSWORD).await);

    // Then quiet: several drift checks, not one write.
    sim.device.counters.reset();
    wait("three more drift checks", || {
        (sim.device
            .counters
            .snapshot()
            .count("GET", "/api/v1/files/ini")
            >= 3)
            .then_some(())
    })
    .await;
    let counts = sim.device.counters.snapshot();
    assert_eq!(counts.writes, 0, "in sync means zero writes: {counts:?}");

    // A rotated Secret is watched, sent, and quiet again.
    const ROTATED: &str = "MARKER-pw-rotated-31d0";
    secrets
        .patch(
            "sbc-secrets",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"webusers.ini": secret_ini(USER, ROTATED)}})),
        )
        .await
        .expect("rotate");
    let rotated = stored_form_of(control, ROTATED).await;
    wait("the rotated password on the device", || {
        (web_user(sim, "Password").as_deref() == Some(rotated.as_str())).then_some(())
    })
    .await;
    wait("sbc Ready after the rotation", || {
        ready(&server, "sbc").then_some(())
    })
    .await;
    sim.device.counters.reset();
    wait("three more drift checks", || {
        (sim.device
            .counters
            .snapshot()
            .count("GET", "/api/v1/files/ini")
            >= 3)
            .then_some(())
    })
    .await;
    assert_eq!(sim.device.counters.snapshot().writes, 0);

    // No value from the Secret in status or events.
    let status = server
        .get_value(&ResourceKey::of::<MediantDevice>(), Some(NS), "sbc")
        .and_then(|v| v.get("status").cloned())
        .expect("status");
    let events = server.list::<K8sEvent>(Some(NS));
    assert!(!events.is_empty(), "the apply was reported");
    let shown = format!("{status} {events:?}");
    for marker in [PASSWORD, ROTATED, USER] {
        assert!(!shown.contains(marker), "{marker} in {shown}");
    }

    // Secrets (and ConfigMaps) are listed and watched as metadata only:
    // their data enters the process only through the reconcile's reads of
    // what it names.
    let requests = server.requests();
    let secret_watches: Vec<_> = requests
        .iter()
        .filter(|r| {
            (r.resource == "secrets" || r.resource == "configmaps")
                && matches!(r.verb, Verb::List | Verb::Watch)
        })
        .collect();
    assert!(
        secret_watches.iter().any(|r| r.resource == "secrets")
            && secret_watches.iter().any(|r| r.resource == "configmaps"),
        "Secrets and ConfigMaps are watched: {secret_watches:#?}"
    );
    assert!(
        secret_watches.iter().all(|r| r.metadata_only),
        "{secret_watches:#?}"
    );
    let reads = requests
        .iter()
        .filter(|r| r.resource == "secrets" && r.verb == Verb::Get)
        .collect::<Vec<_>>();
    assert!(
        reads
            .iter()
            .any(|r| r.name.as_deref() == Some("sbc-secrets") && !r.metadata_only),
        "the reconcile reads the Secret it names: {reads:#?}"
    );

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    server.stop().await;
}

// --------------------------------------------------------------- example

#[tokio::test]
async fn the_example_applies_and_never_prints_its_password() {
    let fleet = fleet(1).await;
    let sim = &fleet.devices()[0];
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/secrets/mediantdevice-ini-secret.yaml");
    let text = std::fs::read_to_string(&example).expect("example");
    assert!(text.contains("Example-Only-Pa55"));
    let dir = temp_dir("example");
    let file = dir.join("example.yaml");
    std::fs::write(&file, text.replace("http://127.0.0.1:8080", &sim.base_url))
        .expect("write copy");
    let (code, out) = run_cli(&file, Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert!(!out.contains("Example-Only-Pa55"), "{out}");
    assert_eq!(web_user(sim, "Username").as_deref(), Some("noc-operator"));
    let stored = web_user(sim, "Password").expect("password");
    assert!(stored.starts_with("$1$"), "{stored}");
    assert_eq!(
        sim.device
            .running()
            .param("SyslogServerIP")
            .map(|p| p.value.clone())
            .as_deref(),
        Some("10.15.2.3")
    );
}

// -------------------------------------------------------------- CLI text

/// `GET /api/v1/files/cliScript`: the device's running configuration as
/// the device itself writes it.
async fn device_cli(sim: &SimulatedDevice) -> String {
    MediantClient::new(
        &sim.base_url,
        Credentials::new("Admin", "Admin"),
        ClientOptions::default(),
    )
    .expect("client")
    .cli_script()
    .await
    .expect("GET cliScript")
}

#[tokio::test]
async fn cli_text_from_a_secret_reaches_the_device_and_is_masked_in_output() {
    const NAME: &str = "MARKER-cli-4b2d";
    let fleet = fleet(1).await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("cli");
    let script = format!("configure system\n snmp settings\n  sys-name \"{NAME}\"\n exit\nexit\n");
    let indented: String = script.lines().map(|l| format!("    {l}\n")).collect();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sbc-admin\n  namespace: {NS}\nstringData:\n  username: Admin\n  password: Admin\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: sbc-cli\n  namespace: {NS}\nstringData:\n  snmp.cli: |\n{indented}---\n\
         apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: sbc\n  namespace: {NS}\nspec:\n  endpoint: {}\n  credentialsSecretRef:\n    name: sbc-admin\n  cliScript:\n    secretRefs:\n    - name: sbc-cli\n      key: snmp.cli\n",
        sim.base_url
    );
    let file = dir.join("device.yaml");
    std::fs::write(&file, text).expect("write");
    assert!(!device_cli(sim).await.contains(NAME));

    let (code, out) = run_cli(&file, Mode::Apply).await;
    assert_eq!(code, Ok(0), "{out}");
    assert!(out.contains("sys-name"), "the change is named: {out}");
    assert!(!out.contains(NAME), "its value is masked: {out}");
    assert!(device_cli(sim).await.contains(NAME), "the device holds it");

    sim.device.counters.reset();
    let (code, out) = run_cli(&file, Mode::Diff).await;
    assert_eq!(code, Ok(0), "in sync: {out}");
    assert_eq!(sim.device.counters.snapshot().writes, 0);
}

#[tokio::test]
async fn a_device_error_never_echoes_a_value_from_a_secret() {
    const NAME: &str = "MARKER-cli-echo-90c1";
    let fleet = fleet(1).await;
    let sim = &fleet.devices()[0];
    let dir = temp_dir("cli-echo");
    // A mistyped setting: the device refuses the line and quotes it back.
    let script = format!(
        "configure system\n snmp settings\n  sys-name \"{NAME}\"\n exit\n no-such-command-here \"{NAME}\"\nexit\n"
    );
    let indented: String = script.lines().map(|l| format!("    {l}\n")).collect();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sbc-admin\n  namespace: {NS}\nstringData:\n  username: Admin\n  password: Admin\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: sbc-cli\n  namespace: {NS}\nstringData:\n  snmp.cli: |\n{indented}---\n\
         apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: sbc\n  namespace: {NS}\nspec:\n  endpoint: {}\n  credentialsSecretRef:\n    name: sbc-admin\n  cliScript:\n    secretRefs:\n    - name: sbc-cli\n      key: snmp.cli\n",
        sim.base_url
    );
    let file = dir.join("device.yaml");
    std::fs::write(&file, text).expect("write");
    let (code, out) = run_cli(&file, Mode::Apply).await;
    let shown = format!("{code:?} {out}");
    assert!(
        shown.contains("no-such-command-here"),
        "the failure is reported: {shown}"
    );
    assert!(!shown.contains(NAME), "{shown}");
}
