//! Strict reading of manifest documents, as `kubectl apply
//! --validate=strict` does ("strict: This will fail the request with a
//! BadRequest error if any unknown fields would be dropped from the object,
//! or if any duplicate fields are present", kubectl apply --help): every
//! field must be known to the kind's schema — for our kinds the openAPI
//! schema of the CRD this binary generates (`crate::api::crds`), for
//! Secrets and ConfigMaps their core/v1 fields — and an unknown one is
//! reported by its path with the closest known name. Serde errors name
//! their field path (`serde_path_to_error`) and never quote a value.
//!
//! Pure: no I/O.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

/// The fields of `metadata` (`ObjectMeta`, core/v1) a manifest may carry.
pub const OBJECT_META_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// The top-level fields of a core/v1 Secret.
pub const SECRET_FIELDS: &[&str] = &[
    "apiVersion",
    "data",
    "immutable",
    "kind",
    "metadata",
    "stringData",
    "type",
];

/// The top-level fields of a core/v1 ConfigMap.
pub const CONFIG_MAP_FIELDS: &[&str] = &[
    "apiVersion",
    "binaryData",
    "data",
    "immutable",
    "kind",
    "metadata",
];

/// A field the schema does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownField {
    /// Its path, e.g. `spec.ini.prunetable`.
    pub path: String,
    /// The closest known field at the same place, as a full path.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for UnknownField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown field `{}`", self.path)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

/// The closest of `known` to `name`: the same name in another case, or
/// the most similar by Jaro-Winkler (as clap suggests subcommands) above
/// 0.8.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    closest_above(name, known, 0.8)
}

/// [`closest`] with its own similarity threshold (0..1).
pub fn closest_above<'a>(
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
    threshold: f64,
) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for k in known {
        if k.eq_ignore_ascii_case(name) {
            return Some(k);
        }
        let score = strsim::jaro_winkler(&lower, &k.to_ascii_lowercase());
        if score > threshold && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, k));
        }
    }
    best.map(|(_, k)| k)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The openAPI schema of our kind `kind` at `api_version`, from the CRDs
/// this binary generates (computed once).
pub fn crd_schema(api_version: &str, kind: &str) -> Option<&'static JSONSchemaProps> {
    static SCHEMAS: OnceLock<BTreeMap<(String, String), JSONSchemaProps>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| {
            let mut all = BTreeMap::new();
            for crd in crate::api::crds() {
                for version in crd.spec.versions {
                    if let Some(schema) = version.schema.and_then(|s| s.open_api_v3_schema) {
                        all.insert(
                            (
                                format!("{}/{}", crd.spec.group, version.name),
                                crd.spec.names.kind.clone(),
                            ),
                            schema,
                        );
                    }
                }
            }
            all
        })
        .get(&(api_version.to_owned(), kind.to_owned()))
}

/// The unknown fields of a document of one of our kinds, checked against
/// its CRD `schema` (`apiVersion`, `kind` and `metadata` are known at the
/// top as the API server adds them to every CRD).
pub fn unknown_in_resource(doc: &Value, schema: &JSONSchemaProps) -> Vec<UnknownField> {
    let mut found = Vec::new();
    let Value::Object(map) = doc else {
        return found;
    };
    let top: Vec<&str> = ["apiVersion", "kind", "metadata"]
        .into_iter()
        .chain(
            schema
                .properties
                .iter()
                .flat_map(|p| p.keys().map(String::as_str)),
        )
        .collect();
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => unknown_in_metadata(value, &mut found),
            _ => match schema.properties.as_ref().and_then(|p| p.get(key)) {
                Some(child) => walk(value, child, key, &mut found),
                None => found.push(UnknownField {
                    path: key.clone(),
                    suggestion: closest(key, top.iter().copied()).map(str::to_owned),
                }),
            },
        }
    }
    found
}

