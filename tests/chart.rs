//! The Helm chart under `charts/mediant-operator`: its CRDs are the
//! generated ones, its metadata and values fit the binary, and its RBAC
//! grants exactly what a running controller is seen to use — every request
//! the controller makes against the API server double during a realistic
//! run (a converging device, a malformed one, events, status, the Lease) is
//! allowed by the chart's rules, and no rule goes unused.
//!
//! These tests need no Helm: the RBAC rules in `templates/rbac.yaml` are
//! plain YAML between template lines, and are read as such. Rendering
//! (`helm lint --strict`, `helm template`), `values.schema.json`, `helm
//! install` and the same RBAC under the real API server's authoriser are
//! checked by the end-to-end suite (`tests/e2e/run.sh`, scenarios `helm_*`
//! and `rbac_no_denials`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use mediant_operator::api::{
    Condition, ConditionStatus, ConditionType, ConfigMapKeyRef, IniSpec, LicenseEntitlement,
    LicenseEntitlementSpec, MediantDevice, MediantDeviceSpec, MediantLicenseSpec, ProviderSpec,
    SecretKeyRef, TlsContext, find_condition,
};
use mediant_operator::cmd::run::RunArgs;
use mediant_operator::controller::ControllerConfig;
use mediant_operator::controller::cert_manager::CertificateRequest;
use mediant_operator::controller::leader::LeaseConfig;
use mediant_operator::controller::run::lead_and_run;
use mediant_operator::simulator::{Fleet, FleetConfig};
use support::apiserver::{ApiServer, ResourceKey, ResourceType, Verb};
use support::free_addr;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/mediant-operator");

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: impl AsRef<Path>) -> Value {
    serde_saphyr::from_str(&read(path)).expect("valid YAML")
}

// ------------------------------------------------------------ files

#[test]
fn the_chart_ships_exactly_the_checked_in_crds() {
    let files = |dir: &Path| -> BTreeMap<String, String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .map(|p| {
                (
                    p.file_name().expect("name").to_string_lossy().into(),
                    read(&p),
                )
            })
            .collect()
    };
    let root = files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crds"));
    let chart = files(&Path::new(CHART).join("crds"));
    assert!(!root.is_empty());
    assert_eq!(
        root.keys().collect::<Vec<_>>(),
        chart.keys().collect::<Vec<_>>(),
        "charts/mediant-operator/crds must hold the files of crds/"
    );
    for (name, text) in &root {
        assert!(
            chart[name] == *text,
            "charts/mediant-operator/crds/{name} is stale: cp crds/{name} charts/mediant-operator/crds/"
        );
    }
}

#[test]
fn chart_metadata_follows_the_crate() {
    let chart = yaml(Path::new(CHART).join("Chart.yaml"));
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "mediant-operator");
    assert_eq!(chart["type"], "application");
    assert_eq!(
        chart["appVersion"],
        env!("CARGO_PKG_VERSION"),
        "appVersion is the image tag by default: keep it at the crate version"
    );
    let version = chart["version"].as_str().expect("version");
    assert_eq!(version.split('.').count(), 3, "SemVer 2: {version}");
}

/// Every key of `values` is declared in `schema` wherever the schema closes
/// its object (`additionalProperties: false`), or Helm refuses the defaults.
fn undeclared(values: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    let (Some(map), Some(props)) = (values.as_object(), schema["properties"].as_object()) else {
        return;
    };
    for (key, value) in map {
        match props.get(key) {
            Some(sub) => undeclared(value, sub, &format!("{path}.{key}"), out),
            None if schema["additionalProperties"] == false => out.push(format!("{path}.{key}")),
            None => {}
        }
    }
}

#[test]
fn values_schema_declares_every_default_and_two_replicas_lead_by_default() {
    let values = yaml(Path::new(CHART).join("values.yaml"));
    let schema: Value =
        serde_json::from_str(&read(Path::new(CHART).join("values.schema.json"))).expect("JSON");
    let mut missing = Vec::new();
    undeclared(&values, &schema, "", &mut missing);
    assert!(
        missing.is_empty(),
        "values.yaml keys that values.schema.json does not declare: {missing:?}"
    );
    assert_eq!(
        values["replicaCount"], 2,
        "two replicas by default: a leader and a standby"
    );
    assert_eq!(values["podDisruptionBudget"]["enabled"], true);
}

/// `run`'s options as clap parses `argv` (the program name first).
fn parse_run(argv: &[String]) -> Result<RunArgs, clap::Error> {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }
    // clap reads POD_NAME/POD_NAMESPACE from the environment; nothing in
    // this test process sets them.
    Cli::try_parse_from(argv).map(|cli| cli.run)
}

