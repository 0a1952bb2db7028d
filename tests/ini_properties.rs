//! Property tests of the INI engine: round trips, convergence against the
//! simulator's own upload interpreter, and a parser that never panics.

use std::collections::BTreeMap;

use mediant_operator::config::ini::{self, DiffOptions, IniDocument, RowIndex};
use mediant_operator::config::sensitive;
use mediant_operator::simulator::firmware::{interpret_upload, seed_from_dump};
use proptest::prelude::*;

const TABLES: &[&str] = &["IPGroup", "ProxySet", "SIPInterface", "CodersGroup0"];
const COLUMNS: &[&str] = &["Name", "Type", "Mode", "Address", "Port", "Password"];
const PARAMS: &[&str] = &[
    "GWDEBUGLEVEL",
    "EnableSyslog",
    "SyslogServerIP",
    "CASFileName_0",
    "MediaChannels",
    "WebLogoText",
];

/// Values a device may hold: empty, numbers, addresses, text with spaces,
/// commas, semicolons and one kind of quote.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (0u32..70000).prop_map(|n| n.to_string()),
        (0u8..=255, 0u8..=255).prop_map(|(a, b)| format!("10.{a}.{b}.1")),
        "[a-zA-Z0-9 ._:,;$'-]{1,10}",
        "[a-zA-Z0-9 ._:,;$\"-]{1,10}",
    ]
}

fn cell() -> impl Strategy<Value = Option<String>> {
    prop_oneof![1 => Just(None), 5 => value().prop_map(Some)]
}

/// A table: a name, a subset of columns in some order, rows by index.
fn table() -> impl Strategy<Value = (String, Vec<String>, BTreeMap<u32, Vec<Option<String>>>)> {
    (
        prop::sample::select(TABLES),
        prop::sample::subsequence(COLUMNS, 0..=COLUMNS.len()).prop_shuffle(),
    )
        .prop_flat_map(|(name, columns)| {
            let width = columns.len();
            let rows =
                prop::collection::btree_map(0u32..12, prop::collection::vec(cell(), width), 0..6);
            (
                Just(name.to_string()),
                Just(columns.iter().map(|c| c.to_string()).collect::<Vec<_>>()),
                rows,
            )
        })
}

fn document() -> impl Strategy<Value = IniDocument> {
    let params = prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(PARAMS).prop_map(String::from),
                "[A-Za-z][A-Za-z0-9_]{0,8}"
            ],
            prop::option::of(prop::sample::select(&["SYSTEM Params", "SIP Params"][..])),
            value(),
        ),
        0..8,
    );
    let tables = prop::collection::vec(table(), 0..4);
    (params, tables).prop_map(|(params, tables)| {
        let mut doc = IniDocument::new();
        for (name, section, value) in params {
            doc.set_param_in(section, &name, value);
        }
        for (name, columns, rows) in tables {
            let t = doc.ensure_table(&name);
            for c in &columns {
                t.ensure_column(c);
            }
            for (index, cells) in rows {
                t.ensure_row(RowIndex::from(index));
                for (c, v) in columns.iter().zip(cells) {
                    if let Some(v) = v {
                        t.set_cell(RowIndex::from(index), c, v);
                    }
                }
            }
        }
        doc
    })
}

/// The simulated device the convergence property runs against: the
/// realistic 7.40A dump, as the simulator's own interpreter reads it and
/// writes it back (`GET /files/ini`), and what of it a desired state may
/// declare with values the device accepts.
struct Base {
    /// The device's own rendering.
    text: String,
    /// Scalars written quoted (text): any text is a valid value.
    text_params: Vec<String>,
    /// Other scalars with their value (numbers, enums, addresses): declared
    /// at the value the device holds.
    other_params: Vec<(String, String)>,
    /// Ordinary tables with single-number indexes.
    tables: Vec<BaseTable>,
}

/// A table of the base device and the values each of its columns may take.
struct BaseTable {
    name: String,
    /// Row indexes the device holds.
    indexes: Vec<u32>,
    /// Full column names; secrets (write-only, held as hashes) left out.
    columns: Vec<String>,
    /// Whether a column is text (written quoted).
    text: Vec<bool>,
    /// Values each column holds on the device (valid by construction).
    seen: Vec<Vec<String>>,
}

