//! The CLI-script engine: parse the script a Mediant writes (`show
//! running-config`, `GET /api/v1/files/cliScript`), render scripts it
//! accepts, diff a desired script against a running one, and apply an
//! incremental script to a running tree.
//!
//! # Model
//! A [`CliScript`] is a tree of modes. Its top level holds `configure …`
//! modes; inside a mode, each [`CliNode`] is a setting ([`CliNode::Leaf`],
//! `udp-port 5060`), a sub-mode or table entry ([`CliNode::Mode`],
//! `sip-interface 0`), or a removal ([`CliNode::No`], `no proxy-ip 0/1`).
//!
//! - The first word of every line is a keyword and is compared
//!   case-insensitively (stored lower-case). Values keep their case.
//! - Quotes are not semantic: `name "Voice"` equals `name Voice`. A setting's
//!   key is its first word; its value is the other words, unquoted, joined by
//!   one space (`underlying-dev vlan 1` equals `underlying-dev "vlan 1"`). A
//!   one-word line is a flag with an empty value, so `name ""` also reads as
//!   the flag `name`: to clear a setting, write `no name`.
//! - An opener is identified by its words: unquoted words lower-case, quoted
//!   words as written (write an argument whose case matters in quotes, as the
//!   device does).
//! - `activate` is not stored: rendering puts it back.
//!
//! # Which lines open a mode
//! `exit` closes a mode, but nothing marks where one opens, and indentation
//! cannot be trusted (uploaded scripts may be flush-left). The parser first
//! tries the device's own layout: one more level of indentation per mode,
//! `activate`/`exit` at the opener's indentation, every mode closed. If the
//! whole script fits that layout, indentation alone decides: a line opens a
//! mode when the next line is indented deeper, or is the `activate`/`exit` at
//! the line's own indentation (an empty mode). Otherwise a line opens a mode
//! when it is `configure …`, when it matches a known Mediant 7.4 mode or
//! table keyword (`sip-interface <n>`, `proxy-ip <n/n>`, `ntp`, `sbc routing
//! ip2ip-routing <n>`, … see `parse.rs`), or when the next line is indented
//! deeper; everything else is a setting.
//!
//! # Tolerated, on purpose
//! - Missing `exit`s at the end of the script (partial scripts omit them),
//!   and a `configure …` line while a mode is open (it can only mean the
//!   previous top-level mode ended): the open modes are closed.
//! - `#` comments (a `#` that starts a line), blank lines, CRLF or CR line
//!   ends, tabs.
//!
//! # Caveats
//! A flush-left script whose sub-mode keyword is not in the known list reads
//! that keyword as a setting; usually its `exit`s then no longer balance and
//! parsing fails naming the line, but when trailing `exit`s are missing the
//! misreading is silent. Indent such scripts, as the device does.
//!
//! # Defaults
//! A device leaves settings at their default out of `show running-config`.
//! [`diff`] takes the known defaults ([`CliDefaults`], in [`CliDiffOptions`])
//! so that a desired `udp-port 5060` is in sync with a running entry that
//! does not list `udp-port` when 5060 is its default.
//!
//! # Errors
//! Malformed text gives a [`CliError`] naming the 1-based line and what to
//! fix. No input makes the parser panic (a property test feeds it arbitrary
//! text). Error messages name keywords, never values, so a secret on a
//! malformed line is not echoed into logs or status.

mod apply;
mod defaults;
mod diff;
mod lex;
mod parse;
mod render;

use std::fmt;

pub use defaults::CliDefaults;
pub use diff::{CliChange, CliDiff, CliDiffOptions, CliPrune, diff};

use crate::config::sensitive;

/// Deepest nesting of modes the parser accepts (real scripts use four):
/// bounds recursion in render, diff and apply on hostile input.
pub const MAX_DEPTH: usize = 16;

/// A CLI script as a tree of modes (see the module docs for the rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CliScript {
    /// Top-level nodes, in script order; normally `configure …` modes.
    pub nodes: Vec<CliNode>,
}

