//! The INI configuration model: scalar parameters and tables, keyed
//! case-insensitively, values held unquoted.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// The lookup key of a case-insensitive name (ASCII lower case).
pub(crate) fn key_of(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A column name without the `<table>_` prefix (`IPGroup_Name` → `Name`).
pub(crate) fn short_column_of<'a>(table: &str, column: &'a str) -> &'a str {
    match column.get(..table.len()) {
        Some(head)
            if head.eq_ignore_ascii_case(table)
                && column.as_bytes().get(table.len()) == Some(&b'_')
                && column.len() > table.len() + 1 =>
        {
            &column[table.len() + 1..]
        }
        _ => column,
    }
}

/// A whole INI configuration: header comments, scalar parameters and tables.
///
/// Equality is semantic: names compare case-insensitively, values exactly
/// (after unquoting), the order of parameters and tables does not matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IniDocument {
    /// Leading `;` comment lines (board, serial, version …), without the `;`.
    pub header: Vec<String>,
    pub(crate) params: BTreeMap<String, Param>,
    pub(crate) tables: BTreeMap<String, Table>,
}

/// One scalar parameter (`Name = value`).
#[derive(Clone, Debug)]
pub struct Param {
    /// The name as first written (`EnableSyslog`, `CASFileName_0`).
    pub name: String,
    /// The `[… Params]` section it appeared under; not part of equality.
    pub section: Option<String>,
    /// The value without quotes.
    pub value: String,
}

impl PartialEq for Param {
    fn eq(&self, other: &Self) -> bool {
        self.name.eq_ignore_ascii_case(&other.name) && self.value == other.value
    }
}
impl Eq for Param {}

/// The index of a table row (`0`, or `0 1` for multi-index tables), compared
/// numerically token by token so `2` sorts before `10`.
#[derive(Clone, Debug)]
pub struct RowIndex {
    text: String,
    /// The value of a one-token numeric index, computed once: rows are
    /// looked up and sorted far more often than they are created.
    number: Option<u64>,
}

impl RowIndex {
    /// Normalises an index as written (`0`, ` 0  1 `, `0,1`) to single-space tokens.
    pub fn new(text: &str) -> Self {
        let text = text.trim();
        // Nearly every index is one plain token: no need to split and join.
        let text = if !text.contains(|c: char| c.is_whitespace() || c == ',') {
            text.to_string()
        } else {
            let tokens: Vec<&str> = text
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|t| !t.is_empty())
                .collect();
            tokens.join(" ")
        };
        let number = if text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse().ok()
        } else {
            None
        };
        RowIndex { text, number }
    }

    /// The normalised text of the index.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for RowIndex {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for RowIndex {}

impl std::hash::Hash for RowIndex {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// Orders two index tokens numerically when both are digits (without parsing:
/// fewer significant digits is smaller), else as text.
fn cmp_token(x: &str, y: &str) -> Ordering {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if digits(x) && digits(y) {
        let (a, b) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
        a.len()
            .cmp(&b.len())
            .then_with(|| a.cmp(b))
            .then_with(|| x.cmp(y))
    } else {
        x.cmp(y)
    }
}

impl fmt::Display for RowIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<u32> for RowIndex {
    fn from(i: u32) -> Self {
        RowIndex {
            text: i.to_string(),
            number: Some(u64::from(i)),
        }
    }
}

impl Ord for RowIndex {
    fn cmp(&self, other: &Self) -> Ordering {
        if let (Some(x), Some(y)) = (self.number, other.number) {
            return x.cmp(&y).then_with(|| self.text.cmp(&other.text));
        }
        let mut a = self.text.split(' ');
        let mut b = other.text.split(' ');
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => match cmp_token(x, y) {
                    Ordering::Equal => {}
                    ord => return ord,
                },
            }
        }
    }
}

impl PartialOrd for RowIndex {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Where a cell's text lies in its table's text buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// The cells of one row, aligned with [`Table::columns`]: `None` is a cell
/// the row does not set (written `$$` in INI: "leave as it is").
#[derive(Clone, Copy)]
pub struct Row<'a> {
    text: &'a str,
    spans: &'a [Option<Span>],
}

