//! Step 1, dereference: read what the spec names (the credentials Secret,
//! the ConfigMaps with configuration text, the CA bundle) and take the
//! device's lock. Nothing is sent to the device here.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use tokio::sync::OwnedMutexGuard;

use crate::api::{MediantDeviceSpec, ResolvedSources, SourceRef};
use crate::controller::locks::DeviceLocks;
use crate::device::Credentials;

/// Why what the spec names could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DereferenceError {
    /// The credentials or CA Secret does not exist.
    #[error("Secret `{name}` (named in {field}) does not exist in namespace `{namespace}`")]
    SecretNotFound {
        /// The Secret.
        name: String,
        /// The namespace looked in.
        namespace: String,
        /// The spec field naming it.
        field: &'static str,
    },
    /// A ConfigMap does not exist.
    #[error("ConfigMap `{name}` (named in {field}) does not exist in namespace `{namespace}`")]
    ConfigMapNotFound {
        /// The ConfigMap.
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
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The client's error (it never holds the object's data).
        #[source]
        source: kube::Error,
    },
}

impl DereferenceError {
    /// A bounded identifier for event reasons and metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            DereferenceError::SecretNotFound { .. } => "SecretNotFound",
            DereferenceError::ConfigMapNotFound { .. } => "ConfigMapNotFound",
            DereferenceError::KeyMissing { .. } => "KeyMissing",
            DereferenceError::NotText { .. } => "NotText",
            DereferenceError::Api { .. } => "KubeApiError",
        }
    }

    /// Whether only a change by the user can fix it (the API server being
    /// unavailable is the one transient case).
    pub fn needs_user(&self) -> bool {
        !matches!(self, DereferenceError::Api { .. })
    }
}

/// What the spec names, read, with the device's lock held.
pub struct Dereferenced {
    /// The device user (`Debug` redacts the password).
    pub credentials: Credentials,
    /// The text of each ConfigMap the configuration refers to.
    pub resolved: ResolvedSources,
    /// The PEM CA bundle of `spec.tls.caBundle`, if declared.
    pub ca_bundle: Option<String>,
    /// The device's lock: one writer per device until this is dropped.
    pub lock: OwnedMutexGuard<()>,
}

impl std::fmt::Debug for Dereferenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dereferenced")
            .field("credentials", &self.credentials)
            .field("sources", &self.resolved.len())
            .field("ca_bundle", &self.ca_bundle.is_some())
            .finish_non_exhaustive()
    }
}

/// Reads everything `spec` names in `namespace`, then waits for the device's lock.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    spec: &MediantDeviceSpec,
    locks: &DeviceLocks,
) -> Result<Dereferenced, DereferenceError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);

    let creds = &spec.credentials_secret_ref;
    const CREDS: &str = "spec.credentialsSecretRef";
    let secret = get_secret(&secrets, namespace, &creds.name, CREDS).await?;
    let username = secret_text(&secret, &creds.name, &creds.username_key, CREDS)?;
    let password = secret_text(&secret, &creds.name, &creds.password_key, CREDS)?;
    let credentials = Credentials::new(username, password);

    let mut resolved = ResolvedSources::new();
    for source in spec.references() {
        // `files` never reach here: validation rejects them in a cluster.
        if let SourceRef::ConfigMap(r) = &source {
            const FIELD: &str = "spec configMapRefs";
            let cm = get_config_map(&config_maps, namespace, &r.name, FIELD).await?;
            let text = config_map_text(&cm, &r.name, &r.key, FIELD)?;
            resolved.insert(source, text);
        }
    }

    let ca_bundle = match spec.tls.as_ref().and_then(|t| t.ca_bundle.as_ref()) {
        None => None,
        Some(source) => {
            const FIELD: &str = "spec.tls.caBundle";
            match (&source.secret_key_ref, &source.config_map_key_ref) {
                (Some(r), _) => {
                    let s = get_secret(&secrets, namespace, &r.name, FIELD).await?;
                    Some(secret_text(&s, &r.name, &r.key, FIELD)?)
                }
                (None, Some(r)) => {
                    let cm = get_config_map(&config_maps, namespace, &r.name, FIELD).await?;
                    Some(config_map_text(&cm, &r.name, &r.key, FIELD)?)
                }
                // Validation rejects a source naming neither.
                (None, None) => None,
            }
        }
    };

    let lock = locks.lock(&spec.endpoint).await;
    Ok(Dereferenced {
        credentials,
        resolved,
        ca_bundle,
        lock,
    })
}

