//! Which configuration values are secret, and the one redaction function
//! every printed value passes through ([`redact`]).
//!
//! Secrets are recognised by type first: a catalogue of the parameters and
//! columns a Mediant holds as secrets (`CLIPrivPass`, SNMP community
//! strings, `TR069ACSPASSWORD`, `IPsecSATable_SharedKey` …), the device's own
//! rendering (a `$1$…` hash; a parameter the device hides, passed in as
//! `hidden`), and only then, as a fallback for names the catalogue does not
//! know, the shape of the name (ending in `Password`, `Key`, `Token`,
//! `Credentials`, or holding `password`, `secret`, `community` …).

use std::borrow::Cow;

/// What human output shows instead of a secret value.
pub const MASK: &str = "***";

/// Parameters and table columns a Mediant types as secret, whatever their
/// name looks like (compared case-insensitively; an indexed scalar such as
/// `SNMPReadOnlyCommunityString_1` matches its base name). Sources: the
/// Mediant 7.x user manuals' parameter tables (CLI privileged password,
/// SNMP community strings, TR-069 ACS credentials, IPsec pre-shared keys,
/// RADIUS/LDAP/account passwords) and the real exports, which show
/// `WebUsers_Password`, `IPGroup_Password`, `Account_Password` and
/// `LdapConfiguration_Password` as `$1$` hashes.
const SECRET_NAMES: &[&str] = &[
    "CLIPrivPass",
    "TR069ACSPASSWORD",
    "TR069ACSUSERNAME",
    "TR069CONNECTIONREQUESTPASSWORD",
    "SNMPReadOnlyCommunityString",
    "SNMPReadWriteCommunityString",
    "SNMPTrapCommunityString",
    "SNMPUsers_AuthKey",
    "SNMPUsers_PrivKey",
    "IPsecSATable_SharedKey",
    "IPsecSATable_PreSharedKey",
    "WebUsers_Password",
    "WebUsers_PwNonce",
    "IPGroup_Password",
    "Account_Password",
    "LdapConfiguration_Password",
    "RadiusSharedSecret",
    "SharedSecret",
    "HTTPSPkeyPassword",
    "TLSPkeyPassword",
    "LicenseKey",
];

/// Name endings that mark a secret when the catalogue does not know the
/// name (lower case).
const SECRET_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "key",
    "token",
    "credentials",
    "secret",
];

/// Fragments anywhere in a name that mark a secret when the catalogue does
/// not know the name (lower case).
const SECRET_FRAGMENTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "presharedkey",
    "pre-shared-key",
    "privatekey",
    "private-key",
    "pwnonce",
    "community",
    "licensekey",
    "license-key",
    "authkey",
    "privkey",
    "sharedkey",
    "token",
    "credential",
];

/// The name without an `_<digits>` index suffix (`SNMPTrapCommunityString_2`).
fn base_name(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((base, index)) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
            base
        }
        _ => name,
    }
}

/// Whether the catalogue types `name` (a parameter, a full column name such
/// as `IPsecSATable_SharedKey`, or a CLI key) as a secret.
pub fn is_catalogued_secret(name: &str) -> bool {
    let base = base_name(name);
    SECRET_NAMES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name) || s.eq_ignore_ascii_case(base))
}

/// Whether a parameter, column or CLI key name holds a secret: by the
/// catalogue, else by the shape of the name.
pub fn is_sensitive(name: &str) -> bool {
    if is_catalogued_secret(name) {
        return true;
    }
    let lower = base_name(name).to_ascii_lowercase();
    // A column's own part (`IPsecSATable_SharedKey` → `sharedkey`).
    let own = lower.rsplit(['_', '-', ' ']).next().unwrap_or(&lower);
    SECRET_SUFFIXES.iter().any(|s| own.ends_with(s))
        || SECRET_FRAGMENTS.iter().any(|f| lower.contains(f))
}

/// Whether a value is the device's rendering of a secret (a `$1$` hash).
pub fn is_device_hash(value: &str) -> bool {
    value.trim_start_matches(['"', '\'']).starts_with("$1$")
}

