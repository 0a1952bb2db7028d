//! The simulator tests' own reading of INI text, so that they judge the
//! simulator neither by the client's parser nor by the simulator's: a dump
//! is parameters (name → value) and tables (name → rows → column → value),
//! names case-insensitive, values unquoted, order and layout ignored — the
//! "semantic" comparison the v7.4 document asks for ("The uploaded file gets
//! transformed by the device; therefore the file content will differ when
//! you download it").

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

pub mod http;

/// One table of a dump.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DumpTable {
    /// Shown only as a commented title (no `FORMAT` line).
    pub secret: bool,
    /// Column names (short, lower case) in `FORMAT` order.
    pub columns: Vec<String>,
    /// Rows by index text: column (short, lower case) → value.
    pub rows: BTreeMap<String, BTreeMap<String, String>>,
}

impl DumpTable {
    /// A cell by row index and column name (short or full).
    pub fn cell(&self, index: &str, column: &str) -> Option<&str> {
        let column = column.to_ascii_lowercase();
        let short = column.rsplit_once('_').map_or(column.as_str(), |(_, c)| c);
        self.rows
            .get(index)
            .and_then(|r| r.get(short).or_else(|| r.get(&column)))
            .map(String::as_str)
    }

    /// Number of rows.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }
}

/// A dump read for comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dump {
    /// Parameters: lower-case name → value.
    pub params: BTreeMap<String, String>,
    /// `;X is hidden but has non-default value` names, lower case.
    pub hidden: BTreeSet<String>,
    /// Tables by lower-case name.
    pub tables: BTreeMap<String, DumpTable>,
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) && !v[1..v.len() - 1].contains(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

fn fields(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c == ',' => out.push(unquote(&std::mem::take(&mut cur))),
            None => cur.push(c),
        }
    }
    out.push(unquote(&cur));
    out
}

impl Dump {
    /// Reads a dump; panics on text it cannot read (a test failure).
    pub fn read(text: &str) -> Dump {
        let mut dump = Dump::default();
        let mut table: Option<(String, DumpTable)> = None;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(c) = line.strip_prefix(';') {
                if table.is_none()
                    && let Some(name) = c.trim().strip_suffix("is hidden but has non-default value")
                {
                    dump.hidden.insert(name.trim().to_ascii_lowercase());
                }
                continue;
            }
            if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let inner = inner.trim();
                if let Some(end) = inner.strip_prefix('\\') {
                    let (name, t) = table
                        .take()
                        .unwrap_or_else(|| panic!("end {end} without title"));
                    assert!(
                        name.eq_ignore_ascii_case(end.trim()),
                        "end {end} inside {name}"
                    );
                    dump.tables.insert(name.to_ascii_lowercase(), t);
                } else if inner.ends_with("Params") || inner.contains(' ') {
                    // A parameter section.
                } else {
                    table = Some((
                        inner.to_string(),
                        DumpTable {
                            secret: true,
                            ..DumpTable::default()
                        },
                    ));
                }
                continue;
            }
            match &mut table {
                Some((name, t)) => {
                    let (left, right) = line.split_once('=').expect("table line with '='");
                    let right = right.trim().trim_end_matches(';');
                    if left.trim().to_ascii_lowercase().starts_with("format") {
                        t.secret = false;
                        let prefix = format!("{}_", name.to_ascii_lowercase());
                        t.columns = right
                            .split(',')
                            .map(|c| {
                                let c = c.trim().to_ascii_lowercase();
                                c.strip_prefix(&prefix).map_or(c.clone(), str::to_string)
                            })
                            .collect();
                    } else {
                        let index = left
                            .split_whitespace()
                            .skip(1)
                            .collect::<Vec<_>>()
                            .join(" ");
                        let values = fields(right);
                        assert_eq!(values.len(), t.columns.len(), "row {index} of {name}");
                        t.rows.insert(
                            index.replace(' ', ""),
                            t.columns.iter().cloned().zip(values).collect(),
                        );
                    }
                }
                None => {
                    let (name, value) = line.split_once('=').expect("parameter line with '='");
                    dump.params
                        .insert(name.trim().to_ascii_lowercase(), unquote(value));
                }
            }
        }
        assert!(table.is_none(), "unclosed table");
        dump
    }

    /// A parameter's value by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// A table by case-insensitive name.
    pub fn table(&self, name: &str) -> Option<&DumpTable> {
        self.tables.get(&name.to_ascii_lowercase())
    }

    /// What differs between two dumps, described (empty when equal).
    pub fn differences(&self, other: &Dump) -> Vec<String> {
        let mut out = Vec::new();
        let names: BTreeSet<&String> = self.params.keys().chain(other.params.keys()).collect();
        for n in names {
            if self.params.get(n) != other.params.get(n) {
                out.push(format!(
                    "parameter {n}: {:?} vs {:?}",
                    self.params.get(n),
                    other.params.get(n)
                ));
            }
        }
        if self.hidden != other.hidden {
            out.push(format!(
                "hidden parameters: {:?} vs {:?}",
                self.hidden, other.hidden
            ));
        }
        let tables: BTreeSet<&String> = self.tables.keys().chain(other.tables.keys()).collect();
        for t in tables {
            match (self.tables.get(t), other.tables.get(t)) {
                (Some(a), Some(b)) if a.secret != b.secret => {
                    out.push(format!("table {t}: secret {} vs {}", a.secret, b.secret))
                }
                (Some(a), Some(b)) => {
                    let keys: BTreeSet<&String> = a.rows.keys().chain(b.rows.keys()).collect();
                    for k in keys {
                        if a.rows.get(k) != b.rows.get(k) {
                            out.push(format!(
                                "table {t} row {k}: {:?} vs {:?}",
                                a.rows.get(k),
                                b.rows.get(k)
                            ));
                        }
                    }
                }
                (a, b) => out.push(format!(
                    "table {t}: present {} vs {}",
                    a.is_some(),
                    b.is_some()
                )),
            }
        }
        out
    }
}