/// The unknown top-level (and `metadata`) fields of a core/v1 object whose
/// fields are `known`.
pub fn unknown_in_core(doc: &Value, known: &[&str]) -> Vec<UnknownField> {
    let mut found = Vec::new();
    if let Value::Object(map) = doc {
        for (key, value) in map {
            if key == "metadata" {
                unknown_in_metadata(value, &mut found);
            } else if !known.contains(&key.as_str()) {
                found.push(UnknownField {
                    path: key.clone(),
                    suggestion: closest(key, known.iter().copied()).map(str::to_owned),
                });
            }
        }
    }
    found
}

fn unknown_in_metadata(value: &Value, found: &mut Vec<UnknownField>) {
    if let Value::Object(map) = value {
        for key in map.keys() {
            if !OBJECT_META_FIELDS.contains(&key.as_str()) {
                found.push(UnknownField {
                    path: join("metadata", key),
                    suggestion: closest(key, OBJECT_META_FIELDS.iter().copied())
                        .map(|k| join("metadata", k)),
                });
            }
        }
    }
}

/// The properties `schema` declares, its `allOf`/`anyOf`/`oneOf` branches
/// included (a structural schema repeats them there at most).
fn properties(schema: &JSONSchemaProps) -> BTreeMap<&str, &JSONSchemaProps> {
    let mut all = BTreeMap::new();
    let branches = schema
        .all_of
        .iter()
        .chain(schema.any_of.iter())
        .chain(schema.one_of.iter())
        .flatten();
    for s in std::iter::once(schema).chain(branches) {
        for (k, v) in s.properties.iter().flatten() {
            all.entry(k.as_str()).or_insert(v);
        }
    }
    all
}

fn walk(value: &Value, schema: &JSONSchemaProps, path: &str, found: &mut Vec<UnknownField>) {
    if schema.x_kubernetes_preserve_unknown_fields == Some(true) {
        return;
    }
    match value {
        Value::Object(map) => {
            let known = properties(schema);
            for (key, child) in map {
                let here = join(path, key);
                if let Some(s) = known.get(key.as_str()) {
                    walk(child, s, &here, found);
                    continue;
                }
                match &schema.additional_properties {
                    Some(JSONSchemaPropsOrBool::Schema(s)) => walk(child, s, &here, found),
                    Some(JSONSchemaPropsOrBool::Bool(true)) => {}
                    // An object without properties is free-form (`type:
                    // object` alone); one with properties is closed.
                    _ if known.is_empty() => {}
                    _ => found.push(UnknownField {
                        suggestion: closest(key, known.keys().copied()).map(|k| join(path, k)),
                        path: here,
                    }),
                }
            }
        }
        Value::Array(items) => {
            let item_schema = match &schema.items {
                Some(JSONSchemaPropsOrArray::Schema(s)) => Some(s.as_ref()),
                Some(JSONSchemaPropsOrArray::Schemas(v)) => v.first(),
                None => None,
            };
            if let Some(s) = item_schema {
                for (i, item) in items.iter().enumerate() {
                    walk(item, s, &format!("{path}[{i}]"), found);
                }
            }
        }
        _ => {}
    }
}

/// The first string (or key) of `doc` longer than `limit` bytes: its path
/// and size.
pub fn oversized_value(doc: &Value, limit: usize) -> Option<(String, usize)> {
    fn go(value: &Value, path: &str, limit: usize) -> Option<(String, usize)> {
        match value {
            Value::String(s) if s.len() > limit => Some((path.to_owned(), s.len())),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = join(path, k);
                if k.len() > limit {
                    return Some((here, k.len()));
                }
                go(v, &here, limit)
            }),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| go(v, &format!("{path}[{i}]"), limit)),
            _ => None,
        }
    }
    go(doc, "", limit)
}

