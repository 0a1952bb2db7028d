//! Convergence under the device's own reading of an upload (issue 8): the
//! incremental INI the engine writes is interpreted by the SIMULATOR's
//! interpreter (built from the AudioCodes manuals, sharing nothing with the
//! client: a row line replaces the whole row, unlisted columns take their
//! defaults, `$$` is the default), and the device's re-rendering is read
//! back. Properties: one apply converges (the next diff is empty), and no
//! cell the desired side does not declare ever changes.

use std::fmt::Write as _;

use mediant_operator::config::ini::{self, DiffOptions, IniDocument};
use mediant_operator::simulator::firmware::interpret_upload;
use proptest::prelude::*;

/// Tables the simulator's catalogue does not know: it keeps them as they
/// come, so random values are never refused for their kind.
const TABLES: &[&str] = &["AcmeRoutes", "AcmeUsers"];
const COLUMNS: &[&str] = &["Alpha", "Beta", "Gamma", "Delta", "Epsilon"];
const PARAMS: &[&str] = &["AcmeLevel", "AcmeMode", "AcmeName"];

fn value() -> impl Strategy<Value = String> {
    prop::sample::select(&["0", "1", "7", "x", "two words", "10.0.0.1", ""][..])
        .prop_map(String::from)
}

/// Rows by index, each with its cells.
type Rows = Vec<(u32, Vec<String>)>;
/// A device table: its width (a prefix of COLUMNS, at least two) and rows.
type TableSpec = (usize, Rows);
/// A desired table: the COLUMNS it lists, and rows.
type DesiredTable = (Vec<usize>, Rows);

fn device_table() -> impl Strategy<Value = TableSpec> {
    (2..=COLUMNS.len()).prop_flat_map(|width| {
        (
            Just(width),
            prop::collection::vec((0u32..6, prop::collection::vec(value(), width)), 1..5),
        )
    })
}

/// The device's dump: every row with every column, as devices write them.
fn device_dump(params: &[(usize, String)], tables: &[TableSpec]) -> String {
    let mut out = String::from("[SYSTEM Params]\r\n");
    for (p, v) in params {
        let _ = write!(out, "{} = '{v}'\r\n", PARAMS[*p]);
    }
    for (name, (width, rows)) in TABLES.iter().zip(tables) {
        let cols: Vec<String> = COLUMNS[..*width]
            .iter()
            .map(|c| format!("{name}_{c}"))
            .collect();
        let _ = write!(
            out,
            "\r\n[ {name} ]\r\nFORMAT {name}_Index = {};\r\n",
            cols.join(", ")
        );
        let mut seen = std::collections::BTreeSet::new();
        for (index, cells) in rows {
            if !seen.insert(*index) {
                continue;
            }
            let cells: Vec<String> = cells.iter().map(|c| format!("\"{c}\"")).collect();
            let _ = write!(out, "{name} {index} = {};\r\n", cells.join(", "));
        }
        let _ = write!(out, "\r\n[ \\{name} ]\r\n");
    }
    out
}

/// A desired document: some parameters, and per table one FORMAT line of
/// some columns (possibly one the device does not have) and some rows,
/// existing or new.
fn desired_text(params: &[(usize, String)], tables: &[DesiredTable]) -> String {
    let mut out = String::new();
    for (p, v) in params {
        let _ = writeln!(out, "{} = '{v}'", PARAMS[*p]);
    }
    for (name, (columns, rows)) in TABLES.iter().zip(tables) {
        if columns.is_empty() || rows.is_empty() {
            continue;
        }
        let cols: Vec<String> = columns
            .iter()
            .map(|c| format!("{name}_{}", COLUMNS[*c]))
            .collect();
        let _ = writeln!(
            out,
            "[ {name} ]\nFORMAT {name}_Index = {};",
            cols.join(", ")
        );
        let mut seen = std::collections::BTreeSet::new();
        for (index, cells) in rows {
            if !seen.insert(*index) {
                continue;
            }
            let cells: Vec<String> = cells
                .iter()
                .take(columns.len())
                .map(|c| format!("\"{c}\""))
                .collect();
            if cells.len() == columns.len() {
                let _ = writeln!(out, "{name} {index} = {};", cells.join(", "));
            }
        }
        let _ = writeln!(out, "[ \\{name} ]");
    }
    out
}

