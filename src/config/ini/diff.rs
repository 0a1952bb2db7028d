//! Desired-against-observed comparison of INI documents, and the ways a
//! difference is shown: the incremental INI a device reads as intended,
//! the CLI script that deletes pruned rows, and a human summary.
//!
//! Only what the desired side declares is compared (like a server-side-apply
//! field manager): a desired row may name fewer columns than the device has,
//! and parameters or rows the desired side does not mention are left alone
//! unless a [`DiffOptions`] entry says otherwise. What is *sent* follows the
//! device's reading of a row line (see the module docs of [`super`]): a
//! changed row goes out whole.

use std::collections::BTreeMap;
use std::fmt;

use super::model::{Cell, IniDocument, RowIndex, Table, key_of, short_column_of};
use super::render::{EOL, RenderError, params_block, table_block};
use crate::config::catalog::{self, CliKey, table_rank};
use crate::config::cli::{CliError, CliNode, CliScript};
use crate::config::sensitive::{is_device_hash, is_sensitive, redact_hidden};

/// How [`IniDiff::entries`] shows a value the device does not list (a
/// parameter, or a `$$` cell, at its default).
pub const AT_DEFAULT: &str = "(default)";

/// How to compare: what the desired side owns beyond what it declares, and
/// what the device leaves out of its dump. Nothing is deleted or reset by
/// omission; only what is listed here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Tables whose rows the desired side does not declare are deleted
    /// (through the CLI; see [`IniDiff::render_cli_deletions`]). A secret
    /// table must be listed here to be managed at all: the device replaces
    /// it whole.
    pub prune_tables: Vec<String>,
    /// Parameters reset to the given default value when the desired side
    /// does not declare them and the device holds another value.
    pub reset_parameters: BTreeMap<String, String>,
    /// Known default values of parameters, and of table columns by full
    /// name (`IPGroup_Type`). A device lists only non-default parameters, so
    /// a parameter missing from its dump holds its default: a desired value
    /// equal to it is in sync. A desired `$$` cell is compared against the
    /// column's default given here.
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

/// Why a desired INI cannot be planned. Found before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IniPlanError {
    /// A secret table declared without owning it whole.
    #[error(
        "table `{table}` is a secret table: the device replaces it whole from any file that \
         contains it, so part of it cannot be managed; declare every row of it and list it in \
         pruneTables (an empty declared table deletes it)"
    )]
    PartialSecretTable {
        /// The table name.
        table: String,
    },
    /// Pruning asked for a table whose rows have no documented way to be
    /// deleted.
    #[error(
        "table `{table}` cannot be pruned: INI has no documented way to delete a row, and the \
         operator knows no CLI command that deletes a row of `{table}`; remove it from \
         pruneTables and delete such rows by hand"
    )]
    UnmappedPrune {
        /// The table name.
        table: String,
    },
    /// A desired `$$` whose default the engine does not know, on a device
    /// that shows another value: it could never be seen in sync.
    #[error(
        "{table}[{index}].{column} is `$$` (the column's default), but its default is not \
         known and the device shows a value: write the value itself, or give `{table}_{column}` \
         in the defaults"
    )]
    UnknownDefault {
        /// The table name.
        table: String,
        /// The row index.
        index: String,
        /// The short column name.
        column: String,
    },
    /// A full upload would drop a secret table the device does not reveal.
    #[error(
        "a full INI upload would lose table `{table}`: the device keeps it secret (it shows only \
         its title), so the uploaded file cannot carry its rows; use ini.mode Incremental, or \
         declare the whole table and list it in pruneTables"
    )]
    FullUploadLosesSecretTable {
        /// The table name.
        table: String,
    },
    /// A row to delete lacks a column its CLI key is made of.
    #[error(
        "{table}[{index}] cannot be deleted through the CLI: the device's row has no \
         `{column}`, which names the row in the CLI"
    )]
    MissingKeyColumn {
        /// The table name.
        table: String,
        /// The row index.
        index: String,
        /// The short column name.
        column: String,
    },
    /// The deletion script could not be built (a key holds characters no
    /// CLI line can carry).
    #[error("{table}[{index}] cannot be deleted through the CLI: {source}")]
    Cli {
        /// The table name.
        table: String,
        /// The row index.
        index: String,
        /// What the CLI builder said (names no value).
        #[source]
        source: CliError,
    },
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
    /// Whether the value is secret (by catalogue, name, hash, or because the
    /// device hides the parameter): human output masks it.
    pub secret: bool,
}

