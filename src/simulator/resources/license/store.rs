//! The licence a device holds.

use std::sync::Mutex;

use crate::simulator::device::DeviceInfo;
use crate::simulator::http::ApiError;
use crate::sync::lock;

/// The only licence version the documents support.
pub(super) const LICENSE_VERSION: u64 = 1;
/// Shortest key accepted (the document's sample key has 24 characters).
pub const MIN_KEY_LEN: usize = 16;
/// The documented 409 description for JSON on an HA device.
pub const HA_JSON_REFUSAL: &str =
    "License key can't be applied to device in HA configuration. Use license file instead.";

/// Why a licence is refused. Messages never contain the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// JSON upload on an HA device.
    #[error("{HA_JSON_REFUSAL}")]
    HaRequiresFile,
    /// The JSON body does not parse or lacks `key`.
    #[error("Invalid license request: {0}")]
    Malformed(String),
    /// A `licenseVersion` other than 1.
    #[error("License version {0} is not supported (only version 1)")]
    Version(u64),
    /// `serialNumber` is not this device's.
    #[error("License serial number {given} does not match the device serial number {device}")]
    SerialMismatch {
        /// The serial number in the request.
        given: String,
        /// This device's serial number.
        device: String,
    },
    /// The key is not base64 text of a plausible length.
    #[error("Provided license key is incorrect")]
    BadKey,
    /// A licence file without a key for this device.
    #[error("License file holds no key for serial number {0}")]
    NoKeyForDevice(String),
}

impl From<LicenseError> for ApiError {
    fn from(e: LicenseError) -> Self {
        match e {
            LicenseError::HaRequiresFile => ApiError::Conflict(e.to_string()),
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// A licence key: shown by `GET /license`, never by `Debug`.
#[derive(Clone, PartialEq, Eq)]
struct LicenseKey(String);

impl std::fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LicenseKey(<redacted>)")
    }
}

impl LicenseKey {
    fn parse(text: &str) -> Result<Self, LicenseError> {
        let text = text.trim();
        let base64 = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if text.len() < MIN_KEY_LEN || !base64 {
            return Err(LicenseError::BadKey);
        }
        Ok(LicenseKey(text.to_string()))
    }
}

/// The licence of one device.
#[derive(Debug)]
pub struct LicenseStore {
    pub(super) serial_number: String,
    pub(super) key_description: String,
    key: Mutex<LicenseKey>,
}

/// The JSON `PUT /license` body.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseRequest {
    license_version: u64,
    serial_number: Option<String>,
    key: String,
}

impl LicenseStore {
    /// The factory licence: a key derived from the serial number, and the
    /// feature description of the product.
    pub fn new(info: &DeviceInfo) -> Self {
        LicenseStore {
            serial_number: info.serial_number.clone(),
            key_description: format!(
                "Key features: Board Type: {} Security: IPSEC MediaEncryption StrongEncryption EncryptControlProtocol Coders: G723 G729 G728 NETCODER GSM-FR GSM-EFR AMR EVRC-QCELP G727 ILBC EVRC-B ",
                info.product
            ),
            key: Mutex::new(LicenseKey(factory_key(&info.serial_number))),
        }
    }

    /// The installed key.
    pub fn key(&self) -> String {
        lock(&self.key).0.clone()
    }

    /// Checks a JSON licence request (`ha`: the device is one of a pair) and
    /// installs its key.
    pub fn apply_json(&self, body: &[u8], ha: bool) -> Result<(), LicenseError> {
        if ha {
            return Err(LicenseError::HaRequiresFile);
        }
        let request: LicenseRequest =
            serde_json::from_slice(body).map_err(|e| LicenseError::Malformed(redact_serde(&e)))?;
        if request.license_version != LICENSE_VERSION {
            return Err(LicenseError::Version(request.license_version));
        }
        if let Some(given) = request.serial_number
            && given != self.serial_number
        {
            return Err(LicenseError::SerialMismatch {
                given,
                device: self.serial_number.clone(),
            });
        }
        let key = LicenseKey::parse(&request.key)?;
        *lock(&self.key) = key;
        Ok(())
    }

    /// Finds this device's key in a licence file and installs it.
    pub fn apply_file(&self, file: &[u8]) -> Result<(), LicenseError> {
        let text = String::from_utf8_lossy(file);
        let mut found = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            let Some(rest) = line
                .strip_prefix("S/N")
                .or_else(|| line.strip_prefix("s/n"))
            else {
                continue;
            };
            let serial_end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            let (serial, key) = rest.split_at(serial_end);
            if serial == self.serial_number {
                let key =
                    key.trim_start_matches(|c: char| c.is_whitespace() || c == '=' || c == ':');
                found = Some(LicenseKey::parse(key)?);
                break;
            }
        }
        let key = found.ok_or_else(|| LicenseError::NoKeyForDevice(self.serial_number.clone()))?;
        *lock(&self.key) = key;
        Ok(())
    }
}

