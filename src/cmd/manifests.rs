//! Manifests read from files and folders, as `kubectl apply -f` reads them:
//! `MediantDevice` resources and the Secrets and ConfigMaps they refer to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::api::{MediantDevice, ResolvedSources, SourceRef};

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

/// A device resource and the file it came from.
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
    /// The devices, in file order.
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
    if manifests.devices.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ManifestError::NoDevice(names.join(", ")));
    }
    Ok(manifests)
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
        ("mediant.io/v1alpha1", "MediantDevice") => {
            let device: MediantDevice =
                serde_json::from_value(doc).map_err(|e| bad(e.to_string()))?;
            device.spec.validate().map_err(|e| bad(e.to_string()))?;
            m.devices.push(DeviceManifest {
                device,
                origin: file.to_path_buf(),
            });
        }
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
        // Other kinds (Namespaces, Deployments …) may share the folder.
        _ => {}
    }
    Ok(())
}

impl Manifests {
    /// A key of a Secret in the manifests (`stringData` first, then `data`).
    pub fn secret_value(&self, namespace: &str, name: &str, key: &str) -> Option<String> {
        let secret = self
            .secrets
            .get(&(namespace.to_string(), name.to_string()))?;
        if let Some(v) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
            return Some(v.clone());
        }
        let bytes = secret.data.as_ref()?.get(key)?;
        String::from_utf8(bytes.0.clone()).ok()
    }

    /// The texts a device refers to: ConfigMap keys from the manifests,
    /// files relative to the device's manifest.
    pub fn resolve(&self, device: &DeviceManifest) -> Result<ResolvedSources, ManifestError> {
        let namespace = namespace_of(device.device.metadata.namespace.as_ref());
        let base = device.origin.parent().unwrap_or(Path::new("."));
        let mut resolved = ResolvedSources::new();
        for source in device.device.spec.references() {
            let text = match &source {
                SourceRef::ConfigMap(r) => self
                    .config_maps
                    .get(&(namespace.clone(), r.name.clone()))
                    .and_then(|cm| cm.data.as_ref()?.get(&r.key).cloned()),
                SourceRef::File(path) => {
                    let full = base.join(path);
                    Some(
                        std::fs::read_to_string(&full).map_err(|source| ManifestError::Read {
                            path: full.clone(),
                            source,
                        })?,
                    )
                }
            };
            if let Some(text) = text {
                resolved.insert(source, text);
            }
        }
        Ok(resolved)
    }
}
