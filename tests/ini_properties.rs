//! Property tests of the INI engine: round trips, convergence through a
//! simulated device rewrite, and a parser that never panics.

// A test panics to report a failure: unwrap/expect are how it asserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mediant_operator::config::ini::{self, DiffOptions, IniDocument, RowIndex};
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

/// Writes a document the way a device might rewrite it: names re-cased,
/// values re-quoted, lines reordered, parameters at their default dropped,
/// every column written (unset ones at a default).
fn device_rewrite(doc: &IniDocument, defaults: &BTreeMap<String, String>) -> String {
    let mut out =
        String::from(";Board: Mediant 800\r\n;Serial Number: 42\r\n\r\n[SYSTEM Params]\r\n");
    let params: Vec<_> = doc.params().collect();
    for p in params.iter().rev() {
        let default = defaults
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&p.name));
        if default.is_some_and(|(_, d)| *d == p.value) {
            continue;
        }
        let q = if p.value.contains('"') { '\'' } else { '"' };
        let _ = write!(out, "{} ={q}{}{q}\r\n", p.name.to_uppercase(), p.value);
    }
    for t in doc.tables().collect::<Vec<_>>().into_iter().rev() {
        let name = t.name.to_lowercase();
        let _ = write!(out, "\r\n[{name}]\r\nFORMAT {name}_index = ");
        let columns: Vec<String> = t.columns().iter().map(|c| c.to_lowercase()).collect();
        let _ = write!(out, "{};\r\n", columns.join(","));
        for (index, cells) in t.rows().collect::<Vec<_>>().into_iter().rev() {
            let cells: Vec<String> = cells
                .iter()
                .map(|c| match c {
                    None => "0".to_string(),
                    Some(v) if v.contains('\'') => format!("\"{v}\""),
                    Some(v) => format!("'{v}'"),
                })
                .collect();
            let _ = write!(
                out,
                "{}  {index} = {};\r\n",
                t.name.to_uppercase(),
                cells.join(" ,")
            );
        }
        let _ = write!(out, "[ \\{} ]\r\n", t.name);
    }
    out
}

fn options() -> impl Strategy<Value = DiffOptions> {
    (
        prop::sample::subsequence(TABLES, 0..=2),
        prop::collection::btree_map(
            prop::sample::select(PARAMS).prop_map(String::from),
            value(),
            0..3,
        ),
        prop::collection::btree_map(
            prop::sample::select(PARAMS).prop_map(String::from),
            value(),
            0..3,
        ),
    )
        .prop_map(|(tables, reset, defaults)| DiffOptions {
            prune_tables: tables.iter().map(|t| t.to_lowercase()).collect(),
            reset_parameters: reset,
            defaults,
        })
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
    fn one_incremental_apply_converges_even_through_a_device_rewrite(
        desired in document(), observed in document(), options in options(),
    ) {
        // The device's values for parameters it does not list are its defaults.
        let mut device = observed.clone();
        // A plan the engine refuses (a `$$` of unknown default, a table it
        // cannot prune) sends nothing: nothing to converge.
        let Ok(changes) = ini::plan_diff(&desired, &device, &options) else {
            return Ok(());
        };
        let text = changes.render_incremental().expect("renderable");
        let incremental = ini::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        device.apply(&incremental);
        // Pruned rows go through the CLI script (`no <entity> <key>`).
        for t in &changes.tables {
            for r in &t.rows {
                if let ini::RowChange::Delete { index } = r
                    && let Some(table) = device.table_mut(&t.table)
                {
                    table.remove_row(index);
                }
            }
        }
        let again = ini::diff(&desired, &device, &options);
        prop_assert!(again.is_empty(), "after apply:\n{}\nincremental:\n{}", again, text);

        let rewritten = device_rewrite(&device, &options.defaults);
        let reread = ini::parse(&rewritten).map_err(|e| TestCaseError::fail(format!("{e}\n{rewritten}")))?;
        let after_rewrite = ini::diff(&desired, &reread, &options);
        prop_assert!(after_rewrite.is_empty(), "after rewrite:\n{}\n{}", after_rewrite, rewritten);
        prop_assert!(after_rewrite.render_incremental().expect("empty").is_empty());
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
