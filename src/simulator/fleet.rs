//! A fleet of simulated devices in one process: start, address, shut down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::simulator::device::faults::FaultPlan;
use crate::simulator::device::{Device, DeviceInfo, Dialect};
use crate::simulator::firmware::ConfigError;
use crate::simulator::firmware::DeviceConfig;
use crate::simulator::http::server;
use crate::simulator::seed;

/// Why a fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A device's port could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (is the port in use? use port 0 for ephemeral ports)"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The listen port plus the device count runs past 65535.
    #[error(
        "ports {first}..{first}+{devices} run past 65535; choose a lower port or fewer devices"
    )]
    PortRange {
        /// First port.
        first: u16,
        /// Number of devices.
        devices: usize,
    },
    /// The seed configuration file could not be read.
    #[error("cannot read seed configuration {path}: {source}")]
    SeedRead {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The seed configuration is refused, as a device would refuse it.
    #[error("seed configuration refused: {0}")]
    Seed(#[from] ConfigError),
    /// The TLS certificate or configuration could not be made.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The async runtime or the signal handler failed.
    #[error("runtime failure: {0}")]
    Runtime(std::io::Error),
}

/// How to start a fleet.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    /// Address of device 0; device `i` listens on port + `i`, or on an
    /// ephemeral port each when the port is 0.
    pub listen: SocketAddr,
    /// Number of devices.
    pub devices: usize,
    /// Serve HTTPS with a self-signed certificate.
    pub tls: bool,
    /// REST API edition of every device.
    pub dialect: Dialect,
    /// Devices are HA pairs.
    pub ha: bool,
    /// Startup configuration of every device (default: [`seed::default_seed`]).
    pub seed: Option<Arc<DeviceConfig>>,
    /// How long a reset keeps a device away.
    pub reset_time: Duration,
    /// Faults armed on every device at start.
    pub faults: FaultPlan,
    /// The software version every device reports (`versionID`); `None`:
    /// the dialect's default. A 2015 device of 7.00 firmware serves the
    /// 2015 document's nine-field `/status` (see `resources::status`).
    pub firmware: Option<String>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            devices: 1,
            tls: false,
            dialect: Dialect::V74,
            ha: false,
            seed: None,
            reset_time: Duration::from_secs(3),
            faults: FaultPlan::default(),
            firmware: None,
        }
    }
}

/// One running device of a fleet.
#[derive(Clone, Debug)]
pub struct SimulatedDevice {
    /// Base URL, e.g. `http://127.0.0.1:8080/`.
    pub base_url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The device, for faults, counters and state.
    pub device: Arc<Device>,
}

/// Running devices; they stop when the fleet is dropped.
pub struct Fleet {
    devices: Vec<SimulatedDevice>,
    certificate_pem: Option<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1, and the acceptor using it.
fn tls_acceptor() -> Result<(TlsAcceptor, String), SimError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| SimError::Tls(e.to_string()))?;
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    Ok((TlsAcceptor::from(Arc::new(config)), pem))
}

impl Fleet {
    /// Binds every device's port and starts serving (needs a Tokio runtime).
    pub async fn start(config: FleetConfig) -> Result<Fleet, SimError> {
        let seed = match config.seed {
            Some(seed) => seed,
            None => Arc::new(seed::default_seed()?),
        };
        let (tls, certificate_pem) = match config.tls {
            true => {
                let (acceptor, pem) = tls_acceptor()?;
                (Some(acceptor), Some(pem))
            }
            false => (None, None),
        };
        let first = config.listen.port();
        if first != 0 && usize::from(first) + config.devices > 65_536 {
            return Err(SimError::PortRange {
                first,
                devices: config.devices,
            });
        }
        let (shutdown, watcher) = watch::channel(false);
        let mut fleet = Fleet {
            devices: Vec::with_capacity(config.devices),
            certificate_pem,
            shutdown,
            tasks: Vec::with_capacity(config.devices),
        };
        let scheme = if config.tls { "https" } else { "http" };
        for i in 0..config.devices {
            let mut addr = config.listen;
            if first != 0 {
                // In range: checked against 65_536 above.
                addr.set_port(first + u16::try_from(i).unwrap_or(0));
            }
            let listener = server::bind(addr).map_err(|source| SimError::Bind { addr, source })?;
            let addr = listener
                .local_addr()
                .map_err(|source| SimError::Bind { addr, source })?;
            let mut info = DeviceInfo::numbered(i, config.dialect, config.ha);
            if let Some(version) = &config.firmware {
                info.software_version = version.clone();
            }
            let device = Arc::new(Device::new(info, Arc::clone(&seed), config.reset_time));
            device.faults.set(config.faults.clone());
            let task = tokio::spawn(server::run(
                Arc::clone(&device),
                listener,
                tls.clone(),
                watcher.clone(),
            ));
            fleet.tasks.push(task);
            fleet.devices.push(SimulatedDevice {
                base_url: format!("{scheme}://{addr}/"),
                addr,
                device,
            });
        }
        Ok(fleet)
    }

    /// The running devices, in order.
    pub fn devices(&self) -> &[SimulatedDevice] {
        &self.devices
    }

    /// The PEM of the self-signed server certificate (with `tls`), for clients to trust.
    pub fn tls_certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}
