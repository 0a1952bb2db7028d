//! The chart's alerts (`alerts/mediant-operator.rules.yaml` and the rule in
//! `templates/prometheusrule.yaml`) and Grafana dashboard
//! (`dashboards/mediant-operator.json`) query what the binary exports:
//! every expression parses as PromQL (the `promql-parser` crate, a port of
//! Prometheus's grammar), and every `mediant_*` series and label it selects
//! is one that [`Metrics`] really writes once each of its families holds a
//! sample — not a list kept by hand.
//!
//! No Helm here: the rule file is plain YAML and the template's one rule is
//! read line by line. Rendering both with `helm template` is checked by the
//! end-to-end scenario `helm_template` (`tests/e2e/scenarios/30-helm.sh`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mediant_operator::controller::Metrics;
use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::Value;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/mediant-operator");

fn read(rel: &str) -> String {
    let path = Path::new(CHART).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Series name -> label names, as the binary writes them with every family
/// populated through its public setters.
fn exported() -> BTreeMap<String, BTreeSet<String>> {
    let m = Metrics::new();
    {
        let mut timer = m.reconcile_timer("MediantDevice");
        timer.succeeded();
    }
    drop(m.reconcile_timer("TlsContext"));
    m.count_error("MediantDevice", "Unreachable");
    m.count_device_request(Some(200));
    m.count_device_request(None);
    m.set_device("voice", "sbc", 2, false);
    m.set_device("voice", "sbc2", 0, true);
    let _ = m.set_certificate_expiry("voice", "teams-tls", 2_000_000, 1_000_000, 86_400);
    m.set_license_pending("voice", "sbc-licence", true);
    let text = m.encode();

    let mut families = BTreeSet::new();
    let mut series = BTreeMap::<String, BTreeSet<String>>::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.insert(rest.split(' ').next().expect("a family name").to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let end = line.find(['{', ' ']).expect("a sample line has a value");
        let labels = series.entry(line[..end].to_owned()).or_default();
        if let Some(inner) = line[end..].strip_prefix('{') {
            let inner = &inner[..inner.find('}').expect("closed label set")];
            for pair in inner.split(',') {
                labels.insert(pair.split('=').next().expect("a label name").to_owned());
            }
        }
    }
    // Every family holds a sample (a family added to Metrics without a
    // setter called above fails here, not silently in the checks below).
    for family in &families {
        assert!(
            series.keys().any(|s| s == family
                || s.strip_prefix(family.as_str())
                    .is_some_and(|suffix| suffix.starts_with('_'))),
            "family {family} has no sample: populate it in exported()\n{text}"
        );
    }
    assert!(families.len() >= 9, "{families:?}");
    series
}

/// The series selected by an expression: (name, label names matched).
#[derive(Default)]
struct Selectors(Vec<(String, Vec<String>)>);

impl ExprVisitor for Selectors {
    type Error = ();
    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, ()> {
        let vs = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        let mut labels: Vec<String> = vs
            .matchers
            .matchers
            .iter()
            .map(|m| m.name.clone())
            .collect();
        let mut name = vs.name.clone();
        // `{__name__="x"}` names the metric too.
        if let Some(pos) = labels.iter().position(|l| l == "__name__") {
            labels.remove(pos);
            name = name.or_else(|| {
                vs.matchers
                    .matchers
                    .iter()
                    .find(|m| m.name == "__name__")
                    .map(|m| m.value.clone())
            });
        }
        self.0.push((name.unwrap_or_default(), labels));
        Ok(true)
    }
}

/// Parses `expr` and checks its `mediant_*` selectors against `exported`;
/// returns the `mediant_*` series it selects and their labels.
fn check(
    what: &str,
    expr: &str,
    exported: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let ast = parser::parse(expr).unwrap_or_else(|e| panic!("{what}: `{expr}` is not PromQL: {e}"));
    let mut selectors = Selectors::default();
    walk_expr(&mut selectors, &ast).expect("the visitor never fails");
    assert!(!selectors.0.is_empty(), "{what}: `{expr}` selects nothing");
    let mut used = BTreeMap::new();
    for (name, labels) in selectors.0 {
        if !name.starts_with("mediant_") {
            continue;
        }
        let Some(known) = exported.get(&name) else {
            panic!(
                "{what}: `{expr}` selects {name}, which the binary does not export; it exports {:?}",
                exported.keys().collect::<Vec<_>>()
            );
        };
        for label in &labels {
            assert!(
                known.contains(label),
                "{what}: {name} has no label {label} (it has {known:?})"
            );
        }
        used.insert(name, known.clone());
    }
    used
}

/// `$labels.x` references in an alert's annotation text.
fn label_refs(text: &str) -> BTreeSet<String> {
    text.split("$labels.")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn the_alert_rules_parse_and_query_only_exported_series() {
    let exported = exported();
    let file: Value =
        serde_saphyr::from_str(&read("alerts/mediant-operator.rules.yaml")).expect("valid YAML");
    let groups = file["groups"].as_array().expect("groups");
    let mut alerts = BTreeSet::new();
    let mut referenced = BTreeSet::new();
    for group in groups {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("alerting rules only");
            assert!(alerts.insert(name.to_owned()), "{name} twice");
            let expr = rule["expr"].as_str().expect("expr");
            let used = check(name, expr, &exported);
            assert!(!used.is_empty(), "{name} queries no mediant_* series");
            referenced.extend(used.keys().cloned());
            assert!(
                matches!(
                    rule["labels"]["severity"].as_str(),
                    Some("warning" | "critical")
                ),
                "{name}: severity"
            );
            assert!(
                rule["for"].is_string(),
                "{name}: no `for`: it would fire on one scrape"
            );
            // A label an annotation names is one the selected series carry.
            let have: BTreeSet<String> = used.values().flatten().cloned().collect();
            for key in ["summary", "description"] {
                let text = rule["annotations"][key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: no {key}"));
                assert!(text.len() > 20, "{name}: {key} too short");
                for label in label_refs(text) {
                    assert!(have.contains(&label), "{name}: {key} names $labels.{label}");
                }
            }
            // Per-object alerts name the object.
            let by_object = expr.contains("sum") || expr.contains(" by ");
            if !by_object {
                let description = rule["annotations"]["description"]
                    .as_str()
                    .expect("checked");
                assert!(
                    description.contains("$labels.namespace")
                        && description.contains("$labels.name"),
                    "{name}: the description does not name the object"
                );
            }
        }
    }
    assert_eq!(
        alerts,
        [
            "MediantDeviceDrift",
            "MediantDeviceNotReady",
            "MediantDevicesUnreachable",
            "MediantReconcileErrors",
            "MediantTlsCertificateExpiringSoon",
            "MediantTlsCertificateExpiryCritical",
        ]
        .map(String::from)
        .into(),
    );
    eprintln!(
        "{} alerts query {} exported series: {referenced:?}",
        alerts.len(),
        referenced.len()
    );
}

#[test]
fn the_templated_scrape_alert_parses_and_names_the_service_job() {
    let template = read("templates/prometheusrule.yaml");
    let service = read("templates/service.yaml");
    // The job label is the Service's name (the ServiceMonitor sets no jobLabel).
    assert!(service.contains(r#"name: {{ include "mediant-operator.fullname" . }}-metrics"#));
    assert!(!read("templates/servicemonitor.yaml").contains("jobLabel"));
    let exprs: Vec<String> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .map(|e| {
            e.replace(
                r#"{{ include "mediant-operator.fullname" . }}"#,
                "mediant-operator",
            )
            .replace("{{ .Release.Namespace }}", "mediant-system")
        })
        .collect();
    assert_eq!(exprs.len(), 1, "{exprs:?}");
    assert!(
        !exprs[0].contains("{{"),
        "an unexpected template: {}",
        exprs[0]
    );
    assert_eq!(
        exprs[0],
        r#"absent(up{job="mediant-operator-metrics", namespace="mediant-system"} == 1)"#
    );
    parser::parse(&exprs[0]).unwrap_or_else(|e| panic!("`{}`: {e}", exprs[0]));
}

#[test]
fn the_dashboard_queries_only_exported_series_through_its_datasource_variable() {
    let exported = exported();
    let dashboard: Value =
        serde_json::from_str(&read("dashboards/mediant-operator.json")).expect("valid JSON");
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a `datasource` variable of type prometheus"
    );
    // Importable by hand and by the sidecar: no `__inputs` to fill in.
    assert!(dashboard.get("__inputs").is_none());
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut referenced = BTreeSet::new();
    let mut queries = 0;
    for panel in panels {
        let title = panel["title"].as_str().expect("title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("id")),
            "{title}: id twice"
        );
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            // Grafana replaces its interval variable before Prometheus sees it.
            let expr = target["expr"]
                .as_str()
                .expect("expr")
                .replace("$__rate_interval", "5m");
            assert!(
                !expr.contains('$'),
                "{title}: an unknown variable in {expr}"
            );
            let used = check(title, &expr, &exported);
            assert!(!used.is_empty(), "{title}: queries no mediant_* series");
            referenced.extend(used.into_keys());
            queries += 1;
        }
    }
    assert_eq!(panels.len(), 7);
    eprintln!(
        "{} panels, {queries} queries, {} exported series: {referenced:?}",
        panels.len(),
        referenced.len()
    );
}
