//! How the operator reaches a device: credentials, TLS trust, dialect and
//! timeouts. Credentials are always references to a Secret, never values.

use std::fmt;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The Secret holding the device user's name and password, in the
/// resource's own namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret, in the MediantDevice's namespace. The device user
    /// needs the Security Administrator level to upload INI or CLI files.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// Key of the Secret that holds the user name.
    #[serde(default = "default_username_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub username_key: String,
    /// Key of the Secret that holds the password.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub password_key: String,
}

fn default_username_key() -> String {
    "username".into()
}

fn default_password_key() -> String {
    "password".into()
}

impl CredentialsSecretRef {
    /// A reference to Secret `name` with the default keys `username` and
    /// `password`.
    pub fn new(name: impl Into<String>) -> Self {
        CredentialsSecretRef {
            name: name.into(),
            username_key: default_username_key(),
            password_key: default_password_key(),
        }
    }
}

/// Trust for the device's HTTPS certificate. Without it the platform's
/// trust store verifies the device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.caBundle) || !has(self.insecureSkipVerify) || !self.insecureSkipVerify"
).message("tls.caBundle and tls.insecureSkipVerify exclude each other: verify with the CA bundle, or skip verification, not both"))]
pub struct TlsSpec {
    /// PEM CA certificates that issued the device's HTTPS certificate, from
    /// a Secret or a ConfigMap in the MediantDevice's namespace. Only these
    /// CAs are trusted for this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundleSource>,
    /// Accept any certificate from the device, unverified. An explicit
    /// opt-in for lab devices with self-signed certificates; it shows in the
    /// operator's output. Excludes caBundle.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Where a PEM CA bundle is read from: exactly one of secretKeyRef and
/// configMapKeyRef.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.secretKeyRef) != has(self.configMapKeyRef)"
).message("caBundle needs exactly one of secretKeyRef and configMapKeyRef"))]
pub struct CaBundleSource {
    /// A key of a Secret, e.g. the `ca.crt` of a cert-manager Certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<CaBundleKeyRef>,
    /// A key of a ConfigMap, e.g. a trust-manager bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<CaBundleKeyRef>,
}

/// A key of a Secret or ConfigMap holding PEM CA certificates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaBundleKeyRef {
    /// Name of the Secret or ConfigMap, in the MediantDevice's namespace.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// Key holding the PEM certificates.
    #[serde(default = "default_ca_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

fn default_ca_key() -> String {
    "ca.crt".into()
}

/// The REST upload dialect of the device's firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Dialect {
    /// v7.4 firmware: uploads as `multipart/form-data`.
    #[serde(rename = "v7.4")]
    V74,
    /// The 2015 REST API (7.0/7.2 firmware): uploads as
    /// `application/octet-stream`.
    #[serde(rename = "2015")]
    V2015,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::V74 => "v7.4",
            Dialect::V2015 => "2015",
        })
    }
}

/// Time limits of requests to the device. Durations are Go-style (`5s`,
/// `1m30s`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    /// Time to establish a TCP/TLS connection, at most 5m.
    #[serde(default = "default_connect_timeout")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    #[x_kube(validation = kube::core::Rule::new(
        "duration(self) > duration('0s') && duration(self) <= duration('5m')"
    ).message("timeouts.connect must be more than 0s and at most 5m"))]
    pub connect: String,
    /// Time for one whole request, uploads included, at most 1h.
    #[serde(default = "default_request_timeout")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    #[x_kube(validation = kube::core::Rule::new(
        "duration(self) > duration('0s') && duration(self) <= duration('1h')"
    ).message("timeouts.request must be more than 0s and at most 1h"))]
    pub request: String,
    /// How long a device answering 409 Conflict ("synchronization with the
    /// redundant device is in progress") is waited out, with backoff,
    /// before the call fails as DeviceBusy; at most 1h. HA synchronisation
    /// takes minutes. A licence key PUT on an HA device is never retried.
    #[serde(default = "default_busy_timeout")]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    #[x_kube(validation = kube::core::Rule::new(
        "duration(self) >= duration('0s') && duration(self) <= duration('1h')"
    ).message("timeouts.busy must be at least 0s and at most 1h"))]
    pub busy: String,
}

fn default_busy_timeout() -> String {
    "3m".into()
}

fn default_connect_timeout() -> String {
    "5s".into()
}

fn default_request_timeout() -> String {
    "60s".into()
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: default_connect_timeout(),
            request: default_request_timeout(),
            busy: default_busy_timeout(),
        }
    }
}
