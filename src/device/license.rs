//! The device licence (`/license`, v7.4 REST guide chapter 12, 2015 guide
//! chapter 10): read it, install a key (JSON) or a licence file.
//!
//! # Guarantees
//! - A licence key never appears in `Debug`, `Display` or an error: it is a
//!   [`LicenseKey`], shown only by [`LicenseKey::expose`].
//! - An install is sent once, never retried (not after a 409, not after a
//!   lost connection): "Device will reset now to activate new license"
//!   (chapter 12, example 2), and a second request would be a second reset.
//!   Reads are retried like every other read of the client.
//!
//! # Caveats
//! - The 409 of a JSON install on an HA device comes back as
//!   [`DeviceError::Busy`] (attempts 1), as every 409 does; the caller
//!   knows it is permanent ("License key can't be applied to device in HA
//!   configuration. Use license file instead.") and does not retry it.

use std::fmt;

use serde::Deserialize;

use super::error::DeviceError;
use super::mediant::{MediantClient, PutBody};

/// The only licence version the documents know: "Only version 1 is
/// currently supported."
pub const LICENSE_VERSION: u64 = 1;

/// A licence key: opaque, encrypted text issued for one serial number.
/// `Debug` and `Display` show only its length.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct LicenseKey(String);

impl LicenseKey {
    /// The key `text` (surrounding white space removed: a Secret written
    /// from a file often ends with a newline).
    pub fn new(text: &str) -> Self {
        LicenseKey(text.trim().to_string())
    }

    /// The key itself, for the request body and exact comparison only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseKey(<redacted, {} chars>)", self.0.len())
    }
}

impl fmt::Display for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<licence key, {} chars>", self.0.len())
    }
}

/// The licence a device shows (`GET /license`, example 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstalledLicense {
    /// `licenseVersion` (1).
    pub license_version: u64,
    /// The device's serial number, which the key is bound to.
    pub serial_number: String,
    /// The installed key.
    pub key: LicenseKey,
    /// The device's text of the key's features ("Key features: Board Type:
    /// … Coders: …").
    pub key_description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseAnswer {
    #[serde(default)]
    license_version: u64,
    #[serde(default)]
    serial_number: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    key_description: String,
}

impl MediantClient {
    /// `GET /license` (Administrator).
    pub async fn license(&self) -> Result<InstalledLicense, DeviceError> {
        let body = self.get_body("license").await?;
        // The answer holds the key: a parse error must not quote it, so only
        // the position is kept.
        let answer: LicenseAnswer =
            serde_json::from_slice(&body).map_err(|e| DeviceError::InvalidResponse {
                method: "GET".into(),
                resource: "license".into(),
                reason: format!(
                    "not the documented JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        Ok(InstalledLicense {
            license_version: answer.license_version,
            serial_number: answer.serial_number,
            key: LicenseKey(answer.key),
            key_description: answer.key_description,
        })
    }

    /// `PUT /license` as `application/json` (Security Administrator), sent
    /// once: `licenseVersion` 1, the key, and `serial_number` when given
    /// ("If specified – compared to the device's serial number and if a
    /// mismatch is found, the update request is rejected"). Not for an HA
    /// device. The device resets after answering; returns its description.
    pub async fn put_license_key(
        &self,
        key: &LicenseKey,
        serial_number: Option<&str>,
    ) -> Result<String, DeviceError> {
        let mut body = serde_json::json!({
            "licenseVersion": LICENSE_VERSION,
            "key": key.expose(),
        });
        if let Some(serial) = serial_number {
            body["serialNumber"] = serde_json::Value::String(serial.to_string());
        }
        self.put_once("license", PutBody::Json(body)).await
    }

    /// `PUT /license` with a licence file (Security Administrator), sent
    /// once, in the device's upload dialect (multipart part `file` in v7.4,
    /// `application/octet-stream` in 2015). The device installs the key of
    /// its own serial number and resets; returns its description.
    pub async fn put_license_file(&self, file: &[u8]) -> Result<String, DeviceError> {
        self.put_once(
            "license",
            PutBody::File {
                filename: "license.txt",
                data: file,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_shows_only_its_length() {
        let key = LicenseKey::new(" jCx6r5tovCIKaBBbhPtT53Yj\n");
        assert_eq!(key.expose(), "jCx6r5tovCIKaBBbhPtT53Yj");
        for shown in [format!("{key:?}"), key.to_string()] {
            assert!(!shown.contains("jCx6"), "{shown}");
            assert!(shown.contains("24"), "{shown}");
        }
        let installed = InstalledLicense {
            key,
            ..InstalledLicense::default()
        };
        assert!(!format!("{installed:?}").contains("jCx6"));
    }
}
