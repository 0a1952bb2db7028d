//! The device's CLI interpreter for uploaded scripts, from
//! `../shared/reference/audiocodes-cli.md` (tags: [C] confirmed by
//! AudioCodes documentation, [P] corroborated by public code driving real
//! devices, [I] inferred — our assumption, taken in its harshest reading):
//!
//! - modes nest as deep as the command paths go: `configure voip` →
//!   `sbc routing` → `ip2ip-routing 0`, or `sbc routing ip2ip-routing 0` in
//!   one line; settings sub-modes (`sbc settings`, `automatic-update`) hold
//!   scalars, each closed by `exit` [P]/[C];
//! - `<entity> <key>` in the parent mode opens a row, creating it when the
//!   key does not exist [P]; `<entity> new` takes the next free index [P];
//!   leaving the row with `exit` applies its changes, `activate` applies
//!   without leaving [P]; a row still open when the script ends is not
//!   applied [I];
//! - `no <entity> <key>` and `no <entity> where <column> <value>` in the
//!   parent mode delete rows [P]/[I]; inside a row `no <key>` returns the key
//!   to its default [I]; a row another row refers to is not deleted (the
//!   reference: "assume the device refuses it") [I];
//! - `write` saves the configuration, `reload if-needed` is accepted [P]
//!   (nothing the simulator configures needs a reset, so it does nothing);
//! - a script is applied line by line; the first failing line stops it and
//!   the lines before it stay applied [I]; the answer reports the failing
//!   line (see [`Outcome`]).
//!
//! This is the device's own grammar, driven by the catalogue, and on purpose
//! not the client's CLI engine: a misreading shared by both would go unseen.

use std::fmt::Write as _;

use super::catalog::{self, CliEntity, CliKey, Kind, ParamSpec};
use super::cli_render::{self, TOP_MODES};
use super::config::{Cell, DeviceConfig, Param, Quoting, RowKey, Table};
use super::ini_load::{self, ConfigError, hash_secret};
use super::ini_render::header_lines;
use crate::simulator::device::DeviceInfo;

/// What the interpreter needs to answer `show` commands.
pub(crate) struct ShowContext<'a> {
    /// The device's identity.
    pub(crate) info: &'a DeviceInfo,
    /// Seconds since boot.
    pub(crate) uptime_seconds: u64,
    /// Whether `show` commands are allowed (not in a full script).
    pub(crate) allow_show: bool,
}

/// What running a script did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The output of its `show` commands, then, on failure, the failing
    /// line and why.
    pub(crate) output: String,
    /// The first failing line, if any (nothing after it ran).
    pub(crate) failed: Option<ConfigError>,
    /// The configuration as the last `write` saved it.
    pub(crate) saved: Option<DeviceConfig>,
}

/// One level of the mode stack.
#[derive(Clone, Debug)]
enum Frame {
    /// `configure <top>`.
    Configure(&'static str),
    /// Words of an intermediate mode (`sbc routing`).
    Path(Vec<String>),
    /// A settings sub-mode (`sbc settings`), by its path below the top mode.
    Settings(String),
    /// An open row: its table, key and the pending cells.
    Entry {
        table: String,
        key: RowKey,
        cells: Vec<Cell>,
    },
}

fn err(line: usize, message: String) -> ConfigError {
    ConfigError {
        line: Some(line),
        message,
    }
}

/// A value: one double-quoted string loses its quotes; anything else as written.
fn value_of(line: usize, rest: &str) -> Result<String, ConfigError> {
    let rest = rest.trim();
    if let Some(inner) = rest.strip_prefix('"') {
        return inner
            .strip_suffix('"')
            .map(str::to_string)
            .ok_or_else(|| err(line, "unterminated double quote".to_string()));
    }
    Ok(rest.to_string())
}

/// The words of a text, lower-cased.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect()
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
    doc: &DeviceConfig,
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
    let w = words(what);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["running-config"] => Ok(cli_render::render(ctx.info, doc, None)),
        ["running-config", top] if TOP_MODES.contains(top) => {
            Ok(cli_render::render(ctx.info, doc, Some(top)))
        }
        ["system", "version"] => Ok(version_text(ctx.info)),
        ["system", "uptime"] => {
            let s = ctx.uptime_seconds;
            Ok(format!(
                "Uptime: {} days, {} hours, {} minutes, {} seconds\n",
                s / 86_400,
                s % 86_400 / 3_600,
                s % 3_600 / 60,
                s % 60
            ))
        }
        _ => Err(err(
            line,
            format!("unknown show command 'show {}'", w.join(" ")),
        )),
    }
}

