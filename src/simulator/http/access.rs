//! Who may do what: the minimum user level per resource and method (v7.4
//! document, section 2, Tables 2-1 and 2-2), and which resources each
//! dialect has.

use axum::http::Method;

use crate::simulator::device::Dialect;
use crate::simulator::device::users::Privilege;

/// What a resource allows for one method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The method is supported from this level up (403 below it).
    Min(Privilege),
    /// The method is not supported (405 for every user).
    NotAllowed,
}

use Privilege::{Administrator as Adm, Monitor as Mon, SecurityAdministrator as Sec};
use Rule::{Min, NotAllowed as No};

/// One row of the table: a path pattern relative to `/api/v1` and the rule
/// for GET, PUT, POST and DELETE. A pattern ending in `/**` also covers
/// everything below it.
struct Row {
    pattern: &'static str,
    rules: [Rule; 4],
}

const fn row(pattern: &'static str, get: Rule, put: Rule, post: Rule, delete: Rule) -> Row {
    Row {
        pattern,
        rules: [get, put, post, delete],
    }
}

/// Table 2-2, with Table 2-1's directory levels for resources Table 2-2 does
/// not name (the navigation roots and `performanceMonitoring` of the 2015
/// dialect, which has no table of its own). First match wins.
const TABLE: &[Row] = &[
    row("", Min(Mon), No, No, No),
    row("versions", Min(Mon), No, No, No),
    row("actions/reset", No, No, Min(Adm), No),
    row("actions/saveConfiguration", No, No, Min(Adm), No),
    row("actions/authToken", No, No, Min(Sec), No),
    row("actions", Min(Adm), No, No, No),
    row("status", Min(Mon), No, No, No),
    row("license", Min(Adm), Min(Sec), No, No),
    row("alarms/**", Min(Mon), No, No, No),
    row("kpi/**", Min(Mon), No, No, No),
    row("performanceMonitoring/**", Min(Mon), No, No, No),
    row("mc_status", Min(Mon), No, No, No),
    row("files/ini", Min(Sec), Min(Sec), No, No),
    row("files/ini/incremental", No, Min(Sec), No, No),
    row("files/cliScript/incremental", No, Min(Sec), No, No),
    row("files/cliScript", Min(Sec), Min(Sec), No, No),
    row("files/software", No, Min(Adm), No, No),
    row("files/software/hitless", No, Min(Adm), No, No),
    row("files/cpt", No, Min(Adm), No, No),
    row("files/prt", No, Min(Adm), No, No),
    row("files/dialplan", No, Min(Adm), No, No),
    row("files/casTable", No, Min(Adm), No, No),
    row("files/amd", No, Min(Adm), No, No),
    row("files/usersInfo", No, Min(Adm), No, No),
    row(
        "files/configurationPackage.tar.gz",
        Min(Sec),
        Min(Sec),
        No,
        No,
    ),
    row("files/sbcWizard", No, Min(Adm), No, No),
    row("files/fixs", No, Min(Adm), No, No),
    row("files/fixo", No, Min(Adm), No, No),
    // Section 7.5 lists these auxiliary files too; Table 2-2 does not, so
    // they take the level of their siblings.
    row("files/codertable", No, Min(Adm), No, No),
    row("files/voiceprompts", No, Min(Adm), No, No),
    row("files/tls/**", Min(Sec), Min(Sec), Min(Sec), No),
    row("files", Min(Adm), No, No, No),
];

/// Whether a path (relative to `/api/v1`, no leading or trailing `/`)
/// matches a pattern. Paths compare case-insensitively, as the documents
/// spell some names two ways (`casTable`, `castable`).
fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix("/**") {
        Some(base) => {
            path.eq_ignore_ascii_case(base)
                || (path.len() > base.len()
                    && path.as_bytes()[base.len()] == b'/'
                    && path[..base.len()].eq_ignore_ascii_case(base))
        }
        None => path.eq_ignore_ascii_case(pattern),
    }
}

