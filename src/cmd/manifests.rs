//! Manifests read from files and folders, as `kubectl apply -f` reads them:
//! resources of every registered kind and the Secrets and ConfigMaps they
//! refer to; and the manifests as [`Sources`] for the one dereference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Resource;

use crate::api::{CredentialsSecretRef, MediantDevice};
use crate::device::Credentials;
use crate::plan::kinds::{KindVisitor, for_each_kind};
use crate::plan::{Kind, Origin, SourceData, SourceError, Sources};

/// Why the manifests cannot be used. Nothing has been sent to any device.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not YAML (or JSON).
    #[error("{path}: not valid YAML: {reason}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// A document is not a valid resource of its kind.
    #[error("{path}: document {index} ({kind}): {reason}")]
    Document {
        /// The file.
        path: PathBuf,
        /// 1-based position of the document in the file.
        index: usize,
        /// Its `kind`.
        kind: String,
        /// What is wrong.
        reason: String,
    },
    /// No `MediantDevice` in any of the files.
    #[error("no MediantDevice found in {0}")]
    NoDevice(String),
}

/// A resource of a registered kind and the file it came from.
#[derive(Clone, Debug)]
pub struct Document {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// The resource, checked against its kind (see [`Manifests::resources`]).
    pub value: serde_json::Value,
    /// The file it was read from (relative `files` are resolved against it).
    pub origin: PathBuf,
}

/// A resource of kind `K` and the file it came from.
#[derive(Clone, Debug)]
pub struct Manifest<R> {
    /// The resource.
    pub resource: R,
    /// The file it was read from.
    pub origin: PathBuf,
}

/// A MediantDevice and the file it came from.
#[derive(Clone, Debug)]
pub struct DeviceManifest {
    /// The resource.
    pub device: MediantDevice,
    /// The file it was read from (relative `files` are resolved against it).
    pub origin: PathBuf,
}

/// Everything read from the manifests.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    /// The resources of registered kinds, in file order.
    pub documents: Vec<Document>,
    /// The MediantDevices among them (the targets of `deviceRef`s), in file order.
    pub devices: Vec<DeviceManifest>,
    /// Secrets by (namespace, name).
    pub secrets: BTreeMap<(String, String), Secret>,
    /// ConfigMaps by (namespace, name).
    pub config_maps: BTreeMap<(String, String), ConfigMap>,
}

/// The namespace of a manifest (`default` when unset, as kubectl does).
pub fn namespace_of(ns: Option<&String>) -> String {
    ns.cloned().unwrap_or_else(|| "default".to_string())
}

/// Reads every `.yaml`, `.yml` and `.json` file named, or directly inside a
/// named folder (in name order).
pub fn load(paths: &[PathBuf]) -> Result<Manifests, ManifestError> {
    let mut files = Vec::new();
    for path in paths {
        let read_err = |source| ManifestError::Read {
            path: path.clone(),
            source,
        };
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(read_err)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yaml" | "yml" | "json")
                        )
                })
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    let mut manifests = Manifests::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| ManifestError::Read {
            path: file.clone(),
            source,
        })?;
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| ManifestError::Yaml {
                path: file.clone(),
                reason: e.to_string(),
            })?;
        for (i, doc) in docs.into_iter().enumerate() {
            add(&mut manifests, &file, i + 1, doc)?;
        }
    }
    manifests.devices = manifests
        .resources::<crate::plan::MediantDeviceKind>()
        .into_iter()
        .map(|m| DeviceManifest {
            device: m.resource,
            origin: m.origin,
        })
        .collect();
    if manifests.devices.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ManifestError::NoDevice(names.join(", ")));
    }
    Ok(manifests)
}

/// Checks one document against the kind it names, if that kind is registered.
struct Check<'a> {
    api_version: &'a str,
    kind: &'a str,
    doc: &'a serde_json::Value,
}

impl KindVisitor for Check<'_> {
    /// `None`: not this kind; `Some(Err)`: this kind, but invalid.
    type Output = Option<Result<(), String>>;

    fn visit<K: Kind>(&mut self) -> Self::Output {
        if self.api_version != K::Resource::api_version(&()) || self.kind != K::Resource::kind(&())
        {
            return None;
        }
        Some(
            serde_json::from_value::<K::Resource>(self.doc.clone())
                .map_err(|e| e.to_string())
                .and_then(|r| K::validate(&r, Origin::Manifests).map_err(|e| e.to_string())),
        )
    }
}

