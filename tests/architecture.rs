//! Dependency rules of DESIGN.md "Which part may use which", checked on the
//! source text.

use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The crate paths a source text uses: `crate::a::b` and the members of
/// `crate::{a, b::c}` groups, as `a::b` strings.
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for member in group[..end].split(',') {
                let m: String = member
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                if !m.is_empty() {
                    out.push(m);
                }
            }
        } else {
            let m: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(m.trim_end_matches(':').to_string());
        }
    }
    out
}

/// What of the client a simulator source uses: modules `device`, `plan`,
/// `controller`, `cmd`, the client's INI and CLI engines in `config`
/// (the simulator reads uploads with its own reader), and the client's INI
/// conventions by name.
fn client_uses(text: &str) -> Vec<String> {
    const MODULES: &[&str] = &[
        "device",
        "plan",
        "controller",
        "cmd",
        "config::ini",
        "config::cli",
        "config",
    ];
    const CONVENTIONS: &[&str] = &["ACTION_COLUMN", "ACTION_DELETE", "CELL_UNSET"];
    let mut found: Vec<String> = crate_paths(text)
        .into_iter()
        .filter(|p| {
            MODULES
                .iter()
                .any(|m| p == m || p.starts_with(&format!("{m}::")))
        })
        .map(|p| format!("crate::{p}"))
        .collect();
    for name in CONVENTIONS {
        if text.contains(name) {
            found.push((*name).to_string());
        }
    }
    found
}

#[test]
fn the_checker_sees_what_it_must_refuse() {
    assert_eq!(
        client_uses(
            "use crate::device::mediant::Client;\nuse crate::{plan, simulator::x};\nconfig::ini::ACTION_DELETE"
        ),
        [
            "crate::device::mediant::Client",
            "crate::plan",
            "ACTION_DELETE"
        ]
    );
    assert!(
        client_uses(
            "use super::device::Device;\nuse crate::simulator::firmware;\nuse crate::sync::lock;"
        )
        .is_empty()
    );
}

/// DESIGN.md: "`simulator` may use `config`'s data structures but none of
/// the client's conventions (it interprets uploads by the documents and
/// manuals itself), and never `device` or `plan`". The simulator now has
/// its own configuration model, so it uses nothing of `config` either.
#[test]
fn simulator_uses_nothing_of_the_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/simulator");
    let mut offences = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).expect("source");
        for used in client_uses(&text) {
            offences.push(format!("{}: {used}", file.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "the simulator uses the client: {offences:#?}"
    );
}