/// Splits an INI data line's cells, keeping their quotes.
fn raw_cells(values: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for ch in values.trim().trim_end_matches(';').chars() {
        match (quote, ch) {
            (None, '"' | '\'') => {
                quote = Some(ch);
                current.push(ch);
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, ',') => cells.push(std::mem::take(&mut current).trim().to_string()),
            (_, c) => current.push(c),
        }
    }
    cells.push(current.trim().to_string());
    cells
}

fn base() -> &'static Base {
    static BASE: std::sync::OnceLock<Base> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let dump = include_str!("fixtures/ini/mediant800-7.40A.ini");
        let text = interpret_upload(dump, "").expect("the simulator takes the realistic dump");
        let model = ini::parse(&text).expect("the engine reads the device's dump");
        let quoted: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let (name, value) = l.split_once('=')?;
                let value = value.trim();
                (!l.starts_with(';')
                    && !name.trim().contains(' ')
                    && (value.starts_with('\'') || value.starts_with('"')))
                .then(|| name.trim().to_ascii_lowercase())
            })
            .collect();
        let mut text_params = Vec::new();
        let mut other_params = Vec::new();
        for p in model.params() {
            if model.is_hidden_param(&p.name)
                || sensitive::is_sensitive(&p.name)
                || p.value.contains(',')
            {
                continue; // hidden, secret, or a list value
            }
            if quoted.contains(&p.name.to_ascii_lowercase()) {
                text_params.push(p.name.clone());
            } else {
                other_params.push((p.name.clone(), p.value.clone()));
            }
        }
        let mut tables = Vec::new();
        for t in model
            .tables()
            .filter(|t| !t.is_hidden() && t.row_count() > 0)
        {
            let Some(indexes) = t
                .rows()
                .map(|(i, _)| i.as_str().parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
            else {
                continue; // multi-index
            };
            // The raw cells of this table's data lines, to tell text columns.
            let prefix = format!("{} ", t.name);
            let raw: Vec<Vec<String>> = text
                .lines()
                .filter(|l| l.starts_with(&prefix))
                .filter_map(|l| Some(raw_cells(l.split_once('=')?.1)))
                .collect();
            let mut table = BaseTable {
                name: t.name.clone(),
                indexes,
                columns: Vec::new(),
                text: Vec::new(),
                seen: Vec::new(),
            };
            for (pos, column) in t.columns().iter().enumerate() {
                let seen: Vec<String> = t
                    .rows()
                    .filter_map(|(_, r)| r.get(pos).map(str::to_string))
                    .collect();
                // Write-only secrets are compared by digest, not by value.
                let secret = sensitive::is_sensitive(column)
                    || seen.iter().any(|v| sensitive::is_device_hash(v));
                if secret || seen.is_empty() {
                    continue;
                }
                let text = raw.iter().any(|cells| {
                    cells
                        .get(pos)
                        .is_some_and(|c| c.starts_with('"') || c.starts_with('\''))
                });
                let mut unique = seen;
                unique.sort();
                unique.dedup();
                table.columns.push(column.clone());
                table.text.push(text);
                table.seen.push(unique);
            }
            if !table.columns.is_empty() {
                tables.push(table);
            }
        }
        Base {
            text,
            text_params,
            other_params,
            tables,
        }
    })
}

/// Free text a device takes: letters, digits, spaces, punctuation, and one
/// kind of quote (a value with both cannot be written in INI).
fn free_text() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z0-9][a-zA-Z0-9 ._:,;'-]{0,9}",
        "[a-zA-Z0-9][a-zA-Z0-9 ._:,;\"-]{0,9}"
    ]
    .boxed()
}

/// A value for column `c` of `t`: one the device already holds there, or
/// (text columns) new text or empty.
fn cell_value(t: &'static BaseTable, c: usize) -> BoxedStrategy<String> {
    let seen = prop::sample::select(t.seen[c].clone());
    if t.text[c] {
        prop_oneof![2 => seen, 3 => free_text(), 1 => Just(String::new())].boxed()
    } else {
        seen.boxed()
    }
}

/// Rows for table `t`: existing or new indexes (below 12, the smallest row
/// limit of the device's tables), each with a value for every chosen column.
fn table_rows(
    t: &'static BaseTable,
) -> impl Strategy<Value = (Vec<usize>, Vec<(u32, Vec<String>)>)> {
    let positions: Vec<usize> = (0..t.columns.len()).collect();
    prop::sample::subsequence(positions, 1..=t.columns.len().min(4)).prop_flat_map(move |cols| {
        let index = prop_oneof![prop::sample::select(t.indexes.clone()), 0u32..12];
        let values: Vec<BoxedStrategy<String>> = cols.iter().map(|&c| cell_value(t, c)).collect();
        let row = (index, values);
        (Just(cols), prop::collection::vec(row, 1..4))
    })
}

