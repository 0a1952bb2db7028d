//! How the simulated device takes in an INI file, by the AudioCodes
//! manuals (Mediant 800 MSBG SIP User's Manual v6.2, "Format of ini File
//! Table Parameters"; the same text is in the Mediant 1000/600 v5.4 and
//! Mediant 2000 SIP User's Manuals), never by our client's conventions:
//!
//! - "The Format line can include a subset of the configurable fields in a
//!   table. In this case, all other fields are assigned with the pre-defined
//!   default values for each configured line." A data line therefore
//!   replaces its whole row: the listed columns take the line's values,
//!   every other column its default.
//! - "The double dollar sign ($$) in a Data line indicates the default value
//!   for the parameter."
//! - "If there is a syntax error in the parameter name, the value is
//!   ignored." The manual calls tables "table parameters" and columns
//!   "parameters (column)": an unknown parameter, table or column name is
//!   ignored (and listed in the [`LoadReport`]).
//! - "If a secret table appears in an ini file, it replaces the current
//!   table regardless of its content. To delete a secret table from the
//!   device, include an empty table of the same type (with no data lines)
//!   as part of a new ini file."
//! - "A row in a table is identified by its table name and Index field.
//!   Each such row may appear only once in the ini file." (a repeated row is
//!   refused: our reading).
//!
//! No INI syntax deletes one row of an ordinary table; nothing here does.
//! Our assumptions (not in the manuals) are marked "Assumption" below and in
//! the simulator's README.

use std::sync::Arc;

use base64::Engine as _;

use super::catalog::{self, Kind, TableSpec};
use super::config::{Cell, Column, DeviceConfig, Learned, Param, Quoting, RowKey, Table};
use super::ini_read::{self, IniText, TableBlock, Token};

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

impl From<ini_read::ReadError> for ConfigError {
    fn from(e: ini_read::ReadError) -> Self {
        ConfigError {
            line: Some(e.line),
            message: e.message,
        }
    }
}

/// What an accepted upload left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Names the device does not know and ignored (parameters, tables and
    /// table columns), as written in the upload.
    pub ignored: Vec<String>,
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

/// A catalogue table's schema: every column in catalogue order.
fn catalogue_table(spec: &TableSpec) -> Table {
    Table::new(
        spec.name,
        spec.columns
            .iter()
            .map(|c| Column {
                name: c.name.to_string(),
                default: c.default.to_string(),
                kind: Some(c.kind),
                quoting: None,
            })
            .collect(),
    )
}

/// The schema (no rows) this device has for a table: what its firmware
/// showed in its own dump, else the catalogue's.
pub(crate) fn schema(learned: &Learned, name: &str) -> Option<Table> {
    if let Some(t) = learned.table(name) {
        return Some(t.clone());
    }
    catalog::table(name).map(catalogue_table)
}

/// The factory-default configuration of the catalogue's firmware.
pub fn factory_default() -> DeviceConfig {
    factory_default_with(Arc::default())
}

/// The factory default of a device whose firmware also knows `learned`:
/// one network interface, the default TLS context, SRD and media realm.
pub(crate) fn factory_default_with(learned: Arc<Learned>) -> DeviceConfig {
    const TEXT: &str = "\
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
[ CpMediaRealm ]\n\
FORMAT CpMediaRealm_Index = CpMediaRealm_MediaRealmName, CpMediaRealm_IPv4IF, CpMediaRealm_IsDefault;\n\
CpMediaRealm 0 = \"DefaultRealm\", \"O+M+C\", 1;\n\
[ \\CpMediaRealm ]\n";
    let mut doc = DeviceConfig {
        learned,
        ..DeviceConfig::default()
    };
    // The text above is a constant the unit tests load; should it ever be
    // refused, the device simply starts empty rather than panicking.
    let _ = apply_incremental(&mut doc, TEXT);
    doc
}

