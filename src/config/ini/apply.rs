//! Applying an incremental document to a configuration, as a device does
//! with `PUT /files/ini/incremental`.

use super::model::IniDocument;
use super::{ACTION_COLUMN, ACTION_DELETE};

impl IniDocument {
    /// Merges an incremental document: sets its parameters and the cells its
    /// rows set, and deletes rows whose action cell is `Delete`. Cells a row
    /// leaves unset (`$$`) and everything it does not mention stay as they are.
    pub fn apply(&mut self, incremental: &IniDocument) {
        for p in incremental.params() {
            self.set_param_in(p.section.as_deref(), &p.name, p.value.clone());
        }
        for table in incremental.tables() {
            let action = table.column_position(ACTION_COLUMN);
            let target = self.ensure_table(&table.name);
            for (index, cells) in table.rows() {
                let delete = action
                    .and_then(|a| cells.get(a))
                    .is_some_and(|v| v.eq_ignore_ascii_case(ACTION_DELETE));
                if delete {
                    target.remove_row(index);
                    continue;
                }
                target.ensure_row(index.clone());
                for (pos, column) in table.columns().iter().enumerate() {
                    if Some(pos) == action {
                        continue;
                    }
                    if let Some(value) = cells.get(pos) {
                        target.set_cell(index.clone(), column, value);
                    }
                }
            }
        }
    }
}