fn desired_table() -> impl Strategy<Value = DesiredTable> {
    (
        prop::sample::subsequence((0..COLUMNS.len()).collect::<Vec<_>>(), 1..=3),
        prop::collection::vec((0u32..8, prop::collection::vec(value(), 3)), 0..4),
    )
}

fn parse(text: &str) -> Result<IniDocument, TestCaseError> {
    ini::parse(text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn one_apply_converges_and_no_undeclared_cell_changes(
        device_params in prop::collection::vec((0..PARAMS.len(), value()), 0..3),
        device_tables in prop::collection::vec(device_table(), TABLES.len()),
        want_params in prop::collection::vec((0..PARAMS.len(), value()), 0..3),
        want_tables in prop::collection::vec(desired_table(), TABLES.len()),
    ) {
        let dump = device_dump(&device_params, &device_tables);
        // What the device shows of itself after loading the dump.
        let shown = interpret_upload(&dump, "")
            .map_err(|e| TestCaseError::fail(format!("device refused its dump: {e}\n{dump}")))?;
        let observed = parse(&shown)?;
        // A desired column the device does not have is ignored by it ("If
        // there is a syntax error in the parameter name, the value is
        // ignored"): a user error no apply can fix, so not generated.
        let want_tables: Vec<_> = want_tables
            .into_iter()
            .zip(&device_tables)
            .map(|((columns, rows), (width, _))| {
                (columns.into_iter().filter(|c| c < width).collect::<Vec<_>>(), rows)
            })
            .collect();
        // Likewise a parameter the device does not know.
        let want_params: Vec<_> = want_params
            .into_iter()
            .filter(|(p, _)| device_params.iter().any(|(q, _)| q == p))
            .collect();
        let desired = parse(&desired_text(&want_params, &want_tables))?;

        let options = DiffOptions::default();
        let changes = ini::plan_diff(&desired, &observed, &options)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let upload = changes.render_incremental().expect("renderable");
        prop_assert!(!upload.contains("$$"), "`$$` is never sent for keep:\n{upload}");
        let after_text = interpret_upload(&shown, &upload)
            .map_err(|e| TestCaseError::fail(format!("device refused the upload: {e}\n{upload}")))?;
        let after = parse(&after_text)?;

        let again = ini::diff(&desired, &after, &options);
        prop_assert!(again.is_empty(), "not converged:\n{again}\nupload:\n{upload}\ndevice:\n{after_text}");

        // No undeclared cell changed: every observed cell whose row or column
        // the desired side does not declare is what it was.
        for table in observed.tables() {
            let want = desired.table(&table.name);
            let now = after.table(&table.name);
            for (index, _) in table.rows() {
                for column in table.columns() {
                    let declared = want
                        .and_then(|w| w.row(index).map(|r| (w, r)))
                        .and_then(|(w, r)| w.column_position(column).map(|p| r.cell(p).is_listed()))
                        .unwrap_or(false);
                    if declared {
                        continue;
                    }
                    prop_assert_eq!(
                        now.and_then(|t| t.cell(index, column)),
                        table.cell(index, column),
                        "{}[{}].{} changed though undeclared\nupload:\n{}", table.name, index, column, upload
                    );
                }
            }
        }
        for p in observed.params() {
            if desired.param(&p.name).is_none() {
                prop_assert_eq!(after.param(&p.name).map(|q| q.value.clone()), Some(p.value.clone()));
            }
        }
    }
}
