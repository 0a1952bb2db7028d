//! Provider `mediant`: the licence key of an AudioCodes Mediant device
//! (v7.4 REST guide chapter 12, 2015 guide chapter 10), from a Secret.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{EntitlementSpecError, ProviderSpecType};

/// The licence of one Mediant device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.licenseKey) || has(self.licenseFile)")
    .message("name licenseKey and/or licenseFile: the Secret keys holding the licence"))]
pub struct MediantLicenseSpec {
    /// The MediantDevice (same namespace) whose device gets the licence. Its
    /// connection, credentials and single-writer lock are used; the device
    /// user needs Security Administrator to install a licence
    /// (Administrator to read it).
    pub device_ref: MediantDeviceRef,
    /// A Secret key holding the licence key (the encrypted text AudioCodes
    /// issues for one serial number), installed with a JSON `PUT /license`.
    /// Not for an HA pair: the device takes only a licence file there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_key: Option<SecretKeyRef>,
    /// A Secret key holding a licence file: one line `S/N<serial> <key>`
    /// per device, so one file may serve a fleet; the device installs the
    /// line of its own serial number. The only form an HA pair takes; used
    /// whenever the device is one of a pair, or licenseKey is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_file: Option<SecretKeyRef>,
    /// The serial number licenseKey is for. When set, the operator refuses
    /// to send the key to a device with another serial number (and the
    /// device checks it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^[A-Za-z0-9]+$"))]
    pub serial_number: Option<String>,
}

/// A MediantDevice in the LicenseEntitlement's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediantDeviceRef {
    /// Name of the MediantDevice.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

/// One key of a Secret in the resource's namespace.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// The key of the Secret's data.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

impl SecretKeyRef {
    /// Key `key` of Secret `name`.
    pub fn new(name: impl Into<String>, key: impl Into<String>) -> Self {
        SecretKeyRef {
            name: name.into(),
            key: key.into(),
        }
    }
}

impl std::fmt::Display for SecretKeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret `{}` key `{}`", self.name, self.key)
    }
}

const NAME_RULE: &str =
    "a lower-case DNS name of at most 253 characters (letters, digits, '-' and '.')";
const KEY_RULE: &str = "1 to 253 letters, digits, '-', '_' or '.'";

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_secret_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl MediantLicenseSpec {
    /// A licence for the device of MediantDevice `device`, with neither key
    /// nor file yet.
    pub fn for_device(device: impl Into<String>) -> Self {
        MediantLicenseSpec {
            device_ref: MediantDeviceRef {
                name: device.into(),
            },
            license_key: None,
            license_file: None,
            serial_number: None,
        }
    }

    /// The Secret keys the spec names (key first, then file).
    pub fn secret_refs(&self) -> impl Iterator<Item = &SecretKeyRef> {
        self.license_key.iter().chain(self.license_file.iter())
    }

    /// Checks the schema's rules.
    fn check(&self) -> Result<(), EntitlementSpecError> {
        let name = |field, value: &str| {
            if is_dns_subdomain(value) {
                Ok(())
            } else {
                Err(EntitlementSpecError::Name {
                    field,
                    reason: NAME_RULE,
                })
            }
        };
        let key = |field, value: &str| {
            if is_secret_key(value) {
                Ok(())
            } else {
                Err(EntitlementSpecError::Name {
                    field,
                    reason: KEY_RULE,
                })
            }
        };
        name(
            "spec.provider.mediant.deviceRef.name",
            &self.device_ref.name,
        )?;
        if let Some(r) = &self.license_key {
            name("spec.provider.mediant.licenseKey.name", &r.name)?;
            key("spec.provider.mediant.licenseKey.key", &r.key)?;
        }
        if let Some(r) = &self.license_file {
            name("spec.provider.mediant.licenseFile.name", &r.name)?;
            key("spec.provider.mediant.licenseFile.key", &r.key)?;
        }
        if self.license_key.is_none() && self.license_file.is_none() {
            return Err(EntitlementSpecError::NoLicenseSource);
        }
        if let Some(serial) = &self.serial_number
            && (serial.is_empty()
                || serial.len() > 32
                || !serial.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(EntitlementSpecError::SerialNumber);
        }
        Ok(())
    }
}

impl ProviderSpecType for MediantLicenseSpec {
    fn validate(&self) -> Result<(), EntitlementSpecError> {
        self.check()
    }
}

/// A Mediant device's licence as `GET /license` and `GET /status` show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediantLicenseFacts {
    /// The device's serial number (the licence is bound to it).
    #[serde(default)]
    pub serial_number: String,
    /// Product, e.g. `Mediant 800`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub product: String,
    /// High-availability state from `/status` (`Not Operational`, `Stand
    /// Alone`: standalone; `Active`, `Redundant` …: one of a pair).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ha_state: String,
    /// How the licence is (or would be) sent: `key` (JSON) or `file`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub form: String,
    /// The installed key's features, parsed from `keyDescription` (e.g.
    /// `Board Type: [Mediant 800]`, `Coders: [G729, AMR …]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    pub features: BTreeMap<String, Vec<String>>,
    /// With a licence file: how many serial numbers it holds keys for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_serials: Option<u32>,
}
