//! The bad-input corpus (`tests/fixtures/bad/`): every malformed INI file,
//! CLI script, PEM text and manifest there — and a few generated oversized
//! ones — is fed to `diff -f` and `apply -f` of the real binary, pointed at
//! a simulated device, and to the same commands in-process. Each must end in
//! an error that names the problem (the expected words are in the corpus:
//! `# expect:` in a manifest, `EXPECTED` for the other files), with zero
//! requests at the device (its own request counters), no panic, bounded
//! time and memory, and without the planted secret marker in stdout,
//! stderr, or the error's `Display` and `Debug`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use mediant_operator::cmd::{self, Mode, ReconcileArgs};
use mediant_operator::simulator::{Fleet, FleetConfig};
use serde_json::{Value, json};

/// Planted in every password, key and bad input: it must never be printed.
const MARKER: &str = "MARKER-SECRET-7f3c";

/// The most one case may take (a parse of 1 MiB is milliseconds; a stall is not).
const CASE_BUDGET: Duration = Duration::from_secs(20);

/// The most memory (max RSS) any run of the binary may reach: a refused
/// 50 MB input must not be read, let alone parsed.
const RSS_BUDGET_KB: i64 = 128 * 1024;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad")
}

/// One bad input: the files of a manifest folder and the words its error
/// must contain.
struct Case {
    class: &'static str,
    name: String,
    files: Vec<(String, Vec<u8>)>,
    /// Files too large to build in memory: `head`, `chunk` × `times`, `tail`,
    /// streamed to disk (this process's own peak memory would otherwise
    /// count as its children's, see [`children_max_rss_kb`]).
    huge: Vec<(String, String, String, usize, String)>,
    expect: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn creds() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
           "stringData": {"username": "Admin", "password": MARKER}})
}

fn device(endpoint: &str, extra: Value) -> Value {
    let mut spec = json!({"endpoint": endpoint, "credentialsSecretRef": {"name": "creds"}});
    if let (Value::Object(spec), Value::Object(extra)) = (&mut spec, extra) {
        spec.extend(extra);
    }
    json!({"apiVersion": "mediant.io/v1alpha1", "kind": "MediantDevice",
           "metadata": {"name": "sbc"}, "spec": spec})
}

/// Documents as one JSON-per-document YAML stream (JSON is YAML).
fn stream(docs: &[Value]) -> Vec<u8> {
    docs.iter()
        .map(|d| format!("---\n{d}\n"))
        .collect::<String>()
        .into_bytes()
}

/// `name | expected words` lines of `EXPECTED`.
fn expected() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(corpus().join("EXPECTED")).expect("EXPECTED");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, words) = l.split_once(" | ").expect("`name | words`");
            (name.trim().to_owned(), words.trim().to_owned())
        })
        .collect()
}

fn files_of(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus().join(dir))
        .expect("corpus folder")
        .map(|e| {
            let path = e.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("read"))
        })
        .collect();
    out.sort();
    out
}

/// A key and certificate that are valid (the example's throw-away pair), so
/// each PEM case breaks exactly one of them.
fn example_tls() -> (String, String) {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/tls-certmanager.yaml"),
    )
    .expect("example");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("example YAML");
    let secret = docs
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "sbc-teams-tls")
        .expect("the example's TLS Secret");
    let data = &secret["stringData"];
    (
        data["tls.key"].as_str().expect("key").to_owned(),
        data["tls.crt"].as_str().expect("crt").to_owned(),
    )
}

