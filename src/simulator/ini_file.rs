//! The device's own INI file (`GET /files/ini`): a header about the board,
//! every parameter section in the firmware's order with only non-default
//! values, hidden parameters as comments, and every table with its full
//! column set. Quoting follows the value kind, not the upload.

use std::fmt::Write as _;

use super::catalog::{self, Kind, SECTIONS};
use super::device::{Configuration, DeviceInfo};

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

/// Renders the whole file.
pub(crate) fn render(info: &DeviceInfo, config: &Configuration) -> String {
    let doc = &config.running;
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

    for section in SECTIONS {
        let _ = write!(out, "[{section}]{EOL}{EOL}");
        let mut wrote = false;
        for spec in catalog::PARAMS.iter().filter(|p| p.section == *section) {
            let value = if spec.name == "LastConfigChangeTime" {
                Some(config.last_change_unix.to_string())
            } else {
                doc.param(spec.name).map(|p| p.value.clone())
            };
            let Some(value) = value.filter(|v| v != spec.default) else {
                continue;
            };
            if spec.hidden {
                let _ = write!(
                    out,
                    ";{} is hidden but has non-default value{EOL}",
                    spec.name
                );
            } else {
                let _ = write!(out, "{} = {}{EOL}", spec.name, scalar(spec.kind, &value));
            }
            wrote = true;
        }
        if wrote {
            out.push_str(EOL);
        }
    }

    for spec in catalog::TABLES {
        let Some(table) = doc.table(spec.name) else {
            continue;
        };
        if table.row_count() == 0 {
            continue;
        }
        let _ = write!(out, ";{EOL}; *** TABLE {} ***{EOL};{EOL}{EOL}", spec.name);
        let _ = write!(out, "[ {} ]{EOL}", spec.name);
        let columns: Vec<String> = spec.columns.iter().map(|c| spec.full_column(c)).collect();
        let _ = write!(
            out,
            "FORMAT {} = {};{EOL}",
            spec.index_column(),
            columns.join(", ")
        );
        // Canonical tables hold every catalog column in catalog order; map
        // positions anyway so a foreign column order cannot misplace cells.
        let positions: Vec<Option<usize>> =
            columns.iter().map(|c| table.column_position(c)).collect();
        for (index, cells) in table.rows() {
            let _ = write!(out, "{} {} = ", spec.name, index.as_str());
            for (i, (column, pos)) in spec.columns.iter().zip(&positions).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let value = pos
                    .and_then(|p| cells.get(p).map(str::to_string))
                    .unwrap_or_else(|| column.default.to_string());
                out.push_str(&cell(column.kind, &value));
            }
            let _ = write!(out, ";{EOL}");
        }
        let _ = write!(out, "{EOL}[ \\{} ]{EOL}{EOL}{EOL}", spec.name);
    }
    out
}
