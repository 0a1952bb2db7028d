//! The files of each TLS context of one device: private key, device
//! certificate and trusted root store.
//!
//! Which contexts exist is decided by the configuration (INI table
//! `TLSContexts`), not here: the store only keeps files for the ids the
//! handlers ask about and forgets those of contexts that were removed, so a
//! context created again starts afresh.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::crypto::{RsaKey, Subject, TlsError};
use crate::simulator::device::DeviceInfo;
use crate::simulator::firmware::DeviceConfig;
use crate::sync::lock;

/// INI table holding the TLS contexts.
const TLS_CONTEXTS_TABLE: &str = "TLSContexts";
/// Its name column.
const NAME_COLUMN: &str = "Name";
/// The context every device has.
pub const DEFAULT_CONTEXT: u32 = 0;
/// Name of context 0 when the configuration does not name it.
const DEFAULT_CONTEXT_NAME: &str = "default";
/// Size of the key a context starts with. Factory certificates of current
/// firmware use 2048-bit RSA.
pub const FACTORY_KEY_BITS: u64 = 2048;

/// One TLS context as `GET /files/tls` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextEntry {
    /// Row index in `TLSContexts`.
    pub id: u32,
    /// `TLSContexts_Name`.
    pub name: String,
}

/// The TLS contexts of `config`, by id: the rows of `TLSContexts` whose
/// index is a number, plus context 0 ("default") which always exists.
pub fn contexts(config: &DeviceConfig) -> Vec<ContextEntry> {
    let mut found = BTreeMap::new();
    if let Some(table) = config.table(TLS_CONTEXTS_TABLE) {
        for (index, _) in table.rows() {
            if let Ok(id) = index.as_str().parse::<u32>() {
                let name = table
                    .cell(index, NAME_COLUMN)
                    .unwrap_or_default()
                    .to_string();
                found.insert(id, name);
            }
        }
    }
    let default = found.entry(DEFAULT_CONTEXT).or_default();
    if default.is_empty() {
        *default = DEFAULT_CONTEXT_NAME.to_string();
    }
    found
        .into_iter()
        .map(|(id, name)| ContextEntry { id, name })
        .collect()
}

/// The files a context starts with, as a factory-fresh device has them: a
/// key generated on the device and a self-signed certificate for it.
#[derive(Clone, Debug)]
pub struct FactoryFiles {
    key: RsaKey,
    certificate: Vec<u8>,
}

impl FactoryFiles {
    /// Generates a key and a self-signed certificate (`CN=<MAC>, O=ACL`,
    /// like the document's sample request). Slow: call it off the runtime.
    pub fn generate(subject: &Subject) -> Result<Self, TlsError> {
        let key = RsaKey::generate(FACTORY_KEY_BITS)?;
        let certificate =
            super::crypto::self_signed_certificate(&key, subject, time::OffsetDateTime::now_utc())?;
        Ok(FactoryFiles { key, certificate })
    }
}

/// What `GET …/privateKey` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyStatus {
    /// Modulus size in bits.
    pub size: usize,
    /// Whether the device certificate belongs to this key (the Web's
    /// "Private Key" status).
    pub valid: bool,
}

#[derive(Clone, Debug)]
struct ContextFiles {
    key: RsaKey,
    /// DER of the device certificate.
    certificate: Option<Vec<u8>>,
    /// Cached `key.matches_certificate(certificate)`.
    valid: bool,
    /// DER of each trusted root, in upload order.
    trusted_roots: Vec<Vec<u8>>,
}

/// The TLS files of every context of one device.
pub struct TlsStore {
    contexts: Mutex<BTreeMap<u32, ContextFiles>>,
    factory_subject: Subject,
}

impl std::fmt::Debug for TlsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Holds private keys: show only which contexts have files.
        let ids: Vec<u32> = lock(&self.contexts).keys().copied().collect();
        f.debug_struct("TlsStore")
            .field("contexts_with_files", &ids)
            .finish_non_exhaustive()
    }
}