/// Whether a value must not be shown: its name is secret, the device hides
/// it (`hidden`), or it is a device hash.
pub fn is_secret(name: &str, value: &str, hidden: bool) -> bool {
    hidden || is_sensitive(name) || is_device_hash(value)
}

/// The value as human output may show it: [`MASK`] for a secret. Every
/// value the engine prints (plans, outcomes, errors, events, status, logs,
/// `Debug`) passes through here or [`redact_hidden`].
pub fn redact<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    redact_hidden(name, value, false)
}

/// [`redact`] for a value the device hides (a hidden parameter).
pub fn redact_hidden<'a>(name: &str, value: &'a str, hidden: bool) -> Cow<'a, str> {
    if is_secret(name, value, hidden) {
        Cow::Borrowed(MASK)
    } else {
        Cow::Borrowed(value)
    }
}

/// The value as human output may show it: masked when the name or value is
/// secret. Same as [`redact`], for callers that want a `&str`.
pub fn shown<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret(name, value, false) {
        MASK
    } else {
        value
    }
}

/// One line of device output or INI text with secret values masked: a
/// `Name = value` line whose name is secret, any `$1$` hash, and CLI lines
/// whose keyword is secret (`password "x"`) lose their value.
pub fn redact_line(line: &str) -> String {
    if let Some((name, value)) = line.split_once('=') {
        let name_t = name.trim();
        if !name_t.is_empty()
            && !name_t.contains(char::is_whitespace)
            && is_secret(name_t, value.trim(), false)
        {
            return format!("{name}= {MASK}");
        }
    }
    let mut out = Vec::new();
    let mut words = line.split(' ').peekable();
    let mut mask_rest = false;
    while let Some(word) = words.next() {
        if mask_rest {
            if !word.is_empty() {
                out.push(MASK);
                break;
            }
            out.push(word);
            continue;
        }
        if is_device_hash(word) {
            out.push(MASK);
            continue;
        }
        out.push(word);
        let bare = word.trim_matches(['"', '\'', ',', ';']);
        if !bare.is_empty() && is_sensitive(bare) && words.peek().is_some() {
            mask_rest = true;
        }
    }
    out.join(" ")
}

/// The most characters of a device's own text (an error `description`, a
/// body that is not JSON) kept for conditions, events and errors.
pub const DEVICE_TEXT_MAX: usize = 200;

/// Words after which a device's prose puts a secret (`password x`,
/// `community public`); `key` is not among them: "License key can't be
/// applied" is prose, not a key.
const SECRET_NOUNS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "community",
    "credentials",
    "psk",
    "pre-shared-key",
];

/// Prose from a device with secret values masked: `Name = value` whose name
/// is secret (as [`redact_line`]), `$1$` hashes, the word after a
/// [`SECRET_NOUNS`] word, and the value after any secret-looking name that
/// ends in `:` or `=` (`LicenseKey: ABC`).
fn redact_prose(text: &str) -> String {
    if let Some((name, value)) = text.split_once('=') {
        let name_t = name.trim();
        if !name_t.is_empty()
            && !name_t.contains(char::is_whitespace)
            && is_secret(name_t, value.trim(), false)
        {
            return format!("{name}= {MASK}");
        }
    }
    let mut out: Vec<&str> = Vec::new();
    let mut mask_next = false;
    for word in text.split(' ') {
        if mask_next && !word.is_empty() {
            out.push(MASK);
            mask_next = false;
            continue;
        }
        if is_device_hash(word.trim_matches(['"', '\'', ',', ';', '.'])) {
            out.push(MASK);
            continue;
        }
        out.push(word);
        let bare = word.trim_matches(['"', '\'', ',', ';', '(', ')']);
        let lower = bare.trim_end_matches([':', '=']).to_ascii_lowercase();
        mask_next = SECRET_NOUNS.contains(&lower.as_str())
            || (bare.ends_with([':', '=']) && is_sensitive(bare.trim_end_matches([':', '='])));
    }
    out.join(" ")
}

