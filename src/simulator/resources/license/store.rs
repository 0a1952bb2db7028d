//! Licence management (`/license`, v7.4 chapter 12, 2015 chapter 10).
//!
//! `GET` shows the installed key (the device does show it). `PUT` takes
//! either JSON (`licenseVersion`, optional `serialNumber`, `key`) — refused
//! with 409 on an HA device, as documented — or a licence file (multipart
//! part `file` in v7.4, `application/octet-stream` in 2015) that may hold keys
//! for several devices. Either way a new key makes the device reset (without
//! saving the running configuration).
//!
//! Real keys are encrypted blobs only AudioCodes can read, so the simulator
//! checks their form, not their content: a key is base64 text of at least
//! [`MIN_KEY_LEN`] characters. A licence file holds one key per line as
//! `S/N<serial> <key>` (separator: spaces, `=` or `:`); lines for other
//! serial numbers are skipped; `;`/`#` lines are comments. A mismatching
//! `serialNumber`, a file without a key for this device or a malformed key
//! is 400 ("provided license key is incorrect").
//!
//! An HA device stands for the active unit of a pair whose redundant unit
//! has its own serial number ([`LicenseStore::redundant_serial`]: the
//! active's plus 10^9, as no REST resource shows it). "In an HA
//! configuration, the license may be applied to both the active and
//! redundant devices" (chapter 12): a file's line for the redundant unit is
//! installed there too.

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
pub(super) struct LicenseKey(String);

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
    /// The redundant unit of an HA pair: its serial number and key.
    redundant: Option<(String, Mutex<LicenseKey>)>,
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
            redundant: info.ha.then(|| {
                let serial = redundant_serial_of(&info.serial_number);
                let key = Mutex::new(LicenseKey(factory_key(&serial)));
                (serial, key)
            }),
        }
    }

    /// The serial number of the redundant unit of an HA pair.
    pub fn redundant_serial(&self) -> Option<String> {
        self.redundant.as_ref().map(|(serial, _)| serial.clone())
    }

    /// The key installed on the redundant unit of an HA pair.
    pub fn redundant_key(&self) -> Option<String> {
        self.redundant.as_ref().map(|(_, key)| lock(key).0.clone())
    }

    /// The installed key.
    pub fn key(&self) -> String {
        lock(&self.key).0.clone()
    }

    /// The installed keys (this unit's, the redundant unit's), for
    /// [`LicenseStore::restore`].
    pub(super) fn snapshot(&self) -> (LicenseKey, Option<LicenseKey>) {
        (
            lock(&self.key).clone(),
            self.redundant.as_ref().map(|(_, k)| lock(k).clone()),
        )
    }

    /// Puts back the keys of a [`LicenseStore::snapshot`] (the fault
    /// `ignoreLicenseInstalls`).
    pub(super) fn restore(&self, (key, redundant): (LicenseKey, Option<LicenseKey>)) {
        *lock(&self.key) = key;
        if let (Some((_, slot)), Some(key)) = (&self.redundant, redundant) {
            *lock(slot) = key;
        }
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

    /// Finds this device's key in a licence file and installs it (and the
    /// redundant unit's, on an HA pair, when the file holds it).
    pub fn apply_file(&self, file: &[u8]) -> Result<(), LicenseError> {
        let text = String::from_utf8_lossy(file);
        let redundant_serial = self.redundant_serial();
        let mut found = None;
        let mut found_redundant = None;
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
            let key = key.trim_start_matches(|c: char| c.is_whitespace() || c == '=' || c == ':');
            // The first line of a serial number counts.
            if serial == self.serial_number && found.is_none() {
                found = Some(LicenseKey::parse(key)?);
            } else if redundant_serial.as_deref() == Some(serial) && found_redundant.is_none() {
                found_redundant = Some(LicenseKey::parse(key)?);
            }
        }
        let key = found.ok_or_else(|| LicenseError::NoKeyForDevice(self.serial_number.clone()))?;
        *lock(&self.key) = key;
        if let (Some((_, slot)), Some(key)) = (&self.redundant, found_redundant) {
            *lock(slot) = key;
        }
        Ok(())
    }
}

