//! The CRD types: the generated CRD (printer columns, CEL rules evaluated as
//! an API server would, descriptions, defaults), the checked-in `crds/`, the
//! example manifests, conditions, revisions and secret hygiene.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::core::cel::{CompiledSchema, Validator, compile_schema, estimate_rule_cost};
use mediant_operator::api::{
    self, Condition, ConditionStatus, ConditionType, DeviceFacts, Drift, MediantDevice,
    MediantDeviceSpec, MediantDeviceStatus, ResolvedSources, desired_revision, set_condition,
};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The generated CRD of MediantDevice, as JSON.
fn crd() -> Value {
    let yaml = api::crd_yaml().expect("CRDs serialise");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("CRD YAML parses back");
    docs.into_iter()
        .find(|d| d["spec"]["names"]["kind"] == "MediantDevice")
        .expect("a MediantDevice CRD")
}

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// The documents of an example manifest file.
fn example(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("examples").join(name)).expect("example exists");
    serde_saphyr::from_multiple(&text).expect("example is YAML")
}

fn example_device(name: &str) -> Value {
    example(name)
        .into_iter()
        .find(|d| d["kind"] == "MediantDevice")
        .expect("a MediantDevice in the example")
}

// ---------------------------------------------------------------- the CRD

#[test]
fn crd_names_group_version_and_scope() {
    let crd = crd();
    assert_eq!(crd["metadata"]["name"], "mediantdevices.mediant.io");
    assert_eq!(crd["spec"]["group"], "mediant.io");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["versions"][0]["name"], "v1alpha1");
    assert_eq!(
        crd["spec"]["versions"][0]["subresources"],
        json!({"status": {}})
    );
}

#[test]
fn crd_has_the_printer_columns() {
    let columns = crd()["spec"]["versions"][0]["additionalPrinterColumns"].clone();
    let by_name: BTreeMap<String, Value> = columns
        .as_array()
        .expect("printer columns")
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c.clone()))
        .collect();
    let expect = [
        (
            "Ready",
            "string",
            r#".status.conditions[?(@.type=="Ready")].status"#,
        ),
        (
            "Reachable",
            "string",
            r#".status.conditions[?(@.type=="Reachable")].status"#,
        ),
        ("Version", "string", ".status.device.version"),
        ("Drift", "integer", ".status.drift.count"),
        ("Age", "date", ".metadata.creationTimestamp"),
    ];
    for (name, type_, path) in expect {
        let column = by_name.get(name).unwrap_or_else(|| panic!("column {name}"));
        assert_eq!(column["type"], type_, "{name}");
        assert_eq!(column["jsonPath"], path, "{name}");
        assert!(column.get("priority").is_none(), "{name} shows by default");
    }
    let order: Vec<&str> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        &order[..5],
        ["Ready", "Reachable", "Version", "Drift", "Age"]
    );
}

/// Resolves the simple JSONPath forms the printer columns use.
fn resolve<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    // Split at dots outside `[...]` filters.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 1);
    for (i, c) in path.char_indices().skip(1) {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                parts.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    let mut current = object;
    for part in parts {
        if let Some((field, filter)) = part.split_once("[?(@.") {
            let (key, value) = filter.trim_end_matches(")]").split_once("==")?;
            let value = value.trim_matches('"');
            current = current
                .get(field)?
                .as_array()?
                .iter()
                .find(|item| item.get(key).and_then(Value::as_str) == Some(value))?;
        } else {
            current = current.get(part)?;
        }
    }
    Some(current)
}

