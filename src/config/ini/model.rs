//! The INI configuration model: scalar parameters and tables, keyed
//! case-insensitively, values held unquoted.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
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
    /// Parameters the device says it hides (`;X is hidden but has
    /// non-default value`), by lookup key → name as written.
    pub(crate) hidden_params: BTreeMap<String, String>,
}

/// One scalar parameter (`Name = value`). `Debug` masks secret values.
#[derive(Clone)]
pub struct Param {
    /// The name as first written (`EnableSyslog`, `CASFileName_0`).
    pub name: String,
    /// The `[… Params]` section it appeared under; not part of equality.
    pub section: Option<String>,
    /// The value without quotes.
    pub value: String,
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .field("section", &self.section)
            .field(
                "value",
                &crate::config::sensitive::redact(&self.name, &self.value),
            )
            .finish()
    }
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

/// What a row holds in one column position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// The row does not list the column (another `FORMAT` line wrote it).
    Absent,
    /// `$$`: the column's default ("The double dollar sign ($$) in a Data
    /// line indicates the default value for the parameter", AudioCodes user
    /// manuals, "Format of ini File Table Parameters").
    Default,
    /// A value.
    Value(Span),
}

/// One cell of a row as the row declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    /// The row does not list this column.
    Absent,
    /// `$$`: the column's default.
    Default,
    /// A value (unquoted).
    Value(&'a str),
}

impl<'a> Cell<'a> {
    /// The value, when the cell holds one.
    pub fn value(self) -> Option<&'a str> {
        match self {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the row lists the column (a value or `$$`).
    pub fn is_listed(self) -> bool {
        !matches!(self, Cell::Absent)
    }
}

/// The cells of one row, aligned with [`Table::columns`]. [`Row::get`] is
/// `None` for a column the row does not list and for `$$` (the default);
/// [`Row::cell`] tells them apart.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    text: &'a str,
    spans: &'a [Slot],
}

impl<'a> Row<'a> {
    /// The value at a column position, if the row sets one.
    pub fn get(&self, pos: usize) -> Option<&'a str> {
        self.cell(pos).value()
    }

    /// The cell at a column position ([`Cell::Absent`] past the end).
    pub fn cell(&self, pos: usize) -> Cell<'a> {
        match self.spans.get(pos) {
            Some(Slot::Value(span)) => {
                let start = span.start as usize;
                match self.text.get(start..start + span.len as usize) {
                    Some(v) => Cell::Value(v),
                    None => Cell::Absent,
                }
            }
            Some(Slot::Default) => Cell::Default,
            _ => Cell::Absent,
        }
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
    /// A row does not know its column names, so `Debug` shows only which
    /// cells are set (`$$` for defaults, `-` for unlisted), never values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries((0..self.len()).map(|p| match self.cell(p) {
                Cell::Absent => "-",
                Cell::Default => "$$",
                Cell::Value(_) => "<value>",
            }))
            .finish()
    }
}

/// One configuration table (`[ IPGroup ]` … `[ \IPGroup ]`).
///
/// Cell values live in one text buffer per table and rows hold spans into
/// it: a device dump has hundreds of thousands of short cells, and one
/// allocation per cell dominated parsing. A changed cell appends its new
/// value; the old text stays until the table is dropped. Columns are found
/// through a hash index, so a `FORMAT` line of n columns costs O(n).
#[derive(Clone)]
pub struct Table {
    /// The table name as first written (`IPGroup`).
    pub name: String,
    /// The index column names of the `FORMAT` line (`IPGroup_Index`).
    pub index_columns: Vec<String>,
    pub(crate) columns: Vec<String>,
    /// Lower-cased full column name → position.
    by_full: HashMap<String, usize>,
    /// Lower-cased short column name → first position with it.
    by_short: HashMap<String, usize>,
    /// Whether the device rendered the table hidden (a title with only
    /// comments and no `FORMAT` line): a secret table.
    hidden: bool,
    text: String,
    rows: BTreeMap<RowIndex, Vec<Slot>>,
}

impl Table {
    /// An empty table with the conventional index column `<name>_Index`.
    pub fn new(name: &str) -> Self {
        Table {
            name: name.to_string(),
            index_columns: vec![format!("{name}_Index")],
            columns: Vec::new(),
            by_full: HashMap::new(),
            by_short: HashMap::new(),
            hidden: false,
            text: String::new(),
            rows: BTreeMap::new(),
        }
    }

    /// Whether the device showed this table only as a commented title (a
    /// secret table whose rows it does not reveal).
    pub fn is_hidden(&self) -> bool {
        self.hidden
    }

    /// Marks the table as shown hidden (or not).
    pub fn set_hidden(&mut self, hidden: bool) {
        self.hidden = hidden;
    }

