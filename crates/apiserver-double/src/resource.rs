//! What the server knows about each resource it serves: where it lives in
//! the URL space and which of kube-apiserver's per-type rules apply to it.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Identifies a resource in the URL space: `group/version/plural`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    /// API group; empty for the core group (`/api/v1`).
    pub group: String,
    /// API version, like `v1` or `v1alpha1`.
    pub version: String,
    /// Lower-case plural name used in paths, like `secrets`.
    pub plural: String,
}

impl ResourceKey {
    /// The key of a `kube` resource type.
    pub fn of<K: Resource<DynamicType = ()>>() -> Self {
        Self {
            group: K::group(&()).into_owned(),
            version: K::version(&()).into_owned(),
            plural: K::plural(&()).into_owned(),
        }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}/{}", self.version, self.plural)
        } else {
            write!(f, "{}/{}/{}", self.group, self.version, self.plural)
        }
    }
}

/// Whether objects live inside a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Objects live in a namespace (`/namespaces/{ns}/...`).
    Namespaced,
    /// Objects live at cluster level.
    Cluster,
}

/// Whether the resource is compiled into kube-apiserver or served from a
/// CustomResourceDefinition; several behaviours differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A built-in type (Secret, ConfigMap, Lease, Event).
    BuiltIn,
    /// A custom resource.
    Custom,
}

/// Checks an object against the type's schema; `Err` carries the reason.
pub type Validator = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// Normalises an object before it is stored (e.g. Secret `stringData`).
pub type Normalizer = fn(&mut Value);

/// A resource the server serves, with the rules that shape its writes.
#[derive(Clone)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind, like `Secret`.
    pub kind: String,
    /// Plural path segment, like `secrets`.
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Built-in or custom.
    pub origin: Origin,
    /// Whether `/status` exists; then main-resource writes keep the old
    /// `.status` and status writes change nothing else.
    pub status_subresource: bool,
    /// Whether `metadata.generation` is maintained (set to 1 on create,
    /// incremented when anything but metadata changes).
    pub tracks_generation: bool,
    /// Whether a PUT without `metadata.resourceVersion` is accepted.
    pub allow_unconditional_update: bool,
    pub(crate) normalizer: Option<Normalizer>,
    pub(crate) validator: Option<Validator>,
}

impl fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceType")
            .field("key", &self.key())
            .field("kind", &self.kind)
            .field("scope", &self.scope)
            .field("origin", &self.origin)
            .field("status_subresource", &self.status_subresource)
            .finish_non_exhaustive()
    }
}

fn scope_of<K>() -> Scope
where
    K: Resource<DynamicType = ()>,
    K::Scope: 'static,
{
    if TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>() {
        Scope::Namespaced
    } else {
        Scope::Cluster
    }
}

fn deserializes_as<K: DeserializeOwned>() -> Validator {
    Arc::new(|value: &Value| K::deserialize(value).map(|_| ()).map_err(|e| e.to_string()))
}

impl ResourceType {
    /// A custom resource served from a CRD of type `K`: generation tracked,
    /// updates must carry `resourceVersion`, no strategic merge patch, and
    /// objects must deserialize as `K` (standing in for the CRD's schema).
    /// Add `.with_status_subresource()` when the CRD declares one.
    pub fn custom<K>() -> Self
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
        K::Scope: 'static,
    {
        Self {
            group: K::group(&()).into_owned(),
            version: K::version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            plural: K::plural(&()).into_owned(),
            scope: scope_of::<K>(),
            origin: Origin::Custom,
            status_subresource: false,
            tracks_generation: true,
            allow_unconditional_update: false,
            normalizer: None,
            validator: Some(deserializes_as::<K>()),
        }
    }

    /// A built-in type `K` from `k8s-openapi` without generation tracking or
    /// a status subresource (true of Secret, ConfigMap, Lease and Event).
    pub fn built_in<K>() -> Self
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
        K::Scope: 'static,
    {
        Self {
            group: K::group(&()).into_owned(),
            version: K::version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            plural: K::plural(&()).into_owned(),
            scope: scope_of::<K>(),
            origin: Origin::BuiltIn,
            status_subresource: false,
            tracks_generation: false,
            allow_unconditional_update: true,
            normalizer: None,
            validator: Some(deserializes_as::<K>()),
        }
    }

    /// Core v1 Secret: `stringData` is folded into base64 `data` and `type`
    /// defaults to `Opaque`, as the Secret registry does.
    pub fn secrets() -> Self {
        Self {
            normalizer: Some(normalize_secret),
            ..Self::built_in::<Secret>()
        }
    }

    /// Core v1 ConfigMap.
    pub fn config_maps() -> Self {
        Self::built_in::<ConfigMap>()
    }

    /// `events.k8s.io/v1` Event (what `kube::runtime::events::Recorder` writes).
    pub fn events() -> Self {
        Self::built_in::<Event>()
    }

    /// Core v1 Event (legacy API), stored apart from `events.k8s.io/v1`.
    pub fn core_events() -> Self {
        Self::built_in::<CoreEvent>()
    }

    /// `coordination.k8s.io/v1` Lease.
    pub fn leases() -> Self {
        Self::built_in::<Lease>()
    }

    /// Core v1 Namespace (cluster-scoped); not registered by default.
    pub fn namespaces() -> Self {
        Self::built_in::<Namespace>()
    }

    /// Declares the `/status` subresource.
    #[must_use]
    pub fn with_status_subresource(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    /// Replaces the schema check (`None` accepts any object).
    #[must_use]
    pub fn with_validator(mut self, validator: Option<Validator>) -> Self {
        self.validator = validator;
        self
    }

    /// The URL-space key.
    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            group: self.group.clone(),
            version: self.version.clone(),
            plural: self.plural.clone(),
        }
    }

    /// `apiVersion` as written in objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural` or `plural.group`, as kube-apiserver names resources in messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether objects live in namespaces.
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }
}

/// The Secret registry's normalisation: `stringData` entries overwrite
/// `data` entries (base64-encoded) and `stringData` is not stored.
fn normalize_secret(secret: &mut Value) {
    let Some(map) = secret.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if !data.is_object() {
            *data = Value::Object(serde_json::Map::new());
        }
        if let Some(data) = data.as_object_mut() {
            for (key, value) in string_data {
                if let Value::String(text) = value {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                    data.insert(key, Value::String(encoded));
                }
            }
        }
    }
    if map.get("type").is_none_or(Value::is_null) {
        map.insert("type".to_owned(), Value::String("Opaque".to_owned()));
    }
}
