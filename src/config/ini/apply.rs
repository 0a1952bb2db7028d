//! Overlaying one document on another: how several desired sources merge
//! (a later source overrides an earlier one).

use super::model::{Cell, IniDocument};

impl IniDocument {
    /// Overlays `other`: its parameters replace ours, and each of its rows
    /// replaces the cells it lists (a `$$` cell becomes "the default");
    /// columns a row does not list, and everything `other` does not
    /// mention, stay as they are. This is a merge of declarations, not a
    /// model of a device upload (a device gives unlisted columns their
    /// defaults; the simulator has its own interpreter for that).
    pub fn apply(&mut self, other: &IniDocument) {
        for p in other.params() {
            self.set_param_in(p.section.as_deref(), &p.name, p.value.clone());
        }
        for name in other.hidden_params() {
            self.add_hidden_param(name);
        }
        for table in other.tables() {
            let target = self.ensure_table(&table.name);
            if table.is_hidden() {
                target.set_hidden(true);
            }
            for column in table.columns() {
                target.ensure_column(column);
            }
            for (index, cells) in table.rows() {
                target.ensure_row(index.clone());
                for (pos, column) in table.columns().iter().enumerate() {
                    match cells.cell(pos) {
                        Cell::Value(value) => target.set_cell(index.clone(), column, value),
                        Cell::Default => target.set_cell_default(index.clone(), column),
                        Cell::Absent => {}
                    }
                }
            }
        }
    }
}
