//! The desired configuration of a device as the spec declares it: INI
//! parameters and tables, and a CLI script, each inline, from ConfigMaps,
//! or (for the command line only) from files. Types and references only:
//! how the texts become one model is `crate::plan`'s (its
//! `mediant_device::desired`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::api::SecretKeyRef;
use crate::api::sources::{ConfigMapKeyRef, SourceRef};

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired INI parameters and tables. Only what these sources declare is
/// managed; everything else on the device is left alone unless pruneTables
/// or resetParameters say otherwise.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.inline) || (has(self.configMapRefs) && size(self.configMapRefs) > 0) || (has(self.secretRefs) && size(self.secretRefs) > 0) || (has(self.files) && size(self.files) > 0)"
).message("ini needs at least one source: inline, configMapRefs, secretRefs or files"))]
pub struct IniSpec {
    /// INI text in the device's format (`Name = value` lines under
    /// `[Section]` headers, tables with FORMAT lines). Merged last, so it
    /// overrides the ConfigMaps and Secrets. Hold no passwords here: a
    /// manifest is not a Secret (use secretRefs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1048576))]
    pub inline: Option<String>,
    /// Keys of ConfigMaps, in the MediantDevice's namespace, holding INI
    /// text. Merged in list order: a later one overrides an earlier one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub config_map_refs: Vec<ConfigMapKeyRef>,
    /// Keys of Secrets, in the MediantDevice's namespace, holding INI text
    /// with values that must not sit in a ConfigMap or the spec (passwords,
    /// shared keys): e.g. `[ WebUsers ]`, a FORMAT line naming only the
    /// index and `WebUsers_Password`, and one row per password. Merged
    /// after the ConfigMaps in list order, cell by cell, so a Secret can
    /// supply just the secret columns of rows declared elsewhere. Every
    /// value from a Secret is shown masked in plans, outcomes and errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub secret_refs: Vec<SecretKeyRef>,
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
    "has(self.inline) || (has(self.configMapRefs) && size(self.configMapRefs) > 0) || (has(self.secretRefs) && size(self.secretRefs) > 0) || (has(self.files) && size(self.files) > 0)"
).message("cliScript needs at least one source: inline, configMapRefs, secretRefs or files"))]
pub struct CliScriptSpec {
    /// The script text. Merged last, so it overrides the ConfigMaps and
    /// Secrets. Hold no passwords here: a manifest is not a Secret (use
    /// secretRefs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1048576))]
    pub inline: Option<String>,
    /// Keys of ConfigMaps, in the MediantDevice's namespace, holding script
    /// text. Merged in list order: a later one overrides an earlier one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub config_map_refs: Vec<ConfigMapKeyRef>,
    /// Keys of Secrets, in the MediantDevice's namespace, holding script
    /// text with values that must not sit in a ConfigMap or the spec (e.g.
    /// a `configure` mode setting one password). Merged after the
    /// ConfigMaps in list order. Every value from a Secret is shown masked
    /// in plans, outcomes and errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub secret_refs: Vec<SecretKeyRef>,
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

/// The references of one source list, in merge order: files, ConfigMaps,
/// Secrets.
fn references(
    files: &[String],
    config_maps: &[ConfigMapKeyRef],
    secrets: &[SecretKeyRef],
) -> Vec<SourceRef> {
    files
        .iter()
        .map(|f| SourceRef::File(PathBuf::from(f)))
        .chain(config_maps.iter().cloned().map(SourceRef::ConfigMap))
        .chain(secrets.iter().cloned().map(SourceRef::Secret))
        .collect()
}

impl IniSpec {
    /// The sources this spec refers to, in merge order (files, then
    /// ConfigMaps, then Secrets; inline text comes last).
    pub fn references(&self) -> Vec<SourceRef> {
        references(&self.files, &self.config_map_refs, &self.secret_refs)
    }
}

impl CliScriptSpec {
    /// The sources this spec refers to, in merge order (files, then
    /// ConfigMaps, then Secrets; inline text comes last).
    pub fn references(&self) -> Vec<SourceRef> {
        references(&self.files, &self.config_map_refs, &self.secret_refs)
    }
}

impl fmt::Debug for IniSpec {
    /// Inline text may hold secrets: `Debug` shows only its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IniSpec")
            .field("inline", &self.inline.as_ref().map(|t| Bytes(t.len())))
            .field("config_map_refs", &self.config_map_refs)
            .field("secret_refs", &self.secret_refs)
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
            .field("secret_refs", &self.secret_refs)
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
