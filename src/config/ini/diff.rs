//! Desired-against-observed comparison of INI documents, and the two ways a
//! difference is shown: the smallest incremental INI and a human summary.
//!
//! Only what the desired side declares is compared (like a server-side-apply
//! field manager): a desired row may name fewer columns than the device has,
//! and parameters or rows the desired side does not mention are left alone
//! unless a [`DiffOptions`] entry says otherwise.

use std::collections::BTreeMap;
use std::fmt;

use super::model::{IniDocument, RowIndex, Table, key_of, short_column_of};
use super::render::{EOL, RenderError, params_block, table_block, table_rank};
use super::{ACTION_COLUMN, ACTION_DELETE};
use crate::config::sensitive::shown;

/// How to compare: what the desired side owns beyond what it declares, and
/// what the device leaves out of its dump. Nothing is deleted or reset by
/// omission; only what is listed here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Tables whose rows the desired side does not declare are deleted.
    pub prune_tables: Vec<String>,
    /// Parameters reset to the given default value when the desired side
    /// does not declare them and the device holds another value.
    pub reset_parameters: BTreeMap<String, String>,
    /// Known default values of parameters. A device lists only non-default
    /// values, so a parameter missing from its dump holds its default: a
    /// desired value equal to it is in sync.
    pub defaults: BTreeMap<String, String>,
}

impl DiffOptions {
    fn prunes_table(&self, name: &str) -> bool {
        self.prune_tables
            .iter()
            .any(|t| t.eq_ignore_ascii_case(name))
    }

    fn default_of(&self, name: &str) -> Option<&str> {
        self.defaults
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scalar parameter that must change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamChange {
    /// The parameter name (desired spelling).
    pub name: String,
    /// The section the desired side put it in, if any.
    pub section: Option<String>,
    /// The device's value; `None` when the device does not list it (default).
    pub old: Option<String>,
    /// The value to set.
    pub new: String,
}

/// One cell of an existing row that must change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellChange {
    /// The full column name (`IPGroup_Name`).
    pub column: String,
    /// The device's value; `None` when the device's row lacks the column.
    pub old: Option<String>,
    /// The value to set.
    pub new: String,
}

/// A change to one table row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowChange {
    /// The row does not exist on the device: create it with these cells.
    Add {
        /// The row index.
        index: RowIndex,
        /// Full column name and value of each declared cell.
        cells: Vec<(String, String)>,
    },
    /// The row exists; these cells differ.
    Update {
        /// The row index.
        index: RowIndex,
        /// The cells to change.
        cells: Vec<CellChange>,
    },
    /// The row exists and must not (pruned, or a desired `Delete` action).
    Delete {
        /// The row index.
        index: RowIndex,
    },
}

impl RowChange {
    /// The index of the row this change is about.
    pub fn index(&self) -> &RowIndex {
        match self {
            RowChange::Add { index, .. }
            | RowChange::Update { index, .. }
            | RowChange::Delete { index } => index,
        }
    }
}

/// The changes to one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDiff {
    /// The table name (desired spelling).
    pub table: String,
    /// The index columns for the `FORMAT` line.
    pub index_columns: Vec<String>,
    /// Row changes in index order.
    pub rows: Vec<RowChange>,
}

/// Everything that differs between a desired and an observed document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IniDiff {
    /// Parameters to set, by name.
    pub params: Vec<ParamChange>,
    /// Tables with row changes, in dependency order.
    pub tables: Vec<TableDiff>,
}

/// Compares what `desired` declares with `observed`.
pub fn diff(desired: &IniDocument, observed: &IniDocument, options: &DiffOptions) -> IniDiff {
    let prune = options;
    let mut params = Vec::new();
    for want in desired.params() {
        let have = observed.param(&want.name).map(|p| p.value.as_str());
        let effective = have.or_else(|| options.default_of(&want.name));
        if effective != Some(want.value.as_str()) {
            params.push(ParamChange {
                name: want.name.clone(),
                section: want.section.clone(),
                old: have.map(str::to_string),
                new: want.value.clone(),
            });
        }
    }
    for (name, default) in &prune.reset_parameters {
        if desired.param(name).is_some() {
            continue;
        }
        if let Some(have) = observed.param(name).filter(|p| p.value != *default) {
            params.push(ParamChange {
                name: have.name.clone(),
                section: have.section.clone(),
                old: Some(have.value.clone()),
                new: default.clone(),
            });
        }
    }
    params.sort_by_key(|p| key_of(&p.name));

    let mut tables = Vec::new();
    for want in desired.tables() {
        let rows = diff_table(
            want,
            observed.table(&want.name),
            prune.prunes_table(&want.name),
        );
        if !rows.is_empty() {
            tables.push(TableDiff {
                table: want.name.clone(),
                index_columns: want.index_columns.clone(),
                rows,
            });
        }
    }
    // A pruned table the desired side does not declare at all loses every row.
    for name in &prune.prune_tables {
        if desired.table(name).is_some() {
            continue;
        }
        if let Some(have) = observed.table(name).filter(|t| t.row_count() > 0) {
            tables.push(TableDiff {
                table: have.name.clone(),
                index_columns: have.index_columns.clone(),
                rows: have
                    .rows()
                    .map(|(index, _)| RowChange::Delete {
                        index: index.clone(),
                    })
                    .collect(),
            });
        }
    }
    tables.sort_by_key(|t| (table_rank(&t.table), key_of(&t.table)));
    IniDiff { params, tables }
}

