//! What the engine remembers of write-only values between runs: digests of
//! what it last sent (never the values), keyed with a secret.
//!
//! A device shows a password only as a hash (`$1$…`), or not at all (a
//! hidden parameter), so the only way to know that the secret it holds is
//! still the desired one is to remember a digest of what was sent. Those
//! digests sit in places others can read (a resource's status, the command
//! line's state file), so they are HMAC-SHA256 under a secret
//! [`DigestKey`] (an operator Secret in a cluster, a key file beside the
//! state on the command line): without the key a weak password cannot be
//! guessed offline from its digest, which a salted SHA-256 allowed.
//!
//! # Old entries
//! Entries written before (bare hex of a salted SHA-256) are still read: a
//! secret whose value still matches its old digest counts as unchanged.
//! They are replaced by keyed digests the next time the secret is sent and
//! never written anew.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The prefix of a keyed digest (`hmac-sha256:<hex>`); entries without it
/// are the old salted SHA-256.
pub const HMAC_PREFIX: &str = "hmac-sha256:";

/// The fewest bytes a key may have (HMAC-SHA256's output size: RFC 2104
/// section 3 advises keys no shorter than the hash output).
pub const MIN_KEY_BYTES: usize = 32;

/// The secret the digests are keyed with. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestKey(Arc<[u8]>);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DigestKey({} bytes)", self.0.len())
    }
}

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Too short to be a key.
    #[error("the digest key has {0} byte(s); it needs at least {MIN_KEY_BYTES}")]
    TooShort(usize),
    /// The operating system gave no random bytes.
    #[error("no random bytes for a new digest key: {0}")]
    Random(String),
}

impl DigestKey {
    /// A key of these bytes (at least [`MIN_KEY_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(DigestKey(bytes.into()))
    }

    /// A key from its text form (a key file's content, a Secret's value, a
    /// flag): the text's bytes, surrounding whitespace removed.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes(text.trim().as_bytes())
    }

    /// A new random key: 32 bytes from the operating system, as 64 hex
    /// characters (its text form, see [`DigestKey::from_text`]).
    pub fn generate() -> Result<(Self, String), KeyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        let text = hex(&bytes);
        let key = Self::from_text(&text)?;
        Ok((key, text))
    }

    /// A key for this process only, for callers that persist nothing (tests,
    /// `--simulate`): digests made with it mean nothing to another process.
    fn ephemeral() -> &'static DigestKey {
        static KEY: OnceLock<DigestKey> = OnceLock::new();
        KEY.get_or_init(|| match DigestKey::generate() {
            Ok((key, _)) => key,
            // No OS randomness: a per-process key from the hasher's seed
            // (itself random per process). Nothing persists digests made
            // with it, so its strength matters little.
            Err(_) => {
                use std::hash::{BuildHasher, RandomState};
                let mut bytes = Vec::with_capacity(32);
                for i in 0..4u8 {
                    bytes.extend(RandomState::new().hash_one(i).to_be_bytes());
                }
                DigestKey(bytes.into())
            }
        })
    }

    /// `hmac-sha256:<hex>` of the length-prefixed parts.
    fn seal(&self, parts: &[&str]) -> String {
        // HMAC takes a key of any length (RFC 2104): new_from_slice cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        format!("{HMAC_PREFIX}{}", hex(&mac.finalize().into_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest written before keyed digests: hex SHA-256 of the
/// length-prefixed device serial, key and value. Read only (old status
/// entries), and used by kinds that show a short fingerprint of a value.
pub fn digest(serial: &str, key: &str, value: &str) -> String {
    let mut h = Sha256::new();
    for part in [serial, key, value] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// Entry (`Param`, `Table[index].Column`, `Table[*]`, …) → digest of what
/// was last sent under it, with the key the digests are made with. Only
/// the entries are compared, shown (keys only) and stored.
#[derive(Clone, Default)]
pub struct SecretDigests {
    entries: BTreeMap<String, String>,
    key: Option<DigestKey>,
}

impl std::fmt::Debug for SecretDigests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.entries.keys()).finish()
    }
}

impl PartialEq for SecretDigests {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for SecretDigests {}

impl SecretDigests {
    /// No entries, digests keyed for this process only.
    pub fn new() -> Self {
        Self::default()
    }

    /// These entries, digests keyed with `key`.
    pub fn keyed(key: DigestKey, entries: BTreeMap<String, String>) -> Self {
        SecretDigests {
            entries,
            key: Some(key),
        }
    }

    /// The same entries, new digests keyed with `key` (`None`: this
    /// process only).
    #[must_use]
    pub fn with_key(mut self, key: Option<DigestKey>) -> Self {
        self.key = key;
        self
    }

    /// No entries, the same key.
    #[must_use]
    pub fn empty_like(&self) -> Self {
        SecretDigests {
            entries: BTreeMap::new(),
            key: self.key.clone(),
        }
    }