/// A desired state over the base device: new text for some text scalars,
/// other scalars at their value, and rows of up to three tables.
fn desired() -> impl Strategy<Value = IniDocument> {
    let base = base();
    let texts = prop::collection::vec(
        (prop::sample::select(base.text_params.clone()), free_text()),
        0..4,
    );
    let others = prop::sample::subsequence(
        base.other_params.clone(),
        0..=3.min(base.other_params.len()),
    );
    let tables = prop::sample::subsequence((0..base.tables.len()).collect::<Vec<_>>(), 0..=3)
        .prop_flat_map(move |picked| {
            picked
                .into_iter()
                .map(|i| (Just(i), table_rows(&base.tables[i])))
                .collect::<Vec<_>>()
        });
    (texts, others, tables).prop_map(move |(texts, others, tables)| {
        let mut doc = IniDocument::new();
        for (name, value) in texts {
            doc.set_param(&name, value);
        }
        for (name, value) in others {
            doc.set_param(&name, value);
        }
        for (i, (cols, rows)) in tables {
            let t = &base.tables[i];
            let table = doc.ensure_table(&t.name);
            for &c in &cols {
                table.ensure_column(&t.columns[c]);
            }
            for (index, values) in rows {
                for (&c, value) in cols.iter().zip(values) {
                    table.set_cell(RowIndex::from(index), &t.columns[c], value);
                }
            }
        }
        doc
    })
}

/// The property below is not vacuous: the base device offers scalars and
/// tables to declare.
#[test]
fn the_base_device_offers_scalars_and_tables_to_declare() {
    let base = base();
    let tables: Vec<(&str, usize, usize)> = base
        .tables
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.columns.len(),
                t.text.iter().filter(|x| **x).count(),
            )
        })
        .collect();
    assert!(
        base.text_params.len() >= 3 && base.other_params.len() >= 3 && base.tables.len() >= 8,
        "text {:?}, other {:?}, tables {tables:?}",
        base.text_params,
        base.other_params
    );
}

/// Text values holding one kind of quote (and a comma), each written in
/// the upload in the other kind.
const QUOTED_TEXTS: &[&str] = &["a\"", "b'", "\"c\", d"];

/// `value` quoted for an upload: in the quote it does not hold.
fn upload_quoted(value: &str) -> String {
    if value.contains('\'') {
        format!("\"{value}\"")
    } else {
        format!("'{value}'")
    }
}

/// What the device (its reading of its own dump) and the engine hold in a
/// field after an upload, or why neither could be read.
type Held = Result<(Option<String>, Option<String>), String>;

