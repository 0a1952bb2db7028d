//! References from a spec to text held elsewhere (ConfigMap and Secret
//! keys, manifest files), and the texts once loaded. Shared by every kind:
//! the one dereference (`crate::plan::dereference`) loads them for both the
//! command line and the controller.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeyRef;

/// A key of a ConfigMap holding configuration text.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap, in the MediantDevice's namespace.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// Key of the ConfigMap holding the text.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// Text a spec refers to rather than holds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceRef {
    /// A key of a ConfigMap in the resource's namespace.
    ConfigMap(ConfigMapKeyRef),
    /// A key of a Secret in the resource's namespace (its text is secret:
    /// never shown, only digested).
    Secret(SecretKeyRef),
    /// A file named in `files`, as written there (relative to the manifest).
    File(PathBuf),
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceRef::ConfigMap(r) => write!(f, "ConfigMap `{}` key `{}`", r.name, r.key),
            SourceRef::Secret(r) => write!(f, "Secret `{}` key `{}`", r.name, r.key),
            SourceRef::File(path) => write!(f, "file `{}`", path.display()),
        }
    }
}

/// The text of each referenced source, loaded by the dereference (from the
/// cluster, or from manifests and files). `Debug` names the sources, never
/// their text (a Secret's text is secret).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResolvedSources(BTreeMap<SourceRef, String>);

impl ResolvedSources {
    /// No sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the text of `source`.
    pub fn insert(&mut self, source: SourceRef, text: String) -> Option<String> {
        self.0.insert(source, text)
    }

    /// The text of `source`, if loaded.
    pub fn get(&self, source: &SourceRef) -> Option<&String> {
        self.0.get(source)
    }

    /// Forgets the text of `source`.
    pub fn remove(&mut self, source: &SourceRef) -> Option<String> {
        self.0.remove(source)
    }

    /// How many sources are loaded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sources and their texts, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&SourceRef, &String)> {
        self.0.iter()
    }
}

impl fmt::Debug for ResolvedSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}
