//! The desired configuration of a device: INI parameters and tables, and a
//! CLI script, each inline, from ConfigMaps, or (for the command line only)
//! from files; and how the text they name becomes one model.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::api::sources::{ConfigMapKeyRef, ResolvedSources, SourceRef};

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::cli::{CliDefaults, CliDiffOptions, CliPrune, CliScript};
use crate::config::ini::{self, DiffOptions, IniDocument};

use crate::api::ValidationError;

/// Desired INI parameters and tables. Only what these sources declare is
/// managed; everything else on the device is left alone unless pruneTables
/// or resetParameters say otherwise.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.inline) || (has(self.configMapRefs) && size(self.configMapRefs) > 0) || (has(self.files) && size(self.files) > 0)"
).message("ini needs at least one source: inline, configMapRefs or files"))]
pub struct IniSpec {
    /// INI text in the device's format (`Name = value` lines under
    /// `[Section]` headers, tables with FORMAT lines). Merged last, so it
    /// overrides the ConfigMaps. Hold no passwords here: a manifest is not a
    /// Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1048576))]
    pub inline: Option<String>,
    /// Keys of ConfigMaps, in the MediantDevice's namespace, holding INI
    /// text. Merged in list order: a later one overrides an earlier one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub config_map_refs: Vec<ConfigMapKeyRef>,
    /// INI files, for `mediant-operator diff/apply -f` only: paths relative
    /// to the manifest's directory, merged before the ConfigMaps. The
    /// controller rejects resources that set this field (a cluster has no
    /// such files); use configMapRefs there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = kube::core::Rule::new("size(self) == 0").message(
        "ini.files is read only by `mediant-operator diff/apply -f`; in a cluster, put the INI in a ConfigMap and name it in ini.configMapRefs"
    ))]
    pub files: Vec<String>,
    /// Tables the sources own completely: rows the sources do not declare
    /// are deleted from the device. Other tables keep undeclared rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub prune_tables: Vec<TableName>,
    /// Parameters reset to the given default value when the sources do not
    /// declare them and the device holds another value (name → default).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 1024))]
    pub reset_parameters: BTreeMap<String, String>,
    /// Known default values of parameters (name → default). A device lists
    /// only non-default values, so a declared value equal to its default is
    /// in sync when the device does not list the parameter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 4096))]
    pub defaults: BTreeMap<String, String>,
    /// How changes reach the device. Incremental (default) changes the
    /// running configuration without a reset. Full uploads the whole
    /// configuration with the changes merged in and resets the device to
    /// load it; it runs only when resetPolicy allows a reset.
    #[serde(default)]
    pub mode: IniMode,
}

/// A table name as the INI writes it (`IPGroup`, `ProxyIp`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct TableName(
    /// The table name.
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_]*$")
    )]
    pub String,
);

/// How INI changes reach the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IniMode {
    /// `PUT /files/ini/incremental`: running configuration, no reset.
    #[default]
    Incremental,
    /// `PUT /files/ini` of the whole configuration: the device resets.
    Full,
}

/// A desired CLI script (`show running-config` form: `configure voip`,
/// sub-modes, `exit`). Only the settings and entries it declares are
/// managed; undeclared ones are removed only under the modes in prune.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.inline) || (has(self.configMapRefs) && size(self.configMapRefs) > 0) || (has(self.files) && size(self.files) > 0)"
).message("cliScript needs at least one source: inline, configMapRefs or files"))]
pub struct CliScriptSpec {
    /// The script text. Merged last, so it overrides the ConfigMaps. Hold no
    /// passwords here: a manifest is not a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1048576))]
    pub inline: Option<String>,
    /// Keys of ConfigMaps, in the MediantDevice's namespace, holding script
    /// text. Merged in list order: a later one overrides an earlier one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub config_map_refs: Vec<ConfigMapKeyRef>,
    /// Script files, for `mediant-operator diff/apply -f` only: paths
    /// relative to the manifest's directory, merged before the ConfigMaps.
    /// The controller rejects resources that set this field; use
    /// configMapRefs there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = kube::core::Rule::new("size(self) == 0").message(
        "cliScript.files is read only by `mediant-operator diff/apply -f`; in a cluster, put the script in a ConfigMap and name it in cliScript.configMapRefs"
    ))]
    pub files: Vec<String>,
    /// Entries the script owns completely, as the parent mode's openers and
    /// the entry keyword separated by ` / `, e.g.
    /// `configure voip / proxy-ip`: entries of that kind under that mode
    /// that the script does not declare are deleted (`no proxy-ip 0/3`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub prune: Vec<PrunePath>,
    /// Known default values of settings. A device leaves settings at their
    /// default out of `show running-config`, so a declared setting equal to
    /// its default is in sync when the device does not list it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4096))]
    pub defaults: Vec<CliDefault>,
}