#[test]
fn printer_columns_resolve_against_a_reported_status() {
    let now = Time(Timestamp::from_second(1_700_000_000).unwrap());
    let mut status = MediantDeviceStatus {
        device: Some(DeviceFacts {
            product: "Mediant 800".into(),
            version: "7.40A.500.357".into(),
            serial: "8226315".into(),
            ha_state: "Not Operational".into(),
            operational_state: "UNLOCKED".into(),
            uptime_seconds: 3600,
        }),
        drift: Some(Drift {
            count: 2,
            keys: vec!["GWDebugLevel".into(), "IPGroup[1].Name".into()],
        }),
        ..MediantDeviceStatus::default()
    };
    for (type_, status_) in [
        (ConditionType::Ready, ConditionStatus::False),
        (ConditionType::Reachable, ConditionStatus::True),
    ] {
        set_condition(
            &mut status.conditions,
            Condition::new(type_, status_, Some(1), now.clone()),
        );
    }
    let mut device = MediantDevice::test().with_status(status);
    device.metadata.creation_timestamp = Some(now);
    let object = serde_json::to_value(&device).unwrap();
    let columns = crd()["spec"]["versions"][0]["additionalPrinterColumns"].clone();
    let shown: BTreeMap<String, Value> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            let path = c["jsonPath"].as_str().unwrap();
            let value = resolve(&object, path).unwrap_or_else(|| panic!("{name}: {path}"));
            (name, value.clone())
        })
        .collect();
    assert_eq!(shown["Ready"], "False");
    assert_eq!(shown["Reachable"], "True");
    assert_eq!(shown["Version"], "7.40A.500.357");
    assert_eq!(shown["Drift"], 2);
    assert_eq!(shown["Age"], "2023-11-14T22:13:20Z");
    assert_eq!(shown["Endpoint"], "http://127.0.0.1:8443");
}

/// Every `(path, rule, message)` of the schema.
fn rules(schema: &Value, path: &str, out: &mut Vec<(String, String, String)>) {
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push((
            path.to_string(),
            rule["rule"].as_str().unwrap().to_string(),
            rule["message"].as_str().unwrap_or("").to_string(),
        ));
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, child) in properties {
            rules(child, &format!("{path}.{name}"), out);
        }
    }
    if schema["items"].is_object() {
        rules(&schema["items"], &format!("{path}[]"), out);
    }
}

#[test]
fn crd_carries_the_cel_rules_where_they_apply() {
    let mut found = Vec::new();
    rules(&schema(), "", &mut found);
    let at = |path: &str, needle: &str| {
        assert!(
            found
                .iter()
                .any(|(p, r, _)| p == path && r.contains(needle)),
            "no rule containing `{needle}` at {path}: {found:#?}"
        );
    };
    at(".spec.endpoint", "startsWith('https://')");
    at(".spec.endpoint", "@");
    at(".spec", "has(self.ini) || has(self.cliScript)");
    at(".spec", "has(self.maintenanceWindow)");
    at(".spec.tls", "self.insecureSkipVerify");
    at(
        ".spec.tls.caBundle",
        "has(self.secretKeyRef) != has(self.configMapKeyRef)",
    );
    at(".spec.ini", "has(self.inline)");
    at(".spec.ini.files", "size(self) == 0");
    at(".spec.cliScript", "has(self.inline)");
    at(".spec.interval", "duration('10s')");
    at(".spec.timeouts.connect", "duration(");
    at(".spec.maintenanceWindow.duration", "duration('168h')");
    for (path, rule, message) in &found {
        assert!(
            !message.is_empty(),
            "rule `{rule}` at {path} has no message"
        );
        assert!(
            !message.contains('\n'),
            "messages must be one line: {message}"
        );
    }
}

/// Visits every compiled rule with the schema node it belongs to.
fn each_compiled_rule(node: &CompiledSchema, visit: &mut dyn FnMut(&str, &CompiledSchema)) {
    for rule in node.validations.iter().flatten() {
        visit(&rule.rule.rule, node);
    }
    for child in node.properties.values() {
        each_compiled_rule(child, visit);
    }
    for child in node.items.iter().chain(node.additional_properties.iter()) {
        each_compiled_rule(child, visit);
    }
}

#[test]
fn cel_rules_compile_and_fit_the_cost_budget() {
    let compiled = compile_schema(&schema());
    assert!(
        !compiled.has_errors(),
        "{:?}",
        compiled.compilation_errors()
    );
    let mut count = 0;
    each_compiled_rule(&compiled, &mut |rule, node| {
        count += 1;
        let warnings = estimate_rule_cost(rule, node);
        assert!(warnings.is_empty(), "`{rule}`: {warnings:?}");
    });
    assert!(count >= 14, "only {count} rules compiled");
}

