//! Desired-against-running comparison of CLI trees, and the two ways a
//! difference is shown: the smallest incremental script and a human summary.
//!
//! Only what the desired tree declares is compared (like a server-side-apply
//! field manager): a desired entry may name fewer settings than the running
//! one has. Nothing is removed by omission: removals come only from `no`
//! lines in the desired tree and from the entries a [`CliPrune`] names. A
//! setting the running tree does not list holds its default, when
//! [`CliDefaults`] knows it.

use std::fmt;

use super::apply::{find_leaf, find_mode, find_path, insert_at, intent_of, state_of};
use super::lex;
use super::{CliDefaults, CliError, CliNode, CliScript, shown};

/// How to compare: which entries the desired tree owns completely, and what
/// the device leaves out of its running configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CliDiffOptions {
    /// Running entries of these kinds that the desired tree does not declare
    /// are deleted.
    pub prune: CliPrune,
    /// Known defaults: a desired setting the running tree does not list is in
    /// sync when its value is the default, and a desired `no <key>` is in
    /// sync when the running tree lists the default value.
    pub defaults: CliDefaults,
}

impl From<CliPrune> for CliDiffOptions {
    /// Prunes as `prune` says, knowing no default.
    fn from(prune: CliPrune) -> CliDiffOptions {
        CliDiffOptions {
            prune,
            defaults: CliDefaults::default(),
        }
    }
}

/// Which entries the desired tree owns completely: running entries of these
/// kinds that the desired tree does not declare are deleted with `no`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CliPrune {
    rules: Vec<PruneRule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct PruneRule {
    /// Normalised openers of the mode holding the entries.
    parent: Vec<String>,
    /// Normalised words of the entry keyword, without its index.
    entry: Vec<String>,
}

impl CliPrune {
    /// Prunes nothing.
    pub fn new() -> CliPrune {
        CliPrune::default()
    }

    /// Adds a rule: `path` is the openers of the parent mode followed by the
    /// entry keyword without its index, e.g. `["configure voip", "proxy-ip"]`
    /// (prunes `proxy-ip 0/0`, `proxy-ip 1/3`, … directly under
    /// `configure voip`).
    pub fn with<I, S>(mut self, path: I) -> Result<CliPrune, CliError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let raw: Vec<String> = path.into_iter().map(|p| p.as_ref().to_owned()).collect();
        let bad = |reason| CliError::InvalidPrunePath {
            path: raw.join(" / "),
            reason,
        };
        let mut words: Vec<String> = Vec::with_capacity(raw.len());
        for element in &raw {
            if lex::tokenize(element).map_or(true, |t| t.is_empty()) {
                return Err(bad(
                    "every element must be an opener, without unbalanced quotes",
                ));
            }
            words.push(lex::normalise(element));
        }
        let Some((entry, parent)) = words.split_last() else {
            return Err(bad(
                "name the parent mode and the entry keyword, e.g. `configure voip / proxy-ip`",
            ));
        };
        let is_configure =
            |p: &String| lex::first_word(p) == "configure" && lex::split_words(p).len() >= 2;
        if !parent.first().is_some_and(is_configure) {
            return Err(bad(
                "start with the `configure …` mode, e.g. `configure voip / proxy-ip`",
            ));
        }
        let entry = lex::split_words(entry);
        if entry.last().is_some_and(|w| lex::is_index(w)) {
            return Err(bad(
                "name the entry keyword without its index, e.g. `proxy-ip`",
            ));
        }
        let rule = PruneRule {
            parent: parent.to_vec(),
            entry,
        };
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
        Ok(self)
    }

    /// Whether the entry opened by `opener` under `parent` is pruned.
    fn covers(&self, parent: &[String], opener: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.parent == parent && r.matches(opener))
    }
}

impl PruneRule {
    /// The entry keyword followed by exactly one argument (its index).
    fn matches(&self, opener: &str) -> bool {
        let words = lex::split_words(opener);
        words.len() == self.entry.len() + 1 && words.starts_with(&self.entry)
    }
}

/// One thing that must change on the device. Paths are normalised openers
/// from the top (`["configure voip", "sip-interface 0"]`).
#[derive(Clone, PartialEq, Eq)]
pub enum CliChange {
    /// A setting gets a new value.
    Set {
        /// The mode holding the setting.
        path: Vec<String>,
        /// The setting's key.
        key: String,
        /// The running value; `None` when the running tree does not list it.
        old: Option<String>,
        /// The desired value.
        new: String,
    },
    /// A setting goes back to its default (`no <key>`).
    Reset {
        /// The mode holding the setting.
        path: Vec<String>,
        /// The setting's key.
        key: String,
        /// The running value.
        old: String,
    },
    /// A mode or entry is created (its settings follow as [`CliChange::Set`]).
    Create {
        /// The new mode, its opener last.
        path: Vec<String>,
    },
    /// An entry is deleted (`no <opener>`).
    Delete {
        /// The deleted entry, its opener last.
        path: Vec<String>,
    },
}

/// What must change for the running tree to match the desired one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CliDiff {
    changes: Vec<CliChange>,
}