/// The default value of one CLI setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CliDefault {
    /// The mode holding the setting, openers separated by ` / `, e.g.
    /// `configure voip / sip-interface` (an entry keyword without its index
    /// matches every index).
    #[schemars(length(min = 1, max = 512))]
    pub path: String,
    /// The setting's key, e.g. `udp-port`.
    #[schemars(length(min = 1, max = 128))]
    pub key: String,
    /// Its default value, e.g. `5060`.
    #[schemars(length(max = 1024))]
    pub value: String,
}

/// A CLI prune path, e.g. `configure voip / sip-interface`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct PrunePath(
    /// The path.
    #[schemars(length(min = 1, max = 512))]
    pub String,
);

/// The references of one source list, in merge order: files, ConfigMaps.
fn references(files: &[String], config_maps: &[ConfigMapKeyRef]) -> Vec<SourceRef> {
    files
        .iter()
        .map(|f| SourceRef::File(PathBuf::from(f)))
        .chain(config_maps.iter().cloned().map(SourceRef::ConfigMap))
        .collect()
}

/// The text of `source`, or an error naming it.
fn text_of<'a>(
    resolved: &'a ResolvedSources,
    source: &SourceRef,
) -> Result<&'a str, ValidationError> {
    resolved
        .get(source)
        .map(String::as_str)
        .ok_or_else(|| ValidationError::Unresolved {
            reference: source.to_string(),
        })
}

impl IniSpec {
    /// The sources this spec refers to, in merge order (files, then
    /// ConfigMaps; inline text comes last).
    pub fn references(&self) -> Vec<SourceRef> {
        references(&self.files, &self.config_map_refs)
    }

    /// The declared INI: each referenced source and then the inline text,
    /// parsed and merged in order (a later value overrides an earlier one).
    /// Fails naming the source and line of malformed text, or the first
    /// reference `resolved` lacks.
    pub fn desired_document(
        &self,
        resolved: &ResolvedSources,
    ) -> Result<IniDocument, ValidationError> {
        let mut merged: Option<IniDocument> = None;
        let parsed = self
            .references()
            .into_iter()
            .map(|source| {
                let text = text_of(resolved, &source)?;
                parse_ini(&source.to_string(), text)
            })
            .chain(self.inline.iter().map(|t| parse_ini("spec.ini.inline", t)));
        for doc in parsed {
            let doc = doc?;
            match &mut merged {
                Some(all) => all.apply(&doc),
                None => merged = Some(doc),
            }
        }
        merged.ok_or(ValidationError::NoSource { field: "spec.ini" })
    }

    /// The comparison options these fields declare.
    pub fn diff_options(&self) -> DiffOptions {
        DiffOptions {
            prune_tables: self.prune_tables.iter().map(|t| t.0.clone()).collect(),
            reset_parameters: self.reset_parameters.clone(),
            defaults: self.defaults.clone(),
        }
    }
}

impl CliScriptSpec {
    /// The sources this spec refers to, in merge order (files, then
    /// ConfigMaps; inline text comes last).
    pub fn references(&self) -> Vec<SourceRef> {
        references(&self.files, &self.config_map_refs)
    }

    /// The declared script: each referenced source and then the inline
    /// text, parsed and merged in order. Fails naming the source and line of
    /// malformed text, or the first reference `resolved` lacks.
    pub fn desired_script(&self, resolved: &ResolvedSources) -> Result<CliScript, ValidationError> {
        let mut merged: Option<CliScript> = None;
        let parsed = self
            .references()
            .into_iter()
            .map(|source| {
                let text = text_of(resolved, &source)?;
                parse_cli(&source.to_string(), text)
            })
            .chain(
                self.inline
                    .iter()
                    .map(|t| parse_cli("spec.cliScript.inline", t)),
            );
        for script in parsed {
            let script = script?;
            match &mut merged {
                Some(all) => all.apply(&script),
                None => merged = Some(script),
            }
        }
        merged.ok_or(ValidationError::NoSource {
            field: "spec.cliScript",
        })
    }