impl<'a> Row<'a> {
    /// The value at a column position, if the row sets it.
    pub fn get(&self, pos: usize) -> Option<&'a str> {
        let span = (*self.spans.get(pos)?)?;
        let start = span.start as usize;
        self.text.get(start..start + span.len as usize)
    }

    /// The number of column positions.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the table has no columns.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The cells in column order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&'a str>> + '_ {
        (0..self.spans.len()).map(|pos| self.get(pos))
    }
}

impl fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One configuration table (`[ IPGroup ]` … `[ \IPGroup ]`).
///
/// Cell values live in one text buffer per table and rows hold spans into
/// it: a device dump has hundreds of thousands of short cells, and one
/// allocation per cell dominated parsing. A changed cell appends its new
/// value; the old text stays until the table is dropped.
#[derive(Clone, Debug)]
pub struct Table {
    /// The table name as first written (`IPGroup`).
    pub name: String,
    /// The index column names of the `FORMAT` line (`IPGroup_Index`).
    pub index_columns: Vec<String>,
    pub(crate) columns: Vec<String>,
    text: String,
    rows: BTreeMap<RowIndex, Vec<Option<Span>>>,
}

impl Table {
    /// An empty table with the conventional index column `<name>_Index`.
    pub fn new(name: &str) -> Self {
        Table {
            name: name.to_string(),
            index_columns: vec![format!("{name}_Index")],
            columns: Vec::new(),
            text: String::new(),
            rows: BTreeMap::new(),
        }
    }

    /// The full column names, in `FORMAT` order (`IPGroup_Name`).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The position of a column, found case-insensitively by full name
    /// (`IPGroup_Name`) or short name (`Name`).
    pub fn column_position(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| {
            c.eq_ignore_ascii_case(column) || self.short_column(c).eq_ignore_ascii_case(column)
        })
    }

    /// A column name without the `<Table>_` prefix, for human output.
    pub fn short_column<'a>(&self, column: &'a str) -> &'a str {
        short_column_of(&self.name, column)
    }

    /// The full name for a column given by short or full name: the existing
    /// spelling when the table has it, else `<Table>_<column>`.
    pub fn full_column_name(&self, column: &str) -> String {
        match self.column_position(column) {
            Some(i) => self.columns[i].clone(),
            None if self.short_column(column) != column => column.to_string(),
            None => format!("{}_{}", self.name, column),
        }
    }

    /// Adds a column (if absent) and returns its position.
    pub fn ensure_column(&mut self, column: &str) -> usize {
        if let Some(i) = self.column_position(column) {
            return i;
        }
        let full = self.full_column_name(column);
        self.columns.push(full);
        for cells in self.rows.values_mut() {
            cells.push(None);
        }
        self.columns.len() - 1
    }

    fn view<'a>(&'a self, spans: &'a [Option<Span>]) -> Row<'a> {
        Row {
            text: &self.text,
            spans,
        }
    }

    /// The rows by index, in index order.
    pub fn rows(&self) -> impl Iterator<Item = (&RowIndex, Row<'_>)> {
        self.rows.iter().map(|(i, spans)| (i, self.view(spans)))
    }

    /// The number of rows.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// One row's cells.
    pub fn row(&self, index: &RowIndex) -> Option<Row<'_>> {
        self.rows.get(index).map(|spans| self.view(spans))
    }

    /// The value of one cell, if the row exists and sets it.
    pub fn cell(&self, index: &RowIndex, column: &str) -> Option<&str> {
        let pos = self.column_position(column)?;
        self.row(index)?.get(pos)
    }

    /// Appends a value to the text buffer.
    fn store(&mut self, value: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(value);
        // Tables beyond 4 GiB of cell text are not a device configuration;
        // saturating keeps the span valid-or-empty instead of wrapping.
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(value.len()).unwrap_or(0),
        }
    }

    /// Sets one cell, creating the row and the column when needed.
    pub fn set_cell(&mut self, index: RowIndex, column: &str, value: impl AsRef<str>) {
        let pos = self.ensure_column(column);
        self.set_at(index, pos, value.as_ref());
    }

    /// Sets the cell at a column position (which must exist).
    pub(crate) fn set_at(&mut self, index: RowIndex, pos: usize, value: &str) {
        let span = self.store(value);
        let width = self.columns.len();
        let cells = self.rows.entry(index).or_insert_with(|| vec![None; width]);
        if let Some(slot) = cells.get_mut(pos) {
            *slot = Some(span);
        }
    }

    /// Writes the cells a row line sets: `positions[i]` is where `cells[i]`
    /// goes; `None` cells leave what the row holds.
    pub(crate) fn put_row(&mut self, index: RowIndex, positions: &[usize], cells: &[Option<&str>]) {
        let spans: Vec<Option<Span>> = cells.iter().map(|c| c.map(|v| self.store(v))).collect();
        let width = self.columns.len();
        let row = self.rows.entry(index).or_insert_with(|| vec![None; width]);
        for (pos, span) in positions.iter().zip(spans) {
            if let (Some(slot), Some(span)) = (row.get_mut(*pos), span) {
                *slot = Some(span);
            }
        }
    }

    /// Inserts a row that sets no cell yet (or leaves an existing row alone).
    pub fn ensure_row(&mut self, index: RowIndex) {
        let width = self.columns.len();
        self.rows.entry(index).or_insert_with(|| vec![None; width]);
    }

    /// Removes a row; whether it existed.
    pub fn remove_row(&mut self, index: &RowIndex) -> bool {
        self.rows.remove(index).is_some()
    }
}