fn cases(endpoint: &str) -> Vec<Case> {
    let expect = expected();
    let words = |key: &str| {
        expect
            .get(key)
            .unwrap_or_else(|| panic!("EXPECTED has no line for {key}"))
            .clone()
    };
    let mut cases = Vec::new();

    for (name, bytes) in files_of("ini") {
        let manifest = stream(&[
            creds(),
            device(endpoint, json!({"ini": {"files": [&name]}})),
        ]);
        cases.push(Case {
            huge: Vec::new(),
            class: "ini",
            expect: words(&format!("ini/{name}")),
            files: vec![("manifest.yaml".into(), manifest), (name.clone(), bytes)],
            name,
        });
    }
    for (name, bytes) in files_of("cli") {
        let manifest = stream(&[
            creds(),
            device(endpoint, json!({"cliScript": {"files": [&name]}})),
        ]);
        cases.push(Case {
            huge: Vec::new(),
            class: "cli",
            expect: words(&format!("cli/{name}")),
            files: vec![("manifest.yaml".into(), manifest), (name.clone(), bytes)],
            name,
        });
    }
    let (key, crt) = example_tls();
    for (name, bytes) in files_of("pem") {
        for (slot, data) in [
            (
                "tls.crt",
                json!({"tls.key": b64(key.as_bytes()), "tls.crt": b64(&bytes)}),
            ),
            (
                "tls.key",
                json!({"tls.key": b64(&bytes), "tls.crt": b64(crt.as_bytes())}),
            ),
        ] {
            let manifest = stream(&[
                creds(),
                device(
                    endpoint,
                    json!({"ini": {"inline": "SyslogServerIP = 10.0.0.1"}}),
                ),
                json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                       "metadata": {"name": "tls"}, "data": data}),
                json!({"apiVersion": "mediant.io/v1alpha1", "kind": "TlsContext",
                       "metadata": {"name": "tls"},
                       "spec": {"deviceRef": {"name": "sbc"},
                                "context": {"index": 1, "name": "T"},
                                "certificate": {"secretRef": {"name": "tls"}}}}),
            ]);
            cases.push(Case {
                huge: Vec::new(),
                class: "pem",
                expect: words(&format!("pem/{name} as {slot}")),
                files: vec![("manifest.yaml".into(), manifest)],
                name: format!("{name} as {slot}"),
            });
        }
    }
    for (name, bytes) in files_of("manifests") {
        let text = String::from_utf8(bytes).expect("manifests are text");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: first line `# expect: …`"))
            .to_owned();
        cases.push(Case {
            huge: Vec::new(),
            class: "manifests",
            files: vec![(
                name.clone(),
                text.replace("@ENDPOINT@", endpoint).into_bytes(),
            )],
            name,
            expect,
        });
    }

    // Generated, too large to keep in the repository.
    let big_ini = format!(
        "[SYSTEM Params]\nWebUsers_Password = {MARKER}\n{}",
        "X".repeat(2 << 20)
    );
    cases.push(Case {
        huge: Vec::new(),
        class: "size",
        name: "2 MiB INI file".into(),
        files: vec![
            (
                "manifest.yaml".into(),
                stream(&[
                    creds(),
                    device(endpoint, json!({"ini": {"files": ["big.ini"]}})),
                ]),
            ),
            ("big.ini".into(), big_ini.clone().into_bytes()),
        ],
        expect: format!(
            "big.ini (named in spec files) is {} bytes, over the limit of 1048576 bytes",
            big_ini.len()
        ),
    });
    cases.push(Case {
        class: "size",
        name: "10 MB CLI script file".into(),
        huge: vec![(
            "big.txt".into(),
            "configure system\n hostname ".into(),
            "h".repeat(1000),
            10_000,
            format!("{MARKER}\n exit\n"),
        )],
        files: vec![(
            "manifest.yaml".into(),
            stream(&[
                creds(),
                device(endpoint, json!({"cliScript": {"files": ["big.txt"]}})),
            ]),
        )],
        expect: "big.txt (named in spec files) is 10000052 bytes, over the limit of 1048576 bytes"
            .into(),
    });
    cases.push(Case {
        huge: Vec::new(),
        class: "size",
        name: "1.2 MiB inline INI value".into(),
        files: vec![(
            "manifest.yaml".into(),
            stream(&[
                creds(),
                device(
                    endpoint,
                    json!({"ini": {"inline": format!("A = {MARKER}\n{}", "B = 1\n".repeat(210_000))}}),
                ),
            ]),
        )],
        expect: "field `spec.ini.inline` is 1260023 bytes, over the limit of 1048576 bytes".into(),
    });
    let head = format!(
        "---\n{}\n---\n{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"ini\"}}, \"data\": {{\"device.ini\": \"",
        creds()
    );
    let tail = format!(
        "\"}}}}\n---\n{}\n",
        device(
            endpoint,
            json!({"ini": {"configMapRefs": [{"name": "ini", "key": "device.ini"}]}}),
        )
    );
    cases.push(Case {
        class: "size",
        name: "50 MB ConfigMap".into(),
        files: Vec::new(),
        huge: vec![(
            "manifest.yaml".into(),
            head,
            format!("X{MARKER} = 1\\n"),
            50_000_000 / 24,
            tail,
        )],
        expect: "the file is".into(),
    });
    cases.push(Case {
        huge: Vec::new(),
        class: "size",
        name: "1.6 MiB document".into(),
        files: vec![(
            "manifest.yaml".into(),
            stream(&[
                creds(),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ini"},
                       "data": {"a": "x".repeat(900_000), "b": "y".repeat(900_000)}}),
                device(endpoint, json!({"ini": {"inline": "A = 1"}})),
            ]),
        )],
        expect: "the document at line 3 is".into(),
    });
    cases.push(Case {
        huge: Vec::new(),
        class: "size",
        name: "deeply nested YAML".into(),
        files: vec![(
            "manifest.yaml".into(),
            format!("{}{MARKER}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        )],
        expect: "not valid YAML".into(),
    });
    cases
}

/// Runs the binary; returns (exit code, stdout + stderr).
fn binary(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mediant-operator"))
        .args(args)
        .env_remove("MEDIANT_PASSWORD")
        .output()
        .expect("run the binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The largest resident set of any child waited for so far, in KiB. Linux
/// carries a process's peak over `execve`, and a spawned child starts as
/// a copy of this process, so this process's own peak is a floor: the
/// test keeps it small (huge inputs are streamed to disk).
fn children_max_rss_kb() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    }
}

/// A line of /proc/self/status (e.g. `VmRSS`), for the report.
fn self_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or("")
        .to_owned()
}

fn write_case(root: &Path, i: usize, case: &Case) -> PathBuf {
    let dir = root.join(format!("{i:03}"));
    std::fs::create_dir_all(&dir).expect("case dir");
    for (name, bytes) in &case.files {
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    for (name, head, chunk, times, tail) in &case.huge {
        use std::io::Write;
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(dir.join(name)).expect("create"));
        out.write_all(head.as_bytes()).expect("write");
        for _ in 0..*times {
            out.write_all(chunk.as_bytes()).expect("write");
        }
        out.write_all(tail.as_bytes()).expect("write");
        out.flush().expect("flush");
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_a_named_error_with_nothing_sent_and_no_secret_shown() {
    let fleet = Fleet::start(FleetConfig::default())
        .await
        .expect("simulator");
    let sim = &fleet.devices()[0];
    let root = std::env::temp_dir().join(format!("mediant-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut cases = cases(&sim.base_url);
    assert!(cases.len() >= 55, "the corpus shrank: {}", cases.len());
    // Every case on disk first, then out of this process's memory: a child's
    // peak memory (getrusage) counts the parent's at spawn, and the
    // generated inputs are tens of MB.
    let dirs: Vec<PathBuf> = cases
        .iter_mut()
        .enumerate()
        .map(|(i, case)| {
            let dir = write_case(&root, i, case);
            case.files = Vec::new();
            dir
        })
        .collect();

    eprintln!("test process before the runs: {}", self_status("VmRSS"));
    let mut by_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    let mut heaviest = (0i64, String::new());
    for (case, dir) in cases.iter().zip(dirs) {
        let path = dir.to_string_lossy().into_owned();
        let label = format!("{}/{}", case.class, case.name);
        let mut problems = Vec::new();
        for mode in ["diff", "apply"] {
            let started = Instant::now();
            let (code, text) = tokio::task::spawn_blocking({
                let path = path.clone();
                move || binary(&[mode, "-f", &path, "--color", "never"])
            })
            .await
            .expect("join");
            let took = started.elapsed();
            let rss = children_max_rss_kb();
            if rss > heaviest.0 {
                heaviest = (rss, format!("{label} ({mode})"));
            }
            if took > slowest.0 {
                slowest = (took, format!("{label} ({mode})"));
            }
            if took > CASE_BUDGET {
                problems.push(format!("{mode} took {took:?}"));
            }
            if code != Some(2) {
                problems.push(format!("{mode} exited {code:?}, not 2"));
            }
            if text.contains("panicked") {
                problems.push(format!("{mode} panicked: {text}"));
            }
            if !text.contains(&case.expect) {
                problems.push(format!("{mode} does not say `{}`: {text}", case.expect));
            }
            if text.contains(MARKER) {
                problems.push(format!("{mode} printed the secret marker: {text}"));
            }
        }
        // In-process: the error itself, as Display and as Debug.
        let args = ReconcileArgs {
            files: vec![dir.clone()],
            simulate: false,
            username: None,
            password_file: None,
            color: "never".into(),
            state: None,
            state_key_file: None,
        };
        let mut out = Vec::new();
        match cmd::run(&args, Mode::Apply, &mut out).await {
            Ok(code) => problems.push(format!("in-process apply returned {code}")),
            Err(e) => {
                let (display, debug) = (e.to_string(), format!("{e:?}"));
                if !display.contains(&case.expect) {
                    problems.push(format!("Display does not say `{}`: {display}", case.expect));
                }
                for (what, text) in [("Display", &display), ("Debug", &debug)] {
                    if text.contains(MARKER) {
                        problems.push(format!("{what} holds the secret marker: {text}"));
                    }
                }
            }
        }
        if String::from_utf8_lossy(&out).contains(MARKER) {
            problems.push("in-process output holds the secret marker".into());
        }
        let entry = by_class.entry(case.class).or_default();
        entry.0 += 1;
        if problems.is_empty() {
            entry.1 += 1;
        } else {
            failures.push(format!("{label}:\n    {}", problems.join("\n    ")));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&root);

    let requests = sim.device.counters.snapshot();
    let rss = children_max_rss_kb();
    eprintln!("bad-input corpus, by class (cases, named errors with nothing sent and no leak):");
    for (class, (n, ok)) in &by_class {
        eprintln!("  {class:<10} {n:>3} cases, {ok:>3} as required");
    }
    eprintln!(
        "  requests at the device: {}; slowest run {:?} ({}); max RSS of a run {} KiB ({})",
        requests.total, slowest.0, slowest.1, rss, heaviest.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        requests.total, 0,
        "bad input reached the device: {requests:?}"
    );
    assert!(rss < RSS_BUDGET_KB, "a run used {rss} KiB");
}

/// A CA bundle that is no certificate is named for what it is (not
/// "builder error"), before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_bundle_that_is_no_certificate_is_named_and_nothing_is_sent() {
    let fleet = Fleet::start(FleetConfig::default())
        .await
        .expect("simulator");
    let sim = &fleet.devices()[0];
    let dir = std::env::temp_dir().join(format!("mediant-bad-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let https = sim.base_url.replace("http://", "https://");
    std::fs::write(
        dir.join("m.yaml"),
        stream(&[
            creds(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca"},
                   "data": {"ca.crt": format!("-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n{MARKER}\n")}}),
            device(
                &https,
                json!({"ini": {"inline": "A = 1"},
                       "tls": {"caBundle": {"configMapKeyRef": {"name": "ca", "key": "ca.crt"}}}}),
            ),
        ]),
    )
    .expect("write");
    let path = dir.to_string_lossy().into_owned();
    let (code, text) = tokio::task::spawn_blocking(move || binary(&["diff", "-f", &path]))
        .await
        .expect("join");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("the CA bundle is not usable: PEM block 1 is `PRIVATE KEY`, expected"),
        "{text}"
    );
    assert!(!text.contains(MARKER), "{text}");
    assert_eq!(sim.device.counters.snapshot().total, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--simulate` talks to a factory-fresh simulated device with its factory
/// user, whatever password the manifests hold for the real device.
#[test]
fn simulate_works_whatever_password_the_manifests_hold() {
    let dir = std::env::temp_dir().join(format!("mediant-bad-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("m.yaml"),
        stream(&[
            creds(),
            // Loopback, and nothing listens there: --simulate must not try it.
            device(
                "https://127.0.0.1:9",
                json!({"ini": {"inline": "SyslogServerIP = 10.1.2.3"}}),
            ),
        ]),
    )
    .expect("write");
    let path = dir.to_string_lossy().into_owned();
    let (code, text) = binary(&["apply", "-f", &path, "--simulate"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("401"), "{text}");
    assert!(!text.contains(MARKER), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
