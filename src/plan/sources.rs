//! Step 1 of every reconciliation, dereference: read what a resource names
//! — its target (a MediantDevice, for kinds with a `deviceRef`, or an
//! external system its spec names by endpoint), the target's credentials
//! Secret and CA bundle, and the texts the resource refers to — through
//! [`Sources`]. One dereference for both front ends: the command
//! line's manifests and files (`crate::cmd::manifests`) and the cluster's
//! API (`crate::controller::sources`). Nothing is sent to a device here.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;

use kube::ResourceExt;

use crate::api::{CaBundleSource, CredentialsSecretRef, MediantDevice, ResolvedSources, SourceRef};
use crate::device::Credentials;

use super::Category;
use super::kind::{Kind, Target};

/// Why what a resource names could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The Secret does not exist.
    #[error("Secret `{name}` (named in {field}) does not exist in namespace `{namespace}`")]
    SecretNotFound {
        /// The Secret.
        name: String,
        /// The namespace looked in.
        namespace: String,
        /// The spec field naming it.
        field: &'static str,
    },
    /// The ConfigMap does not exist.
    #[error("ConfigMap `{name}` (named in {field}) does not exist in namespace `{namespace}`")]
    ConfigMapNotFound {
        /// The ConfigMap.
        name: String,
        /// The namespace looked in.
        namespace: String,
        /// The spec field naming it.
        field: &'static str,
    },
    /// The MediantDevice a `deviceRef` names does not exist.
    #[error("MediantDevice `{name}` (named in {field}) does not exist in namespace `{namespace}`")]
    DeviceNotFound {
        /// The MediantDevice.
        name: String,
        /// The namespace looked in.
        namespace: String,
        /// The spec field naming it.
        field: &'static str,
    },
    /// The Secret or ConfigMap exists but lacks the key.
    #[error("{kind} `{name}` has no key `{key}` (named in {field})")]
    KeyMissing {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The key.
        key: String,
        /// The spec field naming it.
        field: &'static str,
    },
    /// The value is not UTF-8 text.
    #[error("{kind} `{name}` key `{key}` is not UTF-8 text")]
    NotText {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The key.
        key: String,
    },
    /// The API server did not answer the read.
    #[error("reading {kind} `{name}` failed: {source}")]
    Api {
        /// `Secret`, `ConfigMap` or `MediantDevice`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The client's error (it never holds the object's data).
        #[source]
        source: kube::Error,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Something the command line needs is not among the manifests; the
    /// message says what to add or pass.
    #[error("{0}")]
    NotInManifests(String),
    /// A text is over its size limit (checked before it is decoded or parsed).
    #[error(transparent)]
    TooLarge(#[from] crate::config::limits::TooLarge),
}

impl SourceError {
    /// The bounded category (event reason, condition reason, metric label).
    pub fn category(&self) -> Category {
        match self {
            SourceError::SecretNotFound { .. } => Category::SecretNotFound,
            SourceError::ConfigMapNotFound { .. } => Category::ConfigMapNotFound,
            SourceError::DeviceNotFound { .. } => Category::DeviceNotFound,
            SourceError::KeyMissing { .. } => Category::KeyMissing,
            SourceError::NotText { .. } => Category::NotText,
            SourceError::Api { .. } => Category::KubeApiError,
            SourceError::File { .. }
            | SourceError::NotInManifests(_)
            | SourceError::TooLarge(_) => Category::InvalidSpec,
        }
    }
}

/// The data of a Secret or ConfigMap: key → bytes. `Debug` shows the keys
/// only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SourceData {
    /// `Secret` or `ConfigMap` (for messages).
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Key → value.
    pub data: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for SourceData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceData")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SourceData {
    /// The data of Secret `name`: `data`, with `stringData` folded over it
    /// as the API server does (a manifest may hold either).
    pub fn from_secret(name: &str, secret: k8s_openapi::api::core::v1::Secret) -> Self {
        let mut data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        data.extend(
            secret
                .string_data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes())),
        );
        SourceData {
            kind: "Secret",
            name: name.to_owned(),
            data,
        }
    }

    /// The data of ConfigMap `name`: `binaryData`, with `data` over it
    /// (`data` wins on a shared key).
    pub fn from_config_map(name: &str, cm: k8s_openapi::api::core::v1::ConfigMap) -> Self {
        let mut data: BTreeMap<String, Vec<u8>> = cm
            .binary_data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        data.extend(
            cm.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes())),
        );
        SourceData {
            kind: "ConfigMap",
            name: name.to_owned(),
            data,
        }
    }

    /// The text under `key`, or an error naming the key and `field`. Its
    /// size is checked against [`crate::config::limits::Limits::text`]
    /// first: every text either front end reads passes here, once.
    pub fn text(&self, key: &str, field: &'static str) -> Result<String, SourceError> {
        let bytes = self.data.get(key).ok_or_else(|| SourceError::KeyMissing {
            kind: self.kind,
            name: self.name.clone(),
            key: key.to_owned(),
            field,
        })?;
        crate::config::limits::check_text(
            || {
                format!(
                    "{} `{}` key `{key}` (named in {field})",
                    self.kind, self.name
                )
            },
            bytes,
        )?;
        String::from_utf8(bytes.clone()).map_err(|_| SourceError::NotText {
            kind: self.kind,
            name: self.name.clone(),
            key: key.to_owned(),
        })
    }
}