/// Loads a full configuration file (`PUT /files/ini`): the factory default
/// of this device's firmware, then the file. Assumption: parameters and
/// tables the file does not name take their factory values (the v7.4
/// document only says the upload "triggers device reset to activate the new
/// configuration"; its CLI section says a full script "completely overrides
/// the current device configuration").
pub fn load_full(
    current: &DeviceConfig,
    text: &str,
) -> Result<(DeviceConfig, LoadReport), ConfigError> {
    let read = ini_read::read(text)?;
    let mut doc = factory_default_with(Arc::clone(&current.learned));
    // A table the file names replaces the factory one.
    for block in &read.tables {
        if !is_secret(&doc, &block.name)
            && known_table(&doc, &block.name)
            && let Some(t) = doc.table_mut(&block.name)
        {
            t.rows.clear();
        }
    }
    let report = apply_read(&mut doc, &read)?;
    Ok((doc, report))
}

/// Applies an incremental INI file to `doc` (`PUT /files/ini/incremental`);
/// on error `doc` is left as it was.
pub fn apply_incremental(doc: &mut DeviceConfig, text: &str) -> Result<LoadReport, ConfigError> {
    let read = ini_read::read(text)?;
    apply_read(doc, &read)
}

fn known_table(doc: &DeviceConfig, name: &str) -> bool {
    doc.table(name).is_some() || doc.learned.table(name).is_some() || catalog::table(name).is_some()
}

fn is_secret(doc: &DeviceConfig, name: &str) -> bool {
    doc.table(name).is_some_and(Table::is_secret)
        || doc.learned.table(name).is_some_and(Table::is_secret)
}

/// A value checked against and normalised for a catalogue kind.
fn stored(kind: Kind, value: &str) -> Result<String, String> {
    match kind {
        Kind::Text => kind.check(value).map(|()| value.to_string()),
        Kind::Secret => kind.check(value).map(|()| hash_secret(value)),
        _ => {
            let trimmed = value.trim();
            kind.check(trimmed).map(|()| kind.normalise(trimmed))
        }
    }
}

fn apply_read(doc: &mut DeviceConfig, read: &IniText) -> Result<LoadReport, ConfigError> {
    let mut draft = doc.clone();
    let mut report = LoadReport::default();

    for line in &read.scalars {
        let fail = |message: String| ConfigError {
            line: Some(line.line),
            message,
        };
        if let Some(spec) = catalog::param(&line.name) {
            if spec.name == "LastConfigChangeTime" {
                // Maintained by the device itself; an upload cannot set it.
                continue;
            }
            let value = stored(spec.kind, &line.value)
                .map_err(|why| fail(format!("parameter {}: {why}", spec.name)))?;
            // A default learned from this device's dump stays what it was.
            let default = match draft.param(spec.name) {
                Some(p) => p.default.clone(),
                None => Some(spec.default.to_string()),
            };
            if default.as_deref() == Some(value.as_str()) {
                draft.remove_param(spec.name);
            } else {
                draft.put_param(Param {
                    name: spec.name.to_string(),
                    section: spec.section.to_string(),
                    value,
                    default,
                    quoting: line.quoting,
                    hidden: spec.hidden,
                });
            }
            continue;
        }
        let known = draft
            .param(&line.name)
            .map(|p| (p.name.clone(), p.section.clone()))
            .or_else(|| draft.learned.param(&line.name).cloned());
        let Some((name, section)) = known else {
            report.ignored.push(line.name.clone());
            continue;
        };
        draft.put_param(Param {
            name,
            section,
            value: line.value.clone(),
            default: None,
            quoting: line.quoting,
            hidden: false,
        });
    }

    for block in &read.tables {
        apply_table(&mut draft, block, &mut report)?;
    }
    // No reference check here: the Mediant 1000's own export holds a proxy
    // set naming a SIP interface that does not exist (`ProxySet 3`), so a
    // device takes such rows, and its own backup must load back.
    *doc = draft;
    Ok(report)
}

