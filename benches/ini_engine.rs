//! Parse + normalise + diff of a 10,000-line device INI against the held
//! desired model (what a reconcile pays), and with both texts parsed,
//! against a plain line diff (`similar`) of the same two texts measured in
//! the same run.
//!
//! The observed text is the desired one as a device rewrites it (names
//! re-cased, values re-quoted, rows reordered) plus three real changes: the
//! semantic diff reports exactly those three, the text diff thousands.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use mediant_operator::config::ini::{self, DiffOptions};

const COLUMNS: usize = 12;

/// A desired INI of about `lines` lines and the device's rewrite of it.
fn texts(lines: usize) -> (String, String) {
    let mut desired = String::from(";Board: Mediant 800\r\n\r\n[SYSTEM Params]\r\n\r\n");
    let mut observed =
        String::from(";Board: Mediant 800\r\n;Serial Number: 1\r\n\r\n[SYSTEM Params]\r\n\r\n");
    for i in 0..200 {
        let _ = write!(desired, "Param{i} = 'value {i}'\r\n");
        let value = if i == 7 {
            "changed".to_string()
        } else {
            format!("value {i}")
        };
        let _ = write!(observed, "PARAM{i} = \"{value}\"\r\n");
    }
    let tables = (lines - 200) / 400;
    for t in 0..tables {
        let name = format!("Table{t}");
        let columns: Vec<String> = (0..COLUMNS).map(|c| format!("{name}_Col{c}")).collect();
        for (text, upper) in [(&mut desired, false), (&mut observed, true)] {
            let shown = if upper {
                name.to_uppercase()
            } else {
                name.clone()
            };
            let _ = write!(
                text,
                "\r\n[ {shown} ]\r\n\r\nFORMAT {shown}_Index = {};\r\n",
                columns.join(", ")
            );
        }
        let mut observed_rows = Vec::new();
        for r in 0..396 {
            let cells: Vec<String> = (0..COLUMNS).map(|c| format!("\"r{r}c{c}\"")).collect();
            let _ = write!(desired, "{name} {r} = {};\r\n", cells.join(", "));
            let mut cells: Vec<String> = (0..COLUMNS).map(|c| format!("'r{r}c{c}'")).collect();
            if t == 3 && r == 100 {
                cells[5] = "'other'".into();
            }
            if !(t == 5 && r == 7) {
                observed_rows.push(format!(
                    "{} {r} = {};\r\n",
                    name.to_lowercase(),
                    cells.join(",")
                ));
            }
        }
        observed_rows.reverse();
        observed.push_str(&observed_rows.concat());
        let _ = write!(desired, "\r\n[ \\{name} ]\r\n");
        let _ = write!(observed, "[\\{name}]\r\n");
    }
    (desired, observed)
}

/// What a reconcile pays: the desired model is held (parsed once per spec
/// change); the device's dump is parsed, normalised and diffed every time.
fn semantic(desired: &ini::IniDocument, observed: &str) -> usize {
    let Ok(o) = ini::parse(observed) else {
        return usize::MAX;
    };
    ini::diff(desired, &o, &DiffOptions::default()).len()
}

/// Both texts parsed, as `ini-diff` of two files does.
fn semantic_both(desired: &str, observed: &str) -> usize {
    let (Ok(d), Ok(o)) = (ini::parse(desired), ini::parse(observed)) else {
        return usize::MAX;
    };
    ini::diff(&d, &o, &DiffOptions::default()).len()
}

fn textual(desired: &str, observed: &str) -> usize {
    similar::TextDiff::from_lines(desired, observed)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .count()
}

fn bench(c: &mut Criterion) {
    let (desired, observed) = texts(10_000);
    let model = ini::parse(&desired).expect("generated INI parses");
    let mut group = c.benchmark_group("ini_10k_lines");
    // The text diff of a reordered file takes about a second per run.
    group.sample_size(10);
    group.bench_function("semantic_parse_device_ini_and_diff", |b| {
        b.iter(|| semantic(black_box(&model), black_box(&observed)))
    });
    group.bench_function("semantic_parse_both_and_diff", |b| {
        b.iter(|| semantic_both(black_box(&desired), black_box(&observed)))
    });
    group.bench_function("text_line_diff_similar", |b| {
        b.iter(|| textual(black_box(&desired), black_box(&observed)))
    });
    group.finish();
}

criterion_group!(benches, bench);

/// Median wall time of `f` over `runs` runs.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();

    // The ratio the issue asks for, from the same inputs in the same process.
    let (desired, observed) = texts(10_000);
    let model = ini::parse(&desired).expect("generated INI parses");
    let lines = observed.lines().count();
    let semantic_changes = semantic(&model, &observed);
    let text_changes = textual(&desired, &observed);
    let s = median(21, || {
        black_box(semantic(&model, &observed));
    });
    let both = median(21, || {
        black_box(semantic_both(&desired, &observed));
    });
    let t = median(21, || {
        black_box(textual(&desired, &observed));
    });
    println!(
        "ini_10k_lines: device INI of {lines} lines; parse+normalise+diff {:.2} ms ({:.2} ms parsing both texts) \
         reports {semantic_changes} changes; text diff {:.2} ms reports {text_changes} changed lines; \
         semantic/text = {:.3}",
        s.as_secs_f64() * 1e3,
        both.as_secs_f64() * 1e3,
        t.as_secs_f64() * 1e3,
        s.as_secs_f64() / t.as_secs_f64()
    );
}
