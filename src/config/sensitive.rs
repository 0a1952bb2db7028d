//! Which configuration names hold secrets, so human output can mask them.

/// What human output shows instead of a secret value.
pub const MASK: &str = "***";

/// Fragments of parameter, column or CLI key names that hold secrets on a
/// Mediant (web user passwords and their nonces, pre-shared keys, SNMP
/// community strings, private keys, licence keys, RADIUS/LDAP secrets).
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
];

/// Whether a parameter, column or CLI key name names a secret.
pub fn is_sensitive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_FRAGMENTS.iter().any(|f| lower.contains(f))
}

/// The value as human output may show it: masked when the name is sensitive.
pub fn shown<'a>(name: &str, value: &'a str) -> &'a str {
    if is_sensitive(name) { MASK } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_secret_names_whatever_their_case() {
        for name in [
            "WebUsers_Password",
            "IPsecTable_PreSharedKey",
            "SNMPReadOnlyCommunityString",
            "pre-shared-key",
            "WebUsers_PwNonce",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in ["IPGroup_Name", "EnableSyslog", "udp-port", "KeyFeatures"] {
            assert!(!is_sensitive(name), "{name}");
        }
        assert_eq!(shown("WebUsers_Password", "$1$abc"), MASK);
        assert_eq!(shown("IPGroup_Name", "ITSP"), "ITSP");
    }
}