/// Whether the API server's CEL rules admit `object` (defaults applied
/// first, as admission does), with the messages of the rules that fail.
fn admitted(validator: &Validator, schema: &Value, object: &Value) -> Result<(), Vec<String>> {
    validator
        .validate(schema, object, None)
        .map_err(|errors| errors.iter().map(|e| e.message.clone()).collect())
}

/// Each case: a change to the INI example's object, and the text the CEL
/// message (and the spec's own validation) must contain when rejected, or
/// `None` when the change is fine.
type Case = (&'static str, fn(&mut Value), Option<&'static str>);

fn cases() -> Vec<Case> {
    vec![
        ("as written", |_| {}, None),
        (
            "ftp endpoint",
            |o| o["spec"]["endpoint"] = json!("ftp://10.0.0.5"),
            Some("http://"),
        ),
        (
            "bare host",
            |o| o["spec"]["endpoint"] = json!("10.0.0.5:443"),
            Some("http://"),
        ),
        (
            "credentials in the URL",
            |o| o["spec"]["endpoint"] = json!("https://Admin:Admin@10.0.0.5"),
            Some("user name or password"),
        ),
        (
            "no host",
            |o| o["spec"]["endpoint"] = json!("https:///api/v1"),
            Some("needs a host"),
        ),
        (
            "path kept",
            |o| o["spec"]["endpoint"] = json!("https://sbc.example:8443/api/v1"),
            None,
        ),
        (
            "nothing declared",
            |o| {
                o["spec"].as_object_mut().unwrap().remove("ini");
            },
            Some("spec.ini and/or spec.cliScript"),
        ),
        (
            "ini without sources",
            |o| o["spec"]["ini"] = json!({"mode": "Incremental"}),
            Some("at least one source"),
        ),
        (
            "ini from a ConfigMap",
            |o| o["spec"]["ini"] = json!({"configMapRefs": [{"name": "sbc", "key": "device.ini"}]}),
            None,
        ),
        (
            "ini from a Secret",
            |o| {
                o["spec"]["ini"] =
                    json!({"secretRefs": [{"name": "sbc-secrets", "key": "secret.ini"}]})
            },
            None,
        ),
        (
            "cli from a Secret",
            |o| {
                o["spec"].as_object_mut().unwrap().remove("ini");
                o["spec"]["cliScript"] =
                    json!({"secretRefs": [{"name": "sbc-secrets", "key": "secret.cli"}]});
            },
            None,
        ),
        (
            "ini files in a cluster",
            |o| o["spec"]["ini"]["files"] = json!(["device.ini"]),
            Some("ini.files"),
        ),
        (
            "cli only",
            |o| {
                o["spec"].as_object_mut().unwrap().remove("ini");
                o["spec"]["cliScript"] = json!({"inline": "configure voip\nexit\n"});
            },
            None,
        ),
        (
            "cli without sources",
            |o| o["spec"]["cliScript"] = json!({}),
            Some("at least one source"),
        ),
        (
            "window missing",
            |o| o["spec"]["resetPolicy"] = json!("MaintenanceWindow"),
            Some("maintenanceWindow"),
        ),
        (
            "window given",
            |o| {
                o["spec"]["resetPolicy"] = json!("MaintenanceWindow");
                o["spec"]["maintenanceWindow"] =
                    json!({"days": ["Saturday", "Sunday"], "start": "02:00", "duration": "3h"});
            },
            None,
        ),
        (
            "window too long",
            |o| {
                o["spec"]["maintenanceWindow"] = json!({"start": "02:00", "duration": "200h"});
            },
            Some("1m to 168h"),
        ),
        (
            "CA bundle and insecure",
            |o| {
                o["spec"]["tls"] = json!({"insecureSkipVerify": true, "caBundle": {"secretKeyRef": {"name": "sbc-ca"}}});
            },
            Some("exclude each other"),
        ),
        (
            "insecure alone",
            |o| o["spec"]["tls"] = json!({"insecureSkipVerify": true}),
            None,
        ),
        (
            "CA bundle from a ConfigMap",
            |o| {
                o["spec"]["tls"] =
                    json!({"caBundle": {"configMapKeyRef": {"name": "sbc-ca", "key": "ca.pem"}}})
            },
            None,
        ),
        (
            "CA bundle from nothing",
            |o| o["spec"]["tls"] = json!({"caBundle": {}}),
            Some("exactly one of"),
        ),
        (
            "CA bundle from both",
            |o| {
                o["spec"]["tls"] = json!({"caBundle": {
                    "configMapKeyRef": {"name": "a"}, "secretKeyRef": {"name": "b"}}});
            },
            Some("exactly one of"),
        ),
        (
            "interval too short",
            |o| o["spec"]["interval"] = json!("5s"),
            Some("at least 10s"),
        ),
        (
            "interval compound",
            |o| o["spec"]["interval"] = json!("1h30m"),
            None,
        ),
        (
            "zero connect timeout",
            |o| o["spec"]["timeouts"] = json!({"connect": "0s"}),
            Some("more than 0s"),
        ),
        (
            "long request timeout",
            |o| o["spec"]["timeouts"] = json!({"request": "2h"}),
            Some("at most 1h"),
        ),
    ]
}

