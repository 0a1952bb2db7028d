//! Licence files and key descriptions as the device writes them. Pure.
//!
//! A licence file holds one key per device, each on a line `S/N<serial>
//! <key>` (separator: spaces, `=` or `:`), so one file can serve a fleet;
//! "may include multiple license keys and the device will apply the
//! relevant key based on the corresponding serial number" (v7.4 chapter 12;
//! the 2015 guide, chapter 10, says the same of `application/octet-stream`).
//! `;` and `#` lines are comments; other lines are not keys and are skipped.

use std::collections::BTreeMap;
use std::fmt;

use crate::device::LicenseKey;

/// A parsed licence file: its bytes (sent as they are) and the key of each
/// serial number in it.
#[derive(Clone, PartialEq, Eq)]
pub struct LicenseFile {
    bytes: Vec<u8>,
    keys: BTreeMap<String, LicenseKey>,
}

impl fmt::Debug for LicenseFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LicenseFile")
            .field("bytes", &self.bytes.len())
            .field("serials", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LicenseFile {
    /// Parses `bytes`; `None` when no line holds a key (not a licence file).
    /// The first line of a serial number counts, as the device reads it.
    pub fn parse(bytes: Vec<u8>) -> Option<Self> {
        let mut keys = BTreeMap::new();
        {
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines().map(str::trim) {
                if line.starts_with(';') || line.starts_with('#') {
                    continue;
                }
                let Some(rest) = line
                    .strip_prefix("S/N")
                    .or_else(|| line.strip_prefix("s/n"))
                else {
                    continue;
                };
                let end = rest
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(rest.len());
                let (serial, key) = rest.split_at(end);
                let key =
                    key.trim_start_matches(|c: char| c.is_whitespace() || c == '=' || c == ':');
                if serial.is_empty() || key.trim().is_empty() {
                    continue;
                }
                keys.entry(serial.to_string())
                    .or_insert_with(|| LicenseKey::new(key));
            }
        }
        (!keys.is_empty()).then_some(LicenseFile { bytes, keys })
    }

    /// The key for `serial`, if the file holds one.
    pub fn key_for(&self, serial: &str) -> Option<&LicenseKey> {
        self.keys.get(serial)
    }

    /// The serial numbers the file holds keys for.
    pub fn serials(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// The file as it is sent.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The features of a key, from the device's `keyDescription` ("Key
/// features: Board Type: Mediant 800 Security: IPSEC … Coders: G723 …"),
/// by label. Lines (as in the document's example) or one line both work;
/// the board type is one value, other features are words.
pub fn key_features(description: &str) -> BTreeMap<String, Vec<String>> {
    let text = description.trim();
    let text = text
        .strip_prefix("Key features:")
        .or_else(|| text.strip_prefix("Key Features:"))
        .unwrap_or(text);
    let mut features: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut label: Option<String> = None;
    let mut before_first_label: Vec<&str> = Vec::new();
    for line in text.lines() {
        for token in line.split_whitespace() {
            if let Some(name) = token.strip_suffix(':') {
                let name = if label.is_none() && !before_first_label.is_empty() {
                    before_first_label.push(name);
                    before_first_label.join(" ")
                } else {
                    name.to_string()
                };
                features.entry(name.clone()).or_default();
                label = Some(name);
            } else if let Some(l) = &label {
                features
                    .entry(l.clone())
                    .or_default()
                    .push(token.to_string());
            } else {
                before_first_label.push(token);
            }
        }
    }
    if let Some(board) = features.get_mut("Board Type") {
        let joined = board.join(" ");
        *board = vec![joined];
    }
    features.retain(|name, _| !name.is_empty());
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_file_gives_each_serial_its_key() {
        let file = LicenseFile::parse(
            b"; licence file\r\nS/N277522263687112 jCx6r5tovCIKaBBbhPtT53Yj\r\nS/N101780235000001 = QUJDREVGR0hJSktMTU5PUA==\r\nS/N101780235000002:ZZZZ\r\nnot a key line\r\nS/N277522263687112 second\r\n"
                .to_vec(),
        )
        .unwrap();
        assert_eq!(
            file.serials().collect::<Vec<_>>(),
            ["101780235000001", "101780235000002", "277522263687112"]
        );
        assert_eq!(
            file.key_for("277522263687112").unwrap().expose(),
            "jCx6r5tovCIKaBBbhPtT53Yj"
        );
        assert_eq!(
            file.key_for("101780235000001").unwrap().expose(),
            "QUJDREVGR0hJSktMTU5PUA=="
        );
        assert!(file.key_for("1").is_none());
        assert!(!format!("{file:?}").contains("jCx6"));
        assert!(LicenseFile::parse(b"just text\n".to_vec()).is_none());
    }

    #[test]
    fn features_of_the_documented_description() {
        // v7.4 chapter 12, example 1 (with its line breaks).
        let doc = "Key features: Board Type: Mediant 800\nSecurity: IPSEC MediaEncryption StrongEncryption\nEncryptControlProtocol\nCoders: G723 G729 G728 NETCODER GSM-FR GSM-EFR AMR EVRC-QCELP\nG727 ILBC EVRC-B ";
        let one_line = doc.replace('\n', " ");
        for text in [doc, one_line.as_str()] {
            let f = key_features(text);
            assert_eq!(f["Board Type"], ["Mediant 800"]);
            assert_eq!(
                f["Security"],
                [
                    "IPSEC",
                    "MediaEncryption",
                    "StrongEncryption",
                    "EncryptControlProtocol"
                ]
            );
            assert_eq!(f["Coders"].len(), 11);
            assert_eq!(f["Coders"][10], "EVRC-B");
            assert_eq!(f.len(), 3);
        }
    }
}
