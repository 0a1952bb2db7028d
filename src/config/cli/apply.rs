//! Executing scripts onto trees, and looking things up in them.

use super::CliNode;
use super::lex;

/// The state a literal tree describes: its nodes executed onto nothing.
pub(super) fn state_of(nodes: &[CliNode]) -> Vec<CliNode> {
    let mut state = Vec::new();
    execute(&mut state, nodes, false);
    state
}

/// The declared end state of a desired tree: like [`state_of`], but `no`
/// lines stay as markers ("this must not exist"), unless a later line sets
/// the same thing again.
pub(super) fn intent_of(nodes: &[CliNode]) -> Vec<CliNode> {
    let mut intent = Vec::new();
    execute(&mut intent, nodes, true);
    intent
}

/// Executes `script` onto `target` in order, as the device runs a script:
/// a setting replaces the value of the same key, a mode merges into the mode
/// with the same opener (created if missing), `no` removes the settings keyed
/// by its first word and the modes opened by its words. With `keep_markers`,
/// `no` lines are also kept, and a later setting or mode cancels them.
pub(super) fn execute(target: &mut Vec<CliNode>, script: &[CliNode], keep_markers: bool) {
    for node in script {
        match node {
            CliNode::Leaf { key, value } => {
                if keep_markers {
                    target.retain(
                        |n| !matches!(n, CliNode::No { target } if lex::first_word(target) == *key),
                    );
                }
                let existing = target.iter_mut().find_map(|n| match n {
                    CliNode::Leaf { key: k, value } if k == key => Some(value),
                    _ => None,
                });
                match existing {
                    Some(old) => old.clone_from(value),
                    None => target.push(node.clone()),
                }
            }
            CliNode::Mode { opener, children } => {
                if keep_markers {
                    target.retain(|n| !matches!(n, CliNode::No { target } if target == opener));
                }
                match mode_mut(target, opener) {
                    Some(existing) => execute(existing, children, keep_markers),
                    None => {
                        let mut created = Vec::new();
                        execute(&mut created, children, keep_markers);
                        target.push(CliNode::Mode {
                            opener: opener.clone(),
                            children: created,
                        });
                    }
                }
            }
            CliNode::No { target: removed } => {
                let key = lex::first_word(removed);
                target.retain(|n| match n {
                    CliNode::Leaf { key: k, .. } => *k != key,
                    CliNode::Mode { opener, .. } => opener != removed,
                    CliNode::No { target } => target != removed,
                });
                if keep_markers {
                    target.push(node.clone());
                }
            }
        }
    }
}

fn mode_mut<'a>(nodes: &'a mut [CliNode], opener: &str) -> Option<&'a mut Vec<CliNode>> {
    nodes.iter_mut().find_map(|n| match n {
        CliNode::Mode {
            opener: o,
            children,
        } if o == opener => Some(children),
        _ => None,
    })
}

/// The content of the first mode opened by `opener` among `nodes`.
pub(super) fn find_mode<'a>(nodes: &'a [CliNode], opener: &str) -> Option<&'a [CliNode]> {
    nodes.iter().find_map(|n| match n {
        CliNode::Mode {
            opener: o,
            children,
        } if o == opener => Some(children.as_slice()),
        _ => None,
    })
}

/// The content of the mode at `path` (normalised openers from the top).
pub(super) fn find_path<'a>(nodes: &'a [CliNode], path: &[String]) -> Option<&'a [CliNode]> {
    path.iter()
        .try_fold(nodes, |nodes, opener| find_mode(nodes, opener))
}

/// The value of the last setting keyed `key` among `nodes`.
pub(super) fn find_leaf<'a>(nodes: &'a [CliNode], key: &str) -> Option<&'a str> {
    nodes.iter().rev().find_map(|n| match n {
        CliNode::Leaf { key: k, value } if k == key => Some(value.as_str()),
        _ => None,
    })
}

/// Adds `node` (if any) under the mode at `path` in `nodes`, creating the
/// modes on the way: how an incremental tree is assembled from changes.
pub(super) fn insert_at(nodes: &mut Vec<CliNode>, path: &[String], node: Option<CliNode>) {
    let Some((opener, rest)) = path.split_first() else {
        nodes.extend(node);
        return;
    };
    match mode_mut(nodes, opener) {
        Some(children) => insert_at(children, rest, node),
        None => {
            let mut children = Vec::new();
            insert_at(&mut children, rest, node);
            nodes.push(CliNode::Mode {
                opener: opener.clone(),
                children,
            });
        }
    }
}
