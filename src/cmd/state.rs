//! The command line's state: what `apply -f` must remember between runs,
//! as a cluster keeps it in status — the keyed digests of write-only values
//! sent (passwords, hidden parameters, the fingerprint of the last full
//! upload that reset a device) and the saves still pending.
//!
//! # Where, and why there
//! Like Terraform's local state (`terraform.tfstate` in the working
//! directory), the state is a file that travels with the configuration:
//! by default `mediant-operator.state.json` in the folder of the first
//! `-f` path (that folder itself when it is one), so the same manifests
//! find the same state whoever runs them from wherever; `--state PATH`
//! puts it elsewhere (e.g. outside a Git checkout). It holds no secret:
//! digests only, HMAC-SHA256 under the key in the key file beside it
//! (`<state>.key`, created with a random key and mode 0600 when absent, or
//! `--state-key-file`), so a leaked state file does not let weak passwords
//! be guessed offline. Keep the key file out of version control.
//!
//! # Locking
//! Two runs against the same state would each re-send what the other sent
//! and lose each other's records, so a run takes an advisory lock on
//! `<state>.lock` for its whole duration: exclusive for `apply`, shared for
//! `diff` (which only reads). A held lock stops the command at once with a
//! message naming the file (as Terraform does without `-lock-timeout`).
//! The lock is the operating system's (`flock`): a killed run releases it,
//! so there is never a stale lock to delete by hand. The state itself is
//! replaced atomically (written beside it, then renamed), after every
//! resource, so a killed run loses at most the resource it was applying.
//!
//! `--simulate` starts fresh devices every time: it uses no state file
//! unless `--state` is given.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::{DigestKey, SecretDigests};

/// The default state file name.
pub const DEFAULT_STATE: &str = "mediant-operator.state.json";

/// The state file's format version.
const VERSION: u32 = 1;

/// Why the state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another run holds the lock.
    #[error(
        "{path} is locked by another diff/apply of this state; wait for it to finish (the lock \
         is released when that process ends)"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The state file is not ours or is damaged.
    #[error(
        "{path} is not a readable state file ({reason}); move it away to start afresh (every \
         write-only value is then sent once more)"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why (never a value: the file holds digests only).
        reason: String,
    },
    /// The key file holds no usable key.
    #[error("the state key file {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What is remembered of one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    /// As status `appliedSecretDigests`: entry → keyed digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applied_secret_digests: BTreeMap<String, String>,
}

/// What is remembered of one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceState {
    /// Set before a run writes changes it is to save, cleared once the save
    /// succeeded: when set at the start of a run, that run saves first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_save: Option<PendingSave>,
}

/// A save not yet done.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingSave {
    /// When it was recorded (RFC 3339).
    pub since: String,
    /// The resource whose apply recorded it.
    pub by: String,
}

/// The file's content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Data {
    version: u32,
    /// By `Kind namespace/name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    resources: BTreeMap<String, ResourceState>,
    /// By device `namespace/name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    devices: BTreeMap<String, DeviceState>,
}

