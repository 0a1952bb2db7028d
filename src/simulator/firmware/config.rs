//! What a simulated device holds as configuration: scalar parameters and
//! tables, each table with the columns *this* firmware has (from the
//! catalogue, or learned from the device's own dump it was seeded with) and
//! every row complete.
//!
//! This is the simulator's own storage, shared with nothing of the client:
//! names compare case-insensitively (the manuals: "The parameter name is not
//! case-sensitive"), values are held unquoted, and each cell remembers
//! whether it came quoted so that tables the catalogue does not describe are
//! written back as they came.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::catalog::Kind;

/// One scalar parameter the device holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its spelling (the catalogue's, or the dump's for names the catalogue lacks).
    pub name: String,
    /// The `[… Params]` section it is written under.
    pub section: String,
    /// The value, unquoted; for a list value (`'pvc', 'dr'`) the text as written.
    pub value: String,
    /// The catalogue's default, when it applies on this device: `None` for
    /// parameters the catalogue lacks and for those a seed dump showed at the
    /// catalogue's default (that firmware evidently has another default).
    pub(crate) default: Option<String>,
    /// How to write the value back when the catalogue has no kind for it.
    pub(crate) quoting: Quoting,
    /// Shown only as `;<name> is hidden but has non-default value`.
    pub(crate) hidden: bool,
}

/// How a value was written where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Quoting {
    /// Bare (`1`, `0.0.0.0`) or a list written as it came.
    #[default]
    Bare,
    /// In single quotes.
    Single,
    /// In double quotes.
    Double,
}

impl Quoting {
    /// `value` written with this quoting.
    pub(crate) fn write(self, value: &str) -> String {
        match self {
            Quoting::Bare => value.to_string(),
            Quoting::Single => format!("'{value}'"),
            Quoting::Double => format!("\"{value}\""),
        }
    }
}

/// A row key: the index field(s) of a data line (`0`, `12`), ordered
/// numerically where they are numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RowKey(String);

impl RowKey {
    /// A key from its text.
    pub fn new(text: &str) -> Self {
        RowKey(text.trim().to_string())
    }

    /// The key as written (`3`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as a number, when it is one.
    pub fn number(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

impl std::fmt::Display for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<u32> for RowKey {
    fn from(n: u32) -> Self {
        RowKey(n.to_string())
    }
}

impl Ord for RowKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.number(), other.number()) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.0.cmp(&other.0),
        }
    }
}

impl PartialOrd for RowKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One column of a table on this device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Short name (`ProxySetName`; written `IPGroup_ProxySetName`).
    pub name: String,
    /// What the column takes when a data line does not set it or gives `$$`.
    pub default: String,
    /// The catalogue's kind, when the catalogue knows the column.
    pub(crate) kind: Option<Kind>,
    /// For a column the catalogue lacks: how the device's own dump quoted
    /// it (its values are written that way).
    pub(crate) quoting: Option<Quoting>,
}

/// One cell: its value (unquoted) and how it came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cell {
    pub(crate) value: String,
    pub(crate) quoting: Quoting,
}

/// A table as the device holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Its spelling (`IPGroup`, `CpMediaRealm`).
    pub name: String,
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: BTreeMap<RowKey, Vec<Cell>>,
    /// A secret (hidden) table: written only as a commented title.
    pub(crate) secret: bool,
    /// Names of the index fields (`IPGroup_Index`).
    pub(crate) index_fields: Vec<String>,
}

impl Table {
    /// An empty table with these columns.
    pub(crate) fn new(name: &str, columns: Vec<Column>) -> Self {
        Table {
            name: name.to_string(),
            columns,
            rows: BTreeMap::new(),
            secret: false,
            index_fields: vec![format!("{name}_Index")],
        }
    }

    /// The columns, in the device's `FORMAT` order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Whether the device keeps this table secret.
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Position of a column by short (`Name`) or full (`IPGroup_Name`)
    /// name, case-insensitively.
    pub fn column_position(&self, name: &str) -> Option<usize> {
        let short = short_name(&self.name, name);
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(short))
    }

    /// The rows, in index order.
    pub fn rows(&self) -> impl Iterator<Item = (&RowKey, RowView<'_>)> {
        self.rows.iter().map(|(k, cells)| (k, RowView { cells }))
    }

    /// Number of rows.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// One row.
    pub fn row(&self, key: &RowKey) -> Option<RowView<'_>> {
        self.rows.get(key).map(|cells| RowView { cells })
    }

    /// One cell by row key (anything that prints as the key: a [`RowKey`],
    /// a number, the index text) and column name.
    pub fn cell<K: std::fmt::Display + ?Sized>(&self, key: &K, column: &str) -> Option<&str> {
        let pos = self.column_position(column)?;
        self.rows
            .get(&RowKey::new(&key.to_string()))
            .and_then(|cells| cells.get(pos))
            .map(|c| c.value.as_str())
    }

    /// A row of every column's default.
    pub(crate) fn default_row(&self) -> Vec<Cell> {
        self.columns
            .iter()
            .map(|c| Cell {
                value: c.default.clone(),
                quoting: c.quoting.unwrap_or(Quoting::Double),
            })
            .collect()
    }

    /// The first free numeric index.
    pub(crate) fn free_index(&self) -> RowKey {
        let mut n = 0u32;
        while self.rows.contains_key(&RowKey::from(n)) {
            n += 1;
        }
        RowKey::from(n)
    }
}