fn add(
    m: &mut Manifests,
    file: &Path,
    index: usize,
    doc: serde_json::Value,
) -> Result<(), ManifestError> {
    let kind = doc
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("")
        .to_string();
    let api_version = doc
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .unwrap_or("")
        .to_string();
    let bad = |reason: String| ManifestError::Document {
        path: file.to_path_buf(),
        index,
        kind: kind.clone(),
        reason,
    };
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => {
            let secret: Secret = serde_json::from_value(doc)
                // serde's message could quote a value: name only the field problem.
                .map_err(|_| {
                    bad(
                        "not a valid Secret (check data is base64 and stringData holds strings)"
                            .into(),
                    )
                })?;
            let key = (
                namespace_of(secret.metadata.namespace.as_ref()),
                secret.metadata.name.clone().unwrap_or_default(),
            );
            m.secrets.insert(key, secret);
        }
        ("v1", "ConfigMap") => {
            let cm: ConfigMap = serde_json::from_value(doc).map_err(|e| bad(e.to_string()))?;
            let key = (
                namespace_of(cm.metadata.namespace.as_ref()),
                cm.metadata.name.clone().unwrap_or_default(),
            );
            m.config_maps.insert(key, cm);
        }
        _ => {
            let checked = for_each_kind(&mut Check {
                api_version: &api_version,
                kind: &kind,
                doc: &doc,
            })
            .into_iter()
            .flatten()
            .next();
            match checked {
                Some(Ok(())) => m.documents.push(Document {
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                    value: doc,
                    origin: file.to_path_buf(),
                }),
                Some(Err(reason)) => return Err(bad(reason)),
                // Other kinds (Namespaces, Deployments …) may share the folder.
                None => {}
            }
        }
    }
    Ok(())
}

impl Manifests {
    /// The resources of kind `K`, in file order (checked when loaded).
    pub fn resources<K: Kind>(&self) -> Vec<Manifest<K::Resource>> {
        self.documents
            .iter()
            .filter(|d| {
                d.api_version == K::Resource::api_version(&()) && d.kind == K::Resource::kind(&())
            })
            .filter_map(|d| {
                serde_json::from_value(d.value.clone())
                    .ok()
                    .map(|resource| Manifest {
                        resource,
                        origin: d.origin.clone(),
                    })
            })
            .collect()
    }
}

/// Credentials to use when the manifests hold no credentials Secret.
#[derive(Clone, Debug, Default)]
pub struct Fallback {
    /// `--username` with the password of `--password-file`/`MEDIANT_PASSWORD`.
    pub credentials: Option<Credentials>,
    /// `--simulate`: the simulator's factory user.
    pub simulate: bool,
}

/// The manifests as [`Sources`]: Secrets, ConfigMaps and MediantDevices
/// from the files, `files` relative to the manifest naming them.
pub struct ManifestSources<'a> {
    /// What was loaded.
    pub manifests: &'a Manifests,
    /// Credentials when no Secret is among the manifests.
    pub fallback: Fallback,
}

fn not_in_manifests(what: &str, namespace: &str, name: &str, field: &str) -> SourceError {
    SourceError::NotInManifests(format!(
        "{what} {namespace}/{name} (named in {field}) is not among the manifests"
    ))
}

impl Sources for ManifestSources<'_> {
    async fn secret(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> Result<SourceData, SourceError> {
        let secret = self
            .manifests
            .secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| not_in_manifests("Secret", namespace, name, field))?;
        Ok(SourceData::from_secret(name, secret.clone()))
    }

    async fn config_map(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> Result<SourceData, SourceError> {
        let cm = self
            .manifests
            .config_maps
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| not_in_manifests("ConfigMap", namespace, name, field))?;
        Ok(SourceData::from_config_map(name, cm.clone()))
    }

    async fn device(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> Result<MediantDevice, SourceError> {
        self.manifests
            .devices
            .iter()
            .map(|m| m.device.clone())
            .find(|d| {
                namespace_of(d.metadata.namespace.as_ref()) == namespace
                    && d.metadata.name.as_deref() == Some(name)
            })
            .ok_or_else(|| not_in_manifests("MediantDevice", namespace, name, field))
    }

    fn file(&self, origin: Option<&Path>, path: &Path) -> Result<String, SourceError> {
        let base = origin.and_then(Path::parent).unwrap_or(Path::new("."));
        let full = base.join(path);
        std::fs::read_to_string(&full).map_err(|source| SourceError::File { path: full, source })
    }

    fn credentials_fallback(
        &self,
        namespace: &str,
        secret: &CredentialsSecretRef,
        _error: SourceError,
    ) -> Result<Credentials, SourceError> {
        match (&self.fallback.credentials, self.fallback.simulate) {
            (Some(c), _) => Ok(c.clone()),
            (None, true) => Ok(Credentials::new("Admin", "Admin")),
            (None, false) => Err(SourceError::NotInManifests(format!(
                "Secret {namespace}/{} with keys `{}` and `{}` is not among the manifests; add it, or pass --username with --password-file (or MEDIANT_PASSWORD)",
                secret.name, secret.username_key, secret.password_key
            ))),
        }
    }
}