/// A device's own text made fit for conditions, events, logs and errors:
/// control characters (newlines, escapes, NUL …) become spaces and runs of
/// spaces one, secret-looking values are masked as in [`redact_line`], and
/// the result is cut at [`DEVICE_TEXT_MAX`] characters (marked `…`). Every
/// text a device sends about an error passes through here, once, where the
/// device client reads it.
pub fn device_text(raw: &str) -> String {
    let mut flat = String::with_capacity(raw.len().min(4 * DEVICE_TEXT_MAX));
    for c in raw.chars() {
        let c = if c.is_control() || c == '\u{feff}' {
            ' '
        } else {
            c
        };
        if c == ' ' && (flat.is_empty() || flat.ends_with(' ')) {
            continue;
        }
        flat.push(c);
        // Far more than the cap: stop reading a huge body.
        if flat.len() > 8 * DEVICE_TEXT_MAX {
            break;
        }
    }
    let masked = redact_prose(flat.trim_end());
    match masked.char_indices().nth(DEVICE_TEXT_MAX) {
        Some((cut, _)) => format!("{}…", &masked[..cut]),
        None if masked.is_empty() => "(no description)".to_string(),
        None => masked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_secrets_by_catalogue_value_and_name() {
        for name in [
            "WebUsers_Password",
            "IPsecTable_PreSharedKey",
            "SNMPReadOnlyCommunityString",
            "SNMPTrapCommunityString_1",
            "pre-shared-key",
            "WebUsers_PwNonce",
            "CLIPrivPass",
            "cliprivpass",
            "TR069ACSPASSWORD",
            "IPsecSATable_SharedKey",
            "MyApiToken",
            "Vault_Credentials",
            "SomeKey",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in [
            "IPGroup_Name",
            "EnableSyslog",
            "udp-port",
            "KeyFeatures",
            "IPGroup_Index",
        ] {
            assert!(!is_sensitive(name), "{name}");
        }
        assert_eq!(redact("WebUsers_Password", "abc"), MASK);
        assert_eq!(redact("IPGroup_Name", "ITSP"), "ITSP");
        assert_eq!(redact("IPGroup_Name", "$1$abc"), MASK);
        assert_eq!(redact_hidden("LDAPSERVERPORT", "389", true), MASK);
        assert_eq!(shown("IPGroup_Name", "ITSP"), "ITSP");
    }

    #[test]
    fn lines_lose_secret_values() {
        assert_eq!(redact_line("CLIPrivPass = 'marker'"), "CLIPrivPass = ***");
        assert_eq!(redact_line("  password \"marker\" extra"), "  password ***");
        assert_eq!(redact_line("name \"$1$abc\""), "name ***");
        assert_eq!(redact_line("udp-port 5060"), "udp-port 5060");
    }

    #[test]
    fn device_text_is_flattened_masked_and_capped() {
        assert_eq!(
            device_text("bad value\r\n\x1b[31mred\x00 here"),
            "bad value [31mred here"
        );
        assert_eq!(
            device_text("Login failed: password MARKER-s3cret is wrong"),
            "Login failed: password *** is wrong"
        );
        assert_eq!(
            device_text("License key can't be applied to device in HA configuration"),
            "License key can't be applied to device in HA configuration"
        );
        assert_eq!(
            device_text("bad LicenseKey: MARKER x"),
            "bad LicenseKey: *** x"
        );
        assert_eq!(
            device_text("community 'MARKER' refused"),
            "community *** refused"
        );
        assert_eq!(device_text("hash $1$MARKERabc stored"), "hash *** stored");
        assert_eq!(
            device_text("WebUsers_Password = MARKER"),
            "WebUsers_Password = ***"
        );
        let long = device_text(&"x".repeat(10_000));
        assert_eq!(long.chars().count(), DEVICE_TEXT_MAX + 1);
        assert!(long.ends_with('…'));
        assert_eq!(device_text(" \n "), "(no description)");
    }
}
