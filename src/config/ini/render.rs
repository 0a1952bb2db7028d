//! Rendering INI text a Mediant accepts: CRLF lines, single-quoted scalar
//! strings, double-quoted cell strings, bare numbers and addresses, tables in
//! dependency order.

use std::fmt::Write as _;

use super::CELL_DEFAULT;
use super::model::{IniDocument, Param, RowIndex, Table};
use super::parse::is_canonical_list;
use crate::config::catalog::table_rank;

/// A value that INI cannot carry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// INI has no escapes: a value cannot hold both quote characters.
    #[error("the value of `{name}` contains both ' and \" and cannot be written as INI")]
    BothQuotes {
        /// The parameter or `Table[index].Column` holding it.
        name: String,
    },
    /// INI values are single-line.
    #[error("the value of `{name}` contains a line break and cannot be written as INI")]
    LineBreak {
        /// The parameter or `Table[index].Column` holding it.
        name: String,
    },
}

/// Line ending of device files.
pub(crate) const EOL: &str = "\r\n";

/// Tables in the order a device must read them.
pub(crate) fn ordered_tables<'a>(tables: impl Iterator<Item = &'a Table>) -> Vec<&'a Table> {
    let mut tables: Vec<&Table> = tables.collect();
    tables.sort_by_key(|t| (table_rank(&t.name), t.name.to_ascii_lowercase()));
    tables
}

fn check(name: &dyn Fn() -> String, value: &str) -> Result<(), RenderError> {
    if value.contains(['\n', '\r']) {
        return Err(RenderError::LineBreak { name: name() });
    }
    if value.contains('"') && value.contains('\'') {
        return Err(RenderError::BothQuotes { name: name() });
    }
    Ok(())
}

fn quoted(value: &str, preferred: char) -> String {
    let q = if value.contains(preferred) {
        if preferred == '"' { '\'' } else { '"' }
    } else {
        preferred
    };
    format!("{q}{value}{q}")
}

/// A scalar value as a device writes it: numbers bare, anything else quoted.
pub(crate) fn scalar(name: &str, value: &str) -> Result<String, RenderError> {
    if is_canonical_list(value) {
        return Ok(value.to_string());
    }
    check(&|| name.to_string(), value)?;
    let bare = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
        && !value.starts_with('$');
    Ok(if bare {
        value.to_string()
    } else {
        quoted(value, '\'')
    })
}

/// A table cell: numbers and addresses bare, strings double-quoted, `$$`
/// (the column's default) for `None`.
pub(crate) fn cell(name: &dyn Fn() -> String, value: Option<&str>) -> Result<String, RenderError> {
    let Some(value) = value else {
        return Ok(CELL_DEFAULT.to_string());
    };
    check(name, value)?;
    let bare = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b':'));
    Ok(if bare {
        value.to_string()
    } else {
        quoted(value, '"')
    })
}

/// Writes `[ T ]`, the FORMAT line for `columns`, the rows, and `[ \T ]`.
pub(crate) fn table_block<'r>(
    out: &mut String,
    table: &str,
    index_columns: &[String],
    columns: &[&str],
    rows: impl Iterator<Item = (&'r RowIndex, Vec<Option<&'r str>>)>,
) -> Result<(), RenderError> {
    let _ = write!(
        out,
        "[ {table} ]{EOL}{EOL}FORMAT {} = ",
        index_columns.join(", ")
    );
    out.push_str(&columns.join(", "));
    let _ = write!(out, ";{EOL}");
    for (index, cells) in rows {
        let _ = write!(out, "{table} {index} = ");
        for (i, value) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let name = || {
                format!(
                    "{table}[{index}].{}",
                    columns.get(i).copied().unwrap_or("?")
                )
            };
            out.push_str(&cell(&name, *value)?);
        }
        let _ = write!(out, ";{EOL}");
    }
    let _ = write!(out, "{EOL}[ \\{table} ]{EOL}{EOL}");
    Ok(())
}

/// Writes a secret table the way the device shows one: a title and
/// comments, no `FORMAT` line and no data (an empty table with a `FORMAT`
/// line would delete it: "To delete a secret table from the device,
/// include an empty table of the same type (with no data lines)").
pub(crate) fn hidden_block(out: &mut String, table: &str) {
    let _ = write!(
        out,
        "[ {table} ]{EOL}{EOL};{EOL};  *** TABLE {table} *** {EOL}; This table contains hidden elements and will not be exposed.{EOL}; This table exists on board and will be saved during restarts.{EOL};{EOL}{EOL}[ \\{table} ]{EOL}{EOL}"
    );
}

/// Writes parameters grouped by section, those without a section first.
pub(crate) fn params_block<'p>(
    out: &mut String,
    params: impl Iterator<Item = (&'p str, Option<&'p str>, &'p str)>,
) -> Result<(), RenderError> {
    let mut grouped: Vec<(Option<&str>, &str, &str)> = params.map(|(n, s, v)| (s, n, v)).collect();
    grouped.sort_by_key(|(s, n, _)| (s.map(str::to_ascii_lowercase), n.to_ascii_lowercase()));
    let mut current: Option<Option<String>> = None;
    for (section, name, value) in grouped {
        let section_key = section.map(str::to_ascii_lowercase);
        if current.as_ref() != Some(&section_key) {
            if let Some(s) = section {
                let _ = write!(out, "[{s}]{EOL}{EOL}");
            }
            current = Some(section_key);
        }
        let _ = write!(out, "{name} = {}{EOL}", scalar(name, value)?);
    }
    if current.is_some() {
        out.push_str(EOL);
    }
    Ok(())
}

impl IniDocument {
    /// Renders the whole document as INI text; `parse(render(d)) == d`.
    pub fn render(&self) -> Result<String, RenderError> {
        let mut out = String::with_capacity(64 * self.len() + 256);
        for line in &self.header {
            let _ = write!(out, ";{line}{EOL}");
        }
        if !self.header.is_empty() {
            out.push_str(EOL);
        }
        for name in self.hidden_params() {
            let _ = write!(out, ";{name} is hidden but has non-default value{EOL}");
        }
        params_block(
            &mut out,
            self.params()
                .map(|p: &Param| (p.name.as_str(), p.section.as_deref(), p.value.as_str())),
        )?;
        for table in ordered_tables(self.tables()) {
            if table.is_hidden() && table.row_count() == 0 {
                hidden_block(&mut out, &table.name);
                continue;
            }
            // Rows are grouped by the columns they list, so a row that does
            // not list a column is not written with `$$` (which would mean
            // "the default") for it.
            let mut groups: Vec<(Vec<usize>, Vec<&RowIndex>)> = Vec::new();
            for (index, row) in table.rows() {
                let listed: Vec<usize> = (0..row.len())
                    .filter(|p| row.cell(*p).is_listed())
                    .collect();
                match groups.iter_mut().find(|(l, _)| *l == listed) {
                    Some((_, rows)) => rows.push(index),
                    None => groups.push((listed, vec![index])),
                }
            }
            if groups.is_empty() {
                groups.push(((0..table.columns().len()).collect(), Vec::new()));
            }
            for (listed, rows) in groups {
                let columns: Vec<&str> = listed
                    .iter()
                    .map(|p| table.columns()[*p].as_str())
                    .collect();
                table_block(
                    &mut out,
                    &table.name,
                    &table.index_columns,
                    &columns,
                    rows.into_iter().filter_map(|i| {
                        let row = table.row(i)?;
                        Some((i, listed.iter().map(|p| row.cell(*p).value()).collect()))
                    }),
                )?;
            }
        }
        Ok(out)
    }
}