/// The redundant unit's serial number: the active's plus 10^9 (serial
/// numbers are decimal; a non-decimal one gets an `R` appended).
fn redundant_serial_of(serial: &str) -> String {
    match serial.parse::<u64>() {
        Ok(n) => (n.saturating_add(1_000_000_000)).to_string(),
        Err(_) => format!("{serial}R"),
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
    use serde_json::json;

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
    fn the_documented_409_text() {
        // v7.4 chapter 12, example 2 (the PDF breaks the line after "in"):
        // "License key can't be applied to device in
        // HA configuration. Use license file instead."
        let documented = "License key can't be applied to device in\nHA configuration. Use license file instead.";
        assert_eq!(HA_JSON_REFUSAL, documented.replace('\n', " "));
        assert_eq!(LicenseError::HaRequiresFile.to_string(), HA_JSON_REFUSAL);
        assert!(matches!(
            ApiError::from(LicenseError::HaRequiresFile),
            ApiError::Conflict(_)
        ));
    }

    #[test]
    fn a_multi_serial_file_installs_the_key_of_this_serial_only() {
        // "may include multiple license keys and the device will apply the
        // relevant key based on the corresponding serial number" (v7.4
        // chapter 12; the 2015 guide, chapter 10, says the same).
        let s = store();
        let serial = s.serial_number.clone();
        let file = format!(
            "S/N101780235000001 AAAAAAAAAAAAAAAAAAAAAAAA\nS/N{serial} {KEY}\nS/N101780235000009 BBBBBBBBBBBBBBBBBBBBBBBB\n"
        );
        assert_eq!(s.apply_file(file.as_bytes()), Ok(()));
        assert_eq!(s.key(), KEY);
        assert_eq!(s.redundant_serial(), None, "standalone: no redundant unit");
    }

    #[test]
    fn a_file_for_an_ha_pair_installs_both_units() {
        // "In an HA configuration, the license may be applied to both the
        // active and redundant devices." (v7.4 chapter 12)
        let s = LicenseStore::new(&DeviceInfo::numbered(3, Dialect::V74, true));
        let active = s.serial_number.clone();
        let redundant = s
            .redundant_serial()
            .expect("an HA pair has a redundant unit");
        assert_ne!(active, redundant);
        let file = format!("S/N{active} {KEY}\nS/N{redundant} UmVkdW5kYW50VW5pdEtleQ==\n");
        assert_eq!(s.apply_file(file.as_bytes()), Ok(()));
        assert_eq!(s.key(), KEY);
        assert_eq!(
            s.redundant_key().as_deref(),
            Some("UmVkdW5kYW50VW5pdEtleQ==")
        );
        // A file without the active unit's key is refused as a whole.
        let only_redundant = format!("S/N{redundant} QUFBQUFBQUFBQUFBQUFBQQ==\n");
        assert_eq!(
            s.apply_file(only_redundant.as_bytes()),
            Err(LicenseError::NoKeyForDevice(active))
        );
        assert_eq!(
            s.redundant_key().as_deref(),
            Some("UmVkdW5kYW50VW5pdEtleQ==")
        );
    }

    #[tokio::test]
    async fn the_new_key_shows_after_the_reset_the_put_announces() {
        // "Device will reset now to activate new license" (example 2): the
        // device goes away right after answering and shows the new key when
        // it is back.
        use std::time::{Duration, Instant};
        let fleet = crate::simulator::Fleet::start(crate::simulator::FleetConfig {
            reset_time: Duration::from_millis(400),
            ..crate::simulator::FleetConfig::default()
        })
        .await
        .expect("fleet");
        let sim = &fleet.devices()[0];
        let url = format!("{}api/v1/license", sim.base_url);
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let answer = http
            .put(&url)
            .basic_auth("Admin", Some("Admin"))
            .json(&json!({ "licenseVersion": 1, "key": KEY }))
            .send()
            .await
            .expect("PUT answered");
        assert_eq!(answer.status(), 200);
        let body: serde_json::Value = answer.json().await.expect("JSON");
        assert_eq!(
            body["description"],
            "Device will reset now to activate new license"
        );
        assert!(sim.device.is_resetting());
        assert!(
            http.get(&url)
                .basic_auth("Admin", Some("Admin"))
                .send()
                .await
                .is_err(),
            "a resetting device refuses connections"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let shown = loop {
            assert!(Instant::now() < deadline, "the device did not come back");
            if let Ok(r) = http
                .get(&url)
                .basic_auth("Admin", Some("Admin"))
                .send()
                .await
                && r.status() == 200
            {
                break r.json::<serde_json::Value>().await.expect("JSON");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(shown["key"], KEY);
        assert_eq!(sim.device.reset_count(), 1);
    }

    #[test]
    fn debug_redacts_the_key() {
        let s = store();
        let shown = format!("{s:?}");
        assert!(!shown.contains(&s.key()), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
