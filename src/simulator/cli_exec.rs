//! The device's CLI interpreter for uploaded scripts: executes
//! configuration commands against a draft of the configuration and `show`
//! commands into an output text. Any unknown command, key or value refuses
//! the whole script (400), naming the line; nothing of it is applied.
//!
//! This is the device's own grammar, driven by the catalog, and on purpose
//! not the client's CLI engine: a misreading shared by both would go unseen.

use std::fmt::Write as _;

use super::catalog::{self, Kind, TableSpec};
use super::cli_file::{self, TOP_MODES, submodes};
use super::device::DeviceInfo;
use super::ini_file::header_lines;
use super::model::{ConfigError, check_references, hash_secret};
use crate::config::ini::{IniDocument, RowIndex};

/// What the interpreter needs to answer `show` commands.
pub(crate) struct ShowContext<'a> {
    /// The device's identity.
    pub(crate) info: &'a DeviceInfo,
    /// Seconds since boot.
    pub(crate) uptime_seconds: u64,
    /// Whether `show` commands are allowed (not in a full script).
    pub(crate) allow_show: bool,
}

/// Where the interpreter is.
enum Mode {
    /// Outside `configure`.
    Top,
    /// `configure <top>`.
    Configure(&'static str),
    /// A settings submode (`sip-definition settings`) of a top mode.
    Settings(&'static str, &'static str),
    /// A table entry.
    Entry(&'static str, &'static TableSpec, RowIndex),
}

fn err(line: usize, message: String) -> ConfigError {
    ConfigError {
        line: Some(line),
        message,
    }
}

/// Splits a line into its first word and the rest (unquoted when the rest
/// is one quoted string).
fn split_value(line: usize, rest: &str) -> Result<String, ConfigError> {
    let rest = rest.trim();
    if let Some(inner) = rest.strip_prefix('"') {
        return inner
            .strip_suffix('"')
            .map(str::to_string)
            .ok_or_else(|| err(line, "unterminated double quote".to_string()));
    }
    Ok(rest.to_string())
}

/// The words of a line, lower-cased and joined by single spaces.
fn normalised(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `show system version` as the device prints it.
fn version_text(info: &DeviceInfo) -> String {
    let mut out = String::from("Version info:\n-----\n");
    for line in header_lines(info) {
        let _ = writeln!(out, ";{line}");
    }
    let _ = write!(
        out,
        "\nMAC Addresses in use:\n-----\nGROUP_1 - {}\n-----\n",
        info.mac_with_colons()
    );
    out
}

/// Answers a `show …` command (words after `show`).
fn show(
    ctx: &ShowContext,
    doc: &IniDocument,
    line: usize,
    what: &str,
) -> Result<String, ConfigError> {
    if !ctx.allow_show {
        return Err(err(
            line,
            "show commands are not allowed in a full CLI script; use cliScript/incremental"
                .to_string(),
        ));
    }
    let words = normalised(what);
    let mut parts = words.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("running-config"), None, None) => Ok(cli_file::render(ctx.info, doc, None)),
        (Some("running-config"), Some(top), None) if TOP_MODES.contains(&top) => {
            Ok(cli_file::render(ctx.info, doc, Some(top)))
        }
        (Some("system"), Some("version"), None) => Ok(version_text(ctx.info)),
        (Some("system"), Some("uptime"), None) => {
            let s = ctx.uptime_seconds;
            Ok(format!(
                "Uptime: {} days, {} hours, {} minutes, {} seconds\n",
                s / 86_400,
                s % 86_400 / 3_600,
                s % 3_600 / 60,
                s % 60
            ))
        }
        _ => Err(err(line, format!("unknown show command 'show {words}'"))),
    }
}

