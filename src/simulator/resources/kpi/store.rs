//! The performance monitoring state of a device.

use time::OffsetDateTime;

use super::{IntervalClock, KpiDef, catalog};
use crate::simulator::device::DeviceInfo;

/// The performance monitoring state of one device: a seed that makes its
/// values its own, and its interval clock.
#[derive(Debug)]
pub struct KpiStore {
    pub(super) seed: u64,
    pub(super) clock: IntervalClock,
}

impl KpiStore {
    /// The monitoring of a device that has [`SEEDED`] completed intervals.
    pub fn new(info: &DeviceInfo) -> Self {
        let seed = info
            .serial_number
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        KpiStore {
            seed,
            clock: IntervalClock::seeded(OffsetDateTime::now_utc()),
        }
    }

    /// The interval clock.
    pub fn clock(&self) -> &IntervalClock {
        &self.clock
    }

    pub(super) fn value(&self, path: &str, kpi: &KpiDef, slot: Slot) -> u64 {
        catalog::value(self.seed, path, kpi, slot.0)
    }
}

/// A time slot of values: an interval id, or (top bit set) a real-time minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot(pub(super) u64);

impl Slot {
    pub(super) fn interval(id: u64) -> Self {
        Slot(id)
    }

    pub(super) fn realtime(minute: u64) -> Self {
        Slot(minute | 1 << 63)
    }
}
