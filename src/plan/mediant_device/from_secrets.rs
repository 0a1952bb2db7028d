//! What a spec's Secret sources (`secretRefs`) declare, so every value
//! from a Secret is shown masked — in plans and outcomes by key (whatever
//! the parameter's name), and in what the device writes back (errors that
//! quote a refused line) by value. Pure.

use std::collections::BTreeSet;

use crate::config::cli::{CliChange, CliNode, CliScript};
use crate::config::ini::{IniDiff, IniDocument, RowChange};
use crate::config::sensitive::MASK;
use crate::device::DeviceError;

/// What the spec's Secret sources (`secretRefs`) declare: every value
/// there is secret whatever its name, so plans, outcomes and errors show it
/// masked. Keys only, never values; `Debug` shows counts.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FromSecrets {
    /// INI parameter names, lower case.
    params: BTreeSet<String>,
    /// INI cells: table (lower case), row index, short column (lower case).
    cells: BTreeSet<(String, String, String)>,
    /// CLI settings: the mode's openers and the key.
    settings: BTreeSet<(Vec<String>, String)>,
    /// The values themselves (at least [`MIN_REDACTED`] characters), to
    /// mask where the device quotes them back (an error naming the line it
    /// refused). Never shown.
    values: BTreeSet<String>,
}

/// The shortest value from a Secret masked inside device texts: shorter
/// ones (`0`, `on`) would garble every message, and are no passwords.
pub const MIN_REDACTED: usize = 4;

impl std::fmt::Debug for FromSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FromSecrets")
            .field("params", &self.params.len())
            .field("cells", &self.cells.len())
            .field("settings", &self.settings.len())
            .field("values", &self.values.len())
            .finish()
    }
}

/// `column` without its `<table>_` prefix, lower case.
fn short_column(table: &str, column: &str) -> String {
    let head = column.get(..table.len());
    let short = match head {
        Some(h) if h.eq_ignore_ascii_case(table) && column[table.len()..].starts_with('_') => {
            &column[table.len() + 1..]
        }
        _ => column,
    };
    short.to_ascii_lowercase()
}

