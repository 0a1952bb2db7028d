//! `diff -f` and `apply -f`: plan or reconcile the devices of manifests
//! without a cluster, like `kubectl diff` / `terraform apply`.
//!
//! # Guarantees
//! Every manifest is read and every desired state built before the first
//! request: malformed INI or a missing Secret stops the command with nothing
//! sent to any device.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::MediantDevice;
use crate::device::{Credentials, RetryPolicy};
use crate::plan::{self, DesiredState, SecretDigests};
use crate::simulator::{Fleet, FleetConfig};

use super::manifests::{self, Manifests, namespace_of};
use super::show::{self, Painter};

/// What the command does with each device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Print the plan (exit 1 when there are differences).
    Diff,
    /// Run the plan, verify, and show that a second plan is empty.
    Apply,
}

/// The options of `diff` and `apply`.
#[derive(Clone, Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Manifest files or folders (`.yaml`, `.yml`, `.json`) holding
    /// MediantDevice resources and the Secrets and ConfigMaps they name.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Start the built-in simulator (one device per MediantDevice, seeded
    /// with a realistic configuration) and point the manifests at it.
    #[arg(long)]
    pub simulate: bool,
    /// Device user when the manifests hold no credentials Secret.
    #[arg(long, env = "MEDIANT_USERNAME")]
    pub username: Option<String>,
    /// File holding the device password when the manifests hold no Secret
    /// (the environment variable MEDIANT_PASSWORD works too).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Colour: auto (when stdout is a terminal), always or never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,
}

