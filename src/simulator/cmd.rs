//! The `simulate` subcommand: serve simulated devices until interrupted.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::simulator::device::Dialect;
use crate::simulator::device::faults::FaultPlan;
use crate::simulator::fleet::{Fleet, FleetConfig, SimError};
use crate::simulator::seed;

/// Options of `mediant-operator simulate`.
#[derive(clap::Args, Clone, Debug)]
pub struct SimulateArgs {
    /// Address of the first device; device i listens on PORT+i (port 0: an
    /// ephemeral port each).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Number of devices to simulate.
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
    /// Serve HTTPS with a self-signed certificate.
    #[arg(long)]
    pub tls: bool,
    /// Write the self-signed certificate (PEM) here, for clients to trust.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_cert_out: Option<PathBuf>,
    /// REST API edition: `v7.4` (multipart uploads, /kpi) or `2015`
    /// (octet-stream uploads, /performanceMonitoring).
    #[arg(long, default_value = "v7.4")]
    pub dialect: Dialect,
    /// A device's own INI dump (`GET /files/ini` of a real device) every
    /// device starts with: every parameter, table, row and cell as written.
    #[arg(long, value_name = "FILE")]
    pub seed_config: Option<PathBuf>,
    /// Start with a generated configuration of about this many INI lines.
    #[arg(long, value_name = "LINES", conflicts_with = "seed_config")]
    pub seed_lines: Option<usize>,
    /// Seconds a reset keeps a device away (refusing connections).
    #[arg(long, default_value_t = 3.0)]
    pub reset_seconds: f64,
    /// Devices are HA pairs (hitless upgrade allowed, licence JSON refused).
    #[arg(long)]
    pub ha: bool,
    /// Fault: the first N writes of each device answer 409 (HA synchronisation).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub ha_sync_writes: u32,
    /// Fault: milliseconds added to every API request.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Fault: the first N API requests of each device answer 500.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub server_errors: u32,
    /// Fault: the first N API requests of each device lose their connection.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub drop_connections: u32,
    /// Fault: milliseconds a device keeps answering after a request that
    /// resets it, before it goes down.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub reset_delay_ms: u64,
    /// The software version devices report (`versionID`); by default
    /// 7.40A.500.001 (v7.4) or 7.20A.200.014 (2015). A 2015 device of 7.00
    /// firmware (e.g. 7.00A.018.005) shows the nine `/status` fields of the
    /// 2015 document's example: no serialNumber, macAddress, systemUpTime.
    #[arg(long, value_name = "VERSION")]
    pub firmware: Option<String>,
    /// Fault: the first N authorised API requests of each device are served,
    /// then lose their answer (the connection closes).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub lose_answers: u32,
}

impl SimulateArgs {
    /// The fleet these options describe.
    pub fn fleet_config(&self) -> Result<FleetConfig, SimError> {
        let seed = if let Some(path) = &self.seed_config {
            let text = std::fs::read_to_string(path).map_err(|source| SimError::SeedRead {
                path: path.display().to_string(),
                source,
            })?;
            Some(Arc::new(seed::from_dump(&text)?))
        } else if let Some(lines) = self.seed_lines {
            Some(Arc::new(seed::seed_of_lines(lines)?))
        } else {
            None
        };
        Ok(FleetConfig {
            listen: self.listen,
            devices: self.devices,
            tls: self.tls,
            dialect: self.dialect,
            ha: self.ha,
            seed,
            reset_time: Duration::from_secs_f64(self.reset_seconds.clamp(0.0, 86_400.0)),
            faults: FaultPlan {
                ha_sync_writes: self.ha_sync_writes,
                latency_ms: self.latency_ms,
                server_errors: self.server_errors,
                drop_connections: self.drop_connections,
                reset_delay_ms: self.reset_delay_ms,
                lose_answers: self.lose_answers,
                ignore_license_installs: 0,
            },
            firmware: self.firmware.clone(),
        })
    }
}

/// Runs `simulate`: prints one base URL per device, then serves until Ctrl-C.
pub fn run(args: &SimulateArgs) -> Result<(), SimError> {
    let config = args.fleet_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(SimError::Runtime)?;
    runtime.block_on(async {
        let fleet = Fleet::start(config).await?;
        if let (Some(path), Some(pem)) = (&args.tls_cert_out, fleet.tls_certificate_pem()) {
            std::fs::write(path, pem).map_err(|source| SimError::SeedRead {
                path: path.display().to_string(),
                source,
            })?;
        }
        let mut out = std::io::stdout().lock();
        for d in fleet.devices() {
            let _ = writeln!(out, "{}", d.base_url);
        }
        let _ = out.flush();
        drop(out);
        tokio::signal::ctrl_c().await.map_err(SimError::Runtime)?;
        drop(fleet);
        Ok(())
    })
}