impl PartialEq for Table {
    /// Tables are equal when they hold the same rows with the same set cells,
    /// whatever the column order or spelling.
    fn eq(&self, other: &Self) -> bool {
        if !self.name.eq_ignore_ascii_case(&other.name) || self.rows.len() != other.rows.len() {
            return false;
        }
        let mapping: Vec<Option<usize>> = self
            .columns
            .iter()
            .map(|c| other.column_position(c))
            .collect();
        let other_only: Vec<usize> = (0..other.columns.len())
            .filter(|j| !mapping.contains(&Some(*j)))
            .collect();
        self.rows().all(|(index, cells)| {
            let Some(theirs) = other.row(index) else {
                return false;
            };
            let ours_match = mapping.iter().enumerate().all(|(i, pos)| match pos {
                Some(j) => theirs.get(*j) == cells.get(i),
                None => cells.get(i).is_none(),
            });
            ours_match && other_only.iter().all(|j| theirs.get(*j).is_none())
        })
    }
}
impl Eq for Table {}

impl IniDocument {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.get(&key_of(name))
    }

    /// All parameters, ordered by lower-cased name.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.params.values()
    }

    /// Sets a parameter, keeping the first spelling and section it was seen with.
    pub fn set_param(&mut self, name: &str, value: impl Into<String>) {
        self.set_param_in(None, name, value);
    }

    /// Sets a parameter under a section (used by the parser and renderers).
    pub fn set_param_in(&mut self, section: Option<&str>, name: &str, value: impl Into<String>) {
        let value = value.into();
        self.params
            .entry(key_of(name))
            .and_modify(|p| {
                p.value.clone_from(&value);
                if p.section.is_none() {
                    p.section = section.map(str::to_string);
                }
            })
            .or_insert_with(|| Param {
                name: name.to_string(),
                section: section.map(str::to_string),
                value: value.clone(),
            });
    }

    /// Removes a parameter.
    pub fn remove_param(&mut self, name: &str) -> Option<Param> {
        self.params.remove(&key_of(name))
    }

    /// A table by case-insensitive name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(&key_of(name))
    }

    /// A table for editing.
    pub fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.get_mut(&key_of(name))
    }

    /// The table with this name, created empty when absent.
    pub fn ensure_table(&mut self, name: &str) -> &mut Table {
        self.tables
            .entry(key_of(name))
            .or_insert_with(|| Table::new(name))
    }

    /// Removes a whole table.
    pub fn remove_table(&mut self, name: &str) -> Option<Table> {
        self.tables.remove(&key_of(name))
    }

    /// All tables, ordered by lower-cased name.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// Whether the document holds no parameter and no table.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.tables.is_empty()
    }

    /// The number of configuration lines it describes (parameters plus rows).
    pub fn len(&self) -> usize {
        self.params.len() + self.tables.values().map(Table::row_count).sum::<usize>()
    }
}
