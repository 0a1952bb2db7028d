//! The device's configuration as a CLI script (`GET /files/cliScript`,
//! `show running-config`): `configure system|network|voip|troubleshoot`
//! modes, table entries with their non-default settings, enum values as CLI
//! words, text in double quotes.

use std::fmt::Write as _;

use super::catalog::{self, Kind, TableSpec};
use super::config::{DeviceConfig, RowKey};
use crate::simulator::device::DeviceInfo;

/// The top-level modes in the order the device writes them.
pub(crate) const TOP_MODES: &[&str] = &["system", "network", "voip", "troubleshoot"];

/// A CLI value: enums as words, numbers bare, text (and secrets' hashes)
/// double-quoted.
pub(crate) fn cli_value(kind: Kind, value: &str) -> String {
    match kind {
        Kind::Int | Kind::Ip => value.to_string(),
        Kind::Enum(_) => kind.cli_word(value).to_string(),
        Kind::Text | Kind::Secret => format!("\"{value}\""),
    }
}

/// The submode paths below one top mode, in catalog order (`sip-definition settings`).
pub(crate) fn submodes(top: &str) -> Vec<&'static str> {
    let mut seen: Vec<&'static str> = Vec::new();
    for spec in catalog::PARAMS {
        if let Some((path, _)) = spec.cli
            && let Some((t, sub)) = path.split_once('/')
            && t == top
            && !seen.contains(&sub)
        {
            seen.push(sub);
        }
    }
    seen
}

/// How a row is addressed in the CLI: its index, or `set/ip` for child tables.
pub(crate) fn row_address(
    spec: &TableSpec,
    doc_row: &dyn Fn(&str) -> Option<String>,
    index: &RowKey,
) -> String {
    match spec.cli_pair {
        Some((a, b)) => format!(
            "{}/{}",
            doc_row(a).unwrap_or_else(|| "0".to_string()),
            doc_row(b).unwrap_or_else(|| "0".to_string())
        ),
        None => index.as_str().to_string(),
    }
}

/// Renders the configuration (all top modes, or just `only`).
pub(crate) fn render(info: &DeviceInfo, doc: &DeviceConfig, only: Option<&str>) -> String {
    let mut out = String::with_capacity(96 * doc.len() + 1024);
    if only.is_none() {
        let _ = writeln!(
            out,
            "# Running configuration of {} (serial number {}, version {})",
            info.product, info.serial_number, info.software_version
        );
        out.push('\n');
    }
    for top in TOP_MODES
        .iter()
        .filter(|t| only.is_none_or(|o| o.eq_ignore_ascii_case(t)))
    {
        let mut body = String::new();
        for spec in catalog::TABLES {
            let Some((mode, command)) = spec.cli else {
                continue;
            };
            if mode != *top {
                continue;
            }
            let Some(table) = doc.table(spec.name) else {
                continue;
            };
            for (index, cells) in table.rows() {
                let get = |column: &str| {
                    table
                        .column_position(column)
                        .and_then(|p| cells.get(p).map(str::to_string))
                };
                let _ = writeln!(body, " {command} {}", row_address(spec, &get, index));
                for column in spec.columns {
                    if spec
                        .cli_pair
                        .is_some_and(|(a, b)| column.name == a || column.name == b)
                    {
                        continue;
                    }
                    let value = get(&spec.full_column(column))
                        .unwrap_or_else(|| column.default.to_string());
                    if value != column.default {
                        let _ =
                            writeln!(body, "  {} {}", column.cli, cli_value(column.kind, &value));
                    }
                }
                body.push_str("  activate\n exit\n");
            }
        }
        for sub in submodes(top) {
            let mut lines = String::new();
            for spec in catalog::PARAMS {
                let Some((path, key)) = spec.cli else {
                    continue;
                };
                if spec.hidden || path.split_once('/') != Some((top, sub)) {
                    continue;
                }
                if let Some(p) = doc.param(spec.name).filter(|p| p.value != spec.default) {
                    let _ = writeln!(lines, "  {key} {}", cli_value(spec.kind, &p.value));
                }
            }
            if !lines.is_empty() {
                let _ = write!(body, " {sub}\n{lines} exit\n");
            }
        }
        if !body.is_empty() || only.is_some() {
            let _ = write!(out, "configure {top}\n{body}exit\n");
        }
    }
    out
}