/// Compares `desired` against `running`: settings the desired tree declares
/// with another value (or missing and not at a known default), modes it
/// declares that are missing, `no` lines in it that still have something to
/// remove, and running entries that `options.prune` names but the desired
/// tree does not declare (whether or not the desired tree mentions their
/// parent mode).
pub fn diff(desired: &CliScript, running: &CliScript, options: &CliDiffOptions) -> CliDiff {
    let desired = intent_of(&desired.nodes);
    let running = state_of(&running.nodes);
    let mut changes = Vec::new();
    // Deletions first, so a table at its row limit has room for new rows.
    for rule in &options.prune.rules {
        let Some(entries) = find_path(&running, &rule.parent) else {
            continue;
        };
        let declared = find_path(&desired, &rule.parent).unwrap_or_default();
        for node in entries {
            if let CliNode::Mode { opener, .. } = node
                && rule.matches(opener)
                && find_mode(declared, opener).is_none()
            {
                changes.push(CliChange::Delete {
                    path: child_path(&rule.parent, opener),
                });
            }
        }
    }
    walk(&mut Vec::new(), &desired, &running, options, &mut changes);
    // Deleting an entry deletes what it holds: a nested deletion is noise,
    // and would re-create the entry when the script enters it.
    let deleted: Vec<Vec<String>> = changes
        .iter()
        .filter_map(|c| match c {
            CliChange::Delete { path } => Some(path.clone()),
            _ => None,
        })
        .collect();
    changes.retain(|c| match c {
        CliChange::Delete { path } => !deleted
            .iter()
            .any(|d| d.len() < path.len() && path.starts_with(d)),
        _ => true,
    });
    CliDiff { changes }
}

fn walk(
    path: &mut Vec<String>,
    desired: &[CliNode],
    running: &[CliNode],
    options: &CliDiffOptions,
    out: &mut Vec<CliChange>,
) {
    for node in desired {
        match node {
            CliNode::Leaf { key, value } => match find_leaf(running, key) {
                Some(old) if old == value => {}
                // Also in a mode about to be created: it starts at defaults.
                None if options.defaults.lookup(path, key) == Some(value.as_str()) => {}
                old => out.push(CliChange::Set {
                    path: path.clone(),
                    key: key.clone(),
                    old: old.map(str::to_owned),
                    new: value.clone(),
                }),
            },
            CliNode::No { target } => {
                let key = lex::first_word(target);
                // A device that lists a default value is already reset.
                if let Some(old) = find_leaf(running, &key)
                    && options.defaults.lookup(path, &key) != Some(old)
                {
                    out.push(CliChange::Reset {
                        path: path.clone(),
                        key,
                        old: old.to_owned(),
                    });
                }
                // A pruned entry was already deleted by the prune pass.
                if find_mode(running, target).is_some() && !options.prune.covers(path, target) {
                    out.push(CliChange::Delete {
                        path: child_path(path, target),
                    });
                }
            }
            CliNode::Mode { opener, children } => {
                path.push(opener.clone());
                match find_mode(running, opener) {
                    Some(existing) => walk(path, children, existing, options, out),
                    None => {
                        out.push(CliChange::Create { path: path.clone() });
                        walk(path, children, &[], options, out);
                    }
                }
                path.pop();
            }
        }
    }
}

fn child_path(parent: &[String], opener: &str) -> Vec<String> {
    let mut path = parent.to_vec();
    path.push(opener.to_owned());
    path
}

impl CliDiff {
    /// Whether the running tree already matches.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes, deletions of pruned entries first, then in desired order.
    pub fn changes(&self) -> &[CliChange] {
        &self.changes
    }

    /// Keeps only the changes `keep` holds for (a caller's knowledge the
    /// trees do not have, e.g. a write-only secret known to be in sync).
    pub fn retain(&mut self, keep: impl FnMut(&CliChange) -> bool) {
        self.changes.retain(keep);
    }

    /// The changes as an incremental script tree: each touched mode entered
    /// once, holding only what changes.
    pub fn to_script(&self) -> CliScript {
        let mut nodes = Vec::new();
        for change in &self.changes {
            let (path, node) = match change {
                CliChange::Set { path, key, new, .. } => (
                    path.as_slice(),
                    Some(CliNode::Leaf {
                        key: key.clone(),
                        value: new.clone(),
                    }),
                ),
                CliChange::Reset { path, key, .. } => (
                    path.as_slice(),
                    Some(CliNode::No {
                        target: key.clone(),
                    }),
                ),
                CliChange::Create { path } => (path.as_slice(), None),
                CliChange::Delete { path } => match path.split_last() {
                    Some((opener, parent)) => (
                        parent,
                        Some(CliNode::No {
                            target: opener.clone(),
                        }),
                    ),
                    None => continue,
                },
            };
            insert_at(&mut nodes, path, node);
        }
        CliScript { nodes }
    }

    /// The smallest incremental script that makes the running tree match, for
    /// `PUT /files/cliScript/incremental`. Secrets are in clear: the device
    /// needs them. Empty when there is nothing to do.
    pub fn render_incremental(&self) -> String {
        self.to_script().render()
    }

    /// One human line per change, secrets masked, e.g.
    /// `configure voip / sip-interface 0: udp-port 5060 → 5070`,
    /// `+ configure voip / ip-group 3`, `- configure voip / proxy-ip 0/1`.
    pub fn summary(&self) -> Vec<String> {
        self.changes.iter().map(ToString::to_string).collect()
    }
}

// Display is the summary line: secrets masked, so it is safe to log.
impl fmt::Display for CliChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliChange::Set {
                path,
                key,
                old,
                new,
            } => {
                let old = old
                    .as_deref()
                    .map_or_else(|| "(unset)".to_owned(), |o| shown(key, o));
                write!(f, "{}: {key} {old} → {}", path.join(" / "), shown(key, new))
            }
            CliChange::Reset { path, key, old } => {
                write!(
                    f,
                    "{}: {key} {} → (default)",
                    path.join(" / "),
                    shown(key, old)
                )
            }
            CliChange::Create { path } => write!(f, "+ {}", path.join(" / ")),
            CliChange::Delete { path } => write!(f, "- {}", path.join(" / ")),
        }
    }
}

// Debug shows the summary line too, so `{:?}` never prints a secret.
impl fmt::Debug for CliChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CliChange({self})")
    }
}