#[test]
fn values_and_deployment_match_the_run_command() {
    let values = yaml(Path::new(CHART).join("values.yaml"));
    let defaults =
        parse_run(&["mediant-operator".to_owned()]).expect("run has defaults for every option");
    assert_eq!(
        values["metricsPort"].as_u64(),
        Some(u64::from(defaults.metrics_addr.port())),
        "the chart's port is the binary's default"
    );
    assert_eq!(
        values["certManagerRecheck"].as_str(),
        Some("60s"),
        "the chart's recheck is the binary's default"
    );
    assert_eq!(
        defaults.cert_manager_recheck,
        std::time::Duration::from_secs(60)
    );
    assert!(matches!(
        values["logFormat"].as_str(),
        Some("text" | "json")
    ));
    assert_eq!(
        values["podSecurityContext"]["runAsUser"], 65532,
        "the Dockerfile's numeric user, so runAsNonRoot can be verified"
    );
    assert!(read(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).contains("USER 65532"));

    // Every flag the Deployment passes exists on `run`, and the downward
    // API feeds the Lease identity and namespace.
    let deployment = read(Path::new(CHART).join("templates/deployment.yaml"));
    let mut argv = vec!["mediant-operator".to_owned()];
    for line in deployment.lines().map(str::trim) {
        if let Some(flag) = line.strip_prefix("- --") {
            let name = flag.split('=').next().expect("flag name");
            let value = match name {
                "metrics-addr" => "0.0.0.0:9464",
                "log-format" => "json",
                // The chart's default, which the binary must accept.
                "cert-manager-recheck" => values["certManagerRecheck"]
                    .as_str()
                    .expect("certManagerRecheck"),
                _ => "x",
            };
            argv.push(format!("--{name}={value}"));
        }
    }
    assert!(argv.len() >= 4, "{argv:?}");
    if let Err(e) = parse_run(&argv) {
        panic!("the Deployment's arguments {argv:?} do not parse: {e}");
    }
    for needle in [
        "name: POD_NAME",
        "fieldPath: metadata.name",
        "name: POD_NAMESPACE",
        "fieldPath: metadata.namespace",
        "path: /healthz",
        "path: /readyz",
    ] {
        assert!(deployment.contains(needle), "deployment lacks {needle}");
    }
}

// ------------------------------------------------------------- RBAC

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

/// The rules of each Role/ClusterRole document in `templates/rbac.yaml`,
/// by the document's `name:` line (template expressions left as text).
fn chart_rules() -> Vec<(String, Vec<Rule>)> {
    let text = read(Path::new(CHART).join("templates/rbac.yaml"));
    let mut roles = Vec::new();
    for doc in text.split("\n---\n") {
        let Some((head, rules)) = doc.split_once("\nrules:\n") else {
            continue;
        };
        let name = head
            .lines()
            .find_map(|l| l.trim().strip_prefix("name: "))
            .expect("a role has a name")
            .to_owned();
        // The rules are the indented lines up to the first template line.
        let block: String = rules
            .lines()
            .take_while(|l| l.starts_with("  ") && !l.contains("{{"))
            .map(|l| format!("{l}\n"))
            .collect();
        let rules: Vec<Rule> = serde_saphyr::from_str(&block)
            .unwrap_or_else(|e| panic!("rules of {name} are not plain YAML: {e}\n{block}"));
        roles.push((name, rules));
    }
    roles
}

