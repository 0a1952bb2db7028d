//! The INI parser on hostile and unusual input (issue 12): time linear in
//! the width of a FORMAT line, every line ending, NUL and invalid UTF-8
//! refused with a line number, errors that never echo a value.

use std::time::{Duration, Instant};

use mediant_operator::config::ini;

/// A table whose FORMAT line lists `columns` columns, with one row.
fn wide_table(columns: usize) -> String {
    let names: Vec<String> = (0..columns).map(|i| format!("Wide_C{i}")).collect();
    let cells: Vec<String> = (0..columns).map(|i| i.to_string()).collect();
    format!(
        "[ Wide ]\nFORMAT Wide_Index = {};\nWide 0 = {};\n[ \\Wide ]\n",
        names.join(", "),
        cells.join(", ")
    )
}

fn parse_time(columns: usize) -> Duration {
    let text = wide_table(columns);
    let started = Instant::now();
    let doc = ini::parse(&text).expect("parses");
    let took = started.elapsed();
    assert_eq!(doc.table("Wide").expect("table").columns().len(), columns);
    took
}

#[test]
fn parse_time_grows_linearly_with_the_format_width() {
    let sizes: Vec<usize> = std::env::var("WIDE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 40_000, 80_000]);
    let mut times = Vec::new();
    for &n in &sizes {
        let t = parse_time(n);
        eprintln!("FORMAT width {n}: parse {} ms", t.as_millis());
        times.push(t);
    }
    // Linear: 8x the columns may cost at most ~20x the time (noise on a
    // shared machine), where a quadratic parser pays 64x.
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        let ratio = (sizes[sizes.len() - 1] / sizes[0]) as f64;
        let grew = last.as_secs_f64() / first.as_secs_f64().max(1e-4);
        assert!(
            grew < ratio * 2.5 || last.as_millis() < 200,
            "parse time grew {grew:.1}x for {ratio}x the columns: {times:?}"
        );
    }
}

const SAMPLE: &str = ";board\n[SYSTEM Params]\nGWDEBUGLEVEL = 5\n[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Name;\nIPGroup 1 = \"ITSP\";\n[ \\IPGroup ]\n";

#[test]
fn cr_lf_and_crlf_line_endings_read_the_same() {
    let lf = ini::parse(SAMPLE).expect("LF");
    assert_eq!(
        lf.param("GWDEBUGLEVEL").map(|p| p.value.as_str()),
        Some("5")
    );
    for ending in ["\r\n", "\r"] {
        let text = SAMPLE.replace('\n', ending);
        let doc = ini::parse(&text).expect("parses");
        assert_eq!(doc, lf, "{ending:?}");
        assert!(!doc.is_empty(), "a CR-only file must not read as empty");
    }
    // Mixed endings too, and the line numbers count every kind.
    let mixed = "A = 1\rB = 2\r\nC = 'open\n";
    let err = ini::parse(mixed).expect_err("unterminated");
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn nul_bytes_and_invalid_utf8_are_refused_with_their_line() {
    let err = ini::parse("A = 1\nB = x\0y\n").expect_err("NUL");
    assert_eq!(err.line, 2, "{err}");
    assert!(err.to_string().contains("NUL"), "{err}");
    assert!(err.to_string().contains("column 6"), "{err}");
    let mut bytes = b"A = 1\r\nB = 2\r\nC = '".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"'\r\n");
    let err = ini::parse_bytes(&bytes).expect_err("not UTF-8");
    assert_eq!(err.line, 3, "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn errors_show_the_key_and_position_never_the_value() {
    for (text, key) in [
        ("Password = 'MARKER-1\n", "Password"),
        (
            "[ T ]\nFORMAT T_Index = T_A;\nT 0 = \"MARKER-2;\n[ \\T ]\n",
            "T 0",
        ),
        ("[MARKER-3 = x\n", ""),
        ("A = 'MARKER-4' tail\n", "A"),
        ("MARKER-5 words\n", ""),
        ("\rCLIPrivPass = 'MARKER-6\r", "CLIPrivPass"),
    ] {
        let err = ini::parse(text).expect_err("malformed");
        let shown = err.to_string();
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(shown.starts_with("line "), "{shown}");
        assert!(shown.contains(key), "{shown} lacks {key}");
    }
}

#[test]
fn hidden_parameters_are_recorded_and_their_values_masked() {
    let doc =
        ini::parse("[SYSTEM Params]\n;LDAPSERVERPORT is hidden but has non-default value\nA = 1\n")
            .expect("parses");
    assert!(doc.is_hidden_param("ldapserverport"));
    let desired = ini::parse("LDAPSERVERPORT = 'MARKER-7'\n").expect("parses");
    let changes = ini::diff(&desired, &doc, &ini::DiffOptions::default());
    assert!(changes.has_secrets());
    assert!(!changes.to_string().contains("MARKER"), "{changes}");
}

#[test]
fn real_device_exports_parse_and_a_noop_plan_against_them_is_empty() {
    for name in ["mediant1000-7.00A.ini", "mp124.ini"] {
        let path = format!(
            "{}/../../shared/fixtures/real-devices/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let path = if std::path::Path::new(&path).exists() {
            path
        } else {
            format!(
                "{}/../shared/fixtures/real-devices/{name}",
                env!("CARGO_MANIFEST_DIR")
            )
        };
        let Ok(bytes) = std::fs::read(&path) else {
            panic!("the real export {path} is missing (CI has ../shared beside the checkout)");
        };
        let doc = ini::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(doc.tables().count() > 10, "{name}");
        assert!(
            doc.tables().any(|t| t.is_hidden()),
            "{name} has a hidden table"
        );
        assert!(
            doc.hidden_params().count() > 0,
            "{name} has hidden parameters"
        );
        let rendered = doc.render().expect("render");
        assert_eq!(ini::parse(&rendered).expect("reparse"), doc, "{name}");
        let changes = ini::plan_diff(&doc, &doc, &ini::DiffOptions::default()).expect("plans");
        assert!(changes.is_empty(), "{name}: {changes}");
        // Debug output carries no password hash.
        assert!(!format!("{doc:?}").contains("$1$"), "{name}");
    }
}