impl TlsStore {
    /// An empty store; files of a context are created on first use.
    pub fn new(info: &DeviceInfo) -> Self {
        TlsStore {
            contexts: Mutex::new(BTreeMap::new()),
            factory_subject: Subject {
                subject_name: info.mac_address.to_ascii_uppercase(),
                company_name: "ACL".to_string(),
                ..Subject::default()
            },
        }
    }

    /// The subject of the certificate a context starts with.
    pub fn factory_subject(&self) -> &Subject {
        &self.factory_subject
    }

    /// Forgets the files of contexts that no longer exist, and tells whether
    /// context `id` already has files.
    pub fn prune_and_check(&self, live: &[ContextEntry], id: u32) -> bool {
        let mut contexts = lock(&self.contexts);
        contexts.retain(|known, _| live.iter().any(|c| c.id == *known));
        contexts.contains_key(&id)
    }

    /// Gives context `id` its factory files unless it got files meanwhile.
    pub fn install_factory(&self, id: u32, files: FactoryFiles) {
        lock(&self.contexts)
            .entry(id)
            .or_insert_with(|| ContextFiles {
                key: files.key,
                certificate: Some(files.certificate),
                valid: true,
                trusted_roots: Vec::new(),
            });
    }

    /// Size and validity of the private key of `id`.
    pub fn key_status(&self, id: u32) -> Result<KeyStatus, TlsError> {
        let contexts = lock(&self.contexts);
        let files = contexts.get(&id).ok_or(TlsError::NoPrivateKey(id))?;
        Ok(KeyStatus {
            size: files.key.bits(),
            valid: files.valid,
        })
    }

    /// A copy of the private key of `id`, to sign with outside the lock.
    pub fn key(&self, id: u32) -> Result<RsaKey, TlsError> {
        let contexts = lock(&self.contexts);
        contexts
            .get(&id)
            .map(|f| f.key.clone())
            .ok_or(TlsError::NoPrivateKey(id))
    }

    /// Replaces the private key of `id`. The certificate stays, and is
    /// reported invalid until one matching the new key is installed.
    pub fn set_key(&self, id: u32, key: RsaKey) -> Result<(), TlsError> {
        let mut contexts = lock(&self.contexts);
        let files = contexts.get_mut(&id).ok_or(TlsError::NoPrivateKey(id))?;
        files.valid = match &files.certificate {
            Some(der) => key.matches_certificate(der)?,
            None => false,
        };
        files.key = key;
        Ok(())
    }

    /// DER of the device certificate of `id`, if it has one.
    pub fn certificate(&self, id: u32) -> Option<Vec<u8>> {
        lock(&self.contexts)
            .get(&id)
            .and_then(|f| f.certificate.clone())
    }

    /// Installs `der` as the device certificate of `id`, refusing a
    /// certificate that does not belong to the context's private key.
    pub fn set_certificate(&self, id: u32, der: Vec<u8>) -> Result<(), TlsError> {
        let mut contexts = lock(&self.contexts);
        let files = contexts.get_mut(&id).ok_or(TlsError::NoPrivateKey(id))?;
        if !files.key.matches_certificate(&der)? {
            return Err(TlsError::KeyMismatch(id));
        }
        files.certificate = Some(der);
        files.valid = true;
        Ok(())
    }

    /// DER of each trusted root of `id`.
    pub fn trusted_roots(&self, id: u32) -> Vec<Vec<u8>> {
        lock(&self.contexts)
            .get(&id)
            .map(|f| f.trusted_roots.clone())
            .unwrap_or_default()
    }

    /// Replaces the trusted root store of `id`.
    pub fn set_trusted_roots(&self, id: u32, roots: Vec<Vec<u8>>) -> Result<(), TlsError> {
        let mut contexts = lock(&self.contexts);
        let files = contexts.get_mut(&id).ok_or(TlsError::NoPrivateKey(id))?;
        files.trusted_roots = roots;
        Ok(())
    }