/// One line of a script, with the lines of its mode if it opens one.
///
/// Build nodes with [`CliNode::leaf`], [`CliNode::mode`] and [`CliNode::no`],
/// which normalise and validate; hand-built nodes that put a line break in a
/// field have it rendered as a space, so they cannot smuggle in commands.
#[derive(Clone, PartialEq, Eq)]
pub enum CliNode {
    /// A setting: `key value…`.
    Leaf {
        /// The keyword, lower-case.
        key: String,
        /// The rest of the line, unquoted, words joined by one space; empty
        /// for a flag.
        value: String,
    },
    /// A mode or table entry and its content.
    Mode {
        /// The opening line, normalised (see the module docs).
        opener: String,
        /// The content, in script order.
        children: Vec<CliNode>,
    },
    /// `no <target>`: resets a setting (target = its key) or deletes an
    /// entry (target = its opener).
    No {
        /// What to remove, normalised like an opener.
        target: String,
    },
}

/// What went wrong reading a script or building a node, prune rule or
/// default rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// A `"` with no closing `"` on the same line.
    #[error("line {line}: unterminated double quote; close the quoted value on the same line")]
    UnterminatedQuote {
        /// The 1-based line number.
        line: usize,
    },
    /// An `exit` with no open mode.
    #[error(
        "line {line}: `exit` closes nothing, every mode is already closed; remove it, or \
         if the script is not indented, indent the content of the sub-mode above it"
    )]
    UnbalancedExit {
        /// The 1-based line number.
        line: usize,
    },
    /// `activate` with no open mode.
    #[error("line {line}: `activate` outside any mode; it belongs just before an entry's `exit`")]
    ActivateOutsideMode {
        /// The 1-based line number.
        line: usize,
    },
    /// A setting or `no` outside every `configure …` mode. The message
    /// does not quote the line's first word: on a mistyped line it may be a
    /// password.
    #[error(
        "line {line}: a setting is outside any `configure` mode; start the script with \
         `configure system|network|voip|troubleshoot`, and check that no `exit` above closed \
         the mode early"
    )]
    OutsideConfigure {
        /// The 1-based line number.
        line: usize,
        /// The line's first word (for callers; not in the message).
        keyword: String,
    },
    /// `configure` without a mode name.
    #[error("line {line}: `configure` needs a mode name, e.g. `configure voip`")]
    MissingModeName {
        /// The 1-based line number.
        line: usize,
    },
    /// `no` without a target.
    #[error("line {line}: `no` needs the setting or entry to remove, e.g. `no proxy-ip 0/1`")]
    MissingNoTarget {
        /// The 1-based line number.
        line: usize,
    },
    /// `exit` or `activate` followed by more words.
    #[error("line {line}: `{keyword}` takes no arguments; put it on a line of its own")]
    UnexpectedArguments {
        /// The 1-based line number.
        line: usize,
        /// `exit` or `activate`.
        keyword: &'static str,
    },
    /// A NUL or another control character (other than tab, CR, LF) in the
    /// text: no CLI line holds one, and a device would cut the line there.
    #[error(
        "line {line}, column {column}: a control character (U+{code:04X}); a CLI script cannot contain one"
    )]
    ControlCharacter {
        /// The 1-based line number.
        line: usize,
        /// The 1-based column (in characters).
        column: usize,
        /// The character's code point.
        code: u32,
    },
    /// Modes nested deeper than [`MAX_DEPTH`].
    #[error(
        "line {line}: modes nest deeper than {MAX_DEPTH} levels; a missing `exit` or a \
         staircase of indentation is the likely cause"
    )]
    TooDeep {
        /// The 1-based line number.
        line: usize,
    },
    /// A node built in code that no script line could express.
    #[error("cannot build a CLI line: {reason}")]
    InvalidNode {
        /// What is wrong (names no value).
        reason: String,
    },
    /// A prune path that cannot match any entry.
    #[error("prune path `{path}`: {reason}")]
    InvalidPrunePath {
        /// The path as given, elements joined by ` / `.
        path: String,
        /// What is wrong and how to write it instead.
        reason: &'static str,
    },
    /// A default rule that cannot match any setting.
    #[error("default for `{key}` under `{path}`: {reason}")]
    InvalidDefault {
        /// The mode path as given, elements joined by ` / `.
        path: String,
        /// The setting's key as given (never its value).
        key: String,
        /// What is wrong and how to write it instead.
        reason: String,
    },
}

