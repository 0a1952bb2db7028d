//! Known default values of settings: a device leaves them out of `show
//! running-config`, so a setting missing from the running tree holds its
//! default, and a desired value equal to it is already in sync.

use std::fmt;

use super::lex;
use super::{CliError, CliNode, shown};

/// Default values of settings, by where they live and their key.
///
/// A rule's path is the openers of the mode holding the setting, from the
/// `configure …` mode down. An element that names an entry without its index
/// (`sip-interface`) matches that entry at any index (`sip-interface 0`,
/// `sip-interface 7`); an element with its index, or naming a mode that has
/// none (`ntp`), matches exactly. When several rules match a setting, the one
/// matching more elements exactly wins, then the one added first.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CliDefaults {
    rules: Vec<DefaultRule>,
}

#[derive(Clone, PartialEq, Eq)]
struct DefaultRule {
    /// Normalised words of each path element.
    path: Vec<Vec<String>>,
    /// The setting's key, lower-case.
    key: String,
    /// The default value, as [`CliNode::leaf`] takes it (unquoted).
    value: String,
}

impl CliDefaults {
    /// Knows no default.
    pub fn new() -> CliDefaults {
        CliDefaults::default()
    }

    /// Adds a default: setting `key` in the modes `path` matches (see the
    /// type docs) defaults to `value`, written unquoted as in
    /// [`CliNode::leaf`], e.g. `with(["configure voip", "sip-interface"],
    /// "udp-port", "5060")`. Adding the same path and key again replaces the
    /// value.
    pub fn with<I, S>(mut self, path: I, key: &str, value: &str) -> Result<CliDefaults, CliError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let raw: Vec<String> = path.into_iter().map(|p| p.as_ref().to_owned()).collect();
        let bad = |reason: String| CliError::InvalidDefault {
            path: raw.join(" / "),
            key: key.trim().to_owned(),
            reason,
        };
        let mut words: Vec<Vec<String>> = Vec::with_capacity(raw.len());
        for element in &raw {
            if lex::tokenize(element).map_or(true, |t| t.is_empty()) {
                return Err(bad(
                    "every path element must be an opener, without unbalanced quotes".into(),
                ));
            }
            words.push(lex::split_words(&lex::normalise(element)));
        }
        let is_configure = |w: &Vec<String>| w.len() >= 2 && w[0] == "configure";
        if !words.first().is_some_and(is_configure) {
            return Err(bad(
                "start the path with the `configure …` mode, e.g. `configure voip / sip-interface`"
                    .into(),
            ));
        }
        // The node constructor applies the rules a script line obeys.
        let (key, value) = match CliNode::leaf(key, value) {
            Ok(CliNode::Leaf { key, value }) => (key, value),
            Ok(_) => return Err(bad("not a setting".into())),
            Err(CliError::InvalidNode { reason }) => return Err(bad(reason)),
            Err(other) => return Err(bad(other.to_string())),
        };
        match self
            .rules
            .iter_mut()
            .find(|r| r.path == words && r.key == key)
        {
            Some(rule) => rule.value = value,
            None => self.rules.push(DefaultRule {
                path: words,
                key,
                value,
            }),
        }
        Ok(self)
    }

    /// Whether no default is known.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The known default of setting `key` in the mode at `path` (openers
    /// from the top, e.g. `["configure voip", "sip-interface 0"]`).
    pub fn default_of(&self, path: &[&str], key: &str) -> Option<&str> {
        let path: Vec<String> = path.iter().map(|p| lex::normalise(p)).collect();
        self.lookup(&path, &key.trim().to_ascii_lowercase())
    }

    /// [`Self::default_of`] for a normalised path and a lower-case key.
    pub(super) fn lookup(&self, path: &[String], key: &str) -> Option<&str> {
        let mut candidates = self
            .rules
            .iter()
            .filter(|r| r.key == key && r.path.len() == path.len())
            .peekable();
        // Splitting the path is the costly part: only when a rule may match.
        candidates.peek()?;
        let actual: Vec<Vec<String>> = path.iter().map(|p| lex::split_words(p)).collect();
        let mut best: Option<(usize, &DefaultRule)> = None;
        for rule in candidates {
            if let Some(score) = rule.exact_matches(&actual)
                && best.is_none_or(|(top, _)| score > top)
            {
                best = Some((score, rule));
            }
        }
        best.map(|(_, rule)| rule.value.as_str())
    }
}

impl DefaultRule {
    /// How many elements of `actual` (same length as the rule's path) the
    /// rule matches exactly, or `None` when one element does not match at
    /// all. An element matches by index when it is the rule's words plus
    /// one index word.
    fn exact_matches(&self, actual: &[Vec<String>]) -> Option<usize> {
        let mut exact = 0;
        for (want, have) in self.path.iter().zip(actual) {
            if want == have {
                exact += 1;
            } else if !(have.len() == want.len() + 1
                && have.starts_with(want)
                && have.last().is_some_and(|w| lex::is_index(w)))
            {
                return None;
            }
        }
        Some(exact)
    }
}

// Debug masks secret defaults: options end up in logs through `{:?}`.
impl fmt::Debug for CliDefaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|r| {
                let path: Vec<String> = r.path.iter().map(|w| w.join(" ")).collect();
                format!(
                    "{} / {} = {}",
                    path.join(" / "),
                    r.key,
                    shown(&r.key, &r.value)
                )
            }))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_keyword_matches_any_index_but_not_other_arguments() {
        let d = CliDefaults::new()
            .with(["configure voip", "proxy-ip"], "port", "5060")
            .unwrap();
        assert_eq!(
            d.default_of(&["configure voip", "proxy-ip 0/1"], "port"),
            Some("5060")
        );
        assert_eq!(
            d.default_of(&["configure voip", "proxy-ip"], "port"),
            Some("5060")
        );
        assert_eq!(
            d.default_of(&["configure voip", "proxy-ip x"], "port"),
            None
        );
        assert_eq!(
            d.default_of(&["configure voip", "proxy-ip 0 1"], "port"),
            None
        );
        assert_eq!(d.default_of(&["configure voip"], "port"), None);
    }

    #[test]
    fn debug_masks_secret_defaults() {
        let d = CliDefaults::new()
            .with(
                ["configure system", "snmp settings"],
                "read-only-community-string",
                "public",
            )
            .unwrap()
            .with(["configure system", "ntp"], "update-interval", "86400")
            .unwrap();
        let shown = format!("{d:?}");
        assert!(!shown.contains("public"), "{shown}");
        assert!(shown.contains("***") && shown.contains("86400"), "{shown}");
    }
}