/// The table entry a line opens in `top`, if any: (spec, address text).
fn entry_of(top: &str, words: &str) -> Option<(&'static TableSpec, String)> {
    catalog::TABLES.iter().find_map(|spec| {
        let (mode, command) = spec.cli?;
        if mode != top {
            return None;
        }
        let rest = words.strip_prefix(command)?.strip_prefix(' ')?;
        (!rest.is_empty() && !rest.contains(' ')).then(|| (spec, rest.to_string()))
    })
}

/// The row index an address names, creating nothing: for child tables
/// (`proxy-ip 1/0`) the row whose pair matches, or the first free index.
fn resolve(
    doc: &IniDocument,
    spec: &TableSpec,
    address: &str,
    line: usize,
) -> Result<RowIndex, ConfigError> {
    let bad = || {
        err(
            line,
            format!(
                "'{address}' is not a valid index for {}",
                spec.cli.map_or(spec.name, |c| c.1)
            ),
        )
    };
    match spec.cli_pair {
        None => {
            let n: usize = address.parse().map_err(|_| bad())?;
            if n >= spec.max_rows {
                return Err(bad());
            }
            Ok(RowIndex::from(u32::try_from(n).map_err(|_| bad())?))
        }
        Some((a, b)) => {
            let (x, y) = address.split_once('/').ok_or_else(bad)?;
            let (x, y): (u32, u32) = (x.parse().map_err(|_| bad())?, y.parse().map_err(|_| bad())?);
            let table = doc.table(spec.name);
            if let Some(t) = table {
                for (index, _) in t.rows() {
                    if t.cell(index, a) == Some(&x.to_string())
                        && t.cell(index, b) == Some(&y.to_string())
                    {
                        return Ok(index.clone());
                    }
                }
            }
            let mut free = 0u32;
            while table.is_some_and(|t| t.row(&RowIndex::from(free)).is_some()) {
                free += 1;
            }
            Ok(RowIndex::from(free))
        }
    }
}

/// Creates the row with defaults (and its pair columns) if absent.
fn ensure_entry(doc: &mut IniDocument, spec: &TableSpec, index: &RowIndex, address: &str) {
    let fresh = doc.table(spec.name).is_none();
    let table = doc.ensure_table(spec.name);
    if fresh {
        for column in spec.columns {
            table.ensure_column(&spec.full_column(column));
        }
    }
    if table.row(index).is_some() {
        return;
    }
    for column in spec.columns {
        table.set_cell(index.clone(), &spec.full_column(column), column.default);
    }
    if let (Some((a, b)), Some((x, y))) = (spec.cli_pair, address.split_once('/')) {
        table.set_cell(index.clone(), &format!("{}_{a}", spec.name), x);
        table.set_cell(index.clone(), &format!("{}_{b}", spec.name), y);
    }
}

/// A CLI value converted and checked for a column or parameter kind.
fn stored_value(kind: Kind, raw: &str, line: usize, what: &str) -> Result<String, ConfigError> {
    match kind {
        Kind::Secret => Ok(hash_secret(raw)),
        Kind::Text => kind
            .check(raw)
            .map(|()| raw.to_string())
            .map_err(|why| err(line, format!("{what} {why}"))),
        _ => kind
            .parse_cli(raw)
            .map_err(|why| err(line, format!("{what} {why}"))),
    }
}

