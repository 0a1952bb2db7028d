//! The performance monitoring tree a simulated device collects:
//! applications → groups → entities → KPIs (v7.4 §11.1).
//!
//! Names come from the document where it gives them (`sbc`, `media`,
//! `callStats`, `otherStats`, `global`, `ipGroup`, the call-statistics KPIs
//! of its examples, ordered so the list ends at `shortCallsCounterTotal` as
//! example 2 of §11.2 says); the rest is a small plausible subset of the
//! SBC-Gateway Performance Monitoring Reference Guide. Values are synthetic
//! but deterministic: the same device, KPI and interval always give the same
//! value.

use crate::simulator::firmware::DeviceConfig;

/// One KPI (performance monitoring parameter).
#[derive(Debug)]
pub struct KpiDef {
    /// Its id in URLs.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it measures.
    pub description: &'static str,
    /// Largest synthetic value.
    pub max: u64,
}

/// Whether an entity is one thing or one per configuration row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    /// A singular entity (`global`): its path lists KPIs.
    Singular,
    /// One instance per row of the `IPGroup` table.
    PerIpGroup,
}

/// An entity of a group.
#[derive(Debug)]
pub struct EntityDef {
    /// Its id in URLs.
    pub id: &'static str,
    /// Short description.
    pub description: &'static str,
    /// Singular or indexed.
    pub kind: EntityKind,
    /// Its KPIs, in listing order.
    pub kpis: &'static [KpiDef],
}

/// A group of an application.
#[derive(Debug)]
pub struct GroupDef {
    /// Its id in URLs.
    pub id: &'static str,
    /// Short description.
    pub description: &'static str,
    /// Its entities, in listing order.
    pub entities: &'static [EntityDef],
}

/// An application.
#[derive(Debug)]
pub struct AppDef {
    /// Its id in URLs.
    pub id: &'static str,
    /// Short description.
    pub description: &'static str,
    /// Its groups, in listing order.
    pub groups: &'static [GroupDef],
}

const fn kpi(id: &'static str, name: &'static str, description: &'static str, max: u64) -> KpiDef {
    KpiDef {
        id,
        name,
        description,
        max,
    }
}

/// Call statistics, shared by the global and the per-IP-Group entities.
const CALL_STATS: &[KpiDef] = &[
    kpi(
        "abnormalTerminatedCallsInTotal",
        "Abnormal Terminated Calls In Total",
        "Total number of abnormally terminated inbound calls (after connect)",
        20,
    ),
    kpi(
        "abnormalTerminatedCallsOutTotal",
        "Abnormal Terminated Calls Out Total",
        "Total number of abnormally terminated outbound calls (after connect)",
        20,
    ),
    kpi(
        "activeCallsIn",
        "Active Calls In",
        "Number of currently active inbound calls",
        200,
    ),
    kpi(
        "activeCallsOut",
        "Active Calls Out",
        "Number of currently active outbound calls",
        200,
    ),
    kpi(
        "attemptedCallsInTotal",
        "Attempted Calls In Total",
        "Total number of attempted inbound calls",
        5000,
    ),
    kpi(
        "attemptedCallsOutTotal",
        "Attempted Calls Out Total",
        "Total number of attempted outbound calls",
        5000,
    ),
    kpi(
        "attemptedCallsRateIn",
        "Attempted Calls Rate In",
        "Rate of attempted inbound calls (call attempts per second)",
        20,
    ),
    kpi(
        "attemptedCallsRateOut",
        "Attempted Calls Rate Out",
        "Rate of attempted outbound calls (call attempts per second)",
        20,
    ),
    kpi(
        "busyCallsInTotal",
        "Busy Calls In Total",
        "Total number of inbound calls that ended with busy",
        100,
    ),
    kpi(
        "busyCallsOutTotal",
        "Busy Calls Out Total",
        "Total number of outbound calls that ended with busy",
        100,
    ),
    kpi(
        "establishedCallsInTotal",
        "Established Calls In Total",
        "Total number of established inbound calls",
        4000,
    ),
    kpi(
        "establishedCallsOutTotal",
        "Established Calls Out Total",
        "Total number of established outbound calls",
        4000,
    ),
    kpi(
        "noAnswerCallsInTotal",
        "No Answer Calls In Total",
        "Total number of unanswered inbound calls",
        100,
    ),
    kpi(
        "noAnswerCallsOutTotal",
        "No Answer Calls Out Total",
        "Total number of unanswered outbound calls",
        100,
    ),
    kpi(
        "postDialDelay",
        "Post Dial Delay",
        "Average post dial delay of outbound calls (msec)",
        3000,
    ),
    kpi(
        "shortCallsCounterTotal",
        "Short Calls Counter Total",
        "Total number of calls shorter than the short call threshold",
        50,
    ),
];

