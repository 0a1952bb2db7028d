//! The record of every request the server answered, so tests can assert
//! what a client did (e.g. "no status writes during steady state").

use std::fmt;

/// The Kubernetes verb of a request, as kube-apiserver's authorizer names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// GET of one object (or its subresource).
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH (merge, strategic, JSON patch or server-side apply).
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
    /// Anything else (unknown paths, other methods).
    Other,
}

impl Verb {
    /// Whether the verb changes state.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Self::Create | Self::Update | Self::Patch | Self::Delete | Self::DeleteCollection
        )
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
            Self::Other => "other",
        };
        f.write_str(name)
    }
}

/// One answered request. Bodies are not recorded (they may hold secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The verb.
    pub verb: Verb,
    /// API group of the resource (empty for core or unknown).
    pub group: String,
    /// Plural resource name (empty when the path named no resource).
    pub resource: String,
    /// Subresource, like `status`.
    pub subresource: Option<String>,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Object name from the path.
    pub name: Option<String>,
    /// Content type of a PATCH (`application/merge-patch+json`, ...).
    pub patch_type: Option<String>,
    /// HTTP status code answered (200 for watches, whose errors come as events).
    pub code: u16,
    /// Request path without the query.
    pub path: String,
    /// Whether the client asked for `PartialObjectMetadata` (metadata
    /// only, no data), as kube's metadata lists and watches do.
    pub metadata_only: bool,
}

impl RequestRecord {
    /// `plural` or `plural/subresource`, the form [`RequestRecord::is_for`] matches.
    pub fn resource_path(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.clone(),
        }
    }

    /// Whether this request targeted `resource` (`secrets`, `mediantdevices/status`).
    pub fn is_for(&self, resource: &str) -> bool {
        self.resource_path() == resource
    }
}

impl fmt::Display for RequestRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.verb, self.path, self.code)
    }
}