/// (group, resource, verb) triples a set of rules grants.
fn grants(rules: &[Rule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for r in rules {
        for g in &r.api_groups {
            for res in &r.resources {
                for v in &r.verbs {
                    out.insert((g.clone(), res.clone(), v.clone()));
                }
            }
        }
    }
    out
}

const NS: &str = "voice";
const LEASE_NS: &str = "mediant-system";

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Status and reason of a condition of a stored MediantDevice.
fn condition(
    server: &ApiServer,
    name: &str,
    t: ConditionType,
) -> Option<(ConditionStatus, String)> {
    let raw = server.get_value(&ResourceKey::of::<MediantDevice>(), Some(NS), name)?;
    let conditions: Vec<Condition> =
        serde_json::from_value(raw["status"]["conditions"].clone()).ok()?;
    find_condition(&conditions, t).map(|c| (c.status, c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_rbac_allows_every_request_of_a_running_controller_and_nothing_unused() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roles = chart_rules();
    assert_eq!(
        roles.len(),
        2,
        "the controller role and the leader-election role"
    );
    let (main_role, lease_role) = (grants(&roles[0].1), grants(&roles[1].1));
    assert!(roles[1].0.ends_with("-leader-election"), "{}", roles[1].0);

    // Seed directly (not through HTTP: only the controller's requests are logged).
    let server = ApiServer::start().await;
    // A malformed object is stored without a schema check, as after a CRD
    // upgrade; see tests/controller.rs for why the double needs no validator.
    server.register(ResourceType::custom::<LicenseEntitlement>().with_status_subresource());
    server.register(
        ResourceType::custom::<MediantDevice>()
            .with_validator(None)
            .with_status_subresource(),
    );
    server.register(ResourceType::custom::<TlsContext>().with_status_subresource());
    server.register(ResourceType::custom::<CertificateRequest>().with_status_subresource());
    let fleet = Fleet::start(FleetConfig {
        devices: 1,
        reset_time: Duration::from_millis(300),
        ..FleetConfig::default()
    })
    .await
    .expect("simulator");
    let meta = |name: &str| ObjectMeta {
        name: Some(name.into()),
        namespace: Some(NS.into()),
        ..ObjectMeta::default()
    };
    server
        .insert(&Secret {
            metadata: meta("sbc-admin"),
            string_data: Some(BTreeMap::from([
                ("username".to_owned(), "Admin".to_owned()),
                ("password".to_owned(), "Admin".to_owned()),
            ])),
            ..Secret::default()
        })
        .expect("secret");
    server
        .insert(&ConfigMap {
            metadata: meta("base"),
            data: Some(BTreeMap::from([(
                "device.ini".to_owned(),
                "[SYSTEM Params]\nGWDebugLevel = 6\n".to_owned(),
            )])),
            ..ConfigMap::default()
        })
        .expect("config map");
    let mut spec = MediantDeviceSpec::new(&fleet.devices()[0].base_url, "sbc-admin");
    spec.ini = Some(IniSpec {
        inline: Some("[SYSTEM Params]\nSyslogServerIP = 10.9.8.7\n".into()),
        config_map_refs: vec![ConfigMapKeyRef {
            name: "base".into(),
            key: "device.ini".into(),
        }],
        ..IniSpec::default()
    });
    let mut device = MediantDevice::new("sbc", spec);
    device.metadata.namespace = Some(NS.into());
    server.insert(&device).expect("device");
    server
        .insert_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "MediantDevice",
            "metadata": {"name": "broken", "namespace": NS},
            "spec": {"credentialsSecretRef": {"name": "sbc-admin"}, "interval": 300},
        }))
        .expect("malformed device");
    // A device whose Secret is missing: a warning event, no device traffic.
    let mut orphan_spec = MediantDeviceSpec::new("http://127.0.0.1:9", "absent");
    orphan_spec.ini = Some(IniSpec {
        inline: Some("[SYSTEM Params]\nGWDebugLevel = 6\n".into()),
        ..IniSpec::default()
    });
    let mut orphan = MediantDevice::new("no-secret", orphan_spec);
    orphan.metadata.namespace = Some(NS.into());
    server.insert(&orphan).expect("device without secret");
    // A licence for `sbc` (its reset waits: resetPolicy Never).
    server
        .insert(&Secret {
            metadata: meta("sbc-licence"),
            string_data: Some(BTreeMap::from([(
                "license.key".to_owned(),
                "jCx6r5tovCIKaBBbhPtT53Yj".to_owned(),
            )])),
            ..Secret::default()
        })
        .expect("licence secret");
    let mut licence = {
        let mut m = MediantLicenseSpec::for_device("sbc");
        m.license_key = Some(SecretKeyRef {
            name: "sbc-licence".into(),
            key: "license.key".into(),
        });
        LicenseEntitlement::new(
            "sbc-licence",
            LicenseEntitlementSpec::new(ProviderSpec::Mediant(m)),
        )
    };
    licence.metadata.namespace = Some(NS.into());
    server.insert(&licence).expect("licence");
    // A TlsContext of sbc whose Secret is missing: its controller watches,
    // reads the device and writes status, and sends the device nothing.
    server
        .insert_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "TlsContext",
            "metadata": {"name": "teams-tls", "namespace": NS},
            "spec": {"deviceRef": {"name": "sbc"}, "context": {"index": 1},
                     "certificate": {"secretRef": {"name": "absent-tls"}}},
        }))
        .expect("tls context");
    // A TlsContext whose key stays on the device: its CSR becomes a
    // cert-manager CertificateRequest and is published in a Secret.
    server
        .insert_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "TlsContext",
            "metadata": {"name": "csr-tls", "namespace": NS},
            "spec": {"deviceRef": {"name": "sbc"}, "context": {"index": 2},
                     "certificate": {"generateOnDevice": {"keySize": 2048,
                         "certificateRequest": {"subject": {"commonName": "sbc.example.com"},
                                                "issuerRef": {"name": "ca"}}}}},
        }))
        .expect("csr tls context");
    server.clear_requests();

    let (stop, stop_rx) = watch::channel(false);
    let lease = LeaseConfig {
        renew_every: Duration::from_millis(100),
        ..LeaseConfig::new("mediant-operator", LEASE_NS, "replica-a")
    };
    let task = tokio::spawn(lead_and_run(
        server.client(),
        lease,
        ControllerConfig::default(),
        free_addr(),
        stop_rx,
    ));
    wait_for("sbc Ready", || {
        condition(&server, "sbc", ConditionType::Ready)
            .is_some_and(|c| c.0 == ConditionStatus::True)
    })
    .await;
    wait_for("broken Stalled", || {
        condition(&server, "broken", ConditionType::Stalled)
            .is_some_and(|c| c.0 == ConditionStatus::True)
    })
    .await;
    wait_for("teams-tls not Ready for want of its Secret", || {
        server
            .get_value(&ResourceKey::of::<TlsContext>(), Some(NS), "teams-tls")
            .and_then(|v| {
                serde_json::from_value::<Vec<Condition>>(v["status"]["conditions"].clone()).ok()
            })
            .and_then(|c| find_condition(&c, ConditionType::Ready).map(|c| c.reason.clone()))
            .as_deref()
            == Some("SecretNotFound")
    })
    .await;
    wait_for("no-secret not Ready for want of its Secret", || {
        condition(&server, "no-secret", ConditionType::Ready)
            == Some((ConditionStatus::False, "SecretNotFound".to_owned()))
    })
    .await;
    wait_for("sbc-licence reported", || {
        server
            .get_value(
                &ResourceKey::of::<LicenseEntitlement>(),
                Some(NS),
                "sbc-licence",
            )
            .is_some_and(|v| v["status"]["conditions"].is_array())
    })
    .await;
    // Its watch follows the first list; wait for it before counting.
    wait_for("the licenseentitlements watch", || {
        server.count(Verb::Watch, "licenseentitlements") > 0
    })
    .await;
    wait_for("the tlscontexts watch", || {
        server.count(Verb::Watch, "tlscontexts") > 0
    })
    .await;
    wait_for("csr-tls's CertificateRequest and published CSR", || {
        !server.list::<CertificateRequest>(Some(NS)).is_empty()
            && server.get::<Secret>(Some(NS), "csr-tls-csr").is_some()
    })
    .await;
    wait_for("the certificaterequests watch", || {
        server.count(Verb::Watch, "certificaterequests") > 0
    })
    .await;
    // Let the Lease be renewed at least once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .expect("join")
        .expect("clean exit");

    let mut used = BTreeSet::new();
    let mut denied = Vec::new();
    let requests = server.requests();
    // For the record (`--no-capture`): what such a run costs the API server.
    let mut by_kind = BTreeMap::<String, usize>::new();
    for r in &requests {
        *by_kind
            .entry(format!("{} {}", r.verb, r.resource_path()))
            .or_default() += 1;
    }
    eprintln!("{} API requests: {by_kind:?}", requests.len());
    for r in requests {
        let triple = (r.group.clone(), r.resource_path(), r.verb.to_string());
        // The digest key Secret lives beside the Lease (created when absent).
        let key_secret = r.resource == "secrets"
            && r.namespace.as_deref() == Some(LEASE_NS)
            && (r.verb == Verb::Create
                || r.name.as_deref() == Some(mediant_operator::controller::DIGEST_KEY_SECRET));
        let (role, ns_ok) = if r.resource == "leases" || key_secret {
            (&lease_role, r.namespace.as_deref() == Some(LEASE_NS))
        } else {
            (&main_role, true)
        };
        if !role.contains(&triple) || !ns_ok {
            denied.push(r.to_string());
        }
        used.insert(triple);
    }
    assert!(
        denied.is_empty(),
        "requests the chart's RBAC denies: {denied:#?}"
    );
    let granted: BTreeSet<_> = main_role.union(&lease_role).cloned().collect();
    // kube-runtime's Recorder PATCHes an event only when the same event
    // repeats (series), which this short run need not produce.
    let repeats = (
        "events.k8s.io".to_owned(),
        "events".to_owned(),
        "patch".to_owned(),
    );
    // The published Secret is updated once a CertificateRequest is issued,
    // which needs an issuer (tests/tls_csr_controller.rs plays one).
    let issued = ("".to_owned(), "secrets".to_owned(), "update".to_owned());
    // A resource is read afresh when the cached copy does not show our last
    // status write yet, and a TlsContext when its status shows a pending
    // save: whether either happens in a short run depends on timing.
    let fresh_reads = ["tlscontexts", "licenseentitlements", "mediantdevices"]
        .map(|r| ("mediant.io".to_owned(), r.to_owned(), "get".to_owned()));
    let unused: Vec<_> = granted
        .difference(&used)
        .filter(|g| **g != repeats && **g != issued && !fresh_reads.contains(g))
        .collect();
    assert!(
        unused.is_empty(),
        "the chart grants what the controller never used (least privilege): {unused:?}; used: {used:?}"
    );
    server.stop().await;
}
