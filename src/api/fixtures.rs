//! Chainable test fixtures (`MediantDevice::test().with_cli(...)
//! .suspended()`), public so integration tests and other modules' tests can
//! share them. Not part of the supported API.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::{
    CliScriptSpec, ConfigMapKeyRef, IniSpec, MaintenanceWindow, MediantDevice, MediantDeviceSpec,
    MediantDeviceStatus, ResetPolicy, TlsSpec,
};

/// Name of [`MediantDevice::test`].
pub const TEST_NAME: &str = "test-device";
/// Namespace of [`MediantDevice::test`].
pub const TEST_NAMESPACE: &str = "default";
/// Credentials Secret of [`MediantDevice::test`].
pub const TEST_SECRET: &str = "test-device-credentials";
/// Endpoint of [`MediantDevice::test`].
pub const TEST_ENDPOINT: &str = "http://127.0.0.1:8443";
/// Inline INI of [`MediantDevice::test`].
pub const TEST_INI: &str = "[SIP Params]\nEnableEarlyMedia = 1\n";

impl MediantDevice {
    /// `test-device` in `default`: generation 1, a UID, endpoint
    /// [`TEST_ENDPOINT`], credentials from [`TEST_SECRET`], inline INI
    /// [`TEST_INI`], no status.
    pub fn test() -> Self {
        let mut spec = MediantDeviceSpec::new(TEST_ENDPOINT, TEST_SECRET);
        spec.ini = Some(IniSpec {
            inline: Some(TEST_INI.into()),
            ..IniSpec::default()
        });
        let mut device = MediantDevice::new(TEST_NAME, spec);
        device.metadata.namespace = Some(TEST_NAMESPACE.into());
        device.metadata.uid = Some("6f1c2a52-3c59-4a57-9d43-7d2d6c1e0a11".into());
        device.metadata.generation = Some(1);
        device
    }

    /// Renamed.
    pub fn named(mut self, name: &str) -> Self {
        self.metadata.name = Some(name.into());
        self
    }

    /// Moved to `namespace`.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// At `endpoint`.
    pub fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.spec.endpoint = endpoint.into();
        self
    }

    /// With credentials from Secret `name`.
    pub fn with_secret(mut self, name: &str) -> Self {
        self.spec.credentials_secret_ref.name = name.into();
        self
    }

    /// With this inline INI (other INI fields kept).
    pub fn with_ini(mut self, text: &str) -> Self {
        self.spec.ini.get_or_insert_with(IniSpec::default).inline = Some(text.into());
        self
    }

    /// With INI from this ConfigMap key, appended to the INI sources.
    pub fn with_ini_config_map(mut self, name: &str, key: &str) -> Self {
        self.spec
            .ini
            .get_or_insert_with(IniSpec::default)
            .config_map_refs
            .push(ConfigMapKeyRef {
                name: name.into(),
                key: key.into(),
            });
        self
    }

    /// Without INI.
    pub fn without_ini(mut self) -> Self {
        self.spec.ini = None;
        self
    }

    /// With this inline CLI script.
    pub fn with_cli(mut self, text: &str) -> Self {
        self.spec
            .cli_script
            .get_or_insert_with(CliScriptSpec::default)
            .inline = Some(text.into());
        self
    }

    /// Under this reset policy.
    pub fn with_reset_policy(mut self, policy: ResetPolicy) -> Self {
        self.spec.reset_policy = policy;
        self
    }

    /// Resets only in `window`.
    pub fn with_maintenance_window(mut self, window: MaintenanceWindow) -> Self {
        self.spec.reset_policy = ResetPolicy::MaintenanceWindow;
        self.spec.maintenance_window = Some(window);
        self
    }

    /// With `spec.suspend: true`.
    pub fn suspended(mut self) -> Self {
        self.spec.suspend = true;
        self
    }

    /// Skipping TLS verification.
    pub fn insecure(mut self) -> Self {
        self.spec.tls = Some(TlsSpec {
            ca_bundle: None,
            insecure_skip_verify: true,
        });
        self
    }

    /// At `generation`.
    pub fn with_generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }

    /// With this status.
    pub fn with_status(mut self, status: MediantDeviceStatus) -> Self {
        self.status = Some(status);
        self
    }
}

/// A Secret named `name` in [`TEST_NAMESPACE`] with `username` and
/// `password` under the default keys.
pub fn test_secret(name: &str, username: &str, password: &str) -> Secret {
    let data = BTreeMap::from([
        (
            "username".to_string(),
            ByteString(username.as_bytes().to_vec()),
        ),
        (
            "password".to_string(),
            ByteString(password.as_bytes().to_vec()),
        ),
    ]);
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(TEST_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..Secret::default()
    }
}

/// A ConfigMap named `name` in [`TEST_NAMESPACE`] holding `text` at `key`.
pub fn test_config_map(name: &str, key: &str, text: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(TEST_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(key.to_string(), text.to_string())])),
        ..ConfigMap::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fixture_is_valid_and_chains() {
        let d = MediantDevice::test();
        d.validate_for_cluster().unwrap();
        let d = d
            .named("sbc-1")
            .without_ini()
            .with_cli("configure voip\nexit\n")
            .suspended()
            .with_generation(3);
        assert_eq!(d.metadata.name.as_deref(), Some("sbc-1"));
        assert!(d.spec.suspend && d.spec.ini.is_none());
        assert_eq!(d.metadata.generation, Some(3));
        d.validate().unwrap();
    }
}