/// Where the objects a resource names are read from. Implemented by the
/// manifests of `diff`/`apply -f` and by the cluster of `run`.
pub trait Sources: Sync {
    /// Secret `name` in `namespace` (`field`: the spec field naming it).
    fn secret(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> impl Future<Output = Result<SourceData, SourceError>> + Send;

    /// ConfigMap `name` in `namespace` (`data` and `binaryData` merged).
    fn config_map(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> impl Future<Output = Result<SourceData, SourceError>> + Send;

    /// MediantDevice `name` in `namespace` (the target of a `deviceRef`).
    fn device(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> impl Future<Output = Result<MediantDevice, SourceError>> + Send;

    /// The text of a file a resource from `origin` names (manifests only; a
    /// cluster has no files and validation rejects them there).
    fn file(&self, origin: Option<&Path>, path: &Path) -> Result<String, SourceError>;

    /// Credentials when the Secret `secret` could not be read (`error`):
    /// the command line may fall back to `--username`/`--password-file`.
    fn credentials_fallback(
        &self,
        namespace: &str,
        secret: &CredentialsSecretRef,
        error: SourceError,
    ) -> Result<Credentials, SourceError> {
        let _ = (namespace, secret);
        Err(error)
    }
}

/// The target a resource configures, read.
// One value per reconciliation: boxing the device buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum TargetSystem {
    /// A MediantDevice (the resource itself, or its `deviceRef`).
    Device(MediantDevice),
    /// A system other than a MediantDevice, named in the resource's spec.
    External {
        /// What kind of system (see [`super::kind::External::system`]).
        system: &'static str,
        /// Its base URL.
        endpoint: String,
    },
}

/// What a resource names, read.
pub struct Dereferenced {
    /// What the resource configures.
    pub target: TargetSystem,
    /// The target's user (`Debug` redacts the password).
    pub credentials: Credentials,
    /// The PEM CA bundle the target's `caBundle` names, if declared.
    pub ca_bundle: Option<String>,
    /// The texts the resource refers to.
    pub resolved: ResolvedSources,
}

impl std::fmt::Debug for Dereferenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            TargetSystem::Device(d) => d.metadata.name.clone().unwrap_or_default(),
            TargetSystem::External { system, endpoint } => format!("{system} {endpoint}"),
        };
        f.debug_struct("Dereferenced")
            .field("target", &target)
            .field("credentials", &self.credentials)
            .field("sources", &self.resolved.len())
            .field("ca_bundle", &self.ca_bundle.is_some())
            .finish()
    }
}

impl Dereferenced {
    /// The target MediantDevice; `None` for an external target (whose
    /// resources have no device reset policy or suspend).
    pub fn device(&self) -> Option<&MediantDevice> {
        match &self.target {
            TargetSystem::Device(d) => Some(d),
            TargetSystem::External { .. } => None,
        }
    }

    /// The target MediantDevice, to change (the command line points it at
    /// a simulated device).
    pub fn device_mut(&mut self) -> Option<&mut MediantDevice> {
        match &mut self.target {
            TargetSystem::Device(d) => Some(d),
            TargetSystem::External { .. } => None,
        }
    }

    /// The target's base URL.
    pub fn endpoint(&self) -> &str {
        match &self.target {
            TargetSystem::Device(d) => &d.spec.endpoint,
            TargetSystem::External { endpoint, .. } => endpoint,
        }
    }

    /// Whether the target's client skips TLS verification (a device's
    /// explicit `spec.tls.insecureSkipVerify`; external targets have no such
    /// option), for the front ends' warning.
    pub fn insecure_skip_verify(&self) -> bool {
        self.device()
            .and_then(|d| d.spec.tls.as_ref())
            .is_some_and(|t| t.insecure_skip_verify)
    }

    /// What the single-writer lock is taken on: the target's endpoint (one
    /// writer per device or external system, whichever resources and
    /// kinds configure it).
    pub fn lock_key(&self) -> &str {
        self.endpoint()
    }

