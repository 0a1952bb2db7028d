//! The minimum user level per REST resource and method (v7.4 document,
//! tables 2-1 and 2-2), so a 403/405 can say which level is needed.

use std::fmt;

/// A device user's access level, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privilege {
    /// Read-only access (level 50).
    Monitor,
    /// Configuration access (level 100).
    Administrator,
    /// Full access, including files, TLS and licences (level 200).
    SecurityAdministrator,
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Privilege::Monitor => "Monitor",
            Privilege::Administrator => "Administrator",
            Privilege::SecurityAdministrator => "Security Administrator",
        })
    }
}

/// The level a method on a resource (path below `/api/v1`, e.g.
/// `files/ini/incremental`) needs, or `None` when the device does not offer
/// that method there.
pub fn required_privilege(method: &str, resource: &str) -> Option<Privilege> {
    use Privilege::*;
    let r = resource.trim_matches('/');
    let m = method.to_ascii_uppercase();
    let get_only = |level| (m == "GET").then_some(level);
    let put_only = |level| (m == "PUT").then_some(level);
    match r {
        "actions/reset" | "actions/saveConfiguration" => (m == "POST").then_some(Administrator),
        "actions/authToken" => (m == "POST").then_some(SecurityAdministrator),
        "actions" | "files" => get_only(Administrator),
        "status" | "alarms" | "alarms/active" | "alarms/history" | "mc_status" | "versions" => {
            get_only(Monitor)
        }
        "license" => match m.as_str() {
            "GET" => Some(Administrator),
            "PUT" => Some(SecurityAdministrator),
            _ => None,
        },
        "files/ini" | "files/cliScript" | "files/configurationPackage.tar.gz" => {
            matches!(m.as_str(), "GET" | "PUT").then_some(SecurityAdministrator)
        }
        "files/ini/incremental" | "files/cliScript/incremental" => put_only(SecurityAdministrator),
        _ if r.starts_with("files/tls") => {
            matches!(m.as_str(), "GET" | "PUT" | "POST").then_some(SecurityAdministrator)
        }
        _ if r.starts_with("alarms/") || r.starts_with("kpi") => get_only(Monitor),
        _ if r.starts_with("files/") => put_only(Administrator),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_documented_table() {
        use Privilege::*;
        assert_eq!(
            required_privilege("GET", "files/ini"),
            Some(SecurityAdministrator)
        );
        assert_eq!(
            required_privilege("PUT", "/files/ini/incremental"),
            Some(SecurityAdministrator)
        );
        assert_eq!(required_privilege("GET", "files/ini/incremental"), None);
        assert_eq!(
            required_privilege("POST", "actions/saveConfiguration"),
            Some(Administrator)
        );
        assert_eq!(required_privilege("GET", "status"), Some(Monitor));
        assert_eq!(
            required_privilege("PUT", "license"),
            Some(SecurityAdministrator)
        );
        assert_eq!(required_privilege("GET", "license"), Some(Administrator));
        assert_eq!(
            required_privilege("PUT", "files/software"),
            Some(Administrator)
        );
        assert_eq!(
            required_privilege("GET", "alarms/active/lastChange"),
            Some(Monitor)
        );
        assert!(Monitor < Administrator && Administrator < SecurityAdministrator);
    }
}