/// The rule for a method on a path, or `None` when the table does not know
/// the path (the router then decides: usually 404).
pub(crate) fn rule(path: &str, method: &Method) -> Option<Rule> {
    let slot = match *method {
        Method::GET | Method::HEAD => 0,
        Method::PUT => 1,
        Method::POST => 2,
        Method::DELETE => 3,
        _ => return TABLE.iter().find(|r| matches(r.pattern, path)).map(|_| No),
    };
    TABLE
        .iter()
        .find(|r| matches(r.pattern, path))
        .map(|r| r.rules[slot])
}

/// Resources of the v7.4 document (Table 2-2, section 7.5) that the 2015
/// document does not have: its section 6.4 lists only `amd`, `castable`,
/// `codertable`, `cpt`, `dialplan`, `prt` and `voiceprompts` as auxiliary
/// files, and it has no versions list, MC status or configuration package.
const V74_ONLY: &[&str] = &[
    "versions",
    "mc_status",
    "actions/authToken",
    "files/configurationPackage.tar.gz",
    "files/usersInfo",
    "files/sbcWizard",
    "files/fixs",
    "files/fixo",
];

/// Whether a dialect has this resource at all (else 404). The 2015
/// document has no `/kpi`, TLS files, auth token or the resources of
/// [`V74_ONLY`]; the v7.4 one has no `/performanceMonitoring`.
pub(crate) fn exists_in(dialect: Dialect, path: &str) -> bool {
    let under = |base: &str| matches(&format!("{base}/**"), path);
    match dialect {
        Dialect::V74 => !under("performanceMonitoring"),
        Dialect::V2015 => {
            !(under("kpi") || under("files/tls") || V74_ONLY.iter().any(|only| matches(only, path)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_match_the_document() {
        assert_eq!(rule("files/ini", &Method::GET), Some(Min(Sec)));
        assert_eq!(rule("files/ini", &Method::POST), Some(No));
        assert_eq!(rule("files/ini/incremental", &Method::GET), Some(No));
        assert_eq!(rule("files", &Method::GET), Some(Min(Adm)));
        assert_eq!(
            rule("files/tls/2/privateKey", &Method::POST),
            Some(Min(Sec))
        );
        assert_eq!(rule("files/tls", &Method::DELETE), Some(No));
        assert_eq!(rule("alarms/active/3", &Method::GET), Some(Min(Mon)));
        assert_eq!(rule("alarms", &Method::GET), Some(Min(Mon)));
        assert_eq!(rule("license", &Method::PUT), Some(Min(Sec)));
        assert_eq!(rule("files/castable", &Method::PUT), Some(Min(Adm)));
        assert_eq!(rule("files/nothing", &Method::GET), None);
        assert_eq!(rule("actions/reset", &Method::PATCH), Some(No));
    }

    #[test]
    fn dialects_differ_in_resources() {
        assert!(exists_in(Dialect::V74, "kpi/current"));
        assert!(!exists_in(Dialect::V2015, "kpi/current"));
        assert!(!exists_in(Dialect::V2015, "files/tls/0/certificate"));
        assert!(exists_in(Dialect::V2015, "performanceMonitoring"));
        assert!(!exists_in(Dialect::V74, "performanceMonitoring/x"));
        assert!(!exists_in(Dialect::V2015, "actions/authToken"));
        assert!(exists_in(Dialect::V2015, "files/ini"));
        for only in [
            "versions",
            "mc_status",
            "files/configurationPackage.tar.gz",
            "files/fixo",
        ] {
            assert!(exists_in(Dialect::V74, only), "{only}");
            assert!(!exists_in(Dialect::V2015, only), "{only}");
        }
        assert!(exists_in(Dialect::V2015, "files/castable"));
        assert!(exists_in(Dialect::V2015, "files/codertable"));
    }
}
