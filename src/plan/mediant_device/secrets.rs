//! Write-only secrets. A device shows passwords only as hashes (`$1$…`), so
//! a desired password never equals what is observed. We remember a keyed
//! digest of what we last sent (never the value, see [`crate::plan::memory`])
//! and treat the secret as in sync while the desired value still has that
//! digest and the device still holds a hash (or hides the parameter).

use crate::config::catalog;
use crate::config::cli;
use crate::config::ini::{Cell, IniDocument, Table};
use crate::config::sensitive::{is_catalogued_secret, is_sensitive};

pub use crate::plan::memory::SecretDigests;

/// Whether a value is the device's hash of a secret rather than the secret.
fn is_device_hash(value: &str) -> bool {
    value.starts_with("$1$")
}

/// Every secret value `desired` declares, as digests to record after sending.
pub fn digests_of(desired: &IniDocument, serial: &str, memory: &SecretDigests) -> SecretDigests {
    let mut out = memory.empty_like();
    for p in desired
        .params()
        .filter(|p| is_sensitive(&p.name) || is_catalogued_secret(&p.name))
    {
        out.insert(p.name.clone(), memory.seal(serial, &p.name, &p.value));
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
                    out.insert(key.clone(), memory.seal(serial, &key, value));
                }
            }
        }
    }
    out
}

/// The digest key of a whole secret table (`IPsecSATable[*]`).
fn table_key(table: &str) -> String {
    format!("{table}[*]")
}

/// A canonical text of a table's declared content (rows in index order,
/// cells by lower-cased column name), for its digest.
fn table_text(t: &Table) -> String {
    let mut out = String::new();
    for (index, row) in t.rows() {
        let mut cells: Vec<(String, Option<&str>)> = t
            .columns()
            .iter()
            .enumerate()
            .filter_map(|(p, c)| match row.cell(p) {
                Cell::Absent => None,
                Cell::Default => Some((c.to_ascii_lowercase(), None)),
                Cell::Value(v) => Some((c.to_ascii_lowercase(), Some(v))),
            })
            .collect();
        cells.sort();
        out.push_str(index.as_str());
        for (c, v) in cells {
            out.push('\u{1f}');
            out.push_str(&c);
            out.push('=');
            match v {
                Some(v) => {
                    out.push_str(&v.len().to_string());
                    out.push(':');
                    out.push_str(v);
                }
                None => out.push_str("$$"),
            }
        }
        out.push('\u{1e}');
    }
    out
}

/// Whether a desired table is a secret table on this device: catalogued,
/// or shown hidden by it.
fn is_secret_table(name: &str, observed: Option<&IniDocument>) -> bool {
    catalog::is_secret_table(name)
        || observed
            .and_then(|o| o.table(name))
            .is_some_and(Table::is_hidden)
}

/// Digests of the whole secret tables `desired` declares and of the
/// parameters the device hides, to record after they were sent: the device never shows them again, so the digest is
/// what tells "unchanged since we sent it" from "changed".
pub fn table_digests(
    desired: &IniDocument,
    observed: Option<&IniDocument>,
    serial: &str,
    memory: &SecretDigests,
) -> SecretDigests {
    let mut out = memory.empty_like();
    out.extend(
        desired
            .tables()
            .filter(|t| !t.is_hidden() && is_secret_table(&t.name, observed))
            .map(|t| {
                let key = table_key(&t.name);
                let d = memory.seal(serial, &key, &table_text(t));
                (key, d)
            }),
    );
    // Parameters the device hides are write-only too.
    if let Some(observed) = observed {
        for p in desired
            .params()
            .filter(|p| observed.is_hidden_param(&p.name))
        {
            out.insert(p.name.clone(), memory.seal(serial, &p.name, &p.value));
        }
    }
    out
}

/// Everything an INI step that sends `desired` records once it succeeded:
/// the digests of its secret values, secret tables and hidden parameters.
pub fn record(
    desired: &IniDocument,
    observed: Option<&IniDocument>,
    serial: &str,
    memory: &SecretDigests,
) -> SecretDigests {
    let mut out = digests_of(desired, serial, memory);
    out.extend(table_digests(desired, observed, serial, memory));
    out
}

/// The entry under which the digest of the CLI setting `key` in the mode at
/// `path` is recorded (`cli:configure voip / ip-group 0 / password`).
pub fn cli_entry(path: &[String], key: &str) -> String {
    format!("cli:{} / {key}", path.join(" / "))
}

/// Write-only CLI secrets. A device shows a password setting as a hash
/// (the simulator: `$1$…`), obscured or not at all — the reference is
/// silent on its running-config form — so a desired password never equals
/// what is observed. Drops from `changes` each setting of a secret key
/// ([`cli::is_secret_key`]) whose desired value is the one last sent (its
/// recorded digest) in a mode the device already has (no creation above
/// it: a re-created entry gets its password again). Returns the digests to
/// record once the remaining changes are sent. A password changed by hand
/// on the device is not seen (as with INI hashes): change the desired
/// value to send it again.
pub fn settle_cli(
    changes: &mut cli::CliDiff,
    digests: &SecretDigests,
    serial: &str,
) -> SecretDigests {
    let created: Vec<Vec<String>> = changes
        .changes()
        .iter()
        .filter_map(|c| match c {
            cli::CliChange::Create { path } => Some(path.clone()),
            _ => None,
        })
        .collect();
    let mut record = digests.empty_like();
    changes.retain(|c| {
        let cli::CliChange::Set { path, key, new, .. } = c else {
            return true;
        };
        if !cli::is_secret_key(key) {
            return true;
        }
        let entry = cli_entry(path, key);
        let in_new_mode = created.iter().any(|p| path.starts_with(p));
        if !in_new_mode && digests.matches(serial, &entry, new) {
            return false;
        }
        record.insert(entry.clone(), digests.seal(serial, &entry, new));
        true
    });
    record
}

/// The entry under which the fingerprint of the desired INI last uploaded
/// whole (the upload that resets the device) is recorded: a full upload
/// planned again for the same desired INI means the device did not take
/// all of it, and resetting once more would change nothing but the
/// device's uptime.
pub const FULL_UPLOAD_ENTRY: &str = "@reset/ini-full";

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
    let unchanged = |key: &str, value: &str| digests.matches(serial, key, value);
    for p in desired.params() {
        let secret = is_sensitive(&p.name)
            || is_catalogued_secret(&p.name)
            || observed.is_hidden_param(&p.name);
        if !secret || !unchanged(&p.name, &p.value) {
            continue;
        }
        match observed.param(&p.name) {
            Some(have) if is_device_hash(&have.value) && !is_device_hash(&p.value) => {
                settled.set_param(&p.name, have.value.clone());
            }
            // Hidden by the device (`;X is hidden but has non-default
            // value`), or a catalogued secret it never lists: the recorded
            // digest is all there is to compare.
            None if observed.is_hidden_param(&p.name) || is_catalogued_secret(&p.name) => {
                settled.remove_param(&p.name);
            }
            _ => {}
        }
    }
    // Whole secret tables the device hides: unchanged since sent when the
    // recorded digest matches.
    for t in desired.tables() {
        if t.is_hidden() || !is_secret_table(&t.name, Some(observed)) {
            continue;
        }
        let shown_hidden = observed.table(&t.name).is_none_or(Table::is_hidden);
        let key = table_key(&t.name);
        if shown_hidden && unchanged(&key, &table_text(t)) {
            settled.remove_table(&t.name);
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

        let sent = digests_of(&desired, "42", &none);
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