/// The settings sub-modes of a top mode, as word lists (`["sbc", "settings"]`).
fn settings_of(top: &str) -> Vec<Vec<String>> {
    let mut seen: Vec<Vec<String>> = Vec::new();
    for spec in catalog::PARAMS {
        if let Some((path, _)) = spec.cli
            && let Some((t, sub)) = path.split_once('/')
            && t == top
        {
            let w = words(sub);
            if !seen.contains(&w) {
                seen.push(w);
            }
        }
    }
    seen
}

/// The entities of a top mode with their command words.
fn entities_of(top: &str) -> impl Iterator<Item = (&'static CliEntity, Vec<String>)> + '_ {
    catalog::CLI_ENTITIES
        .iter()
        .filter(move |e| e.mode == top)
        .map(|e| (e, words(e.command)))
}

/// The entity `full` opens, with the words after its command.
fn entity_match(top: &str, full: &[String]) -> Option<(&'static CliEntity, Vec<String>)> {
    entities_of(top)
        .filter(|(_, cmd)| full.len() > cmd.len() && full[..cmd.len()] == cmd[..])
        .max_by_key(|(_, cmd)| cmd.len())
        .map(|(e, cmd)| (e, full[cmd.len()..].to_vec()))
}

/// Whether `full` is a proper prefix of a known command path.
fn is_prefix(top: &str, full: &[String]) -> bool {
    let longer = |path: &[String]| path.len() > full.len() && path[..full.len()] == *full;
    settings_of(top).iter().any(|s| longer(s)) || entities_of(top).any(|(_, cmd)| longer(&cmd))
}

/// The schema (no rows) this device has for a table, if any.
fn schema(doc: &DeviceConfig, table: &str) -> Option<Table> {
    let mut t = doc
        .table(table)
        .cloned()
        .or_else(|| ini_load::schema(&doc.learned, table))?;
    t.rows.clear();
    Some(t)
}

/// Finds (or chooses) the row a key names.
fn resolve(
    doc: &DeviceConfig,
    entity: &CliEntity,
    key: &str,
    line: usize,
) -> Result<(RowKey, bool), ConfigError> {
    let bad = || {
        err(
            line,
            format!("'{key}' is not a valid key for {}", entity.command),
        )
    };
    let table = doc.table(entity.table);
    let free = || table.map_or_else(|| RowKey::from(0), Table::free_index);
    match entity.key {
        CliKey::Index => {
            if key == "new" {
                return Ok((free(), true));
            }
            let n: u32 = key.parse().map_err(|_| bad())?;
            if let Some(spec) = catalog::table(entity.table)
                && n as usize >= spec.max_rows
            {
                return Err(bad());
            }
            let k = RowKey::from(n);
            let exists = table.is_some_and(|t| t.row(&k).is_some());
            Ok((k, !exists))
        }
        CliKey::Pair(a, b) => {
            let (x, y) = key.split_once('/').ok_or_else(bad)?;
            let (x, y): (u32, u32) = (x.parse().map_err(|_| bad())?, y.parse().map_err(|_| bad())?);
            if let Some(t) = table {
                for (k, _) in t.rows() {
                    if t.cell(k, a) == Some(&x.to_string()) && t.cell(k, b) == Some(&y.to_string())
                    {
                        return Ok((k.clone(), false));
                    }
                }
            }
            Ok((free(), true))
        }
        CliKey::Name(col) => {
            if let Some(t) = table {
                for (k, _) in t.rows() {
                    if t.cell(k, col) == Some(key) {
                        return Ok((k.clone(), false));
                    }
                }
            }
            Ok((free(), true))
        }
    }
}

/// Opens a row: its current cells, or a fresh row of defaults (with the key
/// columns set for pair- and name-keyed tables).
fn open_row(
    doc: &DeviceConfig,
    entity: &CliEntity,
    key: &str,
    line: usize,
) -> Result<Frame, ConfigError> {
    let Some(table) = schema(doc, entity.table) else {
        return Err(err(
            line,
            format!("{} is not supported on this device", entity.command),
        ));
    };
    let (row_key, fresh) = resolve(doc, entity, key, line)?;
    let cells = if fresh {
        let mut cells = table.default_row();
        let mut set = |col: &str, v: &str| {
            if let Some(p) = table.column_position(col) {
                cells[p].value = v.to_string();
            }
        };
        match entity.key {
            CliKey::Pair(a, b) => {
                if let Some((x, y)) = key.split_once('/') {
                    set(a, x);
                    set(b, y);
                }
            }
            CliKey::Name(col) => set(col, key),
            CliKey::Index => {}
        }
        cells
    } else {
        doc.table(entity.table)
            .and_then(|t| t.rows.get(&row_key).cloned())
            .unwrap_or_default()
    };
    Ok(Frame::Entry {
        table: table.name,
        key: row_key,
        cells,
    })
}

/// Writes an open row into the configuration, checking its references.
fn commit(
    doc: &mut DeviceConfig,
    table: &str,
    key: &RowKey,
    cells: &[Cell],
    line: usize,
) -> Result<(), ConfigError> {
    let mut draft = doc.clone();
    if draft.table(table).is_none() {
        let Some(schema) = schema(&draft, table) else {
            return Err(err(
                line,
                format!("table {table} is not supported on this device"),
            ));
        };
        draft.insert_table(schema);
    }
    if let Some(t) = draft.table_mut(table) {
        t.rows.insert(key.clone(), cells.to_vec());
    }
    ini_load::check_written(&draft, &[(table.to_string(), key.clone(), line)])?;
    *doc = draft;
    Ok(())
}

/// Deletes a row, refusing when another row refers to it.
fn delete_row(
    doc: &mut DeviceConfig,
    table: &str,
    key: &RowKey,
    line: usize,
) -> Result<(), ConfigError> {
    let Some(t) = doc.table(table) else {
        return Err(err(
            line,
            format!("{table} row {} does not exist", key.as_str()),
        ));
    };
    if t.row(key).is_none() {
        return Err(err(
            line,
            format!("{table} row {} does not exist", key.as_str()),
        ));
    }
    for spec in catalog::TABLES {
        for r in spec
            .references
            .iter()
            .filter(|r| r.table.eq_ignore_ascii_case(table))
        {
            let target = match r.to_column {
                Some(col) => t
                    .cell(key, col)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
                None => Some(key.as_str().to_string()),
            };
            let Some(target) = target else { continue };
            let Some(referring) = doc.table(spec.name) else {
                continue;
            };
            if let Some((k, _)) = referring
                .rows()
                .find(|(k, _)| referring.cell(k, r.column) == Some(target.as_str()))
            {
                return Err(err(
                    line,
                    format!(
                        "{table} row {} is in use: {} row {} refers to it in {}",
                        key.as_str(),
                        spec.name,
                        k.as_str(),
                        r.column
                    ),
                ));
            }
        }
    }
    if let Some(t) = doc.table_mut(table) {
        t.rows.remove(key);
        if t.rows.is_empty() && !t.is_secret() {
            doc.remove_table(table);
        }
    }
    Ok(())
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

/// Sets a scalar parameter the way the device keeps it (defaults dropped).
fn set_param(doc: &mut DeviceConfig, spec: &ParamSpec, value: String) {
    let default = match doc.param(spec.name) {
        Some(p) => p.default.clone(),
        None => Some(spec.default.to_string()),
    };
    if default.as_deref() == Some(value.as_str()) {
        doc.remove_param(spec.name);
    } else {
        doc.put_param(Param {
            name: spec.name.to_string(),
            section: spec.section.to_string(),
            value,
            default,
            quoting: Quoting::Single,
            hidden: spec.hidden,
        });
    }
}

/// The top mode of a stack.
fn top_of(stack: &[Frame]) -> Option<&'static str> {
    stack.iter().find_map(|f| match f {
        Frame::Configure(t) => Some(*t),
        _ => None,
    })
}

/// Words of the intermediate modes open above the top mode.
fn context_words(stack: &[Frame]) -> Vec<String> {
    stack
        .iter()
        .filter_map(|f| match f {
            Frame::Path(w) => Some(w.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Runs one line against the configuration and the mode stack.
fn step(
    doc: &mut DeviceConfig,
    stack: &mut Vec<Frame>,
    out: &mut Outcome,
    ctx: &ShowContext,
    line_no: usize,
    line: &str,
) -> Result<(), ConfigError> {
    let w = words(line);
    let first = w.first().map_or("", String::as_str);
    let rest_of = |n: usize| -> &str {
        // The original text after the first `n` words.
        let mut rest = line;
        for _ in 0..n {
            rest = rest.trim_start();
            rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
        }
        rest.trim()
    };

    // Commands valid in every mode.
    let (global, skip) = if first == "do" {
        (w.get(1).map_or("", String::as_str), 1)
    } else {
        (first, 0)
    };
    match global {
        "show" => {
            let text = show(ctx, doc, line_no, rest_of(skip + 1))?;
            out.output.push_str(&text);
            return Ok(());
        }
        "write" if w.len() == skip + 1 => {
            out.saved = Some(doc.clone());
            return Ok(());
        }
        "reload" if w.get(skip + 1).is_some_and(|x| x == "if-needed") && w.len() == skip + 2 => {
            return Ok(());
        }
        _ => {}
    }
    if w == ["end"] {
        if let Some(Frame::Entry { table, key, cells }) = stack.last().cloned() {
            commit(doc, &table, &key, &cells, line_no)?;
        }
        stack.clear();
        return Ok(());
    }

    let Some(frame) = stack.last().cloned() else {
        // Outside `configure`.
        if first != "configure" {
            return Err(err(
                line_no,
                format!("unknown command '{first}'; expected configure or show"),
            ));
        }
        let top = w.get(1).map_or("", String::as_str);
        let Some(top) = TOP_MODES.iter().find(|t| **t == top && w.len() == 2) else {
            return Err(err(
                line_no,
                format!(
                    "unknown mode '{}'; expected configure system, network, voip or troubleshoot",
                    w.join(" ")
                ),
            ));
        };
        stack.push(Frame::Configure(top));
        return Ok(());
    };
    let Some(top) = top_of(stack) else {
        return Err(err(line_no, "no configure mode is open".to_string()));
    };

    match frame {
        Frame::Entry {
            table,
            key,
            mut cells,
        } => {
            if w == ["exit"] || w == ["activate"] {
                commit(doc, &table, &key, &cells, line_no)?;
                if w == ["exit"] {
                    stack.pop();
                }
                return Ok(());
            }
            let (cli_key, reset) = if first == "no" {
                (w[1..].join(" "), true)
            } else {
                (first.to_string(), false)
            };
            let entity = catalog::cli_entity(&table);
            let pair = match entity.map(|e| e.key) {
                Some(CliKey::Pair(a, b)) => Some((a, b)),
                _ => None,
            };
            let column = catalog::table(&table)
                .and_then(|spec| spec.column_by_cli(&cli_key))
                .map(|(_, c)| c)
                .filter(|c| !pair.is_some_and(|(a, b)| c.name == a || c.name == b));
            let schema = doc.table(&table).cloned().or_else(|| schema(doc, &table));
            let pos = column.and_then(|c| schema.as_ref().and_then(|t| t.column_position(c.name)));
            let (Some(column), Some(pos)) = (column, pos) else {
                let command = entity.map_or(table.as_str(), |e| e.command);
                return Err(err(
                    line_no,
                    format!("unknown command '{cli_key}' in {command}"),
                ));
            };
            let value = if reset {
                column.default.to_string()
            } else {
                stored_value(
                    column.kind,
                    &value_of(line_no, rest_of(1))?,
                    line_no,
                    &cli_key,
                )?
            };
            if let Some(cell) = cells.get_mut(pos) {
                cell.value = value;
            }
            if let Some(Frame::Entry { cells: slot, .. }) = stack.last_mut() {
                *slot = cells;
            }
            Ok(())
        }
        Frame::Settings(sub) => {
            if w == ["exit"] {
                stack.pop();
                return Ok(());
            }
            if w == ["activate"] {
                return Ok(());
            }
            let (key, reset) = if first == "no" {
                (w[1..].join(" "), true)
            } else {
                (first.to_string(), false)
            };
            let path = format!("{top}/{sub}");
            let Some(spec) = catalog::PARAMS.iter().find(|p| {
                !p.hidden
                    && p.cli.is_some_and(|(m, k)| {
                        words(m).join(" ") == words(&path).join(" ") && k.eq_ignore_ascii_case(&key)
                    })
            }) else {
                return Err(err(line_no, format!("unknown command '{key}' in {sub}")));
            };
            let value = if reset {
                spec.default.to_string()
            } else {
                stored_value(spec.kind, &value_of(line_no, rest_of(1))?, line_no, &key)?
            };
            set_param(doc, spec, value);
            Ok(())
        }
        Frame::Configure(_) | Frame::Path(_) => {
            if w == ["exit"] {
                stack.pop();
                return Ok(());
            }
            if w == ["activate"] {
                return Ok(());
            }
            let ctx_words = context_words(stack);
            if first == "no" {
                let full: Vec<String> = ctx_words
                    .iter()
                    .cloned()
                    .chain(w[1..].iter().cloned())
                    .collect();
                let Some((entity, rest)) = entity_match(top, &full) else {
                    return Err(err(
                        line_no,
                        format!("unknown command '{line}' in configure {top}"),
                    ));
                };
                return match rest.as_slice() {
                    [key] => {
                        let (row, fresh) = resolve(doc, entity, key, line_no)?;
                        if fresh {
                            return Err(err(
                                line_no,
                                format!("{} {key} does not exist", entity.command),
                            ));
                        }
                        delete_row(doc, entity.table, &row, line_no)
                    }
                    [kw, col, _, ..] if kw == "where" => {
                        let spec = catalog::table(entity.table);
                        let Some((_, column)) = spec.and_then(|s| s.column_by_cli(col)) else {
                            return Err(err(
                                line_no,
                                format!("unknown column '{col}' of {}", entity.command),
                            ));
                        };
                        // The value as written after `where <column>`.
                        let raw = value_of(line_no, rest_of(w.len() - (rest.len() - 2)))?;
                        let want = match column.kind {
                            Kind::Text | Kind::Secret => raw,
                            kind => kind
                                .parse_cli(&raw)
                                .map_err(|why| err(line_no, format!("{col} {why}")))?,
                        };
                        let keys: Vec<RowKey> = doc
                            .table(entity.table)
                            .map(|t| {
                                t.rows()
                                    .filter(|(k, _)| t.cell(k, column.name) == Some(want.as_str()))
                                    .map(|(k, _)| k.clone())
                                    .collect()
                            })
                            .unwrap_or_default();
                        for k in keys {
                            delete_row(doc, entity.table, &k, line_no)?;
                        }
                        Ok(())
                    }
                    _ => Err(err(
                        line_no,
                        format!("unknown command '{line}' in configure {top}"),
                    )),
                };
            }
            let full: Vec<String> = ctx_words.iter().cloned().chain(w.iter().cloned()).collect();
            if let Some((entity, rest)) = entity_match(top, &full)
                && let [key] = rest.as_slice()
            {
                // Keys keep their case (`user Admin`).
                let key_text = line.split_whitespace().last().unwrap_or(key);
                let frame = open_row(doc, entity, key_text, line_no)?;
                stack.push(frame);
                return Ok(());
            }
            if settings_of(top).contains(&full) {
                stack.push(Frame::Settings(full.join(" ")));
                return Ok(());
            }
            if is_prefix(top, &full) {
                stack.push(Frame::Path(w));
                return Ok(());
            }
            Err(err(
                line_no,
                format!("unknown command '{line}' in configure {top}"),
            ))
        }
    }
}

/// Runs a script against `doc` line by line, stopping at the first failing
/// line; what ran before it stays applied.
pub(crate) fn execute(doc: &mut DeviceConfig, script: &str, ctx: &ShowContext) -> Outcome {
    let mut out = Outcome::default();
    let mut stack: Vec<Frame> = Vec::new();
    for (i, raw) in script.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Err(e) = step(doc, &mut stack, &mut out, ctx, line_no, line) {
            let _ = writeln!(out.output, "{line}\n  Error: {}", e.message);
            out.failed = Some(e);
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::device::Dialect;
    use crate::simulator::firmware::ini_load::factory_default;

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
        let out = execute(&mut doc, script, &ctx(&info));
        assert!(out.failed.is_none(), "{}", out.output);
        let si = doc.table("SIPInterface").expect("table");
        assert_eq!(si.cell(&RowKey::from(1), "ApplicationType"), Some("2"));
        assert_eq!(si.cell(&RowKey::from(1), "UDPPort"), Some("5060"));
        let ip = doc.table("ProxyIp").expect("table");
        assert_eq!(ip.cell(&RowKey::from(0), "ProxySetId"), Some("1"));
        assert_eq!(ip.cell(&RowKey::from(0), "TransportType"), Some("1"));
        assert_eq!(
            doc.param("SIPGatewayName").map(|p| p.value.as_str()),
            Some("gw")
        );
        let out = execute(
            &mut doc,
            "configure voip\n proxy-ip 1/1\n  proxy-address \"10.1.1.2\"\n exit\n no proxy-ip 1/0\nexit\n",
            &ctx(&info),
        );
        assert!(out.failed.is_none(), "{}", out.output);
        let ip = doc.table("ProxyIp").expect("table");
        assert_eq!(ip.row_count(), 1);
        assert_eq!(ip.cell(&RowKey::from(1), "ProxyIpIndex"), Some("1"));
    }

    #[test]
    fn stops_at_the_first_failing_line_keeping_what_ran() {
        let info = DeviceInfo::numbered(0, Dialect::V74, false);
        let mut doc = factory_default();
        let out = execute(
            &mut doc,
            "configure voip\n srd 1\n  name \"X\"\n exit\n frobnicate 3\n srd 2\n  name \"Y\"\n exit\nexit\n",
            &ctx(&info),
        );
        assert_eq!(out.failed.as_ref().and_then(|e| e.line), Some(5));
        assert!(out.output.contains("frobnicate 3"));
        let srd = doc.table("SRD").expect("SRD");
        assert_eq!(srd.cell(&RowKey::from(1), "Name"), Some("X"));
        assert!(srd.row(&RowKey::from(2)).is_none());
    }

    #[test]
    fn show_commands_answer() {
        let info = DeviceInfo::numbered(3, Dialect::V74, false);
        let mut doc = factory_default();
        let out = execute(
            &mut doc,
            "show system version\nshow system uptime\n",
            &ctx(&info),
        );
        assert!(
            out.output
                .contains(&format!(";Serial Number: {}", info.serial_number))
        );
        assert!(
            out.output
                .contains("Uptime: 1 days, 1 hours, 1 minutes, 1 seconds")
        );
        assert!(
            execute(&mut doc, "show nonsense\n", &ctx(&info))
                .failed
                .is_some()
        );
    }
}
