//! Manifests read from files and folders, as `kubectl apply -f` reads them:
//! resources of every registered kind and the Secrets and ConfigMaps they
//! refer to; and the manifests as [`Sources`] for the one dereference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Resource;

use crate::api::{CredentialsSecretRef, MediantDevice};
use crate::config::limits::{Limits, TooLarge};
use crate::device::Credentials;
use crate::plan::kinds::{KindVisitor, for_each_kind};
use crate::plan::{Kind, Origin, SourceData, SourceError, Sources};

use super::strict;

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
        /// The parser's message (position and problem, never an excerpt).
        reason: String,
    },
    /// A file, a document or a value is over its size limit; it was not parsed.
    #[error("{path}: {source}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What is too large.
        source: TooLarge,
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
    /// Two documents declare the same object: which would win is not ours
    /// to guess.
    #[error("{kind} {namespace}/{name} is declared twice: {first} and {second}; keep one")]
    Duplicate {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Where it is declared first (`file` document `n`).
        first: String,
        /// Where it is declared again.
        second: String,
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
    /// Documents of kinds this tool does not manage (a Namespace, a
    /// Deployment …), one line each: ignored, and said so.
    pub ignored: Vec<String>,
    /// Where each object was declared, by (kind, namespace, name).
    seen: BTreeMap<(String, String, String), String>,
}

/// The namespace of a manifest (`default` when unset, as kubectl does).
pub fn namespace_of(ns: Option<&String>) -> String {
    ns.cloned().unwrap_or_else(|| "default".to_string())
}

/// Reads every `.yaml`, `.yml` and `.json` file named, or directly inside a
/// named folder (in name order) except the CLI state file, which lives
/// beside the manifests by default ([`super::state::DEFAULT_STATE`]). Sizes are checked before anything is
/// parsed ([`Limits`]).
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
                        && p.file_name().and_then(|n| n.to_str())
                            != Some(super::state::DEFAULT_STATE)
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
        let text = read_limited(&file, Limits::DEFAULT.file)?;
        manifests.add_text(&file, &text)?;
    }
    manifests.finish(paths)
}

/// The text of `file`, refused unread when over `limit` bytes (and read
/// through a bounded reader, should it grow meanwhile).
fn read_limited(file: &Path, limit: usize) -> Result<String, ManifestError> {
    use std::io::Read;
    let read_err = |source| ManifestError::Read {
        path: file.to_path_buf(),
        source,
    };
    let too_large = |size: usize| ManifestError::TooLarge {
        path: file.to_path_buf(),
        source: TooLarge {
            what: "the file".into(),
            size,
            limit,
            hint: "",
        },
    };
    let handle = std::fs::File::open(file).map_err(read_err)?;
    let size = handle.metadata().map_err(read_err)?.len();
    if size > limit as u64 {
        return Err(too_large(usize::try_from(size).unwrap_or(usize::MAX)));
    }
    let mut bytes = Vec::new();
    handle
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len()));
    }
    String::from_utf8(bytes).map_err(|e| {
        read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (at byte {})", e.utf8_error().valid_up_to()),
        ))
    })
}

/// The (1-based line, byte length) of each YAML document of `text`: split
/// at the document markers `---` and `...` at the start of a line, which
/// YAML forbids anywhere else at column 0 (`c-forbidden`, YAML 1.2 §9.1.4),
/// so the split is exact without parsing.
fn document_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let (mut start_line, mut size) = (1, 0);
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let marker = ["---", "..."].iter().any(|m| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
        });
        if marker {
            spans.push((start_line, size));
            start_line = n + 1;
            size = 0;
        }
        size += line.len();
    }
    spans.push((start_line, size));
    spans
}

/// YAML as `kubectl` reads it, strictly: duplicate keys and unknown tags
/// (`!vault …`, whose text would otherwise be used as a plain string) are
/// errors; messages give the position, never an excerpt of the text.
fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.reject_unsupported_tags = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    options
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
            strict::from_value::<K::Resource>(self.doc)
                .and_then(|r| K::validate(&r, Origin::Manifests).map_err(|e| e.to_string())),
        )
    }
}

/// The (apiVersion, kind) of every registered kind.
struct Known;

impl KindVisitor for Known {
    type Output = (String, String);

    fn visit<K: Kind>(&mut self) -> Self::Output {
        (
            K::Resource::api_version(&()).into_owned(),
            K::Resource::kind(&()).into_owned(),
        )
    }
}

/// The group of this project's kinds (`mediant.io`).
fn our_group() -> String {
    crate::api::MediantDevice::group(&()).into_owned()
}