async fn get_secret(
    api: &Api<Secret>,
    namespace: &str,
    name: &str,
    field: &'static str,
) -> Result<Secret, DereferenceError> {
    match api.get_opt(name).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(DereferenceError::SecretNotFound {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            field,
        }),
        Err(source) => Err(DereferenceError::Api {
            kind: "Secret",
            name: name.to_owned(),
            source,
        }),
    }
}

async fn get_config_map(
    api: &Api<ConfigMap>,
    namespace: &str,
    name: &str,
    field: &'static str,
) -> Result<ConfigMap, DereferenceError> {
    match api.get_opt(name).await {
        Ok(Some(cm)) => Ok(cm),
        Ok(None) => Err(DereferenceError::ConfigMapNotFound {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            field,
        }),
        Err(source) => Err(DereferenceError::Api {
            kind: "ConfigMap",
            name: name.to_owned(),
            source,
        }),
    }
}

/// The text under `key` of a Secret (`data`; `stringData` is folded into
/// `data` by the API server).
fn secret_text(
    secret: &Secret,
    name: &str,
    key: &str,
    field: &'static str,
) -> Result<String, DereferenceError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or_else(|| DereferenceError::KeyMissing {
            kind: "Secret",
            name: name.to_owned(),
            key: key.to_owned(),
            field,
        })?;
    String::from_utf8(bytes.0.clone()).map_err(|_| DereferenceError::NotText {
        kind: "Secret",
        name: name.to_owned(),
        key: key.to_owned(),
    })
}

/// The text under `key` of a ConfigMap (`data`, or UTF-8 `binaryData`).
fn config_map_text(
    cm: &ConfigMap,
    name: &str,
    key: &str,
    field: &'static str,
) -> Result<String, DereferenceError> {
    if let Some(text) = cm.data.as_ref().and_then(|d| d.get(key)) {
        return Ok(text.clone());
    }
    match cm.binary_data.as_ref().and_then(|d| d.get(key)) {
        Some(bytes) => String::from_utf8(bytes.0.clone()).map_err(|_| DereferenceError::NotText {
            kind: "ConfigMap",
            name: name.to_owned(),
            key: key.to_owned(),
        }),
        None => Err(DereferenceError::KeyMissing {
            kind: "ConfigMap",
            name: name.to_owned(),
            key: key.to_owned(),
            field,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    #[test]
    fn secret_keys_are_read_and_missing_ones_named_without_values() {
        let secret = Secret {
            data: Some(BTreeMap::from([
                ("username".into(), ByteString(b"Admin".to_vec())),
                ("password".into(), ByteString(b"s3cret".to_vec())),
                ("bad".into(), ByteString(vec![0xff, 0xfe])),
            ])),
            ..Secret::default()
        };
        assert_eq!(
            secret_text(&secret, "creds", "username", "f").expect("present"),
            "Admin"
        );
        let missing = secret_text(&secret, "creds", "user", "f").expect_err("missing");
        assert_eq!(missing.category(), "KeyMissing");
        assert!(missing.to_string().contains("`user`"));
        let bad = secret_text(&secret, "creds", "bad", "f").expect_err("not text");
        assert_eq!(bad.category(), "NotText");
        for e in [missing, bad] {
            assert!(!e.to_string().contains("s3cret"));
        }
    }

    #[test]
    fn config_map_text_comes_from_data_or_binary_data() {
        let cm = ConfigMap {
            data: Some(BTreeMap::from([("a.ini".into(), "X = 1\n".into())])),
            binary_data: Some(BTreeMap::from([(
                "b.ini".into(),
                ByteString(b"Y = 2\n".to_vec()),
            )])),
            ..ConfigMap::default()
        };
        assert_eq!(
            config_map_text(&cm, "cm", "a.ini", "f").expect("data"),
            "X = 1\n"
        );
        assert_eq!(
            config_map_text(&cm, "cm", "b.ini", "f").expect("binary"),
            "Y = 2\n"
        );
        let e = config_map_text(&cm, "cm", "c.ini", "f").expect_err("missing");
        assert!(e.needs_user());
    }
}