/// One cell of an existing row that must change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellChange {
    /// The full column name (`IPGroup_Name`).
    pub column: String,
    /// The device's value; `None` when the device's row lacks the column or
    /// holds its default (`$$`).
    pub old: Option<String>,
    /// The value to set; `None` for the default (`$$`).
    pub new: Option<String>,
    /// Whether the value is secret: human output masks it.
    pub secret: bool,
}

/// A cell as sent: full column name and value, `None` for `$$` (default).
pub type SentCell = (String, Option<String>);

/// A change to one table row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowChange {
    /// The row does not exist on the device: create it with the declared
    /// cells. Every other column takes its default, as on the device.
    Add {
        /// The row index.
        index: RowIndex,
        /// The declared cells, sent as they are.
        cells: Vec<SentCell>,
        /// Columns the device reports for the table that the row does not
        /// declare: they take their defaults (short names).
        defaulted: Vec<String>,
    },
    /// The row exists; `cells` differ (what people see), `row` is what is
    /// sent: the whole row, every column the device reports with its
    /// observed value unless the desired side declares it.
    Update {
        /// The row index.
        index: RowIndex,
        /// The cells that change.
        cells: Vec<CellChange>,
        /// The whole row as sent.
        row: Vec<SentCell>,
    },
    /// The row exists and must not (pruned): deleted through the CLI.
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
    /// A secret table, sent whole: the file's table replaces the device's
    /// (`rows` then holds every desired row as an [`RowChange::Add`]; none
    /// deletes the table).
    pub whole: bool,
    /// For a whole table, the desired columns (the `FORMAT` line of an
    /// empty declared table).
    pub columns: Vec<String>,
}

/// Everything that differs between a desired and an observed document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IniDiff {
    /// Parameters to set, by name.
    pub params: Vec<ParamChange>,
    /// Tables with row changes, in dependency order.
    pub tables: Vec<TableDiff>,
}

/// Whether a table is secret: in the catalogue, or hidden by the device.
fn is_secret_table(name: &str, observed: Option<&Table>) -> bool {
    catalog::is_secret_table(name) || observed.is_some_and(Table::is_hidden)
}

/// Checks what can be checked before observing the device: every pruned
/// table can be pruned (a CLI mapping, or a secret table declared whole),
/// and no catalogued secret table is declared in part.
pub fn check_declared(desired: &IniDocument, options: &DiffOptions) -> Result<(), IniPlanError> {
    for table in desired.tables().filter(|t| !t.is_hidden()) {
        if catalog::is_secret_table(&table.name) && !options.prunes_table(&table.name) {
            return Err(IniPlanError::PartialSecretTable {
                table: table.name.clone(),
            });
        }
    }
    for table in &options.prune_tables {
        let secret_whole = catalog::is_secret_table(table) && desired.table(table).is_some();
        if !secret_whole && catalog::cli_entity(table).is_none() {
            return Err(IniPlanError::UnmappedPrune {
                table: table.clone(),
            });
        }
    }
    Ok(())
}

/// [`diff`] after [`validate`].
pub fn plan_diff(
    desired: &IniDocument,
    observed: &IniDocument,
    options: &DiffOptions,
) -> Result<IniDiff, IniPlanError> {
    validate(desired, observed, options)?;
    Ok(diff(desired, observed, options))
}