/// A serde message with every quoted value replaced by `"…"` and every
/// long backquoted name cut: serde quotes the offending value (`invalid
/// type: string "s3cret", expected …`), which may be a password.
pub fn redact_serde_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(512));
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push_str("\"…\"");
                // Skip to the closing quote (serde escapes inner quotes).
                let mut escaped = false;
                for inner in chars.by_ref() {
                    match inner {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            '`' => {
                let name: String = chars.by_ref().take_while(|&c| c != '`').collect();
                if name.chars().count() <= 64 && !name.chars().any(char::is_control) {
                    out.push('`');
                    out.push_str(&name);
                    out.push('`');
                } else {
                    out.push_str("`…`");
                }
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Deserialises `doc` as `T`; an error names the field path and never a
/// value.
pub fn from_value<T: serde::de::DeserializeOwned>(doc: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        let message = redact_serde_message(&e.inner().to_string());
        if path.is_empty() || path == "." {
            message
        } else {
            format!("{path}: {message}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device_schema() -> &'static JSONSchemaProps {
        crd_schema("mediant.io/v1alpha1", "MediantDevice").expect("our CRD")
    }

    #[test]
    fn misspelled_fields_are_named_with_the_closest_known_one() {
        let doc = json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "MediantDevice",
            "metadata": {"name": "sbc", "labell": {}},
            "spec": {
                "endpoint": "https://127.0.0.1",
                "credentialsSecretRef": {"name": "c"},
                "suspended": true,
                "saveAfterAply": false,
                "ini": {"inline": "", "prunetable": true}
            },
            "stauts": {}
        });
        let found: Vec<String> = unknown_in_resource(&doc, device_schema())
            .iter()
            .map(ToString::to_string)
            .collect();
        for expected in [
            "unknown field `metadata.labell` (did you mean `metadata.labels`?)",
            "unknown field `spec.suspended` (did you mean `spec.suspend`?)",
            "unknown field `spec.saveAfterAply` (did you mean `spec.saveAfterApply`?)",
            "unknown field `stauts` (did you mean `status`?)",
        ] {
            assert!(
                found.iter().any(|f| f == expected),
                "{expected} in {found:?}"
            );
        }
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("unknown field `spec.ini.prunetable`")),
            "{found:?}"
        );
        assert_eq!(found.len(), 5, "{found:?}");
    }

    #[test]
    fn every_kind_has_a_schema_and_a_valid_document_has_no_unknown_field() {
        for (api, kind) in [
            ("mediant.io/v1alpha1", "MediantDevice"),
            ("mediant.io/v1alpha1", "TlsContext"),
            ("mediant.io/v1alpha1", "LicenseEntitlement"),
        ] {
            assert!(crd_schema(api, kind).is_some(), "{kind}");
        }
        let doc = json!({
            "apiVersion": "mediant.io/v1alpha1", "kind": "MediantDevice",
            "metadata": {"name": "sbc", "labels": {"a": "b"}},
            "spec": {"endpoint": "https://127.0.0.1", "credentialsSecretRef": {"name": "c"}}
        });
        assert_eq!(unknown_in_resource(&doc, device_schema()), vec![]);
    }

    #[test]
    fn secrets_and_config_maps_know_their_core_fields() {
        let doc = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringdata": {"password": "x"}});
        let found = unknown_in_core(&doc, SECRET_FIELDS);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            "unknown field `stringdata` (did you mean `stringData`?)"
        );
        let doc = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "binaryData": {}, "data": {}});
        assert!(unknown_in_core(&doc, CONFIG_MAP_FIELDS).is_empty());
    }

    #[test]
    fn serde_errors_name_the_path_and_hide_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Spec {
            interval: u64,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Doc {
            spec: Spec,
        }
        let e = from_value::<Doc>(&json!({"spec": {"interval": "MARKER-s3cret"}}))
            .expect_err("not a number");
        assert!(e.starts_with("spec.interval: invalid type: string"), "{e}");
        assert!(!e.contains("MARKER"), "{e}");
    }

    #[test]
    fn redaction_keeps_names_and_drops_values() {
        assert_eq!(
            redact_serde_message(
                r#"invalid value: string "a\"b", expected `Full` or `Incremental`"#
            ),
            "invalid value: string \"…\", expected `Full` or `Incremental`"
        );
    }
}
