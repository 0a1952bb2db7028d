//! How the simulated device takes in configuration: it reads an uploaded
//! INI file into its own canonical model (catalog spelling and sections,
//! every table column present with defaults filled in, secrets hashed),
//! ignores scalar parameters it does not know, refuses unknown tables, bad
//! values and dangling references, and applies nothing from a refused file.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use super::catalog::{self, Kind, TableSpec};
use crate::config::ini::{ACTION_COLUMN, ACTION_DELETE, IniDocument, RowIndex, Table};

/// Why the device refuses a configuration: what is wrong and, when it comes
/// from uploaded text, on which line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// 1-based line of the upload the problem is on, when known.
    pub line: Option<usize>,
    /// What is wrong, naming parameters, tables and columns, never secret values.
    pub message: String,
}

/// What an accepted upload changed and what it left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Names the device does not know and ignored (scalar parameters and
    /// table columns), as written in the upload.
    pub ignored: Vec<String>,
}

/// The line of an upload a problem is on: the first line whose left-hand
/// side (before `=`) is `lhs` (case-insensitive, spaces collapsed), or the
/// table header `[ name ]`.
fn find_line(text: &str, lhs: &str, header: bool) -> Option<usize> {
    let want: Vec<String> = lhs
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    text.split('\n')
        .position(|raw| {
            let line = raw.trim();
            if header {
                let inner = line.strip_prefix('[').and_then(|l| l.strip_suffix(']'));
                return inner.is_some_and(|i| i.trim().eq_ignore_ascii_case(lhs));
            }
            let Some((left, _)) = line.split_once('=') else {
                return false;
            };
            let got: Vec<String> = left
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            got == want
        })
        .map(|i| i + 1)
}