impl CliError {
    /// The 1-based line the error is about, for errors that come from text.
    pub fn line(&self) -> Option<usize> {
        match self {
            CliError::UnterminatedQuote { line }
            | CliError::UnbalancedExit { line }
            | CliError::ActivateOutsideMode { line }
            | CliError::OutsideConfigure { line, .. }
            | CliError::MissingModeName { line }
            | CliError::MissingNoTarget { line }
            | CliError::UnexpectedArguments { line, .. }
            | CliError::ControlCharacter { line, .. }
            | CliError::TooDeep { line } => Some(*line),
            CliError::InvalidNode { .. }
            | CliError::InvalidPrunePath { .. }
            | CliError::InvalidDefault { .. } => None,
        }
    }
}

impl CliScript {
    /// Reads a script; see the module docs for the rules and what is tolerated.
    pub fn parse(text: &str) -> Result<CliScript, CliError> {
        parse::parse(text)
    }

    /// Writes the script in the device's style: one space of indentation per
    /// level, `exit` closing every mode, and `activate` before the `exit` of
    /// every entry below `configure` whose opener ends in an index (`0`,
    /// `0/1`). The output contains secrets unmasked: it is for the device.
    pub fn render(&self) -> String {
        render::render(&self.nodes)
    }

    /// Applies an incremental script: sets settings, creates modes and
    /// entries, and executes `no` lines. First normalises `self` to the state
    /// it describes (repeated modes merged, the last of repeated settings
    /// kept, its own `no` lines executed), as the device would.
    pub fn apply(&mut self, incremental: &CliScript) {
        let mut state = apply::state_of(&self.nodes);
        apply::execute(&mut state, &incremental.nodes, false);
        self.nodes = state;
    }

    /// The content of the mode at `path` (openers from the top, e.g.
    /// `["configure voip", "sip-interface 0"]`); the first match at each level.
    pub fn mode(&self, path: &[&str]) -> Option<&[CliNode]> {
        let path: Vec<String> = path.iter().map(|p| lex::normalise(p)).collect();
        apply::find_path(&self.nodes, &path)
    }

    /// The value of setting `key` in the mode at `path`: the last one, which
    /// is the one the device keeps.
    pub fn value(&self, path: &[&str], key: &str) -> Option<&str> {
        apply::find_leaf(self.mode(path)?, &key.trim().to_ascii_lowercase())
    }
}

impl std::str::FromStr for CliScript {
    type Err = CliError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CliScript::parse(text)
    }
}

impl CliNode {
    /// A setting; `key` must be one word, not `exit`, `activate`, `no` or
    /// `configure`; `value` must hold no line break or double quote (the CLI
    /// cannot escape one).
    pub fn leaf(key: &str, value: &str) -> Result<CliNode, CliError> {
        let words = checked_words("setting key", key)?;
        let [word] = words.as_slice() else {
            return Err(invalid("a setting key must be exactly one word"));
        };
        if value.contains(['"', '\n', '\r']) {
            return Err(invalid(format!(
                "the value of `{}` holds a double quote or line break",
                word.text
            )));
        }
        Ok(CliNode::Leaf {
            key: word.text.to_ascii_lowercase(),
            value: value.to_owned(),
        })
    }

    /// A mode or entry opened by `opener` (words as on a script line, quotes
    /// allowed), holding `children`.
    pub fn mode(opener: &str, children: Vec<CliNode>) -> Result<CliNode, CliError> {
        let words = checked_words("opener", opener)?;
        if words[0].text.eq_ignore_ascii_case("configure") && words.len() < 2 {
            return Err(invalid("`configure` needs a mode name"));
        }
        Ok(CliNode::Mode {
            opener: lex::words(&words),
            children,
        })
    }

