//! Write-only secrets. A device shows passwords only as hashes (`$1$…`), so
//! a desired password never equals what is observed. We remember a digest of
//! what we last sent (never the value) and treat the secret as in sync while
//! the desired value still has that digest and the device still holds a hash.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::config::ini::IniDocument;
use crate::config::sensitive::is_sensitive;

/// Key (`Param` or `Table[index].Column`) → hex SHA-256 of device serial,
/// key and the value last sent.
pub type SecretDigests = BTreeMap<String, String>;

/// Whether a value is the device's hash of a secret rather than the secret.
fn is_device_hash(value: &str) -> bool {
    value.starts_with("$1$")
}

/// The digest recorded for a secret sent to one device under one key.
pub fn digest(serial: &str, key: &str, value: &str) -> String {
    let mut h = Sha256::new();
    for part in [serial, key, value] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every secret value `desired` declares, as digests to record after sending.
pub fn digests_of(desired: &IniDocument, serial: &str) -> SecretDigests {
    let mut out = SecretDigests::new();
    for p in desired.params().filter(|p| is_sensitive(&p.name)) {
        out.insert(p.name.clone(), digest(serial, &p.name, &p.value));
    }
    for t in desired.tables() {
        for (pos, column) in t
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| is_sensitive(c))
        {
            for (index, cells) in t.rows() {
                if let Some(value) = cells.get(pos) {
                    let key = format!("{}[{index}].{}", t.name, t.short_column(column));
                    out.insert(key.clone(), digest(serial, &key, value));
                }
            }
        }
    }
    out
}

/// A copy of `desired` in which each secret that the device holds as a hash
/// and whose value still matches the recorded digest takes the observed
/// hash, so the comparison sees it as in sync.
pub fn settle_ini(
    desired: &IniDocument,
    observed: &IniDocument,
    digests: &SecretDigests,
    serial: &str,
) -> IniDocument {
    let mut settled = desired.clone();
    let unchanged = |key: &str, value: &str| {
        digests
            .get(key)
            .is_some_and(|d| *d == digest(serial, key, value))
    };
    for p in desired.params().filter(|p| is_sensitive(&p.name)) {
        if let Some(have) = observed.param(&p.name)
            && is_device_hash(&have.value)
            && !is_device_hash(&p.value)
            && unchanged(&p.name, &p.value)
        {
            settled.set_param(&p.name, have.value.clone());
        }
    }
    for t in desired.tables() {
        let Some(have) = observed.table(&t.name) else {
            continue;
        };
        for (pos, column) in t
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| is_sensitive(c))
        {
            for (index, cells) in t.rows() {
                let Some(value) = cells.get(pos) else {
                    continue;
                };
                let key = format!("{}[{index}].{}", t.name, t.short_column(column));
                if let Some(hash) = have.cell(index, column)
                    && is_device_hash(hash)
                    && !is_device_hash(value)
                    && unchanged(&key, value)
                    && let Some(target) = settled.table_mut(&t.name)
                {
                    target.set_cell(index.clone(), column, hash);
                }
            }
        }
    }
    settled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini::{self, DiffOptions};

    #[test]
    fn a_secret_sent_before_is_in_sync_and_a_new_one_is_not() {
        let observed = ini::parse(
            "[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password;\nWebUsers 0 = \"Admin\", \"$1$abc\";\n[ \\WebUsers ]\n",
        )
        .expect("parse");
        let desired = ini::parse(
            "[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Password;\nWebUsers 0 = \"s3cret\";\n[ \\WebUsers ]\n",
        )
        .expect("parse");
        let none = SecretDigests::new();
        let settled = settle_ini(&desired, &observed, &none, "42");
        assert_eq!(
            ini::diff(&settled, &observed, &DiffOptions::default()).len(),
            1
        );

        let sent = digests_of(&desired, "42");
        assert_eq!(sent.len(), 1);
        assert!(!format!("{sent:?}").contains("s3cret"));
        let settled = settle_ini(&desired, &observed, &sent, "42");
        assert!(ini::diff(&settled, &observed, &DiffOptions::default()).is_empty());

        let changed = ini::parse(
            "[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Password;\nWebUsers 0 = \"n3w\";\n[ \\WebUsers ]\n",
        )
        .expect("parse");
        let settled = settle_ini(&changed, &observed, &sent, "42");
        assert_eq!(
            ini::diff(&settled, &observed, &DiffOptions::default()).len(),
            1
        );
        // Another device with the same password does not share the digest.
        let settled = settle_ini(&desired, &observed, &sent, "43");
        assert_eq!(
            ini::diff(&settled, &observed, &DiffOptions::default()).len(),
            1
        );
    }
}