#[test]
fn cel_rules_and_validate_agree_on_every_case() {
    let schema = schema();
    let validator = Validator::new();
    let base = example_device("mediantdevice-ini.yaml");
    for (name, change, rejected) in cases() {
        let mut object = base.clone();
        change(&mut object);
        let cel = admitted(&validator, &schema, &object);
        let device: MediantDevice = serde_json::from_value(object).expect(name);
        // What a cluster holds is checked as the controller would.
        let ours = device.validate_for_cluster();
        match rejected {
            None => {
                assert_eq!(cel, Ok(()), "{name}: CEL rejects");
                assert_eq!(ours, Ok(()), "{name}: validate rejects");
            }
            Some(needle) => {
                let messages = cel.expect_err(name);
                assert!(
                    messages.iter().any(|m| m.contains(needle)),
                    "{name}: CEL said {messages:?}"
                );
                let ours = ours.expect_err(name).to_string();
                assert!(ours.contains(needle), "{name}: validate said {ours}");
            }
        }
    }
}

#[test]
fn cel_rules_admit_both_examples() {
    let schema = schema();
    let validator = Validator::new();
    for file in [
        "mediantdevice-ini.yaml",
        "mediantdevice-cli.yaml",
        "in-cluster/simulator.yaml",
    ] {
        assert_eq!(
            admitted(&validator, &schema, &example_device(file)),
            Ok(()),
            "{file}"
        );
    }
}

/// Whether every property below `schema` has a description, listing those
/// without.
fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(properties) = schema["properties"].as_object() {
        for (name, child) in properties {
            let here = format!("{path}.{name}");
            let text = child["description"].as_str().unwrap_or("");
            if text.trim().len() < 8 {
                out.push(here.clone());
            }
            undocumented(child, &here, out);
        }
    }
    if schema["items"].is_object() {
        undocumented(&schema["items"], &format!("{path}[]"), out);
    }
}

#[test]
fn every_field_has_a_description_for_kubectl_explain() {
    let schema = schema();
    let mut missing = Vec::new();
    undocumented(&schema, "", &mut missing);
    assert!(missing.is_empty(), "no description: {missing:?}");
    let spec_text = schema["properties"]["spec"]["properties"]["resetPolicy"]["description"]
        .as_str()
        .unwrap();
    assert!(spec_text.contains("Never (default)"), "{spec_text}");
    assert!(
        !spec_text.contains('\n'),
        "paragraph lines are joined for kubectl explain: {spec_text:?}"
    );
}

