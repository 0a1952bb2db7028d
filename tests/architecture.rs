//! The dependency arrows of `src/lib.rs` (and ARCHITECTURE.md), enforced:
//! every `crate::<module>` a top-level module names is checked against the
//! modules it may use, and `config` against the I/O and Kubernetes crates
//! it must not touch.

use std::path::{Path, PathBuf};

/// Each top-level module and the top-level modules it must not name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "config",
        &[
            "api",
            "cmd",
            "controller",
            "device",
            "plan",
            "simulator",
            "sync",
        ],
    ),
    ("device", &["api", "cmd", "controller", "plan", "simulator"]),
    ("api", &["cmd", "controller", "device", "plan", "simulator"]),
    ("plan", &["cmd", "controller", "simulator"]),
    ("controller", &["cmd", "simulator"]),
    ("simulator", &["api", "cmd", "controller", "device", "plan"]),
    (
        "sync",
        &[
            "api",
            "cmd",
            "config",
            "controller",
            "device",
            "plan",
            "simulator",
        ],
    ),
];

/// What `config` (pure models) must not use: I/O, async, Kubernetes, HTTP.
/// (`std::net`'s address types are data and allowed; its sockets are not.)
const CONFIG_FORBIDDEN_PATHS: &[&str] = &[
    "std::fs",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "std::net::UdpSocket",
    "std::process",
    "tokio",
    "reqwest",
    "hyper",
    "axum",
    "kube",
    "k8s_openapi",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files of top-level module `module`: `src/<module>.rs` and everything
/// under `src/<module>/`.
fn files_of(module: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    rust_files(&src.join(module), &mut files);
    files
}

/// The code of a line: without `//` comments (doc comments included), so
/// prose that names a module is not a dependency.
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every top-level module named as `crate::<module>` in `text`, with its line.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = code(line);
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().next_back();
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` and `some_crate::` are not our crate.
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                found.push((n + 1, name));
            }
            rest = after;
        }
    }
    found
}

#[test]
fn every_module_keeps_to_its_arrows() {
    let mut violations = Vec::new();
    for (module, forbidden) in FORBIDDEN {
        let files = files_of(module);
        assert!(!files.is_empty(), "no files for module {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            for (line, used) in crate_paths(&text) {
                if forbidden.contains(&used.as_str()) {
                    violations.push(format!(
                        "{}:{line}: `{module}` uses `crate::{used}`",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn config_is_pure() {
    let mut violations = Vec::new();
    for file in files_of("config") {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let line = code(line);
            for path in CONFIG_FORBIDDEN_PATHS {
                let hit = line.match_indices(path).any(|(i, _)| {
                    let before = line[..i].chars().next_back();
                    let after = line[i + path.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if hit {
                    violations.push(format!(
                        "{}:{}: config uses `{path}`",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_scanner_sees_uses_and_skips_comments_and_other_crates() {
    let text = "use crate::plan::Plan;\n// crate::controller in prose\nlet x = crate::device::X; // crate::cmd\nmediant_crate::api\n$crate::sync\n";
    let found: Vec<String> = crate_paths(text).into_iter().map(|(_, m)| m).collect();
    assert_eq!(found, ["plan", "device"]);
}