    /// `no <target>`: `target` is a setting key or an entry's opener.
    pub fn no(target: &str) -> Result<CliNode, CliError> {
        let words = checked_words("`no` target", target)?;
        if words[0].text.eq_ignore_ascii_case("configure") {
            return Err(invalid("`no` cannot remove a `configure` mode"));
        }
        Ok(CliNode::No {
            target: lex::words(&words),
        })
    }
}

/// Splits `text` into words for a node constructor, refusing what no script
/// line could hold.
fn checked_words(what: &str, text: &str) -> Result<Vec<lex::Token>, CliError> {
    if text.contains(['\n', '\r']) {
        return Err(invalid(format!("the {what} holds a line break")));
    }
    let words = lex::tokenize(text)
        .map_err(|_| invalid(format!("the {what} has an unterminated quote")))?;
    match words.first() {
        None => Err(invalid(format!("the {what} is empty"))),
        Some(first) if lex::is_reserved(&first.text) => Err(invalid(format!(
            "the {what} starts with `{}`, which the CLI reserves",
            first.text.to_ascii_lowercase()
        ))),
        Some(_) => Ok(words),
    }
}

fn invalid(reason: impl Into<String>) -> CliError {
    CliError::InvalidNode {
        reason: reason.into(),
    }
}

/// Whether a setting's value is a secret to mask in human output: the
/// shared list, plus any CLI key naming a key (`private-key`, `pre-shared-key`).
pub fn is_secret_key(key: &str) -> bool {
    sensitive::is_sensitive(key) || key.to_ascii_lowercase().contains("key")
}

/// `value` as human output may show it: masked for secret keys, quoted when
/// it holds spaces or is empty.
fn shown(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        sensitive::MASK.to_owned()
    } else {
        lex::quote_value(value).into_owned()
    }
}

// Debug masks secret values: nodes end up in logs through `{:?}`.
impl fmt::Debug for CliNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliNode::Leaf { key, value } => {
                let value = if is_secret_key(key) {
                    sensitive::MASK
                } else {
                    value
                };
                f.debug_struct("Leaf")
                    .field("key", key)
                    .field("value", &value)
                    .finish()
            }
            CliNode::Mode { opener, children } => f
                .debug_struct("Mode")
                .field("opener", opener)
                .field("children", children)
                .finish(),
            CliNode::No { target } => f.debug_struct("No").field("target", target).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_secret_values() {
        let node = CliNode::leaf("pre-shared-key", "hunter2").unwrap();
        let shown = format!("{node:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
        let plain = format!("{:?}", CliNode::leaf("name", "Voice").unwrap());
        assert!(plain.contains("Voice"));
    }

    #[test]
    fn constructors_refuse_what_no_line_can_hold() {
        assert!(CliNode::leaf("two words", "x").is_err());
        assert!(CliNode::leaf("exit", "").is_err());
        assert!(CliNode::leaf("name", "a\nconfigure system").is_err());
        assert!(CliNode::leaf("name", "a\"b").is_err());
        assert!(CliNode::mode("", vec![]).is_err());
        assert!(CliNode::mode("configure", vec![]).is_err());
        assert!(CliNode::mode("sip-interface \"0", vec![]).is_err());
        assert!(CliNode::no("configure voip").is_err());
        let err = CliNode::leaf("password", "se\"cret")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("se\"cret"), "{err}");
    }

    #[test]
    fn constructors_normalise_like_the_parser() {
        assert_eq!(
            CliNode::mode("SIP-Interface  \"0\"", vec![]).unwrap(),
            CliNode::Mode {
                opener: "sip-interface 0".into(),
                children: vec![]
            }
        );
        assert_eq!(
            CliNode::leaf("UDP-Port", "5060").unwrap(),
            CliNode::Leaf {
                key: "udp-port".into(),
                value: "5060".into()
            }
        );
    }
}