#[test]
fn defaults_and_enums_are_in_the_schema() {
    let spec = &schema()["properties"]["spec"]["properties"];
    assert_eq!(spec["resetPolicy"]["default"], "Never");
    assert_eq!(
        spec["resetPolicy"]["enum"],
        json!(["Never", "Allowed", "MaintenanceWindow"])
    );
    assert_eq!(spec["saveAfterApply"]["default"], true);
    assert_eq!(spec["suspend"]["default"], false);
    assert_eq!(spec["interval"]["default"], "5m");
    assert_eq!(spec["deletionPolicy"]["default"], "Orphan");
    assert_eq!(spec["deletionPolicy"]["enum"], json!(["Orphan"]));
    assert_eq!(spec["dialect"]["enum"], json!(["v7.4", "2015"]));
    assert_eq!(
        spec["timeouts"]["default"],
        json!({"connect": "5s", "request": "60s", "busy": "3m"})
    );
    assert_eq!(spec["ini"]["properties"]["mode"]["default"], "Incremental");
    let creds = &spec["credentialsSecretRef"]["properties"];
    assert_eq!(creds["usernameKey"]["default"], "username");
    assert_eq!(creds["passwordKey"]["default"], "password");
    assert_eq!(
        spec["tls"]["properties"]["insecureSkipVerify"]["default"],
        false
    );
    assert_eq!(spec["endpoint"]["maxLength"], 2048);
    assert!(
        spec["credentialsSecretRef"]["properties"]["name"]["pattern"]
            .as_str()
            .unwrap()
            .starts_with("^[a-z0-9]")
    );
    let required = schema()["properties"]["spec"]["required"].clone();
    assert_eq!(required, json!(["credentialsSecretRef", "endpoint"]));
}

#[test]
fn conditions_merge_by_type_under_server_side_apply() {
    let conditions = &schema()["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
    let item = &conditions["items"];
    assert_eq!(
        item["required"],
        json!(["lastTransitionTime", "reason", "status", "type"])
    );
    assert_eq!(
        item["properties"]["lastTransitionTime"]["format"],
        "date-time"
    );
    assert_eq!(
        item["properties"]["status"]["enum"],
        json!(["True", "False", "Unknown"])
    );
}

// ------------------------------------------------------ checked-in crds/

/// `crds/*.yaml` by name, in name order.
fn crds_on_disk() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(root().join("crds"))
        .expect("crds/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn checked_in_crds_match_the_generated_ones() {
    let generated = api::crd_files().unwrap();
    let names = |files: &[(String, String)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&crds_on_disk()),
        names(&generated),
        "crds/ must hold exactly the generated files"
    );
    for ((name, on_disk), (_, fresh)) in crds_on_disk().iter().zip(&generated) {
        assert!(
            on_disk == fresh,
            "crds/{name} is stale: regenerate with `cargo run -q -- crd --out-dir crds`"
        );
    }
}

#[test]
fn crd_command_prints_the_concatenation_of_crds_dir() {
    let output = Command::new(env!("CARGO_BIN_EXE_mediant-operator"))
        .arg("crd")
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let concatenated: String = crds_on_disk().into_iter().map(|f| f.1).collect();
    assert!(
        printed == concatenated,
        "`crd` output differs from cat crds/*.yaml"
    );
    assert!(printed.starts_with("---\n"));
    assert_eq!(printed.matches("\n---\n").count() + 1, api::crds().len());
}

// ------------------------------------------------------------- examples

#[test]
fn examples_deserialise_with_serde_saphyr_and_validate() {
    for (file, form) in [
        ("mediantdevice-ini.yaml", "ini"),
        ("mediantdevice-cli.yaml", "cliScript"),
    ] {
        let text = std::fs::read_to_string(root().join("examples").join(file)).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        let secret = docs
            .iter()
            .find(|d| d["kind"] == "Secret")
            .unwrap_or_else(|| panic!("{file}: a Secret"));
        let device_doc = docs.iter().find(|d| d["kind"] == "MediantDevice").unwrap();
        // Typed straight from YAML too, the way `-f` reads a one-document file.
        let yaml_doc = text
            .split("\n---\n")
            .find(|d| d.contains("kind: MediantDevice"))
            .unwrap();
        let device: MediantDevice = serde_saphyr::from_str(yaml_doc).unwrap();
        assert_eq!(
            serde_json::to_value(&device).unwrap()["spec"]["endpoint"],
            device_doc["spec"]["endpoint"]
        );
        assert_eq!(
            device.spec.credentials_secret_ref.name,
            secret["metadata"]["name"]
        );
        assert_eq!(
            device.metadata.namespace,
            secret["metadata"]["namespace"].as_str().map(String::from)
        );
        device
            .validate_for_cluster()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(device_doc["spec"].get(form).is_some(), "{file} uses {form}");
        // That the declared configuration parses into the engine's models is
        // the plan's: tests/plan_desired.rs.
    }
}