/// Applies one table block.
fn apply_table(
    doc: &mut DeviceConfig,
    block: &TableBlock,
    report: &mut LoadReport,
) -> Result<(), ConfigError> {
    let existing = doc.table(&block.name).cloned();
    let secret = is_secret(doc, &block.name);
    let base = match existing
        .clone()
        .or_else(|| schema(&doc.learned, &block.name))
    {
        Some(t) => t,
        None => {
            report.ignored.push(block.name.clone());
            return Ok(());
        }
    };
    let spec = catalog::table(&base.name);
    // Where each FORMAT column lands (None: a name this table lacks, ignored).
    let mapping: Vec<Option<usize>> = block
        .columns
        .iter()
        .map(|name| {
            let found = base.column_position(name);
            if found.is_none() {
                report.ignored.push(name.clone());
            }
            found
        })
        .collect();

    let mut table = if secret {
        // "it replaces the current table regardless of its content"
        let mut fresh = base.clone();
        fresh.rows.clear();
        fresh
    } else {
        existing.unwrap_or_else(|| {
            let mut fresh = base.clone();
            fresh.rows.clear();
            fresh
        })
    };
    let mut seen: Vec<&RowKey> = Vec::new();
    for line in &block.rows {
        let fail = |message: String| ConfigError {
            line: Some(line.line),
            message,
        };
        if seen.contains(&&line.key) {
            return Err(fail(format!(
                "table {}: row {} appears more than once (each row may appear only once in the ini file)",
                table.name,
                line.key.as_str()
            )));
        }
        seen.push(&line.key);
        if let Some(spec) = spec {
            let ok = line.key.number().is_some_and(|n| n < spec.max_rows as u64);
            if !ok {
                return Err(fail(format!(
                    "table {}: row index '{}' is not a number from 0 to {}",
                    table.name,
                    line.key.as_str(),
                    spec.max_rows - 1
                )));
            }
        }
        // The whole row: every column its default, then the listed ones.
        let mut row: Vec<Cell> = table.default_row();
        for (token, target) in line.cells.iter().zip(&mapping) {
            let Some(pos) = *target else { continue };
            let column = &table.columns[pos];
            let cell = match token {
                Token::Default => Cell {
                    value: column.default.clone(),
                    quoting: column.quoting.unwrap_or(Quoting::Double),
                },
                Token::Value(value, quoting) => {
                    let value = match column.kind {
                        Some(kind)
                            if !(value.is_empty() && matches!(kind, Kind::Text | Kind::Secret)) =>
                        {
                            stored(kind, value).map_err(|why| {
                                fail(format!(
                                    "table {} row {}: column {} {why}",
                                    table.name,
                                    line.key.as_str(),
                                    column.name
                                ))
                            })?
                        }
                        _ => value.clone(),
                    };
                    Cell {
                        value,
                        quoting: column.quoting.unwrap_or(*quoting),
                    }
                }
            };
            row[pos] = cell;
        }
        table.rows.insert(line.key.clone(), row);
    }
    if secret && block.rows.is_empty() {
        // "To delete a secret table from the device, include an empty table
        // of the same type (with no data lines)"
        doc.remove_table(&block.name);
        return Ok(());
    }
    if table.rows.is_empty() && !secret {
        // An ordinary table without rows is not written and not kept.
        doc.remove_table(&block.name);
        return Ok(());
    }
    match doc.table_mut(&block.name) {
        Some(slot) => *slot = table,
        None => doc.insert_table(table),
    }
    Ok(())
}