/// Every check that keeps a plan honest, before anything is sent:
/// [`check_declared`], secret tables the device hides declared in part, and
/// `$$` cells whose default is unknown while the device shows a value.
pub fn validate(
    desired: &IniDocument,
    observed: &IniDocument,
    options: &DiffOptions,
) -> Result<(), IniPlanError> {
    check_declared(desired, options)?;
    for want in desired.tables().filter(|t| !t.is_hidden()) {
        let have = observed.table(&want.name);
        if is_secret_table(&want.name, have) {
            if !options.prunes_table(&want.name) {
                return Err(IniPlanError::PartialSecretTable {
                    table: want.name.clone(),
                });
            }
            continue;
        }
        let Some(have) = have else { continue };
        for (index, row) in want.rows() {
            let Some(have_row) = have.row(index) else {
                continue;
            };
            for (pos, column) in want.columns().iter().enumerate() {
                if row.cell(pos) != Cell::Default || options.default_of(column).is_some() {
                    continue;
                }
                let observed_cell = have
                    .column_position(column)
                    .map_or(Cell::Absent, |p| have_row.cell(p));
                if let Cell::Value(_) = observed_cell {
                    return Err(IniPlanError::UnknownDefault {
                        table: want.name.clone(),
                        index: index.to_string(),
                        column: want.short_column(column).to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Checks that a full upload (`PUT /files/ini`, which replaces the whole
/// configuration) of `observed` with the changes merged in would not lose
/// what the device does not show: a secret table it renders hidden and
/// the desired side does not declare whole would go out as an empty title.
pub fn check_full_upload(
    desired: &IniDocument,
    observed: &IniDocument,
    options: &DiffOptions,
) -> Result<(), IniPlanError> {
    for table in observed.tables().filter(|t| t.is_hidden()) {
        let declared = desired.table(&table.name).is_some_and(|t| !t.is_hidden())
            && options.prunes_table(&table.name);
        if !declared {
            return Err(IniPlanError::FullUploadLosesSecretTable {
                table: table.name.clone(),
            });
        }
    }
    Ok(())
}

/// Compares what `desired` declares with `observed`.
pub fn diff(desired: &IniDocument, observed: &IniDocument, options: &DiffOptions) -> IniDiff {
    let mut params = Vec::new();
    for want in desired.params() {
        let have = observed.param(&want.name).map(|p| p.value.as_str());
        let effective = have.or_else(|| options.default_of(&want.name));
        if effective != Some(want.value.as_str()) {
            let hidden = observed.is_hidden_param(&want.name);
            params.push(ParamChange {
                name: want.name.clone(),
                section: want.section.clone(),
                old: have.map(str::to_string),
                new: want.value.clone(),
                secret: hidden
                    || is_sensitive(&want.name)
                    || is_device_hash(&want.value)
                    || have.is_some_and(is_device_hash),
            });
        }
    }
    for (name, default) in &options.reset_parameters {
        if desired.param(name).is_some() {
            continue;
        }
        if let Some(have) = observed.param(name).filter(|p| p.value != *default) {
            params.push(ParamChange {
                name: have.name.clone(),
                section: have.section.clone(),
                old: Some(have.value.clone()),
                new: default.clone(),
                secret: is_sensitive(name)
                    || is_device_hash(&have.value)
                    || observed.is_hidden_param(name),
            });
        }
    }
    params.sort_by_key(|p| key_of(&p.name));

    let mut tables = Vec::new();
    // A hidden table on the desired side (a device dump used as the desired
    // state) declares nothing: its content is not in the file.
    for want in desired.tables().filter(|t| !t.is_hidden()) {
        let have = observed.table(&want.name);
        let (rows, whole) = if is_secret_table(&want.name, have) {
            match diff_secret_table(want, have) {
                Some(rows) => (rows, true),
                None => continue,
            }
        } else {
            let prune = options.prunes_table(&want.name);
            (diff_table(want, have, prune, options), false)
        };
        if !rows.is_empty() || whole {
            tables.push(TableDiff {
                table: want.name.clone(),
                index_columns: want.index_columns.clone(),
                rows,
                whole,
                columns: if whole {
                    want.columns().to_vec()
                } else {
                    Vec::new()
                },
            });
        }
    }
    // A pruned table the desired side does not declare at all loses every row.
    for name in &options.prune_tables {
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
                whole: false,
                columns: Vec::new(),
            });
        }
    }
    tables.sort_by_key(|t| (table_rank(&t.table), key_of(&t.table)));
    IniDiff { params, tables }
}

/// The declared cells of a desired row, as sent.
fn declared(want: &Table, row: super::Row<'_>) -> Vec<SentCell> {
    want.columns()
        .iter()
        .enumerate()
        .filter_map(|(i, column)| match row.cell(i) {
            Cell::Absent => None,
            Cell::Default => Some((column.clone(), None)),
            Cell::Value(v) => Some((column.clone(), Some(v.to_string()))),
        })
        .collect()
}

/// A secret table is in sync (`None`) only when the device shows it (not
/// hidden) holding exactly the declared rows, or when an empty one is
/// declared and the device has none; otherwise every desired row is sent.
fn diff_secret_table(want: &Table, have: Option<&Table>) -> Option<Vec<RowChange>> {
    let visible_equal = have.is_some_and(|have| {
        !have.is_hidden()
            && have.row_count() == want.row_count()
            && want.rows().all(|(index, row)| {
                have.row(index).is_some_and(|have_row| {
                    want.columns().iter().enumerate().all(|(i, column)| {
                        let mine = row.cell(i);
                        !mine.is_listed()
                            || have
                                .column_position(column)
                                .is_some_and(|p| have_row.cell(p) == mine)
                    })
                })
            })
    });
    if visible_equal || (want.row_count() == 0 && have.is_none()) {
        return None;
    }
    Some(
        want.rows()
            .map(|(index, row)| RowChange::Add {
                index: index.clone(),
                cells: declared(want, row),
                defaulted: Vec::new(),
            })
            .collect(),
    )
}

fn diff_table(
    want: &Table,
    have: Option<&Table>,
    prune: bool,
    options: &DiffOptions,
) -> Vec<RowChange> {
    // Map each desired column to the device's column position once per table.
    let have_pos: Vec<Option<usize>> = want
        .columns()
        .iter()
        .map(|c| have.and_then(|h| h.column_position(c)))
        .collect();
    // And each device column to the desired position, for the whole row.
    let want_pos: Vec<Option<usize>> = have.map_or_else(Vec::new, |h| {
        h.columns()
            .iter()
            .map(|c| want.column_position(c))
            .collect()
    });
    let mut changes = Vec::new();
    for (index, row) in want.rows() {
        let have_row = have.and_then(|h| h.row(index).map(|r| (h, r)));
        match have_row {
            None => {
                let defaulted = have.map_or_else(Vec::new, |h| {
                    h.columns()
                        .iter()
                        .enumerate()
                        .filter(|(p, _)| want_pos[*p].is_none_or(|i| !row.cell(i).is_listed()))
                        .map(|(_, c)| h.short_column(c).to_string())
                        .collect()
                });
                changes.push(RowChange::Add {
                    index: index.clone(),
                    cells: declared(want, row),
                    defaulted,
                });
            }
            Some((have, have_cells)) => {
                let mut cells = Vec::new();
                for (i, column) in want.columns().iter().enumerate() {
                    let mine = row.cell(i);
                    if !mine.is_listed() {
                        continue;
                    }
                    let theirs = have_pos[i].map_or(Cell::Absent, |p| have_cells.cell(p));
                    let default = options.default_of(column);
                    // What each side means, with `$$` read as the known default.
                    let resolve = |c: Cell<'_>| -> Option<String> {
                        match c {
                            Cell::Value(v) => Some(v.to_string()),
                            Cell::Default => default.map(str::to_string),
                            Cell::Absent => None,
                        }
                    };
                    let in_sync = match (mine, theirs) {
                        (Cell::Default, Cell::Default) => true,
                        (Cell::Default, Cell::Absent) => have_pos[i].is_none(),
                        _ => resolve(mine).is_some() && resolve(mine) == resolve(theirs),
                    };
                    if !in_sync {
                        let old = theirs.value().map(str::to_string);
                        let new = mine.value().map(str::to_string);
                        let secret = is_sensitive(column)
                            || old.as_deref().is_some_and(is_device_hash)
                            || new.as_deref().is_some_and(is_device_hash);
                        cells.push(CellChange {
                            column: column.clone(),
                            old,
                            new,
                            secret,
                        });
                    }
                }
                if cells.is_empty() {
                    continue;
                }
                // The whole row: every column the device reports, in its
                // order, observed values where the desired side is silent,
                // then declared columns the device did not report.
                let mut sent: Vec<SentCell> = Vec::with_capacity(have.columns().len());
                for (p, column) in have.columns().iter().enumerate() {
                    let mine = want_pos[p].map_or(Cell::Absent, |i| row.cell(i));
                    let cell = if mine.is_listed() {
                        mine
                    } else {
                        have_cells.cell(p)
                    };
                    match cell {
                        Cell::Absent => {}
                        Cell::Default => sent.push((column.clone(), None)),
                        Cell::Value(v) => sent.push((column.clone(), Some(v.to_string()))),
                    }
                }
                for (i, column) in want.columns().iter().enumerate() {
                    if have_pos[i].is_none() {
                        match row.cell(i) {
                            Cell::Absent => {}
                            Cell::Default => sent.push((column.clone(), None)),
                            Cell::Value(v) => sent.push((column.clone(), Some(v.to_string()))),
                        }
                    }
                }
                changes.push(RowChange::Update {
                    index: index.clone(),
                    cells,
                    row: sent,
                });
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

    /// The number of changed parameters, cells, added and deleted rows
    /// (a whole secret table counts one per row, at least one).
    pub fn len(&self) -> usize {
        self.params.len()
            + self
                .tables
                .iter()
                .map(|t| {
                    let rows: usize = t
                        .rows
                        .iter()
                        .map(|r| match r {
                            RowChange::Update { cells, .. } => cells.len(),
                            _ => 1,
                        })
                        .sum();
                    if t.whole { rows.max(1) } else { rows }
                })
                .sum::<usize>()
    }

    /// Whether the incremental INI ([`Self::render_incremental`]) carries a
    /// secret value: people must be warned before it is shown or saved.
    pub fn has_secrets(&self) -> bool {
        self.params.iter().any(|p| p.secret)
            || self.tables.iter().any(|t| {
                t.whole
                    || t.rows.iter().any(|r| match r {
                        RowChange::Add { cells, .. } => cells.iter().any(|(c, v)| {
                            is_sensitive(c) || v.as_deref().is_some_and(is_device_hash)
                        }),
                        RowChange::Update { row, .. } => row.iter().any(|(c, v)| {
                            is_sensitive(c) || v.as_deref().is_some_and(is_device_hash)
                        }),
                        RowChange::Delete { .. } => false,
                    })
            })
    }

    /// The number of secret values the incremental INI carries.
    pub fn secret_count(&self) -> usize {
        let secret_cell = |c: &str, v: &Option<String>| {
            v.as_deref()
                .is_some_and(|v| is_sensitive(c) || is_device_hash(v))
        };
        self.params.iter().filter(|p| p.secret).count()
            + self
                .tables
                .iter()
                .flat_map(|t| t.rows.iter().map(move |r| (t.whole, r)))
                .map(|(whole, r)| match r {
                    RowChange::Add { cells, .. } if whole => {
                        cells.iter().filter(|(_, v)| v.is_some()).count()
                    }
                    RowChange::Add { cells, .. } => {
                        cells.iter().filter(|(c, v)| secret_cell(c, v)).count()
                    }
                    RowChange::Update { row, .. } => {
                        row.iter().filter(|(c, v)| secret_cell(c, v)).count()
                    }
                    RowChange::Delete { .. } => 0,
                })
                .sum::<usize>()
    }

    /// A copy whose secret values (those [`Self::secret_count`] counts) are
    /// replaced by the mask: its incremental INI is for people to read,
    /// never for a device.
    pub fn masked(&self) -> IniDiff {
        let mask = |v: &mut Option<String>| {
            if v.is_some() {
                *v = Some(crate::config::sensitive::MASK.to_string());
            }
        };
        let mut out = self.clone();
        for p in out.params.iter_mut().filter(|p| p.secret) {
            p.new = crate::config::sensitive::MASK.to_string();
        }
        for t in &mut out.tables {
            let whole = t.whole;
            for r in &mut t.rows {
                let cells = match r {
                    RowChange::Add { cells, .. } => cells,
                    RowChange::Update { row, .. } => row,
                    RowChange::Delete { .. } => continue,
                };
                for (c, v) in cells.iter_mut() {
                    if whole || is_sensitive(c) || v.as_deref().is_some_and(is_device_hash) {
                        mask(v);
                    }
                }
            }
        }
        out
    }

    /// Whether some rows are deleted (through the CLI script of
    /// [`Self::render_cli_deletions`], not the INI).
    pub fn has_deletions(&self) -> bool {
        self.tables
            .iter()
            .any(|t| t.rows.iter().any(|r| matches!(r, RowChange::Delete { .. })))
    }

    /// Whether there is anything for the incremental INI.
    pub fn has_ini_changes(&self) -> bool {
        !self.params.is_empty()
            || self.tables.iter().any(|t| {
                t.whole
                    || t.rows
                        .iter()
                        .any(|r| !matches!(r, RowChange::Delete { .. }))
            })
    }

    /// The incremental INI that makes the device match, as the device reads
    /// it: parameters, then per table (in dependency order) new rows with
    /// their declared cells and changed rows whole, grouped into one block
    /// per set of columns; a secret table as one block holding every
    /// declared row (an empty block deletes it). Row deletions are not in
    /// it: see [`Self::render_cli_deletions`]. `$$` appears only where the
    /// desired side asked for a default.
    pub fn render_incremental(&self) -> Result<String, RenderError> {
        let mut out = String::new();
        params_block(
            &mut out,
            self.params
                .iter()
                .map(|p| (p.name.as_str(), p.section.as_deref(), p.new.as_str())),
        )?;
        for table in &self.tables {
            if table.whole {
                // One block whose FORMAT lists every declared column.
                let mut columns: Vec<&str> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for c in &table.columns {
                    if seen.insert(key_of(c)) {
                        columns.push(c.as_str());
                    }
                }
                for row in &table.rows {
                    if let RowChange::Add { cells, .. } = row {
                        for (c, _) in cells {
                            if seen.insert(key_of(c)) {
                                columns.push(c.as_str());
                            }
                        }
                    }
                }
                let rows: Vec<RenderRow<'_>> = table
                    .rows
                    .iter()
                    .filter_map(|r| match r {
                        RowChange::Add { index, cells, .. } => Some((
                            index,
                            columns
                                .iter()
                                .map(|col| {
                                    cells
                                        .iter()
                                        .find(|(c, _)| c.eq_ignore_ascii_case(col))
                                        .and_then(|(_, v)| v.as_deref())
                                })
                                .collect(),
                        )),
                        _ => None,
                    })
                    .collect();
                table_block(
                    &mut out,
                    &table.table,
                    &table.index_columns,
                    &columns,
                    rows.into_iter(),
                )?;
                continue;
            }
            // Group rows by the exact list of columns they write.
            let mut groups: Vec<(Vec<&str>, Vec<RenderRow<'_>>)> = Vec::new();
            for row in &table.rows {
                let (index, cells): (&RowIndex, &[SentCell]) = match row {
                    RowChange::Add { index, cells, .. } => (index, cells),
                    RowChange::Update { index, row, .. } => (index, row),
                    RowChange::Delete { .. } => continue,
                };
                let columns: Vec<&str> = cells.iter().map(|(c, _)| c.as_str()).collect();
                let values = cells.iter().map(|(_, v)| v.as_deref()).collect();
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

    /// The incremental CLI script that deletes the pruned rows, children
    /// first (dependents before what they refer to: `proxy-ip` before
    /// `proxy-set`), each as `no <entity> <key>` in its top-level mode:
    /// ```text
    /// configure voip
    ///  no ip-group 3
    /// exit
    /// ```
    /// `None` when nothing is deleted. `observed` supplies the columns a
    /// CLI key is made of (`proxy-ip <set>/<index>`).
    pub fn render_cli_deletions(
        &self,
        observed: &IniDocument,
    ) -> Result<Option<String>, IniPlanError> {
        let mut lines: Vec<(&'static str, CliNode)> = Vec::new();
        for table in self.tables.iter().rev() {
            let deletes: Vec<&RowIndex> = table
                .rows
                .iter()
                .rev()
                .filter_map(|r| match r {
                    RowChange::Delete { index } => Some(index),
                    _ => None,
                })
                .collect();
            if deletes.is_empty() {
                continue;
            }
            let entity =
                catalog::cli_entity(&table.table).ok_or_else(|| IniPlanError::UnmappedPrune {
                    table: table.table.clone(),
                })?;
            let have = observed.table(&table.table);
            for index in deletes {
                let key = cli_key(entity.key, &table.table, index, have)?;
                let node = CliNode::no(&format!("{} {key}", entity.entity)).map_err(|source| {
                    IniPlanError::Cli {
                        table: table.table.clone(),
                        index: index.to_string(),
                        source,
                    }
                })?;
                lines.push((entity.mode, node));
            }
        }
        if lines.is_empty() {
            return Ok(None);
        }
        // Consecutive deletions in the same mode share one `configure`.
        let mut nodes: Vec<CliNode> = Vec::new();
        let mut current: Option<(&str, Vec<CliNode>)> = None;
        for (mode, node) in lines {
            match &mut current {
                Some((m, children)) if *m == mode => children.push(node),
                _ => {
                    if let Some((m, children)) = current.take() {
                        nodes.push(mode_node(m, children));
                    }
                    current = Some((mode, vec![node]));
                }
            }
        }
        if let Some((m, children)) = current {
            nodes.push(mode_node(m, children));
        }
        Ok(Some(CliScript { nodes }.render()))
    }

    /// Each change as (key, before, after) for people: `before` is `None`
    /// for an added row, `after` is `None` for a deleted one; a missing value
    /// reads `(default)` (parameter or `$$` cell) or `(unset)` (cell); every
    /// value passes through the redaction of [`crate::config::sensitive`].
    pub fn entries(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let mut out = Vec::with_capacity(self.len());
        let shown_cell = |column: &str, value: Option<&str>, secret: bool| match value {
            None => AT_DEFAULT.to_string(),
            Some(v) => redact_hidden(column, v, secret).into_owned(),
        };
        for p in &self.params {
            let before = p.old.as_deref().map_or_else(
                || AT_DEFAULT.into(),
                |v| redact_hidden(&p.name, v, p.secret),
            );
            out.push((
                p.name.clone(),
                Some(before.to_string()),
                Some(redact_hidden(&p.name, &p.new, p.secret).into_owned()),
            ));
        }
        for t in &self.tables {
            let short = |column: &str| short_column_of(&t.table, column).to_string();
            if t.whole {
                let after = format!(
                    "secret table replaced whole with {} row(s) (values not shown)",
                    t.rows.len()
                );
                out.push((t.table.clone(), None, Some(after)));
                continue;
            }
            for row in &t.rows {
                match row {
                    RowChange::Add {
                        index,
                        cells,
                        defaulted,
                    } => {
                        let text: Vec<String> = cells
                            .iter()
                            .map(|(c, v)| {
                                format!("{}={}", short(c), shown_cell(c, v.as_deref(), false))
                            })
                            .collect();
                        let mut after = text.join(", ");
                        if !defaulted.is_empty() || cells.is_empty() {
                            if !after.is_empty() {
                                after.push_str("; ");
                            }
                            after.push_str("other columns take their defaults");
                        }
                        out.push((format!("{}[{index}]", t.table), None, Some(after)));
                    }
                    RowChange::Update { index, cells, .. } => {
                        for c in cells {
                            let before = match &c.old {
                                Some(v) => redact_hidden(&c.column, v, c.secret).into_owned(),
                                None => "(unset)".to_string(),
                            };
                            out.push((
                                format!("{}[{index}].{}", t.table, short(&c.column)),
                                Some(before),
                                Some(shown_cell(&c.column, c.new.as_deref(), c.secret)),
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
                    RowChange::Update { index, cells, .. } => cells
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
        let whole = self
            .tables
            .iter()
            .filter(|t| t.whole && t.rows.is_empty())
            .map(|t| t.table.clone());
        params.chain(rows).chain(whole).take(n).collect()
    }
}

fn mode_node(mode: &str, children: Vec<CliNode>) -> CliNode {
    CliNode::Mode {
        opener: mode.to_string(),
        children,
    }
}

/// The CLI key of a row to delete.
fn cli_key(
    key: CliKey,
    table: &str,
    index: &RowIndex,
    have: Option<&Table>,
) -> Result<String, IniPlanError> {
    let column_value = |column: &str| -> Result<String, IniPlanError> {
        have.and_then(|h| h.cell(index, column))
            .map(str::to_string)
            .ok_or_else(|| IniPlanError::MissingKeyColumn {
                table: table.to_string(),
                index: index.to_string(),
                column: column.to_string(),
            })
    };
    Ok(match key {
        CliKey::Index => index.as_str().replace(' ', "/"),
        CliKey::Columns(columns) => columns
            .iter()
            .map(|c| column_value(c))
            .collect::<Result<Vec<_>, _>>()?
            .join("/"),
        CliKey::Column(column) => format!("\"{}\"", column_value(column)?),
    })
}

impl fmt::Display for IniDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.summary() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