    /// The key of the target: `namespace/name` of a device (which the
    /// reset policy belongs to), `system endpoint` of an external one.
    pub fn device_key(&self) -> String {
        match &self.target {
            // A manifest without a namespace is in `default`, as kubectl
            // reads it (and as `cmd::manifests::namespace_of` keys it).
            TargetSystem::Device(d) => format!(
                "{}/{}",
                d.namespace().unwrap_or_else(|| "default".to_owned()),
                d.name_any()
            ),
            TargetSystem::External { system, endpoint } => format!("{system} {endpoint}"),
        }
    }
}

/// Reads everything `resource` (in `namespace`, read from `origin` when it
/// came from a file) names: the target, its credentials and CA bundle, then
/// the resource's own texts, in that order.
pub async fn dereference<K: Kind>(
    sources: &impl Sources,
    namespace: &str,
    origin: Option<&Path>,
    resource: &K::Resource,
) -> Result<Dereferenced, SourceError> {
    let (target, credentials, ca_source, ca_field) = match K::target(resource) {
        Target::Itself(device) => device_target(sources, namespace, device.clone()).await?,
        Target::Named(name) => {
            let device = sources.device(namespace, name, "spec.deviceRef").await?;
            device_target(sources, namespace, device).await?
        }
        // Its credentials and CA bundle are fields of the resource's own
        // spec; no command-line fallback (`--username` is a device's).
        Target::External(e) => (
            TargetSystem::External {
                system: e.system,
                endpoint: e.endpoint.to_owned(),
            },
            read_credentials(sources, namespace, e.credentials, e.field).await?,
            e.ca_bundle.cloned(),
            e.field,
        ),
    };

    let mut resolved = ResolvedSources::new();
    for source in K::references(resource) {
        const FIELD: &str = "spec configMapRefs";
        let text = match &source {
            SourceRef::ConfigMap(r) => sources
                .config_map(namespace, &r.name, FIELD)
                .await?
                .text(&r.key, FIELD)?,
            SourceRef::Secret(r) => sources
                .secret(namespace, &r.name, "spec secretRefs")
                .await?
                .text(&r.key, "spec secretRefs")?,
            SourceRef::File(path) => sources.file(origin, path)?,
        };
        resolved.insert(source, text);
    }

    let ca_bundle = read_ca_bundle(sources, namespace, ca_source.as_ref(), ca_field).await?;

    Ok(Dereferenced {
        target,
        credentials,
        ca_bundle,
        resolved,
    })
}

/// A device target with its credentials (or the front end's fallback) and
/// the CA bundle source its `spec.tls` names.
async fn device_target(
    sources: &impl Sources,
    namespace: &str,
    device: MediantDevice,
) -> Result<
    (
        TargetSystem,
        Credentials,
        Option<CaBundleSource>,
        &'static str,
    ),
    SourceError,
> {
    let spec = &device.spec;
    let creds = &spec.credentials_secret_ref;
    const CREDS: &str = "spec.credentialsSecretRef";
    let credentials = match read_credentials(sources, namespace, creds, CREDS).await {
        Ok(c) => c,
        Err(e) => sources.credentials_fallback(namespace, creds, e)?,
    };
    let ca_source = spec.tls.as_ref().and_then(|t| t.ca_bundle.clone());
    Ok((
        TargetSystem::Device(device),
        credentials,
        ca_source,
        "spec.tls.caBundle",
    ))
}

/// The user and password of credentials Secret `creds`.
async fn read_credentials(
    sources: &impl Sources,
    namespace: &str,
    creds: &CredentialsSecretRef,
    field: &'static str,
) -> Result<Credentials, SourceError> {
    let secret = sources.secret(namespace, &creds.name, field).await?;
    let username = secret.text(&creds.username_key, field)?;
    let password = secret.text(&creds.password_key, field)?;
    Ok(Credentials::new(username, password))
}

/// The PEM text a CA bundle source names, if one is declared.
async fn read_ca_bundle(
    sources: &impl Sources,
    namespace: &str,
    source: Option<&CaBundleSource>,
    field: &'static str,
) -> Result<Option<String>, SourceError> {
    let Some(source) = source else {
        return Ok(None);
    };
    Ok(match (&source.secret_key_ref, &source.config_map_key_ref) {
        (Some(r), _) => Some(
            sources
                .secret(namespace, &r.name, field)
                .await?
                .text(&r.key, field)?,
        ),
        (None, Some(r)) => Some(
            sources
                .config_map(namespace, &r.name, field)
                .await?
                .text(&r.key, field)?,
        ),
        // Validation rejects a source naming neither.
        (None, None) => None,
    })
}