const OTHER_STATS: &[KpiDef] = &[
    kpi(
        "activeOtherDialogs",
        "Active Other Dialogs",
        "Number of currently active non-call SIP dialogs",
        500,
    ),
    kpi(
        "attemptedOtherDialogsInTotal",
        "Attempted Other Dialogs In Total",
        "Total number of attempted inbound non-call SIP dialogs",
        5000,
    ),
    kpi(
        "attemptedOtherDialogsOutTotal",
        "Attempted Other Dialogs Out Total",
        "Total number of attempted outbound non-call SIP dialogs",
        5000,
    ),
];

const DSP_STATS: &[KpiDef] = &[
    kpi(
        "activeDspChannels",
        "Active DSP Channels",
        "Number of DSP channels in use",
        120,
    ),
    kpi(
        "dspUtilization",
        "DSP Utilization",
        "DSP resource utilization (percent)",
        100,
    ),
];

const MEDIA_STATS: &[KpiDef] = &[
    kpi(
        "activeMediaSessions",
        "Active Media Sessions",
        "Number of active RTP media sessions",
        400,
    ),
    kpi(
        "rtpPacketsLostTotal",
        "RTP Packets Lost Total",
        "Total number of RTP packets lost",
        10000,
    ),
];

const GATEWAY_CALL_STATS: &[KpiDef] = &[
    kpi(
        "activeCalls",
        "Active Calls",
        "Number of currently active gateway calls",
        60,
    ),
    kpi(
        "attemptedCallsTotal",
        "Attempted Calls Total",
        "Total number of attempted gateway calls",
        2000,
    ),
    kpi(
        "establishedCallsTotal",
        "Established Calls Total",
        "Total number of established gateway calls",
        1800,
    ),
];

/// The applications, in listing order.
pub static APPLICATIONS: &[AppDef] = &[
    AppDef {
        id: "sbc",
        description: "SBC application statistics",
        groups: &[
            GroupDef {
                id: "callStats",
                description: "Call statistics",
                entities: &[
                    EntityDef {
                        id: "global",
                        description: "Global call statistics",
                        kind: EntityKind::Singular,
                        kpis: CALL_STATS,
                    },
                    EntityDef {
                        id: "ipGroup",
                        description: "Per-IPGroup statistics",
                        kind: EntityKind::PerIpGroup,
                        kpis: CALL_STATS,
                    },
                ],
            },
            GroupDef {
                id: "otherStats",
                description: "Other Dialogs statistics",
                entities: &[EntityDef {
                    id: "global",
                    description: "Global other dialogs statistics",
                    kind: EntityKind::Singular,
                    kpis: OTHER_STATS,
                }],
            },
        ],
    },
    AppDef {
        id: "media",
        description: "Media application statistics",
        groups: &[
            GroupDef {
                id: "dspStats",
                description: "DSP statistics",
                entities: &[EntityDef {
                    id: "global",
                    description: "Global DSP statistics",
                    kind: EntityKind::Singular,
                    kpis: DSP_STATS,
                }],
            },
            GroupDef {
                id: "mediaStats",
                description: "Media statistics",
                entities: &[EntityDef {
                    id: "global",
                    description: "Global media statistics",
                    kind: EntityKind::Singular,
                    kpis: MEDIA_STATS,
                }],
            },
        ],
    },
    AppDef {
        id: "gateway",
        description: "Gateway application statistics",
        groups: &[GroupDef {
            id: "callStats",
            description: "Call statistics",
            entities: &[EntityDef {
                id: "global",
                description: "Global call statistics",
                kind: EntityKind::Singular,
                kpis: GATEWAY_CALL_STATS,
            }],
        }],
    },
];

