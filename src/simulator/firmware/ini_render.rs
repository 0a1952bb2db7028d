//! The device's own INI file (`GET /files/ini`): a header about the board,
//! every parameter section in the firmware's order with only non-default
//! values, hidden parameters as comments, and every table with its full
//! column set. Quoting follows the value kind, not the upload.

use std::fmt::Write as _;

use super::catalog::{self, Kind, SECTIONS};
use super::config::{Cell, Column, DeviceConfig, Param, Quoting};
use super::ini_read::{self, Token};
use crate::simulator::device::DeviceInfo;

/// Line ending of device files.
const EOL: &str = "\r\n";

/// The header comment lines (without `;`), as in the document's example
/// and `show system version`.
pub(crate) fn header_lines(info: &DeviceInfo) -> Vec<String> {
    vec![
        format!("Board: {}", info.product),
        format!("Board Type: {}", info.board_type),
        format!("Serial Number: {}", info.serial_number),
        "Slot Number: 1".to_string(),
        format!("Software Version: {}", info.software_version),
        "DSP Software Version: 5014AE3_R => 740.23".to_string(),
        format!("Board IP Address: {}", info.ip_address),
        format!("Board Subnet Mask: {}", info.subnet_mask),
        format!("Board Default Gateway: {}", info.default_gateway),
        "Ram size: 512M   Flash size: 64M   Core speed: 500Mhz".to_string(),
        "Num of DSP Cores: 3  Num DSP Channels: 30".to_string(),
        "Num of physical LAN ports: 4".to_string(),
        "Profile: NONE".to_string(),
        format!(
            ";Key features:;Board Type: {} ;Security: IPSEC MediaEncryption StrongEncryption EncryptControlProtocol ;Channel Type: DspCh=30 ;HA={} ;Control Protocols: MSFT CLI SIP SBC=60 ;Default features:;Coders: G711 G726;",
            info.product,
            if info.ha { "yes" } else { "no" }
        ),
    ]
}

/// A scalar as the device writes it: numbers and addresses bare, text in
/// single quotes (double when the text holds a single quote).
fn scalar(kind: Kind, value: &str) -> String {
    match kind {
        Kind::Int | Kind::Enum(_) | Kind::Ip => value.to_string(),
        Kind::Text | Kind::Secret if value.contains('\'') => format!("\"{value}\""),
        Kind::Text | Kind::Secret => format!("'{value}'"),
    }
}

/// A table cell as the device writes it: numbers and addresses bare, text in
/// double quotes (single when the text holds a double quote), secrets bare
/// (`$1$…` hashes).
fn cell(kind: Kind, value: &str) -> String {
    match kind {
        Kind::Int | Kind::Enum(_) | Kind::Ip => value.to_string(),
        Kind::Secret if value.starts_with("$1$") => value.to_string(),
        Kind::Text | Kind::Secret if value.contains('"') => format!("'{value}'"),
        Kind::Text | Kind::Secret => format!("\"{value}\""),
    }
}

/// Whether a text value is a list the device keeps as written
/// (`'pvc', 'dr', 'spc', 'll'`).
fn is_list(param: &Param) -> bool {
    param.quoting == Quoting::Bare && (param.value.contains('\'') || param.value.contains('"'))
}

/// `value` in the first of `first`, then `quotes`, then bare, that `reads`
/// (the device's own reader) gives back as `value`, so any value the device
/// took is written in a form it takes again: a name's usual quoting cannot
/// hold its own quote character (`"a""` is unreadable). Real exports quote
/// with either kind (scalars `'…'`, cells `"…"`, D), but none holds a value
/// with a double quote; switching to the other kind for one is A (README).
/// Only a value no INI form holds (never one read from INI) keeps `first`.
fn readable(
    first: String,
    value: &str,
    quotes: [Quoting; 2],
    reads: impl Fn(&str) -> Option<String>,
) -> String {
    if reads(&first).as_deref() == Some(value) {
        return first;
    }
    quotes
        .into_iter()
        .map(|q| q.write(value))
        .chain(std::iter::once(value.to_string()))
        .find(|text| reads(text).as_deref() == Some(value))
        .unwrap_or(first)
}

/// One scalar line's right-hand side.
fn scalar_value(param: &Param) -> String {
    let first = match catalog::param(&param.name) {
        Some(spec) if !is_list(param) => scalar(spec.kind, &param.value),
        _ => param.quoting.write(&param.value),
    };
    readable(
        first,
        &param.value,
        [Quoting::Single, Quoting::Double],
        |text| Some(ini_read::unquote(text).0),
    )
}

/// One cell as the device writes it.
fn cell_text(column: &Column, cell: &Cell) -> String {
    let first = match column.kind {
        // A value a seed dump held that does not fit the catalogue's kind is
        // written as it came, so it cannot break the row.
        Some(kind) if kind.check(&cell.value).is_ok() || cell.value.is_empty() => {
            self::cell(kind, &cell.value)
        }
        Some(_) => cell.quoting.write(&cell.value),
        // A column the catalogue lacks: as the device's dump quoted it.
        None => column.quoting.unwrap_or(cell.quoting).write(&cell.value),
    };
    readable(
        first,
        &cell.value,
        [Quoting::Double, Quoting::Single],
        |text| match ini_read::read_field(text)? {
            Token::Value(value, _) => Some(value),
            // `$$` reads as the default, not as the text `$$`.
            Token::Default => None,
        },
    )
}