/// serde's message without the offending input (it may quote the key).
fn redact_serde(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable body",
        serde_json::error::Category::Syntax => "body is not valid JSON",
        serde_json::error::Category::Data => {
            "expected licenseVersion (number), key (string), optional serialNumber (string)"
        }
        serde_json::error::Category::Eof => "body ends early",
    };
    format!("{kind} (line {}, column {})", e.line(), e.column())
}

/// A 24-character base64-alphabet key derived from `serial` (FNV-1a), so each
/// simulated device has its own stable key.
fn factory_key(serial: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::with_capacity(24);
    for round in 0..24u8 {
        for b in serial.bytes().chain([round]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push(char::from(ALPHABET[(hash >> 58) as usize])); // 6 bits: < 64
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::device::Dialect;

    fn store() -> LicenseStore {
        LicenseStore::new(&DeviceInfo::numbered(7, Dialect::V74, false))
    }

    const KEY: &str = "jCx6r5tovCIKaBBbhPtT53Yj";

    #[test]
    fn factory_keys_differ_per_device_and_are_valid_keys() {
        let a = factory_key("101780235000000");
        let b = factory_key("101780235000001");
        assert_ne!(a, b);
        assert_eq!(a.len(), 24);
        assert!(LicenseKey::parse(&a).is_ok());
    }

    #[test]
    fn json_checks_ha_version_serial_and_key() {
        let s = store();
        let serial = s.serial_number.clone();
        let body = |version: u64, serial: &str, key: &str| {
            format!(
                r#"{{"licenseVersion": {version}, "serialNumber": "{serial}", "key": "{key}"}}"#
            )
            .into_bytes()
        };
        assert_eq!(
            s.apply_json(&body(1, &serial, KEY), true),
            Err(LicenseError::HaRequiresFile)
        );
        assert_eq!(
            s.apply_json(&body(2, &serial, KEY), false),
            Err(LicenseError::Version(2))
        );
        assert!(matches!(
            s.apply_json(&body(1, "277522263687112", KEY), false),
            Err(LicenseError::SerialMismatch { .. })
        ));
        assert_eq!(
            s.apply_json(&body(1, &serial, "short"), false),
            Err(LicenseError::BadKey)
        );
        assert_eq!(
            s.apply_json(&body(1, &serial, "not base64 at all!!!"), false),
            Err(LicenseError::BadKey)
        );
        assert_eq!(s.apply_json(&body(1, &serial, KEY), false), Ok(()));
        assert_eq!(s.key(), KEY);
        // serialNumber is optional.
        let no_serial = format!(r#"{{"licenseVersion": 1, "key": "{KEY}AAAA"}}"#);
        assert_eq!(s.apply_json(no_serial.as_bytes(), false), Ok(()));
        assert_eq!(s.key(), format!("{KEY}AAAA"));
    }

    #[test]
    fn malformed_json_errors_never_quote_the_key() {
        let s = store();
        let err = s
            .apply_json(
                br#"{"licenseVersion": "one", "key": "SECRETSECRETSECRET"}"#,
                false,
            )
            .unwrap_err();
        assert!(matches!(err, LicenseError::Malformed(_)));
        assert!(!err.to_string().contains("SECRET"), "{err}");
        let err = s
            .apply_json(br#"{"key": SECRETSECRETSECRET}"#, false)
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[test]
    fn licence_file_picks_the_line_of_this_serial() {
        let s = store();
        let serial = s.serial_number.clone();
        let file = format!(
            "; licence file\r\nS/N277522263687112 AAAAAAAAAAAAAAAAAAAAAAAA\r\nS/N{serial} = {KEY}\r\n"
        );
        assert_eq!(s.apply_file(file.as_bytes()), Ok(()));
        assert_eq!(s.key(), KEY);
        assert_eq!(
            s.apply_file(b"S/N1 AAAAAAAAAAAAAAAAAAAAAAAA\n"),
            Err(LicenseError::NoKeyForDevice(serial.clone()))
        );
        assert_eq!(
            s.apply_file(format!("S/N{serial}: bad key!").as_bytes()),
            Err(LicenseError::BadKey)
        );
        assert_eq!(s.key(), KEY, "a refused file leaves the key alone");
    }

    #[test]
    fn debug_redacts_the_key() {
        let s = store();
        let shown = format!("{s:?}");
        assert!(!shown.contains(&s.key()), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
