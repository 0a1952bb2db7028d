//! One simulated device: its identity ([`identity`]), its running and
//! startup configuration, its users ([`users`]), request counters
//! ([`counters`]), faults on demand ([`faults`]), its reset cycle, and the
//! per-device stores of the resources.
//!
//! A [`Device`] is shared as `Arc<Device>`: it is the axum state of every
//! handler and the handle tests use to inject faults and read counters.

pub mod counters;
pub mod faults;
mod identity;
pub mod users;

pub use identity::{DeviceInfo, Dialect};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::simulator::firmware::DeviceConfig;
use crate::simulator::resources::alarms;
use crate::simulator::resources::kpi;
use crate::simulator::resources::license;
use crate::simulator::resources::tls;
use crate::sync::lock;
use counters::Counters;
use faults::Faults;
use users::Users;

/// The configuration a device holds: running (what it uses now) and startup
/// (what it loads after a reset). Both are shared copy-on-write so that a
/// thousand idle devices seeded alike hold one copy.
#[derive(Clone, Debug)]
pub(crate) struct Configuration {
    /// What the device uses now; incremental uploads change it.
    pub(crate) running: Arc<DeviceConfig>,
    /// What survives a reset; `saveConfiguration` copies running here.
    pub(crate) startup: Arc<DeviceConfig>,
    /// Bumped on every change of running, so renderings can be cached.
    pub(crate) generation: u64,
    /// When running last changed (seconds since the Unix epoch), for the
    /// hidden `LastConfigChangeTime` parameter.
    pub(crate) last_change_unix: u64,
}

/// Where a device is in its reset cycle.
#[derive(Debug)]
struct Lifecycle {
    /// When the device finished its last boot (uptime counts from here).
    booted_at: Instant,
    /// While a reset is under way: when the device is back.
    resetting_until: Option<Instant>,
    /// Number of resets since the simulator started.
    resets: u64,
}