/// Why a document naming an unknown apiVersion/kind is an error rather
/// than someone else's object to ignore: it is in our group, or its kind
/// is close to one of ours (a typo), or it names none.
fn unknown_kind(api_version: &str, kind: &str) -> Option<String> {
    let mut known = for_each_kind(&mut Known);
    known.push(("v1".into(), "Secret".into()));
    known.push(("v1".into(), "ConfigMap".into()));
    if api_version.is_empty() || kind.is_empty() {
        return Some("every document needs an apiVersion and a kind".into());
    }
    let ours = api_version
        .split_once('/')
        .is_some_and(|(group, _)| group == our_group());
    let kinds = known.iter().map(|(_, k)| k.as_str());
    // A typo is very close (Jaro-Winkler above 0.9: `MediantDevices`,
    // `Secert`, `TLSContext`); other projects' kinds (`Service`,
    // `ServiceMonitor`, `SecretList`) are not.
    let near = strict::closest_above(kind, kinds, 0.9)
        .filter(|k| (*k != kind || ours || api_version == "v1") && !kind.ends_with("List"));
    if !ours && near.is_none() {
        return None;
    }
    let same_kind: Vec<&str> = known
        .iter()
        .filter(|(_, k)| k == kind)
        .map(|(a, _)| a.as_str())
        .collect();
    let hint = match (same_kind.first(), near) {
        (Some(api), _) => format!("{kind} is served as `apiVersion: {api}`"),
        (None, Some(k)) => format!("did you mean `kind: {k}`?"),
        (None, None) => {
            let list: Vec<String> = known.iter().map(|(a, k)| format!("{a} {k}")).collect();
            format!("known here: {}", list.join(", "))
        }
    };
    Some(format!(
        "apiVersion `{api_version}` kind `{kind}` is not a kind this tool reads; {hint}"
    ))
}

impl Manifests {
    /// Adds the documents of one manifest file's `text` (`origin` names it
    /// in messages and resolves relative `files`). Pure: no I/O.
    pub fn add_text(&mut self, origin: &Path, text: &str) -> Result<(), ManifestError> {
        let limits = Limits::DEFAULT;
        let too_large = |source| ManifestError::TooLarge {
            path: origin.to_path_buf(),
            source,
        };
        crate::config::limits::check(|| "the file".into(), text.len(), limits.file)
            .map_err(too_large)?;
        for (line, size) in document_spans(text) {
            crate::config::limits::check(
                || format!("the document at line {line}"),
                size,
                limits.document,
            )
            .map_err(too_large)?;
        }
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(text, yaml_options()).map_err(|e| {
                ManifestError::Yaml {
                    path: origin.to_path_buf(),
                    reason: strict::redact_serde_message(&e.to_string()),
                }
            })?;
        for (i, doc) in docs.into_iter().enumerate() {
            self.add(origin, i + 1, doc)?;
        }
        Ok(())
    }

    /// Collects the MediantDevices; an error when there is none in `paths`.
    pub fn finish(mut self, paths: &[PathBuf]) -> Result<Manifests, ManifestError> {
        self.devices = self
            .resources::<crate::plan::MediantDeviceKind>()
            .into_iter()
            .map(|m| DeviceManifest {
                device: m.resource,
                origin: m.origin,
            })
            .collect();
        if self.devices.is_empty() {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            return Err(ManifestError::NoDevice(names.join(", ")));
        }
        Ok(self)
    }