#[test]
fn the_in_cluster_example_points_its_device_at_its_simulator_service() {
    let docs = example("in-cluster/simulator.yaml");
    let of = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("a {kind}"))
    };
    let device: MediantDevice = serde_json::from_value(of("MediantDevice").clone()).unwrap();
    device.validate_for_cluster().unwrap();
    let (service, secret, deployment) = (of("Service"), of("Secret"), of("Deployment"));
    let host = format!(
        "http://{}.{}.svc:",
        service["metadata"]["name"].as_str().unwrap(),
        service["metadata"]["namespace"].as_str().unwrap()
    );
    let port = device
        .spec
        .endpoint
        .strip_prefix(&host)
        .unwrap_or_else(|| panic!("{} is not served by {host}", device.spec.endpoint));
    let port: u64 = port.trim_end_matches('/').parse().unwrap();
    assert!(
        service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["port"].as_u64() == Some(port)),
        "the Service exposes {port}"
    );
    assert_eq!(
        device.spec.credentials_secret_ref.name,
        secret["metadata"]["name"]
    );
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[0], "simulate");
    assert_eq!(
        args[2], "0.0.0.0:8080",
        "device 0 on the Service's first port"
    );
}

#[test]
fn defaults_fill_what_a_manifest_leaves_out() {
    let device: MediantDevice = serde_saphyr::from_str(
        "apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nmetadata:\n  name: x\nspec:\n  \
         endpoint: https://10.0.0.5\n  credentialsSecretRef:\n    name: creds\n  ini:\n    \
         inline: \"GWDebugLevel = 1\"\n",
    )
    .unwrap();
    let spec = &device.spec;
    assert_eq!(spec.reset_policy, api::ResetPolicy::Never);
    assert!(spec.save_after_apply);
    assert!(!spec.suspend);
    assert_eq!(spec.interval().unwrap().as_secs(), 300);
    assert_eq!(spec.connect_timeout().unwrap().as_secs(), 5);
    assert_eq!(spec.request_timeout().unwrap().as_secs(), 60);
    assert_eq!(spec.credentials_secret_ref.username_key, "username");
    assert_eq!(spec.credentials_secret_ref.password_key, "password");
    assert_eq!(spec.dialect, None);
    assert_eq!(spec.deletion_policy, api::DeletionPolicy::Orphan);
}

// ----------------------------------------------------------- conditions

#[test]
fn condition_keeps_its_transition_time_while_status_holds() {
    let t0 = Time(Timestamp::from_second(1_000).unwrap());
    let t1 = Time(Timestamp::from_second(2_000).unwrap());
    let t2 = Time(Timestamp::from_second(3_000).unwrap());
    let mut status = MediantDeviceStatus::default();
    let ready = |status, time| Condition::new(ConditionType::Ready, status, Some(1), time);
    assert!(set_condition(
        &mut status.conditions,
        ready(ConditionStatus::True, t0.clone()).reason("Synced")
    ));
    assert!(!set_condition(
        &mut status.conditions,
        ready(ConditionStatus::True, t1).reason("Synced")
    ));
    assert_eq!(status.conditions[0].last_transition_time, t0);
    assert!(set_condition(
        &mut status.conditions,
        ready(ConditionStatus::False, t2.clone()).reason("Drifted")
    ));
    assert_eq!(status.conditions[0].last_transition_time, t2);
    // Through YAML and back, as the API server stores it.
    let yaml = serde_saphyr::to_string(&status).unwrap();
    let back: MediantDeviceStatus = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(back, status);
}

