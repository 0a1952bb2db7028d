//! The revision of a desired configuration: a stable digest recorded in
//! status as `lastAppliedRevision`, so users and tools see which desired
//! state a device was last brought to.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::{CliScriptSpec, IniSpec, MediantDeviceSpec, ResolvedSources};

/// What the revision covers: the configuration fields and the text of every
/// source they refer to (an edit of a referenced ConfigMap is a new
/// revision). Connection settings and policies are not device state.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RevisionInput<'a> {
    ini: Option<&'a IniSpec>,
    cli_script: Option<&'a CliScriptSpec>,
    /// Each reference (as displayed) with its text, `None` when not loaded.
    sources: Vec<(String, Option<&'a str>)>,
}

/// `sha256:<hex>` of the canonical JSON (object keys sorted, no spaces) of
/// the spec's configuration fields and the text `resolved` holds for each
/// source they refer to. Equal specs give equal revisions whatever the key
/// order of the manifest; any change of declared configuration gives a new
/// one.
pub fn desired_revision(spec: &MediantDeviceSpec, resolved: &ResolvedSources) -> String {
    let input = RevisionInput {
        ini: spec.ini.as_ref(),
        cli_script: spec.cli_script.as_ref(),
        sources: spec
            .references()
            .into_iter()
            .map(|r| {
                let text = resolved.get(&r).map(String::as_str);
                (r.to_string(), text)
            })
            .collect(),
    };
    let mut canonical = String::new();
    // Serialising these plain structs (string map keys only) cannot fail;
    // should it ever, the digest of `null` still never panics.
    let value = serde_json::to_value(&input).unwrap_or(Value::Null);
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// JSON with object keys sorted at every level, whatever map type
/// `serde_json` was built with.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMapKeyRef, SourceRef};

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = serde_json::json!({"b": [{"z": 1, "a": "x\"y"}], "a": null});
        let mut out = String::new();
        write_canonical(&value, &mut out);
        assert_eq!(out, r#"{"a":null,"b":[{"a":"x\"y","z":1}]}"#);
    }

    #[test]
    fn revision_follows_referenced_text() {
        let mut spec = MediantDeviceSpec::new("https://10.0.0.5", "creds");
        let cm = ConfigMapKeyRef {
            name: "base".into(),
            key: "device.ini".into(),
        };
        spec.ini = Some(IniSpec {
            config_map_refs: vec![cm.clone()],
            ..IniSpec::default()
        });
        let mut resolved = ResolvedSources::new();
        resolved.insert(
            SourceRef::ConfigMap(cm.clone()),
            "GWDebugLevel = 1\n".into(),
        );
        let first = desired_revision(&spec, &resolved);
        assert!(first.starts_with("sha256:") && first.len() == 71, "{first}");
        resolved.insert(SourceRef::ConfigMap(cm), "GWDebugLevel = 2\n".into());
        assert_ne!(first, desired_revision(&spec, &resolved));
        // A source nobody refers to does not count.
        resolved.insert(SourceRef::File("other.ini".into()), "x".into());
        let second = desired_revision(&spec, &resolved);
        resolved.remove(&SourceRef::File("other.ini".into()));
        assert_eq!(second, desired_revision(&spec, &resolved));
    }
}