    fn key(&self) -> &DigestKey {
        self.key.as_ref().unwrap_or_else(|| DigestKey::ephemeral())
    }

    /// The digest to record for `value` sent under `entry` to the device
    /// with `serial`.
    pub fn seal(&self, serial: &str, entry: &str, value: &str) -> String {
        self.key().seal(&[serial, entry, value])
    }

    /// `digest` (a kind's plain SHA-256 of its desired state, Secret texts
    /// included) keyed for display in status, so that what status shows
    /// cannot be checked against guessed inputs without the key:
    /// `hmac-sha256:<hex>`. `purpose` separates the uses.
    pub fn seal_digest(&self, purpose: &str, digest: &str) -> String {
        self.key().seal(&["status-digest", purpose, digest])
    }

    /// Whether the digest recorded under `entry` is that of `value` (a
    /// keyed digest, or an old salted one).
    pub fn matches(&self, serial: &str, entry: &str, value: &str) -> bool {
        match self.entries.get(entry) {
            Some(d) if d.starts_with(HMAC_PREFIX) => *d == self.seal(serial, entry, value),
            Some(d) => *d == digest(serial, entry, value),
            None => false,
        }
    }

    /// The digest recorded under `entry`.
    pub fn get(&self, entry: &str) -> Option<&String> {
        self.entries.get(entry)
    }

    /// Records `digest` under `entry`.
    pub fn insert(&mut self, entry: String, digest: String) -> Option<String> {
        self.entries.insert(entry, digest)
    }

    /// Forgets `entry`.
    pub fn remove(&mut self, entry: &str) -> Option<String> {
        self.entries.remove(entry)
    }

    /// The entries.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    /// The entries, for status or a state file.
    pub fn into_entries(self) -> BTreeMap<String, String> {
        self.entries
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.entries.iter()
    }
}

impl Extend<(String, String)> for SecretDigests {
    fn extend<T: IntoIterator<Item = (String, String)>>(&mut self, iter: T) {
        self.entries.extend(iter);
    }
}

impl IntoIterator for SecretDigests {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, String)> for SecretDigests {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(iter: T) -> Self {
        SecretDigests {
            entries: iter.into_iter().collect(),
            key: None,
        }
    }
}

impl From<BTreeMap<String, String>> for SecretDigests {
    fn from(entries: BTreeMap<String, String>) -> Self {
        SecretDigests { entries, key: None }
    }
}

impl<const N: usize> From<[(String, String); N]> for SecretDigests {
    fn from(entries: [(String, String); N]) -> Self {
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_digest_depends_on_the_key_and_the_purpose() {
        let a = SecretDigests::keyed(
            DigestKey::from_text(&"a".repeat(32)).unwrap(),
            BTreeMap::new(),
        );
        let b = SecretDigests::keyed(
            DigestKey::from_text(&"b".repeat(32)).unwrap(),
            BTreeMap::new(),
        );
        let d = "sha256:0123";
        assert_eq!(
            a.seal_digest("MediantDevice", d),
            a.seal_digest("MediantDevice", d)
        );
        assert_ne!(
            a.seal_digest("MediantDevice", d),
            b.seal_digest("MediantDevice", d)
        );
        assert_ne!(
            a.seal_digest("MediantDevice", d),
            a.seal_digest("TlsContext", d)
        );
        assert!(a.seal_digest("MediantDevice", d).starts_with(HMAC_PREFIX));
        // Never the same as a secret value's digest of the same text.
        assert_ne!(
            a.seal_digest("MediantDevice", d),
            a.seal("MediantDevice", d, "")
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        // RFC 4231 section 4.3: key "Jefe", data "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("any key length");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keyed_digests_differ_by_key_and_old_ones_still_match() {
        let a = DigestKey::from_text(&"a".repeat(32)).expect("key");
        let b = DigestKey::from_text(&"b".repeat(32)).expect("key");
        let mut memory = SecretDigests::keyed(a.clone(), BTreeMap::new());
        let sealed = memory.seal("42", "P", "v");
        assert!(sealed.starts_with(HMAC_PREFIX));
        assert_ne!(
            sealed,
            SecretDigests::keyed(b, BTreeMap::new()).seal("42", "P", "v")
        );
        assert_ne!(
            sealed.trim_start_matches(HMAC_PREFIX),
            digest("42", "P", "v")
        );
        memory.insert("P".into(), sealed);
        assert!(memory.matches("42", "P", "v"));
        assert!(!memory.matches("42", "P", "w"));
        assert!(!memory.matches("43", "P", "v"));
        memory.insert("Q".into(), digest("42", "Q", "old"));
        assert!(memory.matches("42", "Q", "old"));
        assert!(!memory.matches("42", "Q", "new"));
        assert!(DigestKey::from_text("short").is_err());
        assert!(!format!("{a:?}").contains('a'.to_string().repeat(4).as_str()));
    }
}