    /// The prune rules, each path split at ` / ` into the parent mode's
    /// openers and the entry keyword.
    pub fn prune_rules(&self) -> Result<CliPrune, ValidationError> {
        self.prune
            .iter()
            .try_fold(CliPrune::new(), |rules, path| {
                rules.with(path.0.split('/').map(str::trim))
            })
            .map_err(|source| ValidationError::CliPrune { source })
    }

    /// The comparison options: prune rules and known defaults.
    pub fn diff_options(&self) -> Result<CliDiffOptions, ValidationError> {
        let defaults = self
            .defaults
            .iter()
            .try_fold(CliDefaults::new(), |all, d| {
                all.with(d.path.split('/').map(str::trim), &d.key, &d.value)
            })
            .map_err(|source| ValidationError::CliPrune { source })?;
        Ok(CliDiffOptions {
            prune: self.prune_rules()?,
            defaults,
        })
    }
}

/// Parses INI text from `origin`, with excerpts of the input left out of
/// the error (a malformed line may hold a secret).
pub(crate) fn parse_ini(origin: &str, text: &str) -> Result<IniDocument, ValidationError> {
    ini::parse_strict(text).map_err(|e| {
        let line_text = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
        ValidationError::Ini {
            origin: origin.to_owned(),
            line: e.line,
            reason: redact_excerpts(&e.reason, line_text),
        }
    })
}

/// Parses CLI text from `origin`. CLI errors name keywords, never values.
pub(crate) fn parse_cli(origin: &str, text: &str) -> Result<CliScript, ValidationError> {
    CliScript::parse(text).map_err(|source| ValidationError::Cli {
        origin: origin.to_owned(),
        source,
    })
}

/// Replaces every backticked excerpt of `reason` that quotes the offending
/// line `line_text` by `…`: the parser quotes input to help, but the line
/// may hold a password. Excerpts that are guidance (not from the line) stay.
fn redact_excerpts(reason: &str, line_text: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else {
            break;
        };
        let excerpt = &after[..close];
        out.push_str(&rest[..=open]);
        if !excerpt.is_empty() && line_text.contains(excerpt) {
            out.push('…');
        } else {
            out.push_str(excerpt);
        }
        out.push('`');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

impl fmt::Debug for IniSpec {
    /// Inline text may hold secrets: `Debug` shows only its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IniSpec")
            .field("inline", &self.inline.as_ref().map(|t| Bytes(t.len())))
            .field("config_map_refs", &self.config_map_refs)
            .field("files", &self.files)
            .field("prune_tables", &self.prune_tables)
            .field("reset_parameters", &self.reset_parameters)
            .field("defaults", &self.defaults)
            .field("mode", &self.mode)
            .finish()
    }
}

impl fmt::Debug for CliScriptSpec {
    /// Inline text may hold secrets: `Debug` shows only its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CliScriptSpec")
            .field("inline", &self.inline.as_ref().map(|t| Bytes(t.len())))
            .field("config_map_refs", &self.config_map_refs)
            .field("files", &self.files)
            .field("prune", &self.prune)
            .finish()
    }
}