impl FromSecrets {
    /// Whether no Secret source declared anything.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.cells.is_empty() && self.settings.is_empty()
    }

    /// Keeps `value` for [`Self::redact_text`] when long enough to matter.
    fn add_value(&mut self, value: &str) {
        let value = value.trim();
        if value.chars().count() >= MIN_REDACTED {
            self.values.insert(value.to_owned());
        }
    }

    /// Records everything `doc` (from a Secret) declares.
    pub(super) fn add_ini(&mut self, doc: &IniDocument) {
        for p in doc.params() {
            self.params.insert(p.name.to_ascii_lowercase());
            self.add_value(&p.value);
        }
        for t in doc.tables() {
            for (index, row) in t.rows() {
                for (pos, column) in t.columns().iter().enumerate() {
                    self.cells.insert((
                        t.name.to_ascii_lowercase(),
                        index.as_str().to_owned(),
                        short_column(&t.name, column),
                    ));
                    if let Some(value) = row.get(pos) {
                        self.add_value(value);
                    }
                }
            }
        }
    }

    /// `text` (from the device) with every value from a Secret masked,
    /// longest first (so a value holding a shorter one goes whole).
    pub fn redact_text(&self, text: &str) -> String {
        let mut values: Vec<&String> = self.values.iter().collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = text.to_owned();
        for value in values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }

    /// `error` with every value from a Secret masked in the texts the
    /// device wrote (descriptions, output lines, reasons).
    pub fn redact_error(&self, error: DeviceError) -> DeviceError {
        if self.values.is_empty() {
            return error;
        }
        let r = |t: String| self.redact_text(&t);
        match error {
            DeviceError::Busy {
                method,
                resource,
                attempts,
                description,
            } => DeviceError::Busy {
                method,
                resource,
                attempts,
                description: r(description),
            },
            DeviceError::Rejected {
                method,
                resource,
                description,
            } => DeviceError::Rejected {
                method,
                resource,
                description: r(description),
            },
            DeviceError::Server {
                method,
                resource,
                status,
                description,
            } => DeviceError::Server {
                method,
                resource,
                status,
                description: r(description),
            },
            DeviceError::CliFailed {
                status,
                description,
                lines,
            } => DeviceError::CliFailed {
                status: r(status),
                description: r(description),
                lines: lines.into_iter().map(r).collect(),
            },
            DeviceError::InvalidResponse {
                method,
                resource,
                reason,
            } => DeviceError::InvalidResponse {
                method,
                resource,
                reason: r(reason),
            },
            DeviceError::Unconfirmed {
                endpoint,
                request,
                what,
                reason,
            } => DeviceError::Unconfirmed {
                endpoint,
                request,
                what,
                reason: r(reason),
            },
            // The others hold nothing the device quoted from an upload.
            other => other,
        }
    }

    /// Records every setting `script` (from a Secret) declares.
    pub(super) fn add_cli(&mut self, script: &CliScript) {
        fn walk(path: &mut Vec<String>, nodes: &[CliNode], out: &mut FromSecrets) {
            for node in nodes {
                match node {
                    CliNode::Leaf { key, value } => {
                        out.settings.insert((path.clone(), key.clone()));
                        out.add_value(value);
                    }
                    CliNode::Mode { opener, children } => {
                        path.push(opener.clone());
                        walk(path, children, out);
                        path.pop();
                    }
                    CliNode::No { .. } => {}
                }
            }
        }
        walk(&mut Vec::new(), &script.nodes, self);
    }

    /// Whether parameter `name` came from a Secret.
    pub fn has_param(&self, name: &str) -> bool {
        self.params.contains(&name.to_ascii_lowercase())
    }

    /// Whether cell `column` of row `index` of `table` came from a Secret.
    pub fn has_cell(&self, table: &str, index: &str, column: &str) -> bool {
        self.cells.contains(&(
            table.to_ascii_lowercase(),
            index.to_owned(),
            short_column(table, column),
        ))
    }

    /// Whether the CLI setting `key` under `path` came from a Secret.
    pub fn has_setting(&self, path: &[String], key: &str) -> bool {
        self.settings.contains(&(path.to_vec(), key.to_owned()))
    }

    /// Whether the value a CLI change shows came from a Secret.
    pub fn covers_cli(&self, change: &CliChange) -> bool {
        match change {
            CliChange::Set { path, key, .. } | CliChange::Reset { path, key, .. } => {
                self.has_setting(path, key)
            }
            CliChange::Create { .. } | CliChange::Delete { .. } => false,
        }
    }

    /// A copy of `diff` for people to read: the values from Secrets are
    /// marked secret (parameters and changed cells) or replaced by the mask
    /// (cells of added rows), so [`IniDiff::entries`] masks them. The copy
    /// is never sent: the original is what the device gets.
    pub fn shown_ini(&self, diff: &IniDiff) -> IniDiff {
        let mut out = diff.clone();
        if self.is_empty() {
            return out;
        }
        for p in &mut out.params {
            p.secret |= self.has_param(&p.name);
        }
        for t in &mut out.tables {
            let table = t.table.clone();
            for row in &mut t.rows {
                match row {
                    RowChange::Add { index, cells, .. } => {
                        for (column, value) in cells.iter_mut() {
                            if value.is_some() && self.has_cell(&table, index.as_str(), column) {
                                *value = Some(MASK.to_owned());
                            }
                        }
                    }
                    RowChange::Update { index, cells, .. } => {
                        for c in cells.iter_mut() {
                            c.secret |= self.has_cell(&table, index.as_str(), &c.column);
                        }
                    }
                    RowChange::Delete { .. } => {}
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini;

    const MARKER: &str = "MARKER-from-secret-7f3a";

    #[test]
    fn the_secret_marks_follow_keys_case_insensitively() {
        let mut from = FromSecrets::default();
        from.add_ini(
            &ini::parse("gwdebuglevel = 1\n[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Password;\nIPGroup 1 = x;\n[ \\IPGroup ]\n")
                .unwrap(),
        );
        assert!(from.has_param("GWDebugLevel"));
        assert!(!from.has_param("EnableSyslog"));
        assert!(from.has_cell("IPGroup", "1", "Password"));
        assert!(from.has_cell("ipgroup", "1", "IPGroup_Password"));
        assert!(!from.has_cell("IPGroup", "2", "Password"));
        assert!(!from.has_cell("IPGroup", "1", "Name"));
        assert_eq!(
            format!("{from:?}"),
            "FromSecrets { params: 1, cells: 1, settings: 0, values: 0 }"
        );
    }

    #[test]
    fn values_from_secrets_are_masked_in_what_the_device_writes_back() {
        let mut from = FromSecrets::default();
        from.add_ini(
            &ini::parse(&format!("SyslogServerIP = '{MARKER}'\nGWDebugLevel = 1\n")).unwrap(),
        );
        from.add_cli(
            &CliScript::parse(
                "configure system\n snmp settings\n  sys-name \"Hunter-22\"\n exit\nexit\n",
            )
            .unwrap(),
        );
        let e = from.redact_error(DeviceError::CliFailed {
            status: "failure".into(),
            description: format!("line refused: {MARKER}"),
            lines: vec!["Error: unknown command 'sys-nam Hunter-22'".into()],
        });
        let shown = e.to_string();
        assert!(
            !shown.contains(MARKER) && !shown.contains("Hunter-22"),
            "{shown}"
        );
        assert!(shown.contains("sys-nam ***"), "{shown}");
        let e = from.redact_error(DeviceError::Rejected {
            method: "PUT".into(),
            resource: "files/ini/incremental".into(),
            description: format!("bad value {MARKER} at line 1"),
        });
        assert_eq!(
            e.to_string(),
            "PUT files/ini/incremental was rejected by the device (400 Bad Request): bad value *** at line 1"
        );
        // Short values are not masked inside texts (they would garble them).
        assert_eq!(from.redact_text("GWDebugLevel 1"), "GWDebugLevel 1");
    }
}