/// Case-insensitive lookup by id (the document's own example asks for
/// `callstats`).
pub fn find<'a, T>(items: &'a [T], id: &str, id_of: impl Fn(&T) -> &str) -> Option<&'a T> {
    items
        .iter()
        .find(|item| id_of(item).eq_ignore_ascii_case(id))
}

/// One instance of an indexed entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Row index.
    pub index: u32,
    /// `IPGroup_Name`.
    pub name: String,
    /// Its kind of IP Group, in words.
    pub description: String,
}

/// The IP Groups of the running configuration, by index.
pub fn ip_groups(config: &DeviceConfig) -> Vec<Instance> {
    let Some(table) = config.table("IPGroup") else {
        return Vec::new();
    };
    let mut found: Vec<Instance> = table
        .rows()
        .filter_map(|(index, _)| {
            let number = index.as_str().parse::<u32>().ok()?;
            let kind = match table.cell(index, "Type") {
                Some("1") => "User IP Group",
                Some("2") => "Gateway IP Group",
                _ => "Server IP Group",
            };
            Some(Instance {
                index: number,
                name: table.cell(index, "Name").unwrap_or_default().to_string(),
                description: kind.to_string(),
            })
        })
        .collect();
    found.sort_by_key(|i| i.index);
    found
}

/// The synthetic value of a KPI: a hash of the device, the KPI's full path
/// and the time slot, scaled to the KPI's range.
pub fn value(device_seed: u64, path: &str, kpi: &KpiDef, slot: u64) -> u64 {
    let mut hash = device_seed ^ 0xcbf2_9ce4_8422_2325;
    for b in path.bytes().chain(kpi.id.bytes()).chain(slot.to_le_bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash % (kpi.max + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::firmware::seed_from_dump;

    #[test]
    fn call_statistics_end_where_the_document_says() {
        assert_eq!(
            CALL_STATS.first().unwrap().id,
            "abnormalTerminatedCallsInTotal"
        );
        assert_eq!(CALL_STATS[1].id, "abnormalTerminatedCallsOutTotal");
        assert_eq!(CALL_STATS.last().unwrap().id, "shortCallsCounterTotal");
        for name in [
            "attemptedCallsRateOut",
            "noAnswerCallsInTotal",
            "busyCallsInTotal",
            "postDialDelay",
        ] {
            assert!(CALL_STATS.iter().any(|k| k.id == name), "{name}");
        }
    }

    #[test]
    fn lookup_ignores_case() {
        let sbc = find(APPLICATIONS, "SBC", |a| a.id).unwrap();
        assert!(find(sbc.groups, "callstats", |g| g.id).is_some());
        assert!(find(sbc.groups, "nope", |g| g.id).is_none());
    }

    #[test]
    fn ip_groups_come_from_the_configuration() {
        let doc = seed_from_dump(
            "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Type, IPGroup_Name;\nIPGroup 2 = 1, \"Teams-c\";\nIPGroup 0 = 0, \"Teams PS\";\n[ \\IPGroup ]\n",
        )
        .unwrap();
        let groups = ip_groups(&doc);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0],
            Instance {
                index: 0,
                name: "Teams PS".into(),
                description: "Server IP Group".into()
            }
        );
        assert_eq!(groups[1].description, "User IP Group");
        assert!(ip_groups(&DeviceConfig::new()).is_empty());
    }

    #[test]
    fn values_are_deterministic_and_in_range() {
        let k = &CALL_STATS[0];
        assert_eq!(
            value(1, "sbc/callStats/global", k, 3),
            value(1, "sbc/callStats/global", k, 3)
        );
        let spread: std::collections::BTreeSet<u64> = (0..50)
            .map(|slot| value(1, "sbc/callStats/global", k, slot))
            .collect();
        assert!(spread.len() > 5, "values vary across intervals");
        assert!(spread.iter().all(|v| *v <= k.max));
    }
}
