//! `labelSelector` and `fieldSelector` query parameters: parsing (a bad
//! selector is a `400 BadRequest`) and matching against stored objects.

use std::collections::BTreeMap;

use serde_json::Value;

use super::object;
use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum LabelRequirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl LabelRequirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Exists(k) => labels.contains_key(k),
            Self::NotExists(k) => !labels.contains_key(k),
            Self::Equals(k, v) => labels.get(k) == Some(v),
            // As in Kubernetes, `!=` also matches objects without the label.
            Self::NotEquals(k, v) => labels.get(k) != Some(v),
            Self::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Self::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
        }
    }
}

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<LabelRequirement>);

fn bad_label(requirement: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: {why} in \"{requirement}\""
    ))
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// Splits at commas outside parentheses (`a in (x,y),b` is two requirements).
fn split_top_level(selector: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&selector[start..]);
    parts
}

impl LabelSelector {
    /// Parses the Kubernetes label selector syntax (`k`, `!k`, `k=v`, `k==v`,
    /// `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma-separated).
    pub fn parse(selector: &str) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        if selector.trim().is_empty() {
            return Ok(Self(requirements));
        }
        for raw in split_top_level(selector) {
            let req = raw.trim();
            if req.is_empty() {
                return Err(bad_label(selector, "empty requirement"));
            }
            requirements.push(Self::parse_requirement(req)?);
        }
        Ok(Self(requirements))
    }

    fn parse_requirement(req: &str) -> Result<LabelRequirement, ApiError> {
        if let Some(key) = req.strip_prefix('!') {
            let key = key.trim();
            return if valid_key(key) {
                Ok(LabelRequirement::NotExists(key.to_owned()))
            } else {
                Err(bad_label(req, "invalid label key"))
            };
        }
        if let Some(open) = req.find('(') {
            let close = req
                .rfind(')')
                .filter(|c| *c > open && req[c + 1..].trim().is_empty())
                .ok_or_else(|| bad_label(req, "expected ')'"))?;
            let head: Vec<&str> = req[..open].split_whitespace().collect();
            let values: Vec<String> = req[open + 1..close]
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect();
            return match head.as_slice() {
                [key, "in"] if valid_key(key) => {
                    Ok(LabelRequirement::In((*key).to_owned(), values))
                }
                [key, "notin"] if valid_key(key) => {
                    Ok(LabelRequirement::NotIn((*key).to_owned(), values))
                }
                _ => Err(bad_label(req, "expected 'in' or 'notin'")),
            };
        }
        let (key, value, negated) = if let Some((k, v)) = req.split_once("!=") {
            (k, v, true)
        } else if let Some((k, v)) = req.split_once("==") {
            (k, v, false)
        } else if let Some((k, v)) = req.split_once('=') {
            (k, v, false)
        } else {
            return if valid_key(req) {
                Ok(LabelRequirement::Exists(req.to_owned()))
            } else {
                Err(bad_label(req, "invalid label key"))
            };
        };
        let (key, value) = (key.trim(), value.trim());
        if !valid_key(key) {
            return Err(bad_label(req, "invalid label key"));
        }
        Ok(if negated {
            LabelRequirement::NotEquals(key.to_owned(), value.to_owned())
        } else {
            LabelRequirement::Equals(key.to_owned(), value.to_owned())
        })
    }

    /// Whether the object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let labels = object::labels(obj);
        self.0.iter().all(|r| r.matches(&labels))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Name,
    Namespace,
}

/// A parsed `fieldSelector` limited to `metadata.name` and
/// `metadata.namespace`, the fields every resource supports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(Field, String, bool)>);

impl FieldSelector {
    /// Parses `field=value`, `field==value` and `field!=value` terms.
    pub fn parse(selector: &str, namespaced: bool) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        if selector.trim().is_empty() {
            return Ok(Self(terms));
        }
        for raw in selector.split(',') {
            let term = raw.trim();
            let (field, value, negated) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{selector}'; can't understand '{term}'"
                )));
            };
            let field = match field.trim() {
                "metadata.name" => Field::Name,
                "metadata.namespace" if namespaced => Field::Namespace,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "field label not supported: {other}"
                    )));
                }
            };
            terms.push((field, value.trim().to_owned(), negated));
        }
        Ok(Self(terms))
    }

    /// Whether the object satisfies every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, value, negated)| {
            let actual = match field {
                Field::Name => object::meta_str(obj, "name"),
                Field::Namespace => object::meta_str(obj, "namespace"),
            }
            .unwrap_or("");
            (actual == value) != *negated
        })
    }
}