/// Refuses, for rows a CLI script wrote, references to rows that do not
/// exist and names another row already uses. Assumption ([I]): the CLI
/// validates a row when it is applied. INI uploads are not checked (see
/// `apply_read`).
pub(crate) fn check_written(
    doc: &DeviceConfig,
    written: &[(String, RowKey, usize)],
) -> Result<(), ConfigError> {
    for (table_name, key, line) in written {
        let Some(spec) = catalog::table(table_name) else {
            continue;
        };
        let Some(table) = doc.table(spec.name) else {
            continue;
        };
        let fail = |message: String| ConfigError {
            line: Some(*line),
            message,
        };
        for r in spec.references {
            let Some(value) = table.cell(key, r.column).filter(|v| !v.is_empty()) else {
                continue;
            };
            if r.wildcard.is_some_and(|w| w.eq_ignore_ascii_case(value)) {
                continue;
            }
            let exists = doc.table(r.table).is_some_and(|target| match r.to_column {
                Some(col) => target
                    .rows()
                    .any(|(k, _)| target.cell(k, col) == Some(value)),
                None => target.row(&RowKey::new(value)).is_some(),
            });
            if !exists {
                return Err(fail(format!(
                    "table {} row {}: column {} refers to {} '{value}', which does not exist",
                    spec.name,
                    key.as_str(),
                    r.column,
                    r.table
                )));
            }
        }
        // A naming column others refer to must be unique.
        for other in catalog::TABLES {
            for r in other.references {
                let Some(col) = r
                    .to_column
                    .filter(|_| r.table.eq_ignore_ascii_case(spec.name))
                else {
                    continue;
                };
                let Some(name) = table.cell(key, col).filter(|n| !n.is_empty()) else {
                    continue;
                };
                let clash = table
                    .rows()
                    .find(|(k, _)| *k != key && table.cell(k, col) == Some(name));
                if let Some((k, _)) = clash {
                    return Err(fail(format!(
                        "table {}: {col} '{name}' is used by more than one row (rows {} and {})",
                        spec.name,
                        k.as_str(),
                        key.as_str()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A device's configuration as its own dump shows it (`GET /files/ini` of a
/// real device): every parameter, table, row and cell as written, tables
/// the catalogue lacks with the dump's columns, comment-only tables as
/// secret tables (the manual: "there is a commented title that states that
/// the secret table exists in the device, but is not to be revealed"), and
/// `;X is hidden but has non-default value` lines as hidden parameters. The
/// firmware of the device then knows every name of the dump.
pub fn seed_from_dump(text: &str) -> Result<DeviceConfig, ConfigError> {
    let read = ini_read::read(text)?;
    let mut doc = DeviceConfig::default();
    let mut learned = Learned::default();
    for line in &read.scalars {
        let section = line
            .section
            .clone()
            .unwrap_or_else(|| "SYSTEM Params".to_string());
        let param = match catalog::param(&line.name) {
            Some(spec) if spec.name == "LastConfigChangeTime" => continue,
            Some(spec) => Param {
                name: spec.name.to_string(),
                section: spec.section.to_string(),
                value: line.value.clone(),
                default: (line.value != spec.default).then(|| spec.default.to_string()),
                quoting: line.quoting,
                hidden: spec.hidden,
            },
            None => {
                learned.params.push((line.name.clone(), section.clone()));
                Param {
                    name: line.name.clone(),
                    section,
                    value: line.value.clone(),
                    default: None,
                    quoting: line.quoting,
                    hidden: false,
                }
            }
        };
        doc.put_param(param);
    }
    for hidden in &read.hidden {
        if catalog::param(&hidden.name).is_some_and(|p| p.name == "LastConfigChangeTime") {
            continue;
        }
        let section = hidden
            .section
            .clone()
            .unwrap_or_else(|| "SYSTEM Params".to_string());
        learned.params.push((hidden.name.clone(), section.clone()));
        doc.put_param(Param {
            name: hidden.name.clone(),
            section,
            value: String::new(),
            default: None,
            quoting: Quoting::Bare,
            hidden: true,
        });
    }
    for block in &read.tables {
        let spec = catalog::table(&block.name);
        let name = spec.map_or(block.name.as_str(), |s| s.name);
        let columns: Vec<Column> = block
            .columns
            .iter()
            .enumerate()
            .map(|(i, full)| {
                let short = super::config::short_name(&block.name, full);
                let known = spec.and_then(|s| s.column(short)).map(|(_, c)| c);
                let seen = block.rows.first().and_then(|r| match r.cells.get(i) {
                    Some(Token::Value(_, q)) => Some(*q),
                    _ => None,
                });
                Column {
                    name: known.map_or(short, |c| c.name).to_string(),
                    default: known.map_or_else(String::new, |c| c.default.to_string()),
                    kind: known.map(|c| c.kind),
                    quoting: if known.is_some() {
                        None
                    } else {
                        seen.or(Some(Quoting::Bare))
                    },
                }
            })
            .collect();
        let mut table = Table::new(name, columns);
        if !block.index_fields.is_empty() {
            table.index_fields = block.index_fields.clone();
        }
        table.secret = !block.has_format;
        for line in &block.rows {
            let row = line
                .cells
                .iter()
                .zip(&table.columns)
                .map(|(token, column)| match token {
                    Token::Default => Cell {
                        value: column.default.clone(),
                        quoting: column.quoting.unwrap_or(Quoting::Double),
                    },
                    Token::Value(value, quoting) => Cell {
                        value: value.clone(),
                        quoting: *quoting,
                    },
                })
                .collect();
            table.rows.insert(line.key.clone(), row);
        }
        let mut schema = table.clone();
        schema.rows.clear();
        learned.tables.push(schema);
        doc.tables.push(table);
    }
    learned.without_last_change = !read
        .hidden
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("LastConfigChangeTime"));
    doc.learned = Arc::new(learned);
    Ok(doc)
}

/// The device side of an upload, with no HTTP: a device seeded with its
/// own dump `device_ini` takes the incremental INI file `upload` and answers
/// what `GET /files/ini` then gives (header of simulated device 0, v7.4).
///
/// # Errors
/// The device's refusal of either text, naming the line.
pub fn interpret_upload(device_ini: &str, upload: &str) -> Result<String, ConfigError> {
    let mut doc = seed_from_dump(device_ini)?;
    apply_incremental(&mut doc, upload)?;
    let info = crate::simulator::device::DeviceInfo::numbered(
        0,
        crate::simulator::device::Dialect::V74,
        false,
    );
    Ok(super::ini_render::render(&info, &doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<(DeviceConfig, LoadReport), ConfigError> {
        load_full(&DeviceConfig::default(), text)
    }

    #[test]
    fn factory_default_is_complete() {
        let doc = factory_default();
        let srd = doc.table("SRD").expect("SRD");
        assert_eq!(srd.cell(&RowKey::from(0), "Name"), Some("DefaultSRD"));
        assert_eq!(
            srd.columns().len(),
            catalog::table("SRD").map_or(0, |t| t.columns.len())
        );
        assert!(doc.table("CpMediaRealm").is_some());
    }

    #[test]
    fn canonicalises_and_ignores_unknown_parameters() {
        let (doc, report) =
            load("[SYSTEM Params]\nenablesyslog = '1'\nNoSuchThing = 3\nSyslogServerPort = 514\n")
                .expect("loads");
        let p = doc.param("EnableSyslog").expect("kept");
        assert_eq!(
            (p.name.as_str(), p.value.as_str(), p.section.as_str()),
            ("EnableSyslog", "1", "SYSTEM Params")
        );
        assert!(doc.param("SyslogServerPort").is_none());
        assert_eq!(report.ignored, vec!["NoSuchThing".to_string()]);
    }

    #[test]
    fn a_data_line_sets_the_whole_row() {
        let mut doc = factory_default();
        apply_incremental(
            &mut doc,
            "[ SRD ]\nFORMAT SRD_Index = SRD_Name, SRD_SharingPolicy;\nSRD 0 = \"A\", 1;\n[ \\SRD ]\n",
        )
        .expect("loads");
        apply_incremental(
            &mut doc,
            "[ SRD ]\nFORMAT SRD_Index = SRD_Name;\nSRD 0 = \"B\";\n[ \\SRD ]\n",
        )
        .expect("loads");
        let srd = doc.table("SRD").expect("SRD");
        assert_eq!(srd.cell(&RowKey::from(0), "Name"), Some("B"));
        assert_eq!(srd.cell(&RowKey::from(0), "SharingPolicy"), Some("0"));
    }

    #[test]
    fn refuses_bad_values_and_takes_dangling_references() {
        let e = load("\n[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Type, IPGroup_Name;\nIPGroup 0 = x, \"A\";\n[ \\IPGroup ]\n").expect_err("bad value");
        assert_eq!(e.line, Some(4));
        assert!(load("[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_ProxySetName;\nIPGroup 0 = \"A\", \"Nope\";\n[ \\IPGroup ]\n").is_ok());
    }

    #[test]
    fn secrets_are_hashed() {
        let (doc, _) = load("[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name, IPGroup_Password;\nIPGroup 0 = \"A\", \"hunter2\";\n[ \\IPGroup ]\n").expect("loads");
        let stored = doc
            .table("IPGroup")
            .and_then(|t| t.cell(&RowKey::from(0), "Password"))
            .expect("cell");
        assert!(stored.starts_with("$1$") && !stored.contains("hunter2"));
        assert_eq!(hash_secret(stored), stored);
    }
}
