//! The alarm store of a device: active alarms and history since boot.

use std::sync::Mutex;

use time::OffsetDateTime;

use crate::simulator::device::DeviceInfo;
use crate::sync::lock;

/// Default `limit` (documented).
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page the simulated device returns, whatever `limit` asks.
pub const MAX_LIMIT: usize = 100;
/// The "no more items" cursor value.
pub(super) const NONE: &str = "-1";
/// Trap OIDs of the AudioCodes board MIB (`acBoardTrapDefinitions`).
pub(super) const TRAP_PREFIX: &str = "1.3.6.1.4.1.5003.9.10.1.21.2.0";

/// Alarm severities as the device names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Service is lost.
    Critical,
    /// Service is degraded.
    Major,
    /// A fault that does not yet affect service.
    Minor,
    /// A potential problem.
    Warning,
    /// Severity not known.
    Indeterminate,
    /// The alarm was cleared (history entries only).
    Cleared,
}

impl Severity {
    /// The `severity` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::Major => "Major",
            Severity::Minor => "Minor",
            Severity::Warning => "Warning",
            Severity::Indeterminate => "Indeterminate",
            Severity::Cleared => "Cleared",
        }
    }
}

/// A condition to raise as an alarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Human text (`description`).
    pub description: String,
    /// Severity while active.
    pub severity: Severity,
    /// The component raising it (`source`), e.g. `Board#1/EthernetLink#2`.
    pub source: String,
    /// OID of the corresponding SNMP trap (`oid` with `?oid=1`).
    pub oid: String,
}

/// One alarm, active or in the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    /// Sequence number in its table since boot.
    pub id: u32,
    /// What was raised.
    pub condition: Condition,
    /// `Cleared` for a history entry recording a clear.
    pub severity: Severity,
    /// When it was raised (or cleared).
    pub date: OffsetDateTime,
}

#[derive(Debug)]
struct AlarmState {
    active: Vec<Alarm>,
    history: Vec<Alarm>,
    next_active: u32,
    next_history: u32,
    last_change: Option<OffsetDateTime>,
    /// `Device::reset_count` when this state was last brought up to date.
    seen_resets: u64,
}

impl AlarmState {
    fn raise(&mut self, condition: Condition, now: OffsetDateTime) -> u32 {
        let id = self.next_active;
        self.next_active += 1;
        let severity = condition.severity;
        self.record(condition.clone(), severity, now);
        self.active.push(Alarm {
            id,
            condition,
            severity,
            date: now,
        });
        self.last_change = Some(now);
        id
    }

    fn clear(&mut self, id: u32, now: OffsetDateTime) -> bool {
        let Some(position) = self.active.iter().position(|a| a.id == id) else {
            return false;
        };
        let alarm = self.active.remove(position);
        self.record(alarm.condition, Severity::Cleared, now);
        self.last_change = Some(now);
        true
    }

    fn record(&mut self, condition: Condition, severity: Severity, now: OffsetDateTime) {
        let id = self.next_history;
        self.next_history += 1;
        self.history.push(Alarm {
            id,
            condition,
            severity,
            date: now,
        });
    }

    fn reboot(&mut self, now: OffsetDateTime) {
        let standing: Vec<Condition> = self.active.drain(..).map(|a| a.condition).collect();
        self.history.clear();
        self.next_active = 1;
        self.next_history = 1;
        self.last_change = None;
        for condition in standing {
            self.raise(condition, now);
        }
    }
}

/// The alarms of one device.
#[derive(Debug)]
pub struct AlarmLog {
    state: Mutex<AlarmState>,
}

pub(super) fn condition(
    description: &str,
    severity: Severity,
    source: &str,
    trap: u32,
) -> Condition {
    Condition {
        description: description.to_string(),
        severity,
        source: source.to_string(),
        oid: format!("{TRAP_PREFIX}.{trap}"),
    }
}

impl AlarmLog {
    /// The alarms of a device that just booted: three standing alarms (an
    /// Ethernet port down, a lost proxy, an unreachable NTP server) and a
    /// history in which a fourth alarm was raised and cleared.
    pub fn new(info: &DeviceInfo) -> Self {
        let now = OffsetDateTime::now_utc();
        let mut state = AlarmState {
            active: Vec::new(),
            history: Vec::new(),
            next_active: 1,
            next_history: 1,
            last_change: None,
            seen_resets: 0,
        };
        let port1 = state.raise(
            condition(
                "Ethernet link alarm. LAN port number 1 is down.",
                Severity::Minor,
                "Board#1/EthernetLink#1",
                10,
            ),
            now,
        );
        state.raise(
            condition(
                "Ethernet link alarm. LAN port number 2 is down.",
                Severity::Minor,
                "Board#1/EthernetLink#2",
                10,
            ),
            now,
        );
        state.clear(port1, now);
        state.raise(
            condition(
                "Proxy Set Alarm Proxy Set 1 (ITSP): Proxy lost. looking for another proxy",
                Severity::Major,
                "Board#1/ProxyConnection#1",
                94,
            ),
            now,
        );
        state.raise(
            condition(
                &format!("NTP server {} is not available", info.default_gateway),
                Severity::Minor,
                "Board#1/NTP",
                71,
            ),
            now,
        );
        AlarmLog {
            state: Mutex::new(state),
        }
    }

    /// Raises `condition`; returns its active alarm id.
    pub fn raise(&self, condition: Condition) -> u32 {
        lock(&self.state).raise(condition, OffsetDateTime::now_utc())
    }

    /// Clears active alarm `id`; false if no such alarm is active.
    pub fn clear(&self, id: u32) -> bool {
        lock(&self.state).clear(id, OffsetDateTime::now_utc())
    }

    /// The active alarms, by id.
    pub fn active(&self) -> Vec<Alarm> {
        lock(&self.state).active.clone()
    }

    /// The alarm history since boot, by id.
    pub fn history(&self) -> Vec<Alarm> {
        lock(&self.state).history.clone()
    }

    /// When an active alarm was last raised or cleared since boot.
    pub fn last_change(&self) -> Option<OffsetDateTime> {
        lock(&self.state).last_change
    }

    /// Applies a reboot if the device reset since this log last looked:
    /// history emptied, standing conditions raised again.
    pub fn observe_resets(&self, reset_count: u64) {
        let mut state = lock(&self.state);
        if state.seen_resets != reset_count {
            state.seen_resets = reset_count;
            state.reboot(OffsetDateTime::now_utc());
        }
    }
}