/// A row's cells, read by column position.
#[derive(Clone, Copy, Debug)]
pub struct RowView<'a> {
    cells: &'a [Cell],
}

impl<'a> RowView<'a> {
    /// The cell at a column position.
    pub fn get(&self, pos: usize) -> Option<&'a str> {
        self.cells.get(pos).map(|c| c.value.as_str())
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

/// A column name without its `<table>_` prefix.
pub(crate) fn short_name<'a>(table: &str, column: &'a str) -> &'a str {
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

/// What the firmware of a device knows beyond the catalogue: the
/// parameters and table schemas of the dump it was seeded with. A real
/// device knows all of its parameters; the catalogue is a subset, so a name
/// the device's own dump held is one this firmware has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Learned {
    /// Parameter names and the section they are written under.
    pub(crate) params: Vec<(String, String)>,
    /// Table schemas (no rows), including secret ones; they take precedence
    /// over the catalogue's for tables both describe.
    pub(crate) tables: Vec<Table>,
    /// The dump showed no `;LastConfigChangeTime is hidden …` line (6.60
    /// firmware), so this firmware does not write one.
    pub(crate) without_last_change: bool,
}

impl Learned {
    /// A parameter's learned spelling and section.
    pub(crate) fn param(&self, name: &str) -> Option<&(String, String)> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// A learned table schema.
    pub(crate) fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// Everything a device holds as configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceConfig {
    pub(crate) params: Vec<Param>,
    pub(crate) tables: Vec<Table>,
    pub(crate) learned: std::sync::Arc<Learned>,
}

impl DeviceConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Every parameter, in the order the device keeps them.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter()
    }

    pub(crate) fn param_mut(&mut self, name: &str) -> Option<&mut Param> {
        self.params
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn remove_param(&mut self, name: &str) -> Option<Param> {
        let pos = self
            .params
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(name))?;
        Some(self.params.remove(pos))
    }

    /// Sets (or adds) a parameter.
    pub(crate) fn put_param(&mut self, param: Param) {
        match self.param_mut(&param.name) {
            Some(existing) => *existing = param,
            None => self.params.push(param),
        }
    }

    /// A table by case-insensitive name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Every table, in the order the device writes them.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.iter()
    }

    pub(crate) fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables
            .iter_mut()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn remove_table(&mut self, name: &str) -> Option<Table> {
        let pos = self
            .tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(name))?;
        Some(self.tables.remove(pos))
    }

    /// Adds a table: a catalogue table goes before the first table the
    /// catalogue writes after it; others go last.
    pub(crate) fn insert_table(&mut self, table: Table) {
        let rank = super::catalog::table_rank(&table.name);
        let pos = rank.and_then(|r| {
            self.tables
                .iter()
                .position(|t| super::catalog::table_rank(&t.name).is_some_and(|other| other > r))
        });
        match pos {
            Some(p) => self.tables.insert(p, table),
            None => self.tables.push(table),
        }
    }

    /// Number of parameters plus rows (a size hint for renderings).
    pub fn len(&self) -> usize {
        self.params.len() + self.tables.iter().map(Table::row_count).sum::<usize>()
    }

    /// Whether the configuration holds nothing.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_keys_order_numerically() {
        let mut keys = [RowKey::new("10"), RowKey::new("2"), RowKey::new("x")];
        keys.sort();
        let order: Vec<&str> = keys.iter().map(RowKey::as_str).collect();
        assert_eq!(order, ["2", "10", "x"]);
    }

    #[test]
    fn short_names_drop_the_table_prefix() {
        assert_eq!(short_name("IPGroup", "ipgroup_Name"), "Name");
        assert_eq!(short_name("IPGroup", "Name"), "Name");
        assert_eq!(short_name("IPGroup", "IPGroup_"), "IPGroup_");
    }
}
