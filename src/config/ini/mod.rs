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
//! # Conventions beyond the device's own files
//! - `$$` as a bare cell means "this row does not set this column" (it
//!   reads as `None` from a [`Row`]).
//! - Deleting a row in an incremental file uses an action column:
//!   `FORMAT IPGroup_Index = IPGroup_Action;` and `IPGroup 3 = "Delete";`.
//!   [`IniDocument::apply`] honours it; a desired row may use it too, to say
//!   "this row must not exist".
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

pub use diff::{CellChange, DiffOptions, IniDiff, ParamChange, RowChange, TableDiff, diff};
pub use model::{IniDocument, Param, Row, RowIndex, Table};
pub use parse::parse;
pub use render::{RenderError, table_rank};

/// A bare cell with this text sets nothing.
pub const CELL_UNSET: &str = "$$";
/// The short name of the column that carries a row action.
pub const ACTION_COLUMN: &str = "Action";
/// The row action that deletes the row.
pub const ACTION_DELETE: &str = "Delete";

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