/// Regression (was a FINDING): for a parameter or column its catalogue
/// lacks, the device wrote a text holding `"` inside double quotes
/// (`"a""`), a dump that neither it nor the engine could read back. Every
/// text field of the base device is set, one upload each, to each of
/// [`QUOTED_TEXTS`]; the device must take it and then hold it by its own
/// reading of its dump and by the engine's.
#[test]
fn a_double_quote_survives_the_device_dump_in_every_text_field() {
    let base = base();
    let mut failures: Vec<String> = Vec::new();
    let mut checked = 0usize;
    let mut check = |field: &str, value: &str, upload: String, read: &dyn Fn(&str) -> Held| {
        checked += 1;
        let outcome = interpret_upload(&base.text, &upload)
            .map_err(|e| format!("refused: {e}"))
            .and_then(|after| read(&after));
        match outcome {
            Ok((device, engine))
                if device.as_deref() == Some(value) && engine.as_deref() == Some(value) => {}
            Ok((device, engine)) => failures.push(format!(
                "{field} = {value:?}: the device holds {device:?}, the engine reads {engine:?}"
            )),
            Err(e) => failures.push(format!("{field} = {value:?}: {e}")),
        }
    };
    for name in &base.text_params {
        for value in QUOTED_TEXTS {
            let upload = format!("{name} = {}\n", upload_quoted(value));
            check(name, value, upload, &|after| {
                let held = seed_from_dump(after).map_err(|e| format!("unreadable dump: {e}"))?;
                let model = ini::parse(after).map_err(|e| format!("engine: {e}"))?;
                Ok((
                    held.param(name).map(|p| p.value.clone()),
                    model.param(name).map(|p| p.value.clone()),
                ))
            });
        }
    }
    for t in &base.tables {
        let index = t.indexes[0];
        for (column, _) in t.columns.iter().zip(&t.text).filter(|(_, text)| **text) {
            for value in QUOTED_TEXTS {
                let upload = format!(
                    "[ {name} ]\nFORMAT {name}_Index = {column};\n{name} {index} = {};\n[ \\{name} ]\n",
                    upload_quoted(value),
                    name = t.name,
                );
                check(column, value, upload, &|after| {
                    let held =
                        seed_from_dump(after).map_err(|e| format!("unreadable dump: {e}"))?;
                    let model = ini::parse(after).map_err(|e| format!("engine: {e}"))?;
                    Ok((
                        held.table(&t.name)
                            .and_then(|tb| tb.cell(&index, column))
                            .map(str::to_string),
                        model
                            .table(&t.name)
                            .and_then(|tb| tb.cell(&RowIndex::from(index), column))
                            .map(str::to_string),
                    ))
                });
            }
        }
    }
    // Not vacuous: the realistic dump has text scalars and text columns,
    // among them columns the simulator's catalogue lacks (`Account_*`).
    assert!(checked >= 100, "only {checked} fields checked");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn render_then_parse_gives_the_same_model(doc in document()) {
        let text = doc.render().expect("generated values are renderable");
        let back = ini::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, doc);
    }

    #[test]
    fn one_incremental_upload_converges_on_the_simulated_device(desired in desired()) {
        let base = base();
        let observed = ini::parse(&base.text).expect("the device's dump parses");
        let options = DiffOptions::default();
        let changes = ini::plan_diff(&desired, &observed, &options)
            .map_err(|e| TestCaseError::fail(format!("plan refused: {e}\ndesired:\n{desired:?}")))?;
        let upload = changes.render_incremental().expect("renderable");
        // The device: the simulator's own reading of the upload (by the
        // manuals: whole rows, `$$` the default, unknown names ignored),
        // answered as its `GET /files/ini`.
        let after = interpret_upload(&base.text, &upload)
            .map_err(|e| TestCaseError::fail(format!("the device refused the upload: {e}\n{upload}")))?;

        // Judged on the device's own model of what it now holds.
        let held = seed_from_dump(&after).expect("the device reads its own dump");
        for p in desired.params() {
            prop_assert_eq!(
                held.param(&p.name).map(|q| q.value.as_str()),
                Some(p.value.as_str()),
                "parameter {} after:\n{}", p.name, upload
            );
        }
        for t in desired.tables() {
            let table = held.table(&t.name);
            prop_assert!(table.is_some(), "table {} gone", t.name);
            let table = table.expect("checked");
            for (index, row) in t.rows() {
                for (column, value) in t.columns().iter().zip(row.iter()) {
                    prop_assert_eq!(
                        table.cell(index.as_str(), column),
                        value,
                        "{} {} {} after:\n{}", t.name, index, column, upload
                    );
                }
            }
        }
        // And by the engine reading the device back: nothing left to send.
        let reread = ini::parse(&after).map_err(|e| TestCaseError::fail(format!("{e}\n{after}")))?;
        let again = ini::plan_diff(&desired, &reread, &options).expect("plans");
        prop_assert!(again.is_empty(), "after the upload:\n{}\nupload:\n{}", again, upload);
        prop_assert!(again.render_incremental().expect("empty").is_empty());
    }

    #[test]
    fn the_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = ini::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn anything_the_parser_accepts_renders_back_to_itself(
        pieces in prop::collection::vec(prop::sample::select(&[
            "[", "]", " ", "\\", "FORMAT ", "T", "T_Index", "T_A", "=", ",", ";", "'", "\"", "0", "1",
            "$$", "\r\n", "\n", "A", "x y", "10.0.0.1", "[ T ]\n", "[ \\T ]\n", "FORMAT T_Index = T_A, T_B;\n",
            "T 0 = ", "T 1 = 1, \"a\";\n", "P = ", "[SIP Params]\n", ";c\n",
        ][..]), 0..60),
    ) {
        let text: String = pieces.concat();
        if let Ok(doc) = ini::parse(&text)
            && let Ok(rendered) = doc.render()
        {
            let back = ini::parse(&rendered).map_err(|e| TestCaseError::fail(format!("{e}\n{rendered}")))?;
            prop_assert_eq!(back, doc);
        }
    }
}