/// Why the command stopped.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The manifests cannot be used.
    #[error(transparent)]
    Manifests(#[from] manifests::ManifestError),
    /// A device's desired state is invalid (nothing was sent).
    #[error("{device}: {reason}")]
    Invalid {
        /// `namespace/name`.
        device: String,
        /// What is wrong.
        reason: String,
    },
    /// The simulator did not start.
    #[error("the simulator did not start: {0}")]
    Simulator(String),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// One device, ready to talk to.
struct Target {
    name: String,
    device: MediantDevice,
    desired: DesiredState,
    credentials: Credentials,
    ca_bundle: Option<String>,
}

/// Runs `diff` or `apply`; returns the exit code (0 in sync/converged,
/// 1 differences or not converged, 2 a device failed).
pub async fn run(
    args: &ReconcileArgs,
    mode: Mode,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let painter = Painter {
        color: match args.color.as_str() {
            "always" => true,
            "never" => false,
            _ => std::io::IsTerminal::is_terminal(&std::io::stdout()),
        },
    };
    let loaded = manifests::load(&args.files)?;
    let mut targets = prepare(&loaded, args)?;

    // Kept alive until the command ends: dropping it stops the devices.
    let _fleet = if args.simulate {
        let fleet = Fleet::start(FleetConfig {
            devices: targets.len(),
            reset_time: Duration::from_secs(2),
            ..FleetConfig::default()
        })
        .await
        .map_err(|e| CommandError::Simulator(e.to_string()))?;
        for (target, simulated) in targets.iter_mut().zip(fleet.devices()) {
            writeln!(
                out,
                "simulated device for {} at {}",
                target.name, simulated.base_url
            )?;
            target.device.spec.endpoint = simulated.base_url.clone();
            target.device.spec.dialect = None;
            target.device.spec.tls = None;
        }
        writeln!(out)?;
        Some(fleet)
    } else {
        None
    };

    let mut code = 0u8;
    for target in &targets {
        let result = reconcile(target, mode, painter, out).await?;
        code = code.max(result);
    }
    Ok(code)
}

/// Builds every target before any request, so bad input sends nothing.
fn prepare(loaded: &Manifests, args: &ReconcileArgs) -> Result<Vec<Target>, CommandError> {
    let fallback_password = match &args.password_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|source| manifests::ManifestError::Read {
                    path: path.clone(),
                    source,
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        None => std::env::var("MEDIANT_PASSWORD").ok(),
    };
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut targets = Vec::new();
    for dm in &loaded.devices {
        let device = &dm.device;
        let namespace = namespace_of(device.metadata.namespace.as_ref());
        let name = format!(
            "{namespace}/{}",
            device.metadata.name.clone().unwrap_or_default()
        );
        let invalid = |reason: String| CommandError::Invalid {
            device: name.clone(),
            reason,
        };
        let resolved = loaded.resolve(dm)?;
        let decision = device
            .spec
            .reset_decision(now)
            .map_err(|e| invalid(e.to_string()))?;
        let desired = plan::desired_state(&device.spec, &resolved, decision)
            .map_err(|e| invalid(e.to_string()))?;
        let secret = &device.spec.credentials_secret_ref;
        let from_manifest = (
            loaded.secret_value(&namespace, &secret.name, &secret.username_key),
            loaded.secret_value(&namespace, &secret.name, &secret.password_key),
        );
        let credentials = match (from_manifest, &args.username, &fallback_password) {
            ((Some(user), Some(password)), _, _) => Credentials::new(user, password),
            (_, Some(user), Some(password)) => Credentials::new(user.clone(), password.clone()),
            _ if args.simulate => Credentials::new("Admin", "Admin"),
            _ => {
                return Err(invalid(format!(
                    "Secret {namespace}/{} with keys `{}` and `{}` is not among the manifests; add it, or pass --username with --password-file (or MEDIANT_PASSWORD)",
                    secret.name, secret.username_key, secret.password_key
                )));
            }
        };
        let ca_bundle = match device.spec.tls.as_ref().and_then(|t| t.ca_bundle.as_ref()) {
            None => None,
            Some(source) => {
                let text = match (&source.secret_key_ref, &source.config_map_key_ref) {
                    (Some(r), _) => loaded.secret_value(&namespace, &r.name, &r.key),
                    (None, Some(r)) => loaded
                        .config_maps
                        .get(&(namespace.clone(), r.name.clone()))
                        .and_then(|cm| cm.data.as_ref()?.get(&r.key).cloned()),
                    (None, None) => None,
                };
                Some(text.ok_or_else(|| {
                    invalid(
                        "the CA bundle named in spec.tls.caBundle is not among the manifests"
                            .into(),
                    )
                })?)
            }
        };
        targets.push(Target {
            name,
            device: device.clone(),
            desired,
            credentials,
            ca_bundle,
        });
    }
    Ok(targets)
}

/// Plans (and applies) one device; returns its exit code.
async fn reconcile(
    target: &Target,
    mode: Mode,
    painter: Painter,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let label = format!("{} ({})", target.name, target.device.spec.endpoint);
    let client = match plan::client_for(
        &target.device.spec,
        target.credentials.clone(),
        target.ca_bundle.clone(),
        None,
        RetryPolicy::default(),
    ) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            return Ok(2);
        }
    };
    if client.insecure() {
        writeln!(
            out,
            "WARNING: {label}: TLS certificate verification is disabled (spec.tls.insecureSkipVerify)"
        )?;
    }
    let observed = match plan::observe(&client, &target.desired).await {
        Ok(o) => o,
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            return Ok(2);
        }
    };
    let digests = SecretDigests::new();
    let first = match plan::plan(&target.desired, &observed, &digests) {
        Ok(p) => p,
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            return Ok(2);
        }
    };
    write!(out, "{}", show::plan(&label, &first, painter))?;
    if mode == Mode::Diff {
        return Ok(u8::from(!first.is_empty()));
    }
    if first.steps.is_empty() {
        return Ok(u8::from(!first.blocked.is_empty()));
    }
    writeln!(out, "\napplying {} step(s) to {label}", first.steps.len())?;
    let outcome = match plan::apply(
        &client,
        &target.desired,
        &observed,
        &first,
        &digests,
        |n, step| {
            let _ = writeln!(out, "  running step {n}: {}", step.description);
        },
    )
    .await
    {
        Ok(o) => o,
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            return Ok(2);
        }
    };
    write!(out, "{}", show::outcome(&label, &outcome, painter))?;

    // The contract: after one apply, the next plan is empty.
    let second = match plan::observe(&client, &target.desired).await {
        Ok(o) => plan::plan(&target.desired, &o, &outcome.digests),
        Err(e) => {
            writeln!(out, "{label}: error while checking the second plan: {e}")?;
            return Ok(2);
        }
    };
    match second {
        Ok(p) if p.steps.is_empty() => {
            writeln!(out, "second plan for {label}: empty (in sync)")?;
            Ok(u8::from(
                !outcome.not_taken.is_empty() || !p.blocked.is_empty(),
            ))
        }
        Ok(p) => {
            writeln!(out, "second plan for {label}: NOT empty")?;
            write!(out, "{}", show::plan(&label, &p, painter))?;
            Ok(1)
        }
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            Ok(2)
        }
    }
}
