//! The local users of a simulated device and HTTP Basic authentication.
//!
//! Every device starts with three users:
//!
//! | user | password | level |
//! |---|---|---|
//! | `Admin` | `Admin` | Security Administrator (the real factory default) |
//! | `Operator` | `Operator` | Administrator |
//! | `Monitor` | `Monitor` | Monitor |
//!
//! Users are kept apart from the configuration: editing the `WebUsers` table
//! through INI or CLI does not change who may log in.

use base64::Engine as _;

/// A user's access level, lowest first (the device's numeric levels are
/// 50, 100 and 200).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Privilege {
    /// Read-only.
    Monitor,
    /// May change configuration.
    Administrator,
    /// May also change security settings, files and licences.
    SecurityAdministrator,
}

impl Privilege {
    /// The level's name as the device's documents write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Monitor => "Monitor",
            Privilege::Administrator => "Administrator",
            Privilege::SecurityAdministrator => "Security Administrator",
        }
    }
}

/// One local user.
#[derive(Clone)]
pub struct User {
    /// Login name (case-sensitive).
    pub name: String,
    password: String,
    /// Access level.
    pub privilege: Privilege,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of Debug output.
        f.debug_struct("User")
            .field("name", &self.name)
            .field("privilege", &self.privilege)
            .finish_non_exhaustive()
    }
}

/// The users of one device.
#[derive(Clone, Debug)]
pub struct Users(Vec<User>);

impl Users {
    /// `Admin`/`Admin` (Security Administrator), `Operator`/`Operator`
    /// (Administrator) and `Monitor`/`Monitor` (Monitor).
    pub fn factory_default() -> Self {
        let user = |name: &str, privilege| User {
            name: name.to_string(),
            password: name.to_string(),
            privilege,
        };
        Users(vec![
            user("Admin", Privilege::SecurityAdministrator),
            user("Operator", Privilege::Administrator),
            user("Monitor", Privilege::Monitor),
        ])
    }

    /// The user an `Authorization: Basic …` header value names, when the
    /// password matches; `None` for anything else, malformed or not.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Option<&User> {
        let value = std::str::from_utf8(authorization?).ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (name, password) = decoded.split_once(':')?;
        self.0
            .iter()
            .find(|u| u.name == name && u.password == password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_checked() {
        let users = Users::factory_default();
        let admin = users.authenticate(Some(b"Basic QWRtaW46QWRtaW4="));
        assert_eq!(
            admin.map(|u| u.privilege),
            Some(Privilege::SecurityAdministrator)
        );
        assert!(
            users
                .authenticate(Some(b"Basic QWRtaW46d3Jvbmc="))
                .is_none()
        ); // Admin:wrong
        assert!(users.authenticate(Some(b"Bearer abc")).is_none());
        assert!(users.authenticate(Some(b"Basic !!!")).is_none());
        assert!(users.authenticate(None).is_none());
        assert!(!format!("{users:?}").contains("password"));
    }
}