/// The body of a secret table in a dump, as the real devices of
/// `../shared/fixtures/real-devices/` write it.
fn secret_block(out: &mut String, name: &str) {
    let _ = write!(
        out,
        "[ {name} ]{EOL}{EOL};{EOL};  *** TABLE {name} *** {EOL}; This table contains hidden elements and will not be exposed.{EOL}; This table exists on board and will be saved during restarts.{EOL};{EOL}{EOL}[ \\{name} ]{EOL}{EOL}{EOL}"
    );
}

/// Renders the whole file: header, every section (the catalogue's, then
/// those only this device's dump had) with its non-default parameters, then
/// every table with every column of every row.
pub(crate) fn render(info: &DeviceInfo, doc: &DeviceConfig) -> String {
    let mut out = String::with_capacity(128 * doc.len() + 4096);
    let _ = write!(
        out,
        ";**************{EOL};** Ini File **{EOL};**************{EOL}{EOL}"
    );
    for line in header_lines(info) {
        let _ = write!(out, ";{line}{EOL}");
    }
    let _ = write!(
        out,
        ";----------------------------------------------{EOL}{EOL}"
    );

    let mut sections: Vec<&str> = SECTIONS.to_vec();
    for p in doc.params() {
        if !sections.iter().any(|s| s.eq_ignore_ascii_case(&p.section)) {
            sections.push(&p.section);
        }
    }
    for section in sections {
        let _ = write!(out, "[{section}]{EOL}{EOL}");
        let mut wrote = false;
        for spec in catalog::PARAMS.iter().filter(|p| p.section == section) {
            if spec.name == "LastConfigChangeTime" {
                if doc.learned.without_last_change {
                    continue;
                }
                let _ = write!(
                    out,
                    ";{} is hidden but has non-default value{EOL}",
                    spec.name
                );
                wrote = true;
                continue;
            }
            let Some(param) = doc.param(spec.name) else {
                continue;
            };
            if param.default.as_deref() == Some(param.value.as_str()) {
                continue;
            }
            if spec.hidden {
                let _ = write!(
                    out,
                    ";{} is hidden but has non-default value{EOL}",
                    spec.name
                );
            } else {
                let _ = write!(out, "{} = {}{EOL}", spec.name, scalar_value(param));
            }
            wrote = true;
        }
        for param in doc.params().filter(|p| {
            catalog::param(&p.name).is_none() && p.section.eq_ignore_ascii_case(section)
        }) {
            if param.hidden {
                let _ = write!(
                    out,
                    ";{} is hidden but has non-default value{EOL}",
                    param.name
                );
            } else {
                let _ = write!(out, "{} = {}{EOL}", param.name, scalar_value(param));
            }
            wrote = true;
        }
        if wrote {
            out.push_str(EOL);
        }
    }

    for table in doc.tables() {
        if table.is_secret() {
            secret_block(&mut out, &table.name);
            continue;
        }
        if table.row_count() == 0 {
            continue;
        }
        let _ = write!(out, "[ {} ]{EOL}{EOL}", table.name);
        let columns: Vec<String> = table
            .columns()
            .iter()
            .map(|c| format!("{}_{}", table.name, c.name))
            .collect();
        let _ = write!(
            out,
            "FORMAT {} = {};{EOL}",
            table.index_fields.join(", "),
            columns.join(", ")
        );
        for (key, cells) in &table.rows {
            let _ = write!(out, "{} {} = ", table.name, key.as_str().replace(',', ", "));
            for (i, (column, cell)) in table.columns().iter().zip(cells).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&cell_text(column, cell));
            }
            let _ = write!(out, ";{EOL}");
        }
        let _ = write!(out, "{EOL}[ \\{} ]{EOL}{EOL}{EOL}", table.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(quoting: Quoting) -> Column {
        Column {
            name: "X".to_string(),
            default: String::new(),
            kind: None,
            quoting: Some(quoting),
        }
    }

    fn cell_of(value: &str) -> Cell {
        Cell {
            value: value.to_string(),
            quoting: Quoting::Double,
        }
    }

    #[test]
    fn a_cell_is_written_in_a_quoting_that_holds_it() {
        // The column's own quoting where it holds the value.
        assert_eq!(
            cell_text(&column(Quoting::Double), &cell_of("a'")),
            "\"a'\""
        );
        assert_eq!(cell_text(&column(Quoting::Bare), &cell_of("a b")), "a b");
        // The other quote where it does not.
        assert_eq!(
            cell_text(&column(Quoting::Double), &cell_of("a\"")),
            "'a\"'"
        );
        assert_eq!(
            cell_text(&column(Quoting::Single), &cell_of("a'")),
            "\"a'\""
        );
        // Bare cannot hold a comma, a quote, `$$` or edge spaces.
        assert_eq!(
            cell_text(&column(Quoting::Bare), &cell_of("a, b")),
            "\"a, b\""
        );
        assert_eq!(cell_text(&column(Quoting::Bare), &cell_of("a\"")), "'a\"'");
        assert_eq!(cell_text(&column(Quoting::Bare), &cell_of("$$")), "\"$$\"");
        assert_eq!(cell_text(&column(Quoting::Bare), &cell_of(" a")), "\" a\"");
    }

    #[test]
    fn a_scalar_is_written_in_a_quoting_that_holds_it() {
        let param = |value: &str, quoting| Param {
            name: "NotInTheCatalogue".to_string(),
            section: "SYSTEM Params".to_string(),
            value: value.to_string(),
            default: None,
            quoting,
            hidden: false,
        };
        assert_eq!(scalar_value(&param("a\"", Quoting::Double)), "'a\"'");
        assert_eq!(scalar_value(&param("a'", Quoting::Single)), "\"a'\"");
        // A list stays as written.
        assert_eq!(
            scalar_value(&param("'pvc', 'dr'", Quoting::Bare)),
            "'pvc', 'dr'"
        );
    }
}