/// An open state: locked, read, written back by [`State::save`].
pub struct State {
    path: Option<PathBuf>,
    key: Option<DigestKey>,
    data: Data,
    /// Held for the lock's sake (released when dropped).
    _lock: Option<File>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where the state of these `-f` paths lives by default.
pub fn default_path(files: &[PathBuf]) -> PathBuf {
    let dir = match files.first() {
        Some(f) if f.is_dir() => f.clone(),
        Some(f) => f
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        None => PathBuf::from("."),
    };
    dir.join(DEFAULT_STATE)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `path` only if absent, readable by its owner only.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl State {
    /// No file: digests keyed for this process only (`--simulate`).
    pub fn ephemeral() -> Self {
        State {
            path: None,
            key: None,
            data: Data {
                version: VERSION,
                ..Data::default()
            },
            _lock: None,
        }
    }

    /// Opens the state at `path` (absent: empty) with the key at `key_path`
    /// (default `<path>.key`; created when absent and `write`), locking it
    /// exclusively when `write` (apply), shared otherwise (diff).
    pub fn open(path: &Path, key_path: Option<&Path>, write: bool) -> Result<Self, StateError> {
        let lock_path = with_suffix(path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        let locked = if write {
            lock.try_lock()
        } else {
            lock.try_lock_shared()
        };
        match locked {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked { path: lock_path });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }

        let data = match std::fs::read_to_string(path) {
            Ok(text) => {
                let data: Data =
                    serde_json::from_str(&text).map_err(|e| StateError::Malformed {
                        path: path.to_path_buf(),
                        // serde_json's message names line and column; the
                        // file holds digests only, never a secret.
                        reason: e.to_string(),
                    })?;
                if data.version != VERSION {
                    return Err(StateError::Malformed {
                        path: path.to_path_buf(),
                        reason: format!("version {} (this build reads {VERSION})", data.version),
                    });
                }
                data
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data {
                version: VERSION,
                ..Data::default()
            },
            Err(e) => return Err(io(path)(e)),
        };

        let key_path = key_path.map_or_else(|| with_suffix(path, ".key"), Path::to_path_buf);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => Some(DigestKey::from_text(&text).map_err(|e| StateError::Key {
                path: key_path.clone(),
                reason: e.to_string(),
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && write => {
                let (key, text) = DigestKey::generate().map_err(|e| StateError::Key {
                    path: key_path.clone(),
                    reason: e.to_string(),
                })?;
                let mut f = create_private(&key_path).map_err(io(&key_path))?;
                f.write_all(format!("{text}\n").as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(io(&key_path))?;
                Some(key)
            }
            // `diff` before any apply: nothing recorded, nothing to key.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&key_path)(e)),
        };
        Ok(State {
            path: Some(path.to_path_buf()),
            key,
            data,
            _lock: Some(lock),
        })
    }

    /// What was remembered of resource `id` (`Kind namespace/name`), with
    /// the state's key.
    pub fn memory(&self, id: &str) -> SecretDigests {
        let entries = self
            .data
            .resources
            .get(id)
            .map(|r| r.applied_secret_digests.clone())
            .unwrap_or_default();
        SecretDigests::from(entries).with_key(self.key.clone())
    }

    /// Remembers `digests` for resource `id`.
    pub fn remember(&mut self, id: &str, digests: &SecretDigests) {
        let entry = self.data.resources.entry(id.to_owned()).or_default();
        entry.applied_secret_digests = digests.entries().clone();
        if entry == &ResourceState::default() {
            self.data.resources.remove(id);
        }
    }

    /// The save pending on device `device` (`namespace/name`), if any.
    pub fn pending_save(&self, device: &str) -> Option<&PendingSave> {
        self.data
            .devices
            .get(device)
            .and_then(|d| d.pending_save.as_ref())
    }

    /// Records (`Some`) or clears (`None`) a pending save on `device`.
    pub fn set_pending_save(&mut self, device: &str, pending: Option<PendingSave>) {
        let entry = self.data.devices.entry(device.to_owned()).or_default();
        entry.pending_save = pending;
        if entry == &DeviceState::default() {
            self.data.devices.remove(device);
        }
    }

    /// Writes the state back (atomically: a sibling file renamed over it).
    /// Nothing for an ephemeral state.
    pub fn save(&self) -> Result<(), StateError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(&self.data).map_err(|e| StateError::Malformed {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = with_suffix(path, ".tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = create_private(&tmp).map_err(io(&tmp))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mediant-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn apply_locks_out_a_second_apply_and_the_state_survives_a_reopen() {
        let d = dir("lock");
        let path = d.join(DEFAULT_STATE);
        let mut first = State::open(&path, None, true).expect("open");
        assert!(matches!(
            State::open(&path, None, true),
            Err(StateError::Locked { .. })
        ));
        assert!(matches!(
            State::open(&path, None, false),
            Err(StateError::Locked { .. })
        ));
        let mut memory = first.memory("MediantDevice ns/sbc");
        let sealed = memory.seal("42", "P", "v");
        memory.insert("P".into(), sealed);
        first.remember("MediantDevice ns/sbc", &memory);
        first.set_pending_save(
            "ns/sbc",
            Some(PendingSave {
                since: "now".into(),
                by: "x".into(),
            }),
        );
        first.save().expect("save");
        drop(first);
        let again = State::open(&path, None, false).expect("reopen");
        assert!(again.memory("MediantDevice ns/sbc").matches("42", "P", "v"));
        assert!(again.pending_save("ns/sbc").is_some());
        // Two readers share the lock.
        let _second = State::open(&path, None, false).expect("shared");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.join(format!("{DEFAULT_STATE}.key")))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key file is private: {mode:o}");
        }
    }

    #[test]
    fn the_default_sits_beside_the_first_manifest() {
        let d = dir("default");
        let file = d.join("sbc.yaml");
        assert_eq!(
            default_path(std::slice::from_ref(&file)),
            d.join(DEFAULT_STATE)
        );
        assert_eq!(
            default_path(std::slice::from_ref(&d)),
            d.join(DEFAULT_STATE)
        );
        assert_eq!(
            default_path(&[PathBuf::from("sbc.yaml")]),
            PathBuf::from(".").join(DEFAULT_STATE)
        );
    }
}
