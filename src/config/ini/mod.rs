//! The INI engine: parse any INI a Mediant writes, render INI a Mediant
//! accepts, and diff a desired configuration against an observed one.
//!
//! # Model
//! An [`IniDocument`] holds scalar parameters (`Name = value`) and tables
//! (`[ IPGroup ]` with a `FORMAT` line and rows by index). Names of
//! parameters, tables and columns are case-insensitive; values are stored
//! unquoted and compared exactly. Sections (`[SIP Params]`) are remembered for
//! rendering but carry no meaning.
//!
//! # How a device reads a table row (and so how we write one)
//! AudioCodes' user manuals ("Format of ini File Table Parameters"): "The
//! Format line can include a subset of the configurable fields in a table.
//! In this case, all other fields are assigned with the pre-defined default
//! values for each configured line", and "The double dollar sign ($$) in a
//! Data line indicates the default value for the parameter." So:
//! - `$$` is the column's default ([`Cell::Default`]), never "leave as it is".
//! - A change to an existing row is sent as the whole row: every column the
//!   device reports, undeclared ones with their observed values
//!   ([`RowChange::Update::row`]). A new row sends what the desired side
//!   declares; its other columns take their defaults
//!   ([`RowChange::Add::defaulted`] says which the device reports).
//! - No INI syntax deletes one row; pruned rows are deleted through the CLI
//!   ([`IniDiff::render_cli_deletions`], [`crate::config::catalog`]).
//! - A secret table (hidden by the device, or in the catalogue) in a file
//!   replaces the device's table whole: it is managed only whole.
//!
//! # Errors
//! Malformed input gives an [`IniError`] with the 1-based line and the
//! reason; no input makes the parser panic (a property test feeds it
//! arbitrary bytes).

mod apply;
mod diff;
mod model;
mod parse;
mod render;

pub use diff::{
    AT_DEFAULT, CellChange, DiffOptions, IniDiff, IniPlanError, ParamChange, RowChange, SentCell,
    TableDiff, check_declared, check_full_upload, diff, plan_diff, validate,
};
pub use model::{Cell, IniDocument, Param, Row, RowIndex, Table};
pub use parse::{decode, parse, parse_bytes, parse_strict};
pub use render::RenderError;

pub use crate::config::catalog::table_rank;

/// A bare cell with this text is the column's default.
pub const CELL_DEFAULT: &str = "$$";

/// Malformed INI text: the line (1-based) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct IniError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong, in words a user can act on.
    pub reason: String,
}

impl IniError {
    pub(crate) fn new(line: usize, reason: String) -> Self {
        IniError { line, reason }
    }
}

impl std::str::FromStr for IniDocument {
    type Err = IniError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text)
    }
}