fn diff_table(want: &Table, have: Option<&Table>, prune: bool) -> Vec<RowChange> {
    let action = want.column_position(ACTION_COLUMN);
    // Map each desired column to the device's column position once per table.
    let have_pos: Vec<Option<usize>> = want
        .columns()
        .iter()
        .map(|c| have.and_then(|h| h.column_position(c)))
        .collect();
    let mut changes = Vec::new();
    for (index, cells) in want.rows() {
        let have_row = have.and_then(|h| h.row(index));
        let deleting = action
            .and_then(|a| cells.get(a))
            .is_some_and(|v| v.eq_ignore_ascii_case(ACTION_DELETE));
        if deleting {
            if have_row.is_some() {
                changes.push(RowChange::Delete {
                    index: index.clone(),
                });
            }
            continue;
        }
        let declared = want
            .columns()
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != action)
            .filter_map(|(i, column)| cells.get(i).map(|v| (i, column, v)));
        match have_row {
            None => changes.push(RowChange::Add {
                index: index.clone(),
                cells: declared
                    .map(|(_, c, v)| (c.clone(), v.to_string()))
                    .collect(),
            }),
            Some(have_cells) => {
                let cells: Vec<CellChange> = declared
                    .filter_map(|(i, column, value)| {
                        let old = have_pos[i].and_then(|p| have_cells.get(p));
                        (old != Some(value)).then(|| CellChange {
                            column: column.clone(),
                            old: old.map(str::to_string),
                            new: value.to_string(),
                        })
                    })
                    .collect();
                if !cells.is_empty() {
                    changes.push(RowChange::Update {
                        index: index.clone(),
                        cells,
                    });
                }
            }
        }
    }
    if prune && let Some(have) = have {
        for (index, _) in have.rows() {
            if want.row(index).is_none() {
                changes.push(RowChange::Delete {
                    index: index.clone(),
                });
            }
        }
        changes.sort_by(|a, b| a.index().cmp(b.index()));
    }
    changes
}

/// One row for rendering: its index and the values of the block's columns.
type RenderRow<'a> = (&'a RowIndex, Vec<Option<&'a str>>);

