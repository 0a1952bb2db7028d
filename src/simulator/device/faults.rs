//! Faults injected on demand into one device's REST traffic: HA
//! synchronisation (409 on writes), added latency, 500s, dropped
//! connections and lost answers. A forced reset is [`crate::simulator::device::Device::reset`].

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sync::lock;

/// The faults armed on a device. Counts are "the next N requests"; each
/// request that triggers a fault uses one up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultPlan {
    /// The next N authorised write requests (PUT, POST, DELETE) under `/api`
    /// answer `409 {"description":"Device is currently performing HA synchronization"}`.
    pub ha_sync_writes: u32,
    /// Milliseconds added before every `/api` request is answered.
    pub latency_ms: u64,
    /// The next N `/api` requests answer `500 Internal Server Error`.
    pub server_errors: u32,
    /// The next N `/api` requests get their connection closed without a response.
    pub drop_connections: u32,
    /// Milliseconds a device keeps answering after a request that resets it
    /// (e.g. "Device will reset now to activate new license") before it goes
    /// down: a real device takes a while to stop. 0: at once.
    pub reset_delay_ms: u64,
    /// The next N authorised `/api` requests are served in full (their
    /// effect happens) and then their connection is closed before the
    /// answer: the "lost answer" a client cannot tell from a dropped request.
    pub lose_answers: u32,
    /// The next N licence installs (`PUT /license` that the device accepts)
    /// are answered and reset the device as usual, but the device keeps the
    /// key it had: a device that does not take a key. A fault, not a
    /// documented behaviour (the documents say only that the device resets
    /// to activate the new licence).
    pub ignore_license_installs: u32,
}

/// What a request meets on its way in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Injected {
    /// Nothing: serve normally.
    None,
    /// Close the connection without answering.
    Drop,
    /// Answer 500.
    ServerError,
}

/// The fault plan of one device, changed at run time by tests or the
/// control endpoint.
#[derive(Debug, Default)]
pub struct Faults {
    plan: Mutex<FaultPlan>,
}

impl Faults {
    /// The faults armed now.
    pub fn get(&self) -> FaultPlan {
        lock(&self.plan).clone()
    }

    /// Replaces the armed faults.
    pub fn set(&self, plan: FaultPlan) {
        *lock(&self.plan) = plan;
    }

    /// Edits the armed faults in place.
    pub fn update(&self, change: impl FnOnce(&mut FaultPlan)) {
        change(&mut lock(&self.plan));
    }

    /// Disarms every fault.
    pub fn clear(&self) {
        self.set(FaultPlan::default());
    }

    /// The latency to add to the next request.
    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(lock(&self.plan).latency_ms)
    }

    /// Takes one dropped connection or 500, if armed (drops first).
    pub(crate) fn take_failure(&self) -> Injected {
        let mut plan = lock(&self.plan);
        if plan.drop_connections > 0 {
            plan.drop_connections -= 1;
            Injected::Drop
        } else if plan.server_errors > 0 {
            plan.server_errors -= 1;
            Injected::ServerError
        } else {
            Injected::None
        }
    }

    /// How long a reset waits before the device goes down.
    pub(crate) fn reset_delay(&self) -> Duration {
        Duration::from_millis(lock(&self.plan).reset_delay_ms)
    }

    /// Takes one lost answer, if armed.
    pub(crate) fn take_lost_answer(&self) -> bool {
        let mut plan = lock(&self.plan);
        if plan.lose_answers > 0 {
            plan.lose_answers -= 1;
            true
        } else {
            false
        }
    }

    /// Takes one ignored licence install, if armed.
    pub(crate) fn take_ignored_license_install(&self) -> bool {
        let mut plan = lock(&self.plan);
        if plan.ignore_license_installs > 0 {
            plan.ignore_license_installs -= 1;
            true
        } else {
            false
        }
    }

    /// Takes one HA-synchronisation refusal, if armed.
    pub(crate) fn take_ha_sync(&self) -> bool {
        let mut plan = lock(&self.plan);
        if plan.ha_sync_writes > 0 {
            plan.ha_sync_writes -= 1;
            true
        } else {
            false
        }
    }
}