/// Executes a script against `doc`; returns the output of its `show`
/// commands. On error `doc` is unchanged.
pub(crate) fn execute(
    doc: &mut IniDocument,
    script: &str,
    ctx: &ShowContext,
) -> Result<String, ConfigError> {
    let mut draft = doc.clone();
    let mut output = String::new();
    let mut mode = Mode::Top;
    for (i, raw) in script.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words = normalised(line);
        let (first, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let first = first.to_ascii_lowercase();

        if first == "show"
            || (first == "do" && rest.trim_start().to_ascii_lowercase().starts_with("show"))
        {
            let what = if first == "do" {
                rest.trim_start()[4..].trim()
            } else {
                rest.trim()
            };
            output.push_str(&show(ctx, &draft, line_no, what)?);
            continue;
        }
        if words == "end" {
            mode = Mode::Top;
            continue;
        }
        mode = match mode {
            Mode::Top => {
                if first != "configure" {
                    return Err(err(
                        line_no,
                        format!("unknown command '{first}'; expected configure or show"),
                    ));
                }
                let top = normalised(rest);
                let Some(top) = TOP_MODES.iter().find(|t| **t == top) else {
                    return Err(err(
                        line_no,
                        format!(
                            "unknown mode 'configure {top}'; expected system, network, voip or troubleshoot"
                        ),
                    ));
                };
                Mode::Configure(top)
            }
            Mode::Configure(top) => {
                if words == "exit" {
                    Mode::Top
                } else if let Some(target) = words.strip_prefix("no ") {
                    let Some((spec, address)) = entry_of(top, target) else {
                        return Err(err(
                            line_no,
                            format!("unknown command '{line}' in configure {top}"),
                        ));
                    };
                    let index = resolve(&draft, spec, &address, line_no)?;
                    if let Some(t) = draft.table_mut(spec.name) {
                        t.remove_row(&index);
                    }
                    Mode::Configure(top)
                } else if let Some((spec, address)) = entry_of(top, &words) {
                    let index = resolve(&draft, spec, &address, line_no)?;
                    ensure_entry(&mut draft, spec, &index, &address);
                    Mode::Entry(top, spec, index)
                } else if let Some(sub) = submodes(top).into_iter().find(|s| *s == words) {
                    Mode::Settings(top, sub)
                } else if words == "activate" {
                    Mode::Configure(top)
                } else {
                    return Err(err(
                        line_no,
                        format!("unknown command '{first}' in configure {top}"),
                    ));
                }
            }
            Mode::Settings(top, sub) => {
                if words == "exit" {
                    Mode::Configure(top)
                } else if words == "activate" {
                    Mode::Settings(top, sub)
                } else {
                    let (key, value, reset) = match first.as_str() {
                        "no" => (normalised(rest), String::new(), true),
                        _ => (first.clone(), split_value(line_no, rest)?, false),
                    };
                    let path = format!("{top}/{sub}");
                    let Some(spec) = catalog::PARAMS.iter().find(|p| {
                        !p.hidden
                            && p.cli
                                .is_some_and(|(m, k)| m == path && k.eq_ignore_ascii_case(&key))
                    }) else {
                        return Err(err(line_no, format!("unknown command '{key}' in {sub}")));
                    };
                    let stored = if reset {
                        spec.default.to_string()
                    } else {
                        stored_value(spec.kind, &value, line_no, &key)?
                    };
                    draft.remove_param(spec.name);
                    if stored != spec.default {
                        draft.set_param_in(Some(spec.section), spec.name, stored);
                    }
                    Mode::Settings(top, sub)
                }
            }
            Mode::Entry(top, spec, index) => {
                if words == "exit" {
                    Mode::Configure(top)
                } else if words == "activate" {
                    Mode::Entry(top, spec, index)
                } else {
                    let (key, value, reset) = match first.as_str() {
                        "no" => (normalised(rest), String::new(), true),
                        _ => (first.clone(), split_value(line_no, rest)?, false),
                    };
                    let column = spec
                        .column_by_cli(&key)
                        .filter(|(_, c)| {
                            !spec
                                .cli_pair
                                .is_some_and(|(a, b)| c.name == a || c.name == b)
                        })
                        .map(|(_, c)| c);
                    let Some(column) = column else {
                        let command = spec.cli.map_or(spec.name, |c| c.1);
                        return Err(err(
                            line_no,
                            format!("unknown command '{key}' in {command}"),
                        ));
                    };
                    let stored = if reset {
                        column.default.to_string()
                    } else {
                        stored_value(column.kind, &value, line_no, &key)?
                    };
                    draft.ensure_table(spec.name).set_cell(
                        index.clone(),
                        &spec.full_column(column),
                        stored,
                    );
                    Mode::Entry(top, spec, index)
                }
            }
        };
    }
    for spec in catalog::TABLES {
        if draft.table(spec.name).is_some_and(|t| t.row_count() == 0) {
            draft.remove_table(spec.name);
        }
    }
    check_references(&draft)?;
    *doc = draft;
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::device::{DeviceInfo, Dialect};
    use crate::simulator::model::factory_default;

    fn ctx(info: &DeviceInfo) -> ShowContext<'_> {
        ShowContext {
            info,
            uptime_seconds: 90_061,
            allow_show: true,
        }
    }

    #[test]
    fn configures_entries_and_settings() {
        let info = DeviceInfo::numbered(0, Dialect::V74, false);
        let mut doc = factory_default();
        let script = "configure voip\n sip-interface 1\n  interface-name \"SI 1\"\n  application-type sbc\n  srd-name DefaultSRD\n  activate\n exit\n proxy-set 1\n  proxy-name \"PS\"\n exit\n proxy-ip 1/0\n  proxy-address \"10.1.1.1:5060\"\n  transport-type tcp\n exit\n sip-definition settings\n  gw-name \"gw\"\n exit\nexit\n";
        execute(&mut doc, script, &ctx(&info)).expect("runs");
        let si = doc.table("SIPInterface").expect("table");
        assert_eq!(si.cell(&RowIndex::from(1), "ApplicationType"), Some("2"));
        assert_eq!(si.cell(&RowIndex::from(1), "UDPPort"), Some("5060"));
        let ip = doc.table("ProxyIp").expect("table");
        assert_eq!(ip.cell(&RowIndex::from(0), "ProxySetId"), Some("1"));
        assert_eq!(ip.cell(&RowIndex::from(0), "TransportType"), Some("1"));
        assert_eq!(
            doc.param("SIPGatewayName").map(|p| p.value.as_str()),
            Some("gw")
        );
        // Removal and a second proxy address for the same set.
        execute(&mut doc, "configure voip\n proxy-ip 1/1\n  proxy-address \"10.1.1.2\"\n exit\n no proxy-ip 1/0\nexit\n", &ctx(&info)).expect("runs");
        let ip = doc.table("ProxyIp").expect("table");
        assert_eq!(ip.row_count(), 1);
        assert_eq!(ip.cell(&RowIndex::from(1), "ProxyIpIndex"), Some("1"));
    }

    #[test]
    fn refuses_unknown_commands_atomically() {
        let info = DeviceInfo::numbered(0, Dialect::V74, false);
        let mut doc = factory_default();
        let before = doc.clone();
        let e = execute(
            &mut doc,
            "configure voip\n srd 1\n  name \"X\"\n exit\n frobnicate 3\nexit\n",
            &ctx(&info),
        )
        .expect_err("unknown");
        assert_eq!(e.line, Some(5));
        assert_eq!(doc, before);
        assert!(
            execute(
                &mut doc,
                "configure voip\n ip-group 1\n  type router\n",
                &ctx(&info)
            )
            .is_err()
        );
        assert!(
            execute(
                &mut doc,
                "configure voip\n ip-group 1\n  proxy-set-name \"Nope\"\n",
                &ctx(&info)
            )
            .is_err()
        );
    }

    #[test]
    fn show_commands_answer() {
        let info = DeviceInfo::numbered(3, Dialect::V74, false);
        let mut doc = factory_default();
        let out = execute(
            &mut doc,
            "show system version\nshow system uptime\n",
            &ctx(&info),
        )
        .expect("runs");
        assert!(out.contains(&format!(";Serial Number: {}", info.serial_number)));
        assert!(out.contains("Uptime: 1 days, 1 hours, 1 minutes, 1 seconds"));
        assert!(execute(&mut doc, "show nonsense\n", &ctx(&info)).is_err());
    }
}