    /// The full column names, in `FORMAT` order (`IPGroup_Name`).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The position of a column, found case-insensitively by full name
    /// (`IPGroup_Name`) or short name (`Name`), in constant time.
    pub fn column_position(&self, column: &str) -> Option<usize> {
        let key = key_of(column);
        self.by_full
            .get(&key)
            .or_else(|| self.by_short.get(&key))
            .copied()
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
        let pos = self.columns.len();
        let short = key_of(short_column_of(&self.name, &full));
        self.by_full.entry(key_of(&full)).or_insert(pos);
        self.by_short.entry(short).or_insert(pos);
        self.columns.push(full);
        for cells in self.rows.values_mut() {
            cells.push(Slot::Absent);
        }
        pos
    }

    fn view<'a>(&'a self, spans: &'a [Slot]) -> Row<'a> {
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

    /// Sets one cell to `$$` (the column's default), creating the row and
    /// the column when needed.
    pub fn set_cell_default(&mut self, index: RowIndex, column: &str) {
        let pos = self.ensure_column(column);
        let width = self.columns.len();
        let cells = self
            .rows
            .entry(index)
            .or_insert_with(|| vec![Slot::Absent; width]);
        if let Some(slot) = cells.get_mut(pos) {
            *slot = Slot::Default;
        }
    }

    /// Sets the cell at a column position (which must exist).
    pub(crate) fn set_at(&mut self, index: RowIndex, pos: usize, value: &str) {
        let span = self.store(value);
        let width = self.columns.len();
        let cells = self
            .rows
            .entry(index)
            .or_insert_with(|| vec![Slot::Absent; width]);
        if let Some(slot) = cells.get_mut(pos) {
            *slot = Slot::Value(span);
        }
    }

    /// Writes the cells a row line lists: `positions[i]` is where `cells[i]`
    /// goes; a `None` cell is `$$`, the column's default. Columns the line
    /// does not list keep what the row holds.
    pub(crate) fn put_row(&mut self, index: RowIndex, positions: &[usize], cells: &[Option<&str>]) {
        let spans: Vec<Slot> = cells
            .iter()
            .map(|c| match c {
                Some(v) => Slot::Value(self.store(v)),
                None => Slot::Default,
            })
            .collect();
        let width = self.columns.len();
        let row = self
            .rows
            .entry(index)
            .or_insert_with(|| vec![Slot::Absent; width]);
        for (pos, span) in positions.iter().zip(spans) {
            if let Some(slot) = row.get_mut(*pos) {
                *slot = span;
            }
        }
    }

    /// Inserts a row that lists no cell yet (or leaves an existing row alone).
    pub fn ensure_row(&mut self, index: RowIndex) {
        let width = self.columns.len();
        self.rows
            .entry(index)
            .or_insert_with(|| vec![Slot::Absent; width]);
    }

    /// Removes a row; whether it existed.
    pub fn remove_row(&mut self, index: &RowIndex) -> bool {
        self.rows.remove(index).is_some()
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.name)
            .field("hidden", &self.hidden)
            .field("columns", &self.columns)
            .field(
                "rows",
                &self
                    .rows()
                    .map(|(i, row)| {
                        let cells: Vec<String> = (0..row.len())
                            .map(|p| match row.cell(p) {
                                Cell::Absent => "-".to_string(),
                                Cell::Default => "$$".to_string(),
                                Cell::Value(v) => {
                                    let column = self.columns.get(p).map_or("", String::as_str);
                                    crate::config::sensitive::redact(column, v).into_owned()
                                }
                            })
                            .collect();
                        (i.as_str().to_string(), cells)
                    })
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PartialEq for Table {
    /// Tables are equal when they hold the same rows with the same cells,
    /// whatever the column order or spelling, and are both hidden or both not.
    fn eq(&self, other: &Self) -> bool {
        if !self.name.eq_ignore_ascii_case(&other.name)
            || self.rows.len() != other.rows.len()
            || self.hidden != other.hidden
        {
            return false;
        }
        let mapping: Vec<Option<usize>> = self
            .columns
            .iter()
            .map(|c| other.column_position(c))
            .collect();
        let mut mapped = vec![false; other.columns.len()];
        for j in mapping.iter().flatten() {
            if let Some(m) = mapped.get_mut(*j) {
                *m = true;
            }
        }
        let other_only: Vec<usize> = (0..other.columns.len()).filter(|j| !mapped[*j]).collect();
        self.rows().all(|(index, cells)| {
            let Some(theirs) = other.row(index) else {
                return false;
            };
            let ours_match = mapping.iter().enumerate().all(|(i, pos)| match pos {
                Some(j) => theirs.cell(*j) == cells.cell(i),
                None => !cells.cell(i).is_listed(),
            });
            ours_match && other_only.iter().all(|j| !theirs.cell(*j).is_listed())
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

    /// Records that the device hides a parameter (`;X is hidden but has
    /// non-default value`): its value is write-only and never shown.
    pub fn add_hidden_param(&mut self, name: &str) {
        self.hidden_params
            .entry(key_of(name))
            .or_insert_with(|| name.to_string());
    }

    /// Whether the device said it hides this parameter.
    pub fn is_hidden_param(&self, name: &str) -> bool {
        self.hidden_params.contains_key(&key_of(name))
    }

    /// The parameters the device hides, by name as written.
    pub fn hidden_params(&self) -> impl Iterator<Item = &str> {
        self.hidden_params.values().map(String::as_str)
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
