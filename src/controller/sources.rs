//! The cluster as [`Sources`]: Secrets, ConfigMaps and MediantDevices read
//! from the API server, in the resource's namespace. Nothing is cached:
//! every reconciliation reads what its resource names.

use std::path::Path;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;

use crate::api::MediantDevice;
use crate::plan::{SourceData, SourceError, Sources};

/// The API server, read through `client`.
#[derive(Clone)]
pub struct ClusterSources {
    client: kube::Client,
}

impl ClusterSources {
    /// Sources read through `client`.
    pub fn new(client: kube::Client) -> Self {
        ClusterSources { client }
    }
}

/// Reads `name` through `api`: `missing` when it does not exist.
async fn get<R>(
    api: Api<R>,
    kind: &'static str,
    name: &str,
    missing: impl FnOnce() -> SourceError,
) -> Result<R, SourceError>
where
    R: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(Some(object)) => Ok(object),
        Ok(None) => Err(missing()),
        Err(source) => Err(SourceError::Api {
            kind,
            name: name.to_owned(),
            source,
        }),
    }
}

impl Sources for ClusterSources {
    async fn secret(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> Result<SourceData, SourceError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = get(api, "Secret", name, || SourceError::SecretNotFound {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            field,
        })
        .await?;
        Ok(SourceData::from_secret(name, secret))
    }

    async fn config_map(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> Result<SourceData, SourceError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let cm = get(api, "ConfigMap", name, || SourceError::ConfigMapNotFound {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            field,
        })
        .await?;
        Ok(SourceData::from_config_map(name, cm))
    }

    async fn device(
        &self,
        namespace: &str,
        name: &str,
        field: &'static str,
    ) -> Result<MediantDevice, SourceError> {
        let api: Api<MediantDevice> = Api::namespaced(self.client.clone(), namespace);
        get(api, "MediantDevice", name, || SourceError::DeviceNotFound {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            field,
        })
        .await
    }

    fn file(&self, _origin: Option<&Path>, path: &Path) -> Result<String, SourceError> {
        // Validation rejects `files` in a cluster before anything is read.
        Err(SourceError::File {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a cluster has no files; use configMapRefs",
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Category;
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
        let data = SourceData::from_secret("creds", secret);
        assert_eq!(data.text("username", "f").expect("present"), "Admin");
        let missing = data.text("user", "f").expect_err("missing");
        assert_eq!(missing.category(), Category::KeyMissing);
        assert!(missing.to_string().contains("`user`"));
        let bad = data.text("bad", "f").expect_err("not text");
        assert_eq!(bad.category(), Category::NotText);
        for e in [missing, bad] {
            assert!(!e.to_string().contains("s3cret"));
        }
        assert!(!format!("{data:?}").contains("s3cret"));
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
        let data = SourceData::from_config_map("cm", cm);
        assert_eq!(data.text("a.ini", "f").expect("data"), "X = 1\n");
        assert_eq!(data.text("b.ini", "f").expect("binary"), "Y = 2\n");
        let e = data.text("c.ini", "f").expect_err("missing");
        assert!(e.category().needs_user());
    }

    #[test]
    fn an_oversized_value_is_refused_before_it_is_decoded() {
        // 50 MB in one key, as a ConfigMap read from the API server could
        // hold before the cluster's own limit: refused by size, unread.
        let cm = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                "device.ini".into(),
                ByteString(vec![b'X'; 50_000_000]),
            )])),
            ..ConfigMap::default()
        };
        let data = SourceData::from_config_map("ini", cm);
        let started = std::time::Instant::now();
        let e = data
            .text("device.ini", "spec.ini.configMapRefs")
            .expect_err("too large");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(e.category(), Category::InvalidSpec);
        assert_eq!(
            e.to_string(),
            "ConfigMap `ini` key `device.ini` (named in spec.ini.configMapRefs) is 50000000 bytes, \
             over the limit of 1048576 bytes (a ConfigMap holds at most 1 MiB; split the configuration)"
        );
        let full = SourceData::from_config_map(
            "ini",
            ConfigMap {
                data: Some(BTreeMap::from([("k".into(), "x".repeat(1 << 20))])),
                ..ConfigMap::default()
            },
        );
        assert_eq!(full.text("k", "f").expect("exactly 1 MiB").len(), 1 << 20);
    }
}
