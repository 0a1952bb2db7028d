//! What the engine knows about Mediant configuration names without asking
//! the device: which tables are secret, and which CLI entity deletes a row
//! of which INI table. (Which parameters and columns hold secrets is in
//! [`super::sensitive`].)
//!
//! This is the client's own catalogue, written from AudioCodes' manuals and
//! the CLI reference (`../shared/reference/audiocodes-cli.md`); the
//! simulator keeps its own and shares nothing with this one.

/// Tables the device treats as secret (hidden): it shows them in its INI
/// only as a commented title, and "if a secret table appears in an ini file,
/// it replaces the current table regardless of its content" (AudioCodes SIP
/// User's Manual, "Format of ini File Table Parameters"). The same chapter:
/// "in the IPSec application, IPSec tables are defined as secret tables as
/// the IKE table contains a pre-shared key … the SPD table that depends on
/// the IKE table is defined as a secret table as well." Tables that only
/// some firmware hides are not listed: `RoutingRuleGroups` is hidden in the
/// real Mediant 1000 7.00A export but shown with its rows by the MP-124
/// 6.60A one (`../shared/fixtures/real-devices/`); such tables, and any
/// other, are recognised as secret when the device renders them hidden.
const SECRET_TABLES: &[&str] = &[
    "IPsecSATable",
    "IPsecProposalTable",
    "IPsecSPDTable",
    "SPDTable",
    "IKETable",
];

/// Whether the catalogue knows `table` as a secret table.
pub fn is_secret_table(table: &str) -> bool {
    SECRET_TABLES.iter().any(|t| t.eq_ignore_ascii_case(table))
}

/// How the CLI names one row of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CliKey {
    /// The INI row index (`ip-group 3`).
    Index,
    /// Values of these columns of the row, joined by `/` (`proxy-ip 1/0`:
    /// proxy set, then the address's index within it).
    Columns(&'static [&'static str]),
    /// The value of one column, quoted (`user "Admin"`).
    Column(&'static str),
}

/// How sure the mapping is, as tagged in the CLI reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// [C]: AudioCodes documentation.
    Confirmed,
    /// [P]: public code that drives real devices.
    Corroborated,
    /// [I]: inferred. An assumption, written down as one.
    Inferred,
}

/// The CLI entity behind an INI table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CliEntity {
    /// The INI table name.
    pub table: &'static str,
    /// The top-level mode the entity lives in (`configure voip`).
    pub mode: &'static str,
    /// The words that open a row, before its key (`ip-group`, `sbc routing ip2ip-routing`).
    pub entity: &'static str,
    /// How the row's key is written.
    pub key: CliKey,
    /// How sure the mapping is.
    pub confidence: Confidence,
}

use CliKey::{Column, Columns, Index};
use Confidence::{Confirmed, Corroborated, Inferred};

