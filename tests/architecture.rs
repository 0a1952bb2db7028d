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

/// A simulator source file's module path (`resources/alarms/store.rs` →
/// `["resources", "alarms", "store"]`; `mod.rs` names its directory).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).expect("below the root");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The modules a file uses, by `crate::simulator::…` and `super::…` paths,
/// each resolved to the deepest module that is a file.
fn used_modules(
    module: &[String],
    is_dir_module: bool,
    text: &str,
    known: &[Vec<String>],
) -> Vec<Vec<String>> {
    let words = |rest: &str| -> Vec<String> {
        rest.split("::")
            .map(|w| {
                w.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|w| !w.is_empty())
            .collect()
    };
    let mut paths: Vec<Vec<String>> = Vec::new();
    for (i, _) in text.match_indices("crate::simulator::") {
        let rest = &text[i + "crate::simulator::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            for m in group[..group.find('}').unwrap_or(0)].split(',') {
                paths.push(words(m.trim()));
            }
        } else {
            paths.push(words(rest));
        }
    }
    // `super::` from a file is its directory's module; from a `mod.rs`, the
    // directory's parent.
    // (A file's module path already ends in its own name, a `mod.rs`'s in
    // its directory's, so both drop the last segment.)
    let _ = is_dir_module;
    let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    for (i, _) in text.match_indices("super::") {
        if text[..i].ends_with("super::") || text[..i].ends_with(':') {
            continue;
        }
        let rest = &text[i + "super::".len()..];
        let mut found = |tail: Vec<String>| {
            let mut p = parent.clone();
            p.extend(tail);
            paths.push(p);
        };
        if let Some(group) = rest.strip_prefix('{') {
            for m in group[..group.find('}').unwrap_or(0)].split(',') {
                found(words(m.trim()));
            }
        } else if !rest.starts_with('*') {
            found(words(rest));
        }
    }
    paths
        .into_iter()
        .filter_map(|p| {
            (0..=p.len())
                .rev()
                .map(|n| p[..n].to_vec())
                .find(|prefix| known.contains(prefix))
        })
        .filter(|m| m.as_slice() != module)
        .collect()
}

/// Issue 9: the simulator is grouped with "no import circle". An edge from
/// a module to one of its own descendants (a `mod.rs` declaring and
/// re-exporting its files) is a declaration, not a use, and is not counted.
#[test]
fn simulator_files_import_no_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/simulator");
    let files = rust_files(&root);
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_of(&root, f)).collect();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).expect("source");
        // Test modules may reach anywhere; only the code counts.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let code = code.as_str();
        let is_dir = file.file_name().is_some_and(|n| n == "mod.rs");
        for used in used_modules(&modules[i], is_dir, code, &modules) {
            let descendant = used.len() > modules[i].len() && used.starts_with(&modules[i]);
            if descendant {
                continue;
            }
            if let Some(j) = modules.iter().position(|m| *m == used)
                && !edges.contains(&(i, j))
            {
                edges.push((i, j));
            }
        }
    }
    if let Some(cycle) = find_cycle(files.len(), &edges) {
        let names: Vec<String> = cycle.iter().map(|i| modules[*i].join("::")).collect();
        panic!("import circle in src/simulator: {}", names.join(" -> "));
    }
    assert!(
        edges.len() > 20,
        "the scan found only {} edges",
        edges.len()
    );
}

/// A cycle of a directed graph, if it has one (depth-first search).
fn find_cycle(nodes: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    fn visit(
        n: usize,
        edges: &[(usize, usize)],
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[n] = 1;
        stack.push(n);
        for &(_, m) in edges.iter().filter(|(a, _)| *a == n) {
            if state[m] == 1 {
                let start = stack.iter().position(|x| *x == m).unwrap_or(0);
                return Some(stack[start..].to_vec());
            }
            if state[m] == 0
                && let Some(c) = visit(m, edges, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[n] = 2;
        None
    }
    let mut state = vec![0u8; nodes];
    (0..nodes).find_map(|n| {
        if state[n] == 0 {
            visit(n, edges, &mut state, &mut Vec::new())
        } else {
            None
        }
    })
}

#[test]
fn the_circle_finder_finds_circles_and_resolves_super() {
    assert_eq!(
        find_cycle(3, &[(0, 1), (1, 2), (2, 0)]),
        Some(vec![0, 1, 2])
    );
    assert_eq!(find_cycle(3, &[(0, 1), (1, 2), (0, 2)]), None);
    let known = vec![
        vec!["device".to_string()],
        vec![
            "resources".to_string(),
            "alarms".to_string(),
            "store".to_string(),
        ],
    ];
    let used = used_modules(
        &known[1],
        false,
        "use super::super::x;\nuse crate::simulator::device::{Device, DeviceInfo};\n",
        &known,
    );
    assert_eq!(used, vec![known[0].clone()]);
}

// ------------------------------------------------------------ arrows
//
// The dependency arrows of `src/lib.rs` (and ARCHITECTURE.md) between the
// top-level modules: every `crate::<module>` a module names is checked
// against the modules it may use, and `config` against the I/O and
// Kubernetes crates it must not touch.

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
    // Issue 9: `api` is types, schema, CEL and validation only; parsing
    // and merging the texts a spec names is the plan's.
    (
        "api",
        &["cmd", "config", "controller", "device", "plan", "simulator"],
    ),
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

fn arrow_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            arrow_rust_files(&path, out);
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
    arrow_rust_files(&src.join(module), &mut files);
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
fn crate_modules(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = code(line);
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().next_back();
            let after = &rest[i + "crate::".len()..];
            // `$crate::` and `some_crate::` are not our crate.
            let ours = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
            let names: Vec<String> = match after.strip_prefix('{') {
                // `crate::{a, b::c}` on one line.
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .map(|m| {
                        m.trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect()
                    })
                    .filter(|m: &String| !m.is_empty())
                    .collect(),
                None => vec![
                    after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect(),
                ],
            };
            if ours {
                found.extend(names.into_iter().map(|m| (n + 1, m)));
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
            for (line, used) in crate_modules(&text) {
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
    let text = "use crate::plan::Plan;\n// crate::controller in prose\nlet x = crate::device::X; // crate::cmd\nmediant_crate::api\n$crate::sync\nuse crate::{api, config::ini};\n";
    let found: Vec<String> = crate_modules(text).into_iter().map(|(_, m)| m).collect();
    assert_eq!(found, ["plan", "device", "api", "config"]);
}