/// One simulated Mediant.
pub struct Device {
    /// Identity: serial number, product, version, addresses, HA, dialect.
    pub info: DeviceInfo,
    /// TLS context files (`/files/tls…`).
    pub tls: tls::TlsStore,
    /// Active alarms and alarm history (`/alarms…`).
    pub alarms: alarms::AlarmLog,
    /// Performance monitoring (`/kpi…`, `/performanceMonitoring`).
    pub kpi: kpi::KpiStore,
    /// Licence key (`/license`).
    pub license: license::LicenseStore,
    /// Faults to inject into the next requests.
    pub faults: Faults,
    /// Requests served, by method and path.
    pub counters: Counters,
    /// Local users allowed to use the REST API.
    pub(crate) users: Users,
    /// How long a reset keeps the device away.
    pub(crate) reset_time: Duration,
    config: Mutex<Configuration>,
    lifecycle: Mutex<Lifecycle>,
    /// Tells the listener of this device that a reset began (value: reset count).
    resets_tx: watch::Sender<u64>,
    /// Files uploaded to `/files/<auxiliary>`, by resource name.
    pub(crate) aux_files: Mutex<std::collections::BTreeMap<String, bytes::Bytes>>,
    /// The cached `GET /files/ini` rendering: (configuration generation, text).
    pub(crate) ini_cache: Mutex<Option<(u64, bytes::Bytes)>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Configuration and users may hold secrets: show identity only.
        f.debug_struct("Device")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Device {
    /// A device with this identity, booted now with `seed` as both running
    /// and startup configuration.
    pub fn new(info: DeviceInfo, seed: Arc<DeviceConfig>, reset_time: Duration) -> Self {
        let (resets_tx, _) = watch::channel(0);
        Device {
            tls: tls::TlsStore::new(&info),
            alarms: alarms::AlarmLog::new(&info),
            kpi: kpi::KpiStore::new(&info),
            license: license::LicenseStore::new(&info),
            faults: Faults::default(),
            counters: Counters::default(),
            users: Users::factory_default(),
            reset_time,
            config: Mutex::new(Configuration {
                running: Arc::clone(&seed),
                startup: seed,
                generation: 0,
                last_change_unix: unix_now(),
            }),
            lifecycle: Mutex::new(Lifecycle {
                booted_at: Instant::now(),
                resetting_until: None,
                resets: 0,
            }),
            resets_tx,
            aux_files: Mutex::new(std::collections::BTreeMap::new()),
            ini_cache: Mutex::new(None),
            info,
        }
    }

    /// Whether the device is one of an HA pair.
    pub fn is_ha(&self) -> bool {
        self.info.ha
    }

    /// Seconds since the device last finished booting (0 while resetting).
    pub fn uptime_seconds(&self) -> u64 {
        let life = lock(&self.lifecycle);
        let now = Instant::now();
        if now < life.booted_at {
            return 0;
        }
        now.duration_since(life.booted_at).as_secs()
    }

    /// Whether a reset is under way (the device refuses connections).
    pub fn is_resetting(&self) -> bool {
        let life = lock(&self.lifecycle);
        life.resetting_until.is_some_and(|t| Instant::now() < t)
    }

    /// How many resets the device went through since the simulator started.
    pub fn reset_count(&self) -> u64 {
        lock(&self.lifecycle).resets
    }

    /// Starts a device reset: running reverts to startup (after copying
    /// running to startup when `save_first`), and the device refuses
    /// connections for its reset time. Responses already being written are
    /// finished first, as a device answers before it goes down.
    ///
    /// With the `reset_delay_ms` fault armed, the device keeps answering
    /// that long first.
    pub fn reset(self: &Arc<Self>, save_first: bool) {
        let delay = self.faults.reset_delay();
        if !delay.is_zero()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let device = Arc::clone(self);
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                device.reset_now(save_first);
            });
            return;
        }
        self.reset_now(save_first);
    }

    /// Starts a reset at once.
    fn reset_now(self: &Arc<Self>, save_first: bool) {
        {
            let mut config = lock(&self.config);
            if save_first {
                config.startup = Arc::clone(&config.running);
            } else if !Arc::ptr_eq(&config.running, &config.startup) {
                config.running = Arc::clone(&config.startup);
                config.generation += 1;
            }
        }
        let resets = {
            let mut life = lock(&self.lifecycle);
            let back = Instant::now() + self.reset_time;
            life.resetting_until = Some(back);
            life.booted_at = back;
            life.resets += 1;
            life.resets
        };
        self.resets_tx.send_replace(resets);
    }

    /// Replaces both startup and running with `config` and resets, as a full
    /// INI or CLI upload does.
    pub(crate) fn load_and_reset(self: &Arc<Self>, config: DeviceConfig) {
        {
            let mut state = lock(&self.config);
            let config = Arc::new(config);
            state.startup = Arc::clone(&config);
            state.running = config;
            state.generation += 1;
            state.last_change_unix = unix_now();
        }
        self.reset(false);
    }

    /// A receiver that changes whenever a reset begins.
    pub(crate) fn subscribe_resets(&self) -> watch::Receiver<u64> {
        self.resets_tx.subscribe()
    }

    /// When the current reset ends, if one is under way.
    pub(crate) fn back_at(&self) -> Option<Instant> {
        lock(&self.lifecycle).resetting_until
    }

    /// The running configuration.
    pub fn running(&self) -> Arc<DeviceConfig> {
        Arc::clone(&lock(&self.config).running)
    }

    /// The startup configuration (what a reset brings back).
    pub fn startup(&self) -> Arc<DeviceConfig> {
        Arc::clone(&lock(&self.config).startup)
    }

    /// A snapshot of running, its generation and its last change time.
    pub(crate) fn configuration(&self) -> Configuration {
        lock(&self.config).clone()
    }

    /// Makes `config` the startup configuration (a `write` in a CLI script
    /// saves the configuration as it was at that line).
    pub(crate) fn save_as_startup(&self, config: DeviceConfig) {
        lock(&self.config).startup = Arc::new(config);
    }

    /// Copies running to startup (`POST /actions/saveConfiguration`).
    pub fn save_configuration(&self) {
        let mut config = lock(&self.config);
        config.startup = Arc::clone(&config.running);
    }

    /// Changes running with `change`, which either edits the document or
    /// refuses; on refusal nothing is changed.
    pub(crate) fn update_running<E>(
        &self,
        change: impl FnOnce(&mut DeviceConfig) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut config = lock(&self.config);
        let mut draft = (*config.running).clone();
        change(&mut draft)?;
        if draft != *config.running {
            config.running = Arc::new(draft);
            config.generation += 1;
            config.last_change_unix = unix_now();
        }
        Ok(())
    }
}