/// INI table ↔ CLI entity, from the reference's table. Rows are deleted by
/// `no <entity> <key>` in the parent mode ([P]/[I] there: "Delete a row with
/// `no <entity> <key>` in the parent mode, never from inside the row").
/// Every [`Confidence::Inferred`] entry is an assumption: the reference
/// infers it (mostly from the naming of its confirmed neighbours), no
/// document states it.
const CLI_ENTITIES: &[CliEntity] = &[
    CliEntity {
        table: "InterfaceTable",
        mode: "configure network",
        entity: "interface network-if",
        key: Index,
        confidence: Corroborated,
    },
    CliEntity {
        table: "DeviceTable",
        mode: "configure network",
        entity: "network-dev",
        key: Index,
        confidence: Corroborated,
    },
    CliEntity {
        table: "NATTranslation",
        mode: "configure network",
        entity: "nat-translation",
        key: Index,
        confidence: Corroborated,
    },
    // Assumption [I]: `tls N` under configure network.
    CliEntity {
        table: "TLSContexts",
        mode: "configure network",
        entity: "tls",
        key: Index,
        confidence: Inferred,
    },
    CliEntity {
        table: "SNMPUsers",
        mode: "configure system",
        entity: "snmp v3-users",
        key: Index,
        confidence: Corroborated,
    },
    // Assumption [I]: web users are keyed by name (`user <name>`).
    CliEntity {
        table: "WebUsers",
        mode: "configure system",
        entity: "user",
        key: Column("Username"),
        confidence: Inferred,
    },
    // Assumption [I].
    CliEntity {
        table: "SRD",
        mode: "configure voip",
        entity: "srd",
        key: Index,
        confidence: Inferred,
    },
    // Assumption [I].
    CliEntity {
        table: "SIPInterface",
        mode: "configure voip",
        entity: "sip-interface",
        key: Index,
        confidence: Inferred,
    },
    // Assumption [I] (6.8 firmware spells it `voip-network proxy-set`).
    CliEntity {
        table: "ProxySet",
        mode: "configure voip",
        entity: "proxy-set",
        key: Index,
        confidence: Inferred,
    },
    // Assumption [I]: keyed `<ProxySetId>/<ProxyIpIndex>`.
    CliEntity {
        table: "ProxyIp",
        mode: "configure voip",
        entity: "proxy-ip",
        key: Columns(&["ProxySetId", "ProxyIpIndex"]),
        confidence: Inferred,
    },
    CliEntity {
        table: "IPGroup",
        mode: "configure voip",
        entity: "ip-group",
        key: Index,
        confidence: Confirmed,
    },
    // Assumption [I] (the sibling `voip-network realm-extension` is [C]).
    CliEntity {
        table: "CpMediaRealm",
        mode: "configure voip",
        entity: "voip-network realm",
        key: Index,
        confidence: Inferred,
    },
    // Assumption [I].
    CliEntity {
        table: "IP2IPRouting",
        mode: "configure voip",
        entity: "sbc routing ip2ip-routing",
        key: Index,
        confidence: Inferred,
    },
    // Assumption [I].
    CliEntity {
        table: "SBCRoutingPolicy",
        mode: "configure voip",
        entity: "sbc routing sbc-routing-policy",
        key: Index,
        confidence: Inferred,
    },
    CliEntity {
        table: "Classification",
        mode: "configure voip",
        entity: "sbc classification",
        key: Index,
        confidence: Confirmed,
    },
    // Assumption [I].
    CliEntity {
        table: "IpProfile",
        mode: "configure voip",
        entity: "coders-and-profiles ip-profile",
        key: Index,
        confidence: Inferred,
    },
    // Assumption [I].
    CliEntity {
        table: "MessageManipulations",
        mode: "configure voip",
        entity: "message message-manipulations",
        key: Index,
        confidence: Inferred,
    },
    // Assumption [I] (7.2+; 7.0 has CodersGroup0.. instead, unmapped).
    CliEntity {
        table: "AudioCodersGroups",
        mode: "configure voip",
        entity: "coders-and-profiles audio-coders-groups",
        key: Index,
        confidence: Inferred,
    },
];

/// The CLI entity of an INI table, if the catalogue maps it.
pub fn cli_entity(table: &str) -> Option<&'static CliEntity> {
    CLI_ENTITIES
        .iter()
        .find(|e| e.table.eq_ignore_ascii_case(table))
}

/// Tables that others refer to come first: a device rejects a row naming a
/// row it has not read yet ("The tables must appear in the order of their
/// dependency (i.e., if Table X is referred to by Table Y, Table X must
/// appear in the ini file before Table Y)", AudioCodes MP-11x User's
/// Manual, "ini File Table Parameters"). Deletions run in reverse: children
/// first. Unknown tables follow, by name.
const TABLE_ORDER: &[&str] = &[
    "PhysicalPortsTable",
    "EtherGroupTable",
    "DeviceTable",
    "InterfaceTable",
    "NATTranslation",
    "StaticRouteTable",
    "WebUsers",
    "SNMPUsers",
    "TLSContexts",
    "SBCRoutingPolicy",
    "SRD",
    "MediaRealm",
    "CpMediaRealm",
    "SIPInterface",
    "ProxySet",
    "ProxyIp",
    "AudioCodersGroups",
    "AllowedAudioCodersGroups",
    "IpProfile",
    "IPGroup",
    "Account",
    "ConditionTable",
    "Classification",
    "MessageManipulations",
    "IP2IPRouting",
    "IPOutboundManipulation",
    "IPInboundManipulation",
];

/// The position of a table in dependency order (lower first).
pub fn table_rank(name: &str) -> usize {
    TABLE_ORDER
        .iter()
        .position(|t| t.eq_ignore_ascii_case(name))
        .unwrap_or(TABLE_ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_tables_map_to_their_entities() {
        let ip_group = cli_entity("ipgroup").expect("IPGroup is mapped");
        assert_eq!(
            (ip_group.mode, ip_group.entity),
            ("configure voip", "ip-group")
        );
        assert_eq!(ip_group.confidence, Confidence::Confirmed);
        assert_eq!(
            cli_entity("ProxyIp").map(|e| e.key),
            Some(CliKey::Columns(&["ProxySetId", "ProxyIpIndex"]))
        );
        assert!(cli_entity("PREFIX").is_none());
        assert!(table_rank("ProxyIp") > table_rank("ProxySet"));
        assert!(table_rank("IPGroup") > table_rank("ProxySet"));
        assert!(is_secret_table("ipsecsatable"));
        assert!(!is_secret_table("IPGroup"));
    }
}