// ------------------------------------------------------------- secrets

#[test]
fn debug_of_a_spec_shows_no_secret() {
    let password = "S3cr3t-Pa55";
    let device = MediantDevice::test()
        .with_ini(&format!("[SIP Params]\nSIPPassword = '{password}'\n"))
        .with_cli(&format!(
            "configure voip\n sip-definition account 0\n  password \"{password}\"\n activate\n exit\nexit\n"
        ));
    let shown = format!(
        "{device:?} {:?} {:#?}",
        device.spec, device.spec.credentials_secret_ref
    );
    assert!(!shown.contains(password), "{shown}");
    // The credentials reference names the Secret and its keys, nothing more.
    let creds = format!("{:?}", device.spec.credentials_secret_ref);
    assert_eq!(
        creds,
        r#"CredentialsSecretRef { name: "test-device-credentials", username_key: "username", password_key: "password" }"#
    );
}

// That validation errors never echo a password (parsing included) is the
// plan's check: tests/plan_desired.rs.

// ------------------------------------------------------------ revision

fn spec_from(yaml: &str) -> MediantDeviceSpec {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn revision_is_stable_across_key_order_and_follows_desired_config() {
    let a = spec_from(
        "endpoint: https://10.0.0.5\ncredentialsSecretRef: {name: creds}\nini:\n  \
         inline: \"GWDebugLevel = 1\"\n  resetParameters: {GWDebugLevel: '0', EnableSyslog: '0'}\n  \
         pruneTables: [IPGroup]\n",
    );
    let b = spec_from(
        "ini:\n  pruneTables: [IPGroup]\n  resetParameters: {EnableSyslog: '0', GWDebugLevel: '0'}\n  \
         inline: \"GWDebugLevel = 1\"\ncredentialsSecretRef: {name: creds}\nendpoint: https://10.0.0.5\n",
    );
    let none = ResolvedSources::new();
    let rev = desired_revision(&a, &none);
    assert_eq!(rev, desired_revision(&b, &none));
    assert_eq!(rev, desired_revision(&a.clone(), &none), "pure");

    // Connection settings and policies are not desired device state.
    let mut c = a.clone();
    c.interval = "1h".into();
    c.endpoint = "https://10.0.0.6".into();
    c.suspend = true;
    assert_eq!(rev, desired_revision(&c, &none));

    // Any change of declared configuration is a new revision.
    let mut d = a.clone();
    d.ini.as_mut().unwrap().inline = Some("GWDebugLevel = 2".into());
    assert_ne!(rev, desired_revision(&d, &none));
    let mut e = a.clone();
    e.ini.as_mut().unwrap().prune_tables.clear();
    assert_ne!(rev, desired_revision(&e, &none));
    let mut f = a;
    f.cli_script = Some(api::CliScriptSpec {
        inline: Some("configure voip\nexit\n".into()),
        ..api::CliScriptSpec::default()
    });
    assert_ne!(rev, desired_revision(&f, &none));
}

/// The example manifests live where the README and `apply -f` expect them.
#[test]
fn example_files_exist() {
    for file in ["mediantdevice-ini.yaml", "mediantdevice-cli.yaml"] {
        assert!(
            Path::new(&root().join("examples").join(file)).is_file(),
            "{file}"
        );
    }
}

#[test]
fn crds_use_only_integer_formats_the_api_server_knows() {
    // kube-apiserver warns on `format: uint32` (schemars' name for u32) at
    // every apply; the generator maps unsigned types to int32/int64 with
    // the range kept in minimum/maximum.
    for (name, text) in api::crd_files().unwrap() {
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("format:"))
        {
            let format = line.trim_start().trim_start_matches("format:").trim();
            assert!(
                ["int32", "int64", "date-time", "date", "byte", "double"].contains(&format),
                "{name}: unexpected {line:?}"
            );
        }
    }
}