/// A secret as the device stores it: a `$1$` digest (values that already
/// are one, e.g. from a downloaded file, are kept).
pub(crate) fn hash_secret(value: &str) -> String {
    if value.is_empty() || value.starts_with("$1$") {
        return value.to_string();
    }
    // FNV-1a over the value, twice with different seeds: this only has to
    // make the stored form differ from the upload, like the device's hash.
    let fnv = |seed: u64| {
        value.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let mut digest = fnv(0xcbf2_9ce4_8422_2325).to_be_bytes().to_vec();
    digest.extend_from_slice(&fnv(0x8422_2325_cbf2_9ce4).to_be_bytes());
    format!(
        "$1${}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// A new canonical table: every catalog column, in catalog order.
fn empty_table(spec: &TableSpec) -> Table {
    let mut table = Table::new(spec.name);
    for column in spec.columns {
        table.ensure_column(&spec.full_column(column));
    }
    table
}

/// Inserts a row of defaults (if absent) into a canonical table.
fn ensure_default_row(spec: &TableSpec, table: &mut Table, index: &RowIndex) {
    if table.row(index).is_some() {
        return;
    }
    for column in spec.columns {
        table.set_cell(index.clone(), &spec.full_column(column), column.default);
    }
}

/// The factory-default configuration: what a device holds with no
/// configuration loaded (one network interface, the default SRD, realm and
/// TLS context).
pub fn factory_default() -> IniDocument {
    let text = "\
[ InterfaceTable ]\n\
FORMAT InterfaceTable_Index = InterfaceTable_ApplicationTypes, InterfaceTable_IPAddress, InterfaceTable_PrefixLength, InterfaceTable_Gateway, InterfaceTable_InterfaceName, InterfaceTable_UnderlyingDevice;\n\
InterfaceTable 0 = 6, 192.168.0.2, 16, 192.168.0.1, \"O+M+C\", \"vlan 1\";\n\
[ \\InterfaceTable ]\n\
[ TLSContexts ]\n\
FORMAT TLSContexts_Index = TLSContexts_Name;\n\
TLSContexts 0 = \"default\";\n\
[ \\TLSContexts ]\n\
[ SRD ]\n\
FORMAT SRD_Index = SRD_Name;\n\
SRD 0 = \"DefaultSRD\";\n\
[ \\SRD ]\n\
[ MediaRealm ]\n\
FORMAT MediaRealm_Index = MediaRealm_MediaRealmName, MediaRealm_IPv4IF, MediaRealm_IsDefault;\n\
MediaRealm 0 = \"DefaultRealm\", \"O+M+C\", 1;\n\
[ \\MediaRealm ]\n";
    let mut doc = IniDocument::new();
    // The text above is a constant the tests parse; should it ever fail,
    // the device simply starts empty rather than panicking.
    if let Ok(upload) = crate::config::ini::parse(text) {
        let _ = apply_upload(&mut doc, text, &upload);
    }
    doc
}

/// Loads a full configuration file: factory defaults, with each table the
/// file holds replaced by the file's rows and its scalar parameters set.
pub fn load_full(
    text: &str,
    upload: &IniDocument,
) -> Result<(IniDocument, LoadReport), ConfigError> {
    let mut doc = factory_default();
    for table in upload.tables() {
        if let Some(spec) = catalog::table(&table.name) {
            doc.remove_table(spec.name);
        }
    }
    let report = apply_upload(&mut doc, text, upload)?;
    Ok((doc, report))
}

/// Applies an upload (incremental file, or a full file over defaults) to a
/// canonical document; on error the document is left as it was.
pub fn apply_upload(
    doc: &mut IniDocument,
    text: &str,
    upload: &IniDocument,
) -> Result<LoadReport, ConfigError> {
    let mut draft = doc.clone();
    let mut report = LoadReport::default();
    for p in upload.params() {
        let Some(spec) = catalog::param(&p.name) else {
            report.ignored.push(p.name.clone());
            continue;
        };
        if spec.name == "LastConfigChangeTime" {
            // Maintained by the device itself; an upload cannot set it.
            continue;
        }
        let value = p.value.trim();
        if !(value.is_empty() && matches!(spec.kind, Kind::Text | Kind::Secret)) {
            spec.kind
                .check(if matches!(spec.kind, Kind::Text | Kind::Secret) {
                    &p.value
                } else {
                    value
                })
                .map_err(|why| ConfigError {
                    line: find_line(text, &p.name, false),
                    message: format!("parameter {}: {why}", spec.name),
                })?;
        }
        let stored = match spec.kind {
            Kind::Secret => hash_secret(&p.value),
            Kind::Text => p.value.clone(),
            kind => kind.normalise(value),
        };
        if stored == spec.default {
            draft.remove_param(spec.name);
        } else {
            draft.remove_param(spec.name);
            draft.set_param_in(Some(spec.section), spec.name, stored);
        }
    }
    for table in upload.tables() {
        let Some(spec) = catalog::table(&table.name) else {
            return Err(ConfigError {
                line: find_line(text, &table.name, true),
                message: format!(
                    "unknown table {}: this device has no such table",
                    table.name
                ),
            });
        };
        apply_table(&mut draft, spec, table, text, &mut report)?;
    }
    check_references(&draft)?;
    *doc = draft;
    Ok(report)
}

/// Applies one uploaded table to the canonical document.
fn apply_table(
    doc: &mut IniDocument,
    spec: &'static TableSpec,
    upload: &Table,
    text: &str,
    report: &mut LoadReport,
) -> Result<(), ConfigError> {
    if doc.table(spec.name).is_none() {
        let fresh = empty_table(spec);
        *doc.ensure_table(spec.name) = fresh;
    }
    let action = upload.column_position(ACTION_COLUMN);
    // Where each uploaded column lands in the catalog (None: ignored).
    let mut mapping = Vec::with_capacity(upload.columns().len());
    for (pos, column) in upload.columns().iter().enumerate() {
        if Some(pos) == action {
            mapping.push(None);
            continue;
        }
        let found = spec.column(column);
        if found.is_none() {
            report.ignored.push(column.clone());
        }
        mapping.push(found);
    }
    let Some(target) = doc.table_mut(spec.name) else {
        return Ok(());
    };
    for (index, cells) in upload.rows() {
        let line = || find_line(text, &format!("{} {}", upload.name, index.as_str()), false);
        let number = index
            .as_str()
            .parse::<usize>()
            .ok()
            .filter(|n| *n < spec.max_rows);
        if number.is_none() {
            return Err(ConfigError {
                line: line(),
                message: format!(
                    "table {}: row index '{}' is not a number from 0 to {}",
                    spec.name,
                    index.as_str(),
                    spec.max_rows - 1
                ),
            });
        }
        let delete = action
            .and_then(|a| cells.get(a))
            .is_some_and(|v| v.eq_ignore_ascii_case(ACTION_DELETE));
        if delete {
            target.remove_row(index);
            continue;
        }
        ensure_default_row(spec, target, index);
        for (cell, found) in cells.iter().zip(&mapping) {
            let (Some(value), Some((_, column))) = (cell, found) else {
                continue;
            };
            let trimmed = value.trim();
            if !(trimmed.is_empty() && matches!(column.kind, Kind::Text | Kind::Secret)) {
                let checked = if matches!(column.kind, Kind::Text | Kind::Secret) {
                    value
                } else {
                    trimmed
                };
                column.kind.check(checked).map_err(|why| ConfigError {
                    line: line(),
                    message: format!(
                        "table {} row {}: column {} {why}",
                        spec.name,
                        index.as_str(),
                        column.name
                    ),
                })?;
            }
            let stored = match column.kind {
                Kind::Secret => hash_secret(value),
                Kind::Text => value.to_string(),
                kind => kind.normalise(trimmed),
            };
            target.set_cell(index.clone(), &spec.full_column(column), stored);
        }
    }
    if target.row_count() == 0 {
        doc.remove_table(spec.name);
    }
    Ok(())
}

/// Refuses duplicate names and references to rows that do not exist, as the
/// device does (a row may only name rows of tables it already has).
pub fn check_references(doc: &IniDocument) -> Result<(), ConfigError> {
    // The names each (table, column) pair offers to references.
    let mut offered: BTreeMap<(&str, &str), BTreeSet<String>> = BTreeMap::new();
    for spec in catalog::TABLES {
        for r in spec.references {
            let Some(col) = r.to_column else { continue };
            let key = (r.table, col);
            if offered.contains_key(&key) {
                continue;
            }
            let mut names = BTreeSet::new();
            if let Some(table) = doc.table(r.table) {
                for (index, _) in table.rows() {
                    let Some(name) = table.cell(index, col).filter(|n| !n.is_empty()) else {
                        continue;
                    };
                    if !names.insert(name.to_string()) {
                        return Err(ConfigError {
                            line: None,
                            message: format!(
                                "table {}: {col} '{name}' is used by more than one row (row {} repeats it)",
                                r.table,
                                index.as_str()
                            ),
                        });
                    }
                }
            }
            offered.insert(key, names);
        }
    }
    for spec in catalog::TABLES {
        let Some(table) = doc.table(spec.name) else {
            continue;
        };
        for r in spec.references {
            for (index, _) in table.rows() {
                let Some(value) = table.cell(index, r.column).filter(|v| !v.is_empty()) else {
                    continue;
                };
                if r.wildcard.is_some_and(|w| w.eq_ignore_ascii_case(value)) {
                    continue;
                }
                let exists = match r.to_column {
                    Some(col) => offered
                        .get(&(r.table, col))
                        .is_some_and(|n| n.contains(value)),
                    None => doc
                        .table(r.table)
                        .is_some_and(|t| t.row(&RowIndex::new(value)).is_some()),
                };
                if !exists {
                    return Err(ConfigError {
                        line: None,
                        message: format!(
                            "table {} row {}: column {} refers to {} '{value}', which does not exist",
                            spec.name,
                            index.as_str(),
                            r.column,
                            r.table
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini::parse;

    fn load(text: &str) -> Result<(IniDocument, LoadReport), ConfigError> {
        load_full(
            text,
            &parse(text).map_err(|e| ConfigError {
                line: Some(e.line),
                message: e.reason,
            })?,
        )
    }

    #[test]
    fn factory_default_is_complete() {
        let doc = factory_default();
        let srd = doc.table("SRD").expect("SRD");
        assert_eq!(srd.cell(&RowIndex::from(0), "Name"), Some("DefaultSRD"));
        assert_eq!(
            srd.columns().len(),
            catalog::table("SRD").map_or(0, |t| t.columns.len())
        );
        assert!(doc.table("MediaRealm").is_some());
    }

    #[test]
    fn canonicalises_and_ignores_unknown_parameters() {
        let (doc, report) =
            load("[SYSTEM Params]\nenablesyslog = '1'\nNoSuchThing = 3\nSyslogServerPort = 514\n")
                .expect("loads");
        let p = doc.param("EnableSyslog").expect("kept");
        assert_eq!(
            (p.name.as_str(), p.value.as_str(), p.section.as_deref()),
            ("EnableSyslog", "1", Some("SYSTEM Params"))
        );
        assert!(
            doc.param("SyslogServerPort").is_none(),
            "default values are not stored"
        );
        assert_eq!(report.ignored, vec!["NoSuchThing".to_string()]);
    }

    #[test]
    fn refuses_unknown_tables_bad_values_and_dangling_references() {
        let e = load("[ Bogus ]\nFORMAT Bogus_Index = Bogus_X;\nBogus 0 = 1;\n[ \\Bogus ]\n")
            .expect_err("unknown");
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("Bogus"));
        let e = load("\n[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Type, IPGroup_Name;\nIPGroup 0 = x, \"A\";\n[ \\IPGroup ]\n").expect_err("bad value");
        assert_eq!(e.line, Some(4));
        let e = load("[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_ProxySetName;\nIPGroup 0 = \"A\", \"Nope\";\n[ \\IPGroup ]\n").expect_err("dangling");
        assert!(e.message.contains("ProxySet 'Nope'"), "{e}");
    }

    #[test]
    fn secrets_are_hashed() {
        let (doc, _) = load("[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_Password;\nIPGroup 0 = \"A\", \"hunter2\";\n[ \\IPGroup ]\n").expect("loads");
        let stored = doc
            .table("IPGroup")
            .and_then(|t| t.cell(&RowIndex::from(0), "Password"))
            .expect("cell");
        assert!(stored.starts_with("$1$") && !stored.contains("hunter2"));
        assert_eq!(hash_secret(stored), stored);
    }
}