impl IniDiff {
    /// Whether desired and observed agree on everything declared.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.tables.is_empty()
    }

    /// The number of changed parameters, cells, added and deleted rows.
    pub fn len(&self) -> usize {
        self.params.len()
            + self
                .tables
                .iter()
                .flat_map(|t| &t.rows)
                .map(|r| match r {
                    RowChange::Update { cells, .. } => cells.len(),
                    _ => 1,
                })
                .sum::<usize>()
    }

    /// The smallest incremental INI that makes the device match: parameters,
    /// then row deletions (dependents first), then one block per table and
    /// set of columns being written, whose `FORMAT` line lists only the index
    /// and those columns.
    pub fn render_incremental(&self) -> Result<String, RenderError> {
        let mut out = String::new();
        params_block(
            &mut out,
            self.params
                .iter()
                .map(|p| (p.name.as_str(), p.section.as_deref(), p.new.as_str())),
        )?;
        for table in self.tables.iter().rev() {
            let deletes: Vec<&RowIndex> = table
                .rows
                .iter()
                .filter_map(|r| match r {
                    RowChange::Delete { index } => Some(index),
                    _ => None,
                })
                .collect();
            if deletes.is_empty() {
                continue;
            }
            let action = format!("{}_{ACTION_COLUMN}", table.table);
            table_block(
                &mut out,
                &table.table,
                &table.index_columns,
                &[action.as_str()],
                deletes.into_iter().map(|i| (i, vec![Some(ACTION_DELETE)])),
            )?;
        }
        for table in &self.tables {
            // Group rows by the exact list of columns they write, so no row
            // needs a placeholder for a column it does not change.
            let mut groups: Vec<(Vec<&str>, Vec<RenderRow<'_>>)> = Vec::new();
            for row in &table.rows {
                let (index, cells): (&RowIndex, Vec<(&str, &str)>) = match row {
                    RowChange::Add { index, cells } => (
                        index,
                        cells
                            .iter()
                            .map(|(c, v)| (c.as_str(), v.as_str()))
                            .collect(),
                    ),
                    RowChange::Update { index, cells } => (
                        index,
                        cells
                            .iter()
                            .map(|c| (c.column.as_str(), c.new.as_str()))
                            .collect(),
                    ),
                    RowChange::Delete { .. } => continue,
                };
                let columns: Vec<&str> = cells.iter().map(|(c, _)| *c).collect();
                let values = cells.iter().map(|(_, v)| Some(*v)).collect();
                match groups.iter_mut().find(|(cols, _)| *cols == columns) {
                    Some((_, rows)) => rows.push((index, values)),
                    None => groups.push((columns, vec![(index, values)])),
                }
            }
            for (columns, rows) in groups {
                table_block(
                    &mut out,
                    &table.table,
                    &table.index_columns,
                    &columns,
                    rows.into_iter(),
                )?;
            }
        }
        // Files end with exactly one line break.
        while out.ends_with("\r\n\r\n") {
            out.truncate(out.len() - EOL.len());
        }
        Ok(out)
    }

    /// Each change as (key, before, after) for people: `before` is `None`
    /// for an added row, `after` is `None` for a deleted one; a missing value
    /// reads `(default)` (parameter) or `(unset)` (cell); secrets are masked.
    pub fn entries(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let mut out = Vec::with_capacity(self.len());
        for p in &self.params {
            let before = p.old.as_deref().map_or("(default)", |v| shown(&p.name, v));
            out.push((
                p.name.clone(),
                Some(before.to_string()),
                Some(shown(&p.name, &p.new).to_string()),
            ));
        }
        for t in &self.tables {
            let short = |column: &str| short_column_of(&t.table, column).to_string();
            for row in &t.rows {
                match row {
                    RowChange::Add { index, cells } => {
                        let cells: Vec<String> = cells
                            .iter()
                            .map(|(c, v)| format!("{}={}", short(c), shown(c, v)))
                            .collect();
                        out.push((
                            format!("{}[{index}]", t.table),
                            None,
                            Some(cells.join(", ")),
                        ));
                    }
                    RowChange::Update { index, cells } => {
                        for c in cells {
                            let before =
                                c.old.as_deref().map_or("(unset)", |v| shown(&c.column, v));
                            out.push((
                                format!("{}[{index}].{}", t.table, short(&c.column)),
                                Some(before.to_string()),
                                Some(shown(&c.column, &c.new).to_string()),
                            ));
                        }
                    }
                    RowChange::Delete { index } => {
                        out.push((format!("{}[{index}]", t.table), Some(String::new()), None));
                    }
                }
            }
        }
        out
    }

    /// One human line per change; secret values are masked.
    pub fn summary(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .map(|(key, before, after)| match (before, after) {
                (None, Some(after)) => format!("+ {key} {after}"),
                (_, None) => format!("- {key}"),
                (Some(before), Some(after)) => format!("{key}: {before} → {after}"),
            })
            .collect()
    }

    /// Up to `n` changed keys (`Param`, `Table[3].Column`, `Table[3]`), for
    /// status fields that must stay small and hold no values.
    pub fn changed_keys(&self, n: usize) -> Vec<String> {
        let params = self.params.iter().map(|p| p.name.clone());
        let rows = self.tables.iter().flat_map(|t| {
            t.rows.iter().flat_map(move |r| -> Vec<String> {
                match r {
                    RowChange::Update { index, cells } => cells
                        .iter()
                        .map(|c| {
                            format!(
                                "{}[{index}].{}",
                                t.table,
                                short_column_of(&t.table, &c.column)
                            )
                        })
                        .collect(),
                    _ => vec![format!("{}[{}]", t.table, r.index())],
                }
            })
        });
        params.chain(rows).take(n).collect()
    }
}

impl fmt::Display for IniDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.summary() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