    fn add(
        &mut self,
        file: &Path,
        index: usize,
        doc: serde_json::Value,
    ) -> Result<(), ManifestError> {
        // An empty document (`---` at the end of a file) holds nothing.
        if doc.is_null() {
            return Ok(());
        }
        let text_of = |field: &str| {
            doc.get(field)
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_string()
        };
        let (kind, api_version) = (text_of("kind"), text_of("apiVersion"));
        let bad = |reason: String| ManifestError::Document {
            path: file.to_path_buf(),
            index,
            kind: if kind.is_empty() {
                "no kind".into()
            } else {
                kind.clone()
            },
            reason,
        };
        if !doc.is_object() {
            return Err(bad("a document must be a mapping (an object)".into()));
        }
        if let Some((path, size)) = strict::oversized_value(&doc, Limits::DEFAULT.text) {
            return Err(ManifestError::TooLarge {
                path: file.to_path_buf(),
                source: TooLarge {
                    what: format!("document {index} field `{path}`"),
                    size,
                    limit: Limits::DEFAULT.text,
                    hint: " (the limit of one ConfigMap or Secret value; split the configuration)",
                },
            });
        }
        let unknown = match (api_version.as_str(), kind.as_str()) {
            ("v1", "Secret") => strict::unknown_in_core(&doc, strict::SECRET_FIELDS),
            ("v1", "ConfigMap") => strict::unknown_in_core(&doc, strict::CONFIG_MAP_FIELDS),
            (api, k) => match strict::crd_schema(api, k) {
                Some(schema) => strict::unknown_in_resource(&doc, schema),
                None => {
                    if let Some(reason) = unknown_kind(api, k) {
                        return Err(bad(reason));
                    }
                    let name = doc
                        .pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("");
                    self.ignored.push(format!(
                        "{}: document {index} ({api_version} {kind} {name}) is not a kind this tool manages; ignored",
                        file.display()
                    ));
                    return Ok(());
                }
            },
        };
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(ToString::to_string).collect();
            return Err(bad(list.join("; ")));
        }
        let name = match doc.pointer("/metadata/name").and_then(|n| n.as_str()) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => {
                return Err(bad(
                    "metadata.name is missing (every object needs a name)".into()
                ));
            }
        };
        let namespace = namespace_of(
            doc.pointer("/metadata/namespace")
                .and_then(|n| n.as_str())
                .map(str::to_owned)
                .as_ref(),
        );
        let here = format!("{} document {index}", file.display());
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        let id = (format!("{group}/{kind}"), namespace.clone(), name.clone());
        if let Some(first) = self.seen.get(&id) {
            return Err(ManifestError::Duplicate {
                kind: kind.clone(),
                namespace,
                name,
                first: first.clone(),
                second: here,
            });
        }
        match (api_version.as_str(), kind.as_str()) {
            ("v1", "Secret") => {
                let secret: Secret = strict::from_value(&doc).map_err(&bad)?;
                self.secrets.insert((namespace, name), secret);
            }
            ("v1", "ConfigMap") => {
                let cm: ConfigMap = strict::from_value(&doc).map_err(&bad)?;
                self.config_maps.insert((namespace, name), cm);
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
                    Some(Ok(())) => self.documents.push(Document {
                        api_version: api_version.clone(),
                        kind: kind.clone(),
                        value: doc,
                        origin: file.to_path_buf(),
                    }),
                    Some(Err(reason)) => return Err(bad(reason)),
                    // A schema without a registered kind cannot happen
                    // (every CRD is a registered kind); refuse rather than
                    // ignore if it ever does.
                    None => return Err(bad("this kind is not handled by diff/apply".into())),
                }
            }
        }
        self.seen.insert(id, here);
        Ok(())
    }

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
        let limit = Limits::DEFAULT.text;
        match read_limited(&full, limit) {
            Ok(text) => Ok(text),
            Err(ManifestError::TooLarge { source, .. }) => Err(SourceError::TooLarge(TooLarge {
                what: format!("{} (named in spec files)", full.display()),
                hint: " (the limit of one ConfigMap value; split the configuration)",
                ..source
            })),
            Err(ManifestError::Read { source, .. }) => {
                Err(SourceError::File { path: full, source })
            }
            Err(other) => Err(SourceError::File {
                path: full,
                source: std::io::Error::other(other.to_string()),
            }),
        }
    }

    fn credentials_fallback(
        &self,
        namespace: &str,
        secret: &CredentialsSecretRef,
        error: SourceError,
    ) -> Result<Credentials, SourceError> {
        // Only a Secret that is absent falls back: one that is there but
        // lacks a key or holds bytes that are not text is a mistake to
        // report as it is, not to paper over with other credentials.
        if !matches!(error, SourceError::NotInManifests(_)) {
            return Err(error);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_of_our_kinds_are_errors_and_other_kinds_are_not() {
        for (api, kind) in [
            ("mediant.io/v1alpha1", "MediantDevices"),
            ("mediant.io/v1", "MediantDevice"),
            ("mediant.io/v1alpha1", "Anything"),
            ("v1", "Secrets"),
            ("v1", "Configmap"),
            ("mediant.io/v1alpha1", "TLSContext"),
            ("v1", ""),
            ("", "Secret"),
        ] {
            assert!(unknown_kind(api, kind).is_some(), "{api} {kind}");
        }
        for (api, kind) in [
            ("v1", "Service"),
            ("v1", "Namespace"),
            ("v1", "List"),
            ("v1", "SecretList"),
            ("apps/v1", "Deployment"),
            ("cert-manager.io/v1", "Certificate"),
            ("monitoring.coreos.com/v1", "ServiceMonitor"),
            ("bitnami.com/v1alpha1", "SealedSecret"),
            ("external-secrets.io/v1beta1", "ExternalSecret"),
        ] {
            assert_eq!(unknown_kind(api, kind), None, "{api} {kind}");
        }
        assert_eq!(
            unknown_kind("mediant.io/v1", "MediantDevice").as_deref(),
            Some(
                "apiVersion `mediant.io/v1` kind `MediantDevice` is not a kind this tool reads; \
                 MediantDevice is served as `apiVersion: mediant.io/v1alpha1`"
            )
        );
    }
}