    /// Appends certificates to the trusted root store of `id`.
    pub fn add_trusted_roots(&self, id: u32, roots: Vec<Vec<u8>>) -> Result<(), TlsError> {
        let mut contexts = lock(&self.contexts);
        let files = contexts.get_mut(&id).ok_or(TlsError::NoPrivateKey(id))?;
        files.trusted_roots.extend(roots);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::device::Dialect;
    use crate::simulator::firmware::seed_from_dump;
    use crate::simulator::resources::tls::crypto::self_signed_certificate;

    fn store() -> TlsStore {
        TlsStore::new(&DeviceInfo::numbered(1, Dialect::V74, false))
    }

    /// A context with a small key, so tests stay fast.
    fn install_small(store: &TlsStore, id: u32) -> RsaKey {
        let key = RsaKey::generate(512).unwrap();
        let certificate =
            self_signed_certificate(&key, &Subject::default(), time::OffsetDateTime::now_utc())
                .unwrap();
        store.install_factory(
            id,
            FactoryFiles {
                key: key.clone(),
                certificate,
            },
        );
        key
    }

    #[test]
    fn context_zero_always_exists_and_rows_come_from_the_ini_table() {
        assert_eq!(
            contexts(&DeviceConfig::new()),
            vec![ContextEntry {
                id: 0,
                name: "default".into()
            }]
        );
        let doc = seed_from_dump(
            "[ TLSContexts ]\nFORMAT TLSContexts_Index = TLSContexts_Name, TLSContexts_TLSVersion;\nTLSContexts 2 = \"Teams\", 0;\nTLSContexts 0 = \"default\", 0;\n[ \\TLSContexts ]\n",
        )
        .unwrap();
        assert_eq!(
            contexts(&doc),
            vec![
                ContextEntry {
                    id: 0,
                    name: "default".into()
                },
                ContextEntry {
                    id: 2,
                    name: "Teams".into()
                }
            ]
        );
    }

    #[test]
    fn a_new_key_invalidates_the_certificate_until_a_matching_one_comes() {
        let s = store();
        let first = install_small(&s, 0);
        assert_eq!(
            s.key_status(0).unwrap(),
            KeyStatus {
                size: 512,
                valid: true
            }
        );
        let second = RsaKey::generate(768).unwrap();
        s.set_key(0, second.clone()).unwrap();
        assert_eq!(
            s.key_status(0).unwrap(),
            KeyStatus {
                size: 768,
                valid: false
            }
        );
        let old_cert =
            self_signed_certificate(&first, &Subject::default(), time::OffsetDateTime::now_utc())
                .unwrap();
        assert_eq!(
            s.set_certificate(0, old_cert).unwrap_err(),
            TlsError::KeyMismatch(0)
        );
        let new_cert = self_signed_certificate(
            &second,
            &Subject::default(),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        s.set_certificate(0, new_cert.clone()).unwrap();
        assert!(s.key_status(0).unwrap().valid);
        assert_eq!(s.certificate(0).unwrap(), new_cert);
    }

    #[test]
    fn removed_contexts_lose_their_files() {
        let s = store();
        install_small(&s, 0);
        install_small(&s, 3);
        let live = vec![ContextEntry {
            id: 0,
            name: "default".into(),
        }];
        assert!(!s.prune_and_check(&live, 3));
        assert!(s.prune_and_check(&live, 0));
        assert_eq!(s.key(3).unwrap_err(), TlsError::NoPrivateKey(3));
    }

    #[test]
    fn trusted_roots_are_replaced_or_appended() {
        let s = store();
        install_small(&s, 0);
        assert!(s.trusted_roots(0).is_empty());
        s.set_trusted_roots(0, vec![b"a".to_vec(), b"b".to_vec()])
            .unwrap();
        s.add_trusted_roots(0, vec![b"c".to_vec()]).unwrap();
        assert_eq!(
            s.trusted_roots(0),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        s.set_trusted_roots(0, vec![b"d".to_vec()]).unwrap();
        assert_eq!(s.trusted_roots(0), vec![b"d".to_vec()]);
    }

    #[test]
    fn debug_lists_contexts_but_no_key() {
        let s = store();
        install_small(&s, 0);
        let shown = format!("{s:?}");
        assert!(shown.contains("contexts_with_files: [0]"), "{shown}");
        assert!(!shown.contains("PRIVATE"));
    }
}