/// A size shown in place of text.
struct Bytes(usize);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str, key: &str) -> ConfigMapKeyRef {
        ConfigMapKeyRef {
            name: name.into(),
            key: key.into(),
        }
    }

    #[test]
    fn excerpts_quoting_the_line_are_redacted_and_guidance_stays() {
        let reason = "expected `Name = value`, found `SIPPassword hunter2`";
        assert_eq!(
            redact_excerpts(reason, "SIPPassword hunter2"),
            "expected `Name = value`, found `…`"
        );
        assert_eq!(redact_excerpts("no excerpt", "x"), "no excerpt");
        assert_eq!(redact_excerpts("odd `tick", "tick"), "odd `tick");
    }

    #[test]
    fn malformed_inline_ini_names_the_line_without_its_text() {
        let spec = IniSpec {
            inline: Some("[SIP Params]\nEnableEarlyMedia = 1\nSIPPassword hunter2\n".into()),
            ..IniSpec::default()
        };
        let err = spec.desired_document(&ResolvedSources::new()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("spec.ini.inline"), "{text}");
        assert!(text.contains("line 3"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn sources_merge_in_order_with_inline_last() {
        let spec = IniSpec {
            inline: Some("[SIP Params]\nGWDEBUGLEVEL = 5\n".into()),
            config_map_refs: vec![cm("base", "a.ini"), cm("site", "b.ini")],
            ..IniSpec::default()
        };
        let mut resolved = ResolvedSources::new();
        resolved.insert(
            SourceRef::ConfigMap(cm("base", "a.ini")),
            "[SIP Params]\nGWDEBUGLEVEL = 1\nEnableEarlyMedia = 0\nSyslogServerIP = '10.0.0.1'\n"
                .into(),
        );
        resolved.insert(
            SourceRef::ConfigMap(cm("site", "b.ini")),
            "[SIP Params]\nEnableEarlyMedia = 1\n".into(),
        );
        let doc = spec.desired_document(&resolved).unwrap();
        assert_eq!(doc.param("GWDebugLevel").unwrap().value, "5");
        assert_eq!(doc.param("EnableEarlyMedia").unwrap().value, "1");
        assert_eq!(doc.param("SyslogServerIP").unwrap().value, "10.0.0.1");
    }

    #[test]
    fn a_missing_reference_is_named() {
        let spec = IniSpec {
            config_map_refs: vec![cm("base", "a.ini")],
            ..IniSpec::default()
        };
        let err = spec.desired_document(&ResolvedSources::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ConfigMap `base` key `a.ini` was not loaded: it is missing, or lacks the key"
        );
    }

    #[test]
    fn a_malformed_referenced_source_is_named_with_its_line() {
        let spec = IniSpec {
            files: vec!["device.ini".into()],
            ..IniSpec::default()
        };
        let mut resolved = ResolvedSources::new();
        resolved.insert(
            SourceRef::File("device.ini".into()),
            "[ IPGroup ]\nIPGroup 0 = 1;\n".into(),
        );
        let err = spec.desired_document(&resolved).unwrap_err().to_string();
        assert!(err.starts_with("file `device.ini`: line 2: "), "{err}");
    }

    #[test]
    fn cli_sources_merge_and_prune_paths_parse() {
        let spec = CliScriptSpec {
            inline: Some("configure voip\n  sip-definition general-settings\n    app-max-active 10\n  exit\nexit\n".into()),
            prune: vec![PrunePath("configure voip / proxy-ip".into())],
            ..CliScriptSpec::default()
        };
        let script = spec.desired_script(&ResolvedSources::new()).unwrap();
        assert!(script.render().contains("app-max-active 10"));
        assert!(spec.prune_rules().is_ok());

        let bad = CliScriptSpec {
            prune: vec![PrunePath("proxy-ip".into())],
            ..spec
        };
        let err = bad.prune_rules().unwrap_err().to_string();
        assert!(err.contains("spec.cliScript.prune"), "{err}");
    }

    #[test]
    fn malformed_cli_names_origin_and_line() {
        let spec = CliScriptSpec {
            inline: Some("configure voip\nexit\nexit\n".into()),
            ..CliScriptSpec::default()
        };
        let err = spec
            .desired_script(&ResolvedSources::new())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("spec.cliScript.inline: line 3: "), "{err}");
    }

    #[test]
    fn diff_options_carry_the_declared_fields() {
        let spec = IniSpec {
            prune_tables: vec![TableName("IPGroup".into())],
            reset_parameters: [("GWDebugLevel".to_string(), "0".to_string())].into(),
            defaults: [("EnableSyslog".to_string(), "0".to_string())].into(),
            ..IniSpec::default()
        };
        let options = spec.diff_options();
        assert_eq!(options.prune_tables, vec!["IPGroup".to_string()]);
        assert_eq!(options.reset_parameters["GWDebugLevel"], "0");
        assert_eq!(options.defaults["EnableSyslog"], "0");
    }

    #[test]
    fn debug_shows_sizes_not_inline_text() {
        let spec = IniSpec {
            inline: Some("[SIP Params]\nSIPPassword = 'hunter2'\n".into()),
            ..IniSpec::default()
        };
        let cli = CliScriptSpec {
            inline: Some("configure voip\n password hunter2\nexit\n".into()),
            ..CliScriptSpec::default()
        };
        for shown in [format!("{spec:?}"), format!("{cli:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("bytes>"), "{shown}");
        }
    }
}
