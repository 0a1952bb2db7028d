//! `diff -f` and `apply -f`: plan or reconcile the resources of manifests
//! (every registered kind) without a cluster, like `kubectl diff` /
//! `terraform apply`.
//!
//! # Guarantees
//! Every manifest is read, every resource dereferenced and every desired
//! state built before the first request: malformed INI or a missing Secret
//! stops the command with nothing sent to any device.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use futures::FutureExt;
use futures::future::LocalBoxFuture;
use kube::{Resource, ResourceExt};

use crate::plan::kinds::{KindVisitor, for_each_kind};
use crate::plan::{self, Dereferenced, Kind, SecretDigests, Target};
use crate::simulator::{Fleet, FleetConfig};

use super::manifests::{self, Fallback, ManifestSources, Manifests, namespace_of};
use super::show::{self, Painter};

/// What the command does with each resource.
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
    /// MediantDevice resources (and resources naming them) and the Secrets
    /// and ConfigMaps they name.
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
    /// A resource's desired state is invalid (nothing was sent).
    #[error("{device}: {reason}")]
    Invalid {
        /// `namespace/name` (prefixed by the kind for kinds other than
        /// MediantDevice).
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

/// One resource, dereferenced and planned-for, ready to talk to its device.
trait Job {
    /// `namespace/name` of the resource (kind-prefixed for other kinds).
    fn name(&self) -> &str;
    /// `namespace/name` of its target device (see
    /// [`Dereferenced::device_key`]).
    fn device_key(&self) -> String;
    /// Points the job at a simulated device.
    fn simulate(&mut self, base_url: &str);
    /// Plans (and applies); returns the exit code.
    fn run<'a>(
        &'a self,
        mode: Mode,
        painter: Painter,
        out: &'a mut dyn Write,
    ) -> LocalBoxFuture<'a, Result<u8, CommandError>>;
}

struct Prepared<K: Kind> {
    name: String,
    refs: Dereferenced,
    desired: K::Desired,
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
    let sources = ManifestSources {
        manifests: &loaded,
        fallback: fallback(args)?,
    };
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut jobs: Vec<Box<dyn Job>> = Vec::new();
    for prepared in for_each_kind(&mut Prepare {
        manifests: &loaded,
        sources: &sources,
        now,
    }) {
        jobs.extend(prepared.await?);
    }

    // Kept alive until the command ends: dropping it stops the devices.
    let _fleet = if args.simulate {
        let devices = &loaded.devices;
        let fleet = Fleet::start(FleetConfig {
            devices: devices.len(),
            reset_time: Duration::from_secs(2),
            ..FleetConfig::default()
        })
        .await
        .map_err(|e| CommandError::Simulator(e.to_string()))?;
        let urls: BTreeMap<String, String> = devices
            .iter()
            .zip(fleet.devices())
            .map(|(d, simulated)| {
                let r = &d.device;
                (
                    format!(
                        "{}/{}",
                        namespace_of(r.metadata.namespace.as_ref()),
                        r.name_any()
                    ),
                    simulated.base_url.clone(),
                )
            })
            .collect();
        for job in &mut jobs {
            if let Some(url) = urls.get(&job.device_key()) {
                writeln!(out, "simulated device for {} at {url}", job.name())?;
                job.simulate(url);
            }
        }
        writeln!(out)?;
        Some(fleet)
    } else {
        None
    };

    let mut code = 0u8;
    for job in &jobs {
        let result = job.run(mode, painter, out).await?;
        code = code.max(result);
    }
    Ok(code)
}

/// The credentials of `--username` with `--password-file` (or
/// MEDIANT_PASSWORD), and `--simulate`'s.
fn fallback(args: &ReconcileArgs) -> Result<Fallback, CommandError> {
    let password = match &args.password_file {
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
    Ok(Fallback {
        credentials: match (&args.username, password) {
            (Some(user), Some(password)) => {
                Some(crate::device::Credentials::new(user.clone(), password))
            }
            _ => None,
        },
        simulate: args.simulate,
    })
}

/// Builds every job of one kind before any request, so bad input sends nothing.
struct Prepare<'a> {
    manifests: &'a Manifests,
    sources: &'a ManifestSources<'a>,
    now: k8s_openapi::jiff::Timestamp,
}

impl<'a> KindVisitor for Prepare<'a> {
    type Output = LocalBoxFuture<'a, Result<Vec<Box<dyn Job>>, CommandError>>;

    fn visit<K: Kind>(&mut self) -> Self::Output {
        let (manifests, sources, now) = (self.manifests, self.sources, self.now);
        async move {
            let mut jobs: Vec<Box<dyn Job>> = Vec::new();
            for m in manifests.resources::<K>() {
                let resource = &m.resource;
                let namespace = namespace_of(resource.meta().namespace.as_ref());
                let mut name = format!("{namespace}/{}", resource.name_any());
                if !matches!(K::target(resource), Target::Itself(_)) {
                    name = format!("{} {name}", K::KIND);
                }
                let invalid = |reason: String| CommandError::Invalid {
                    device: name.clone(),
                    reason,
                };
                let refs = plan::dereference::<K>(sources, &namespace, Some(&m.origin), resource)
                    .await
                    .map_err(|e| invalid(e.to_string()))?;
                let decision = K::reset_decision(resource, refs.device(), now)
                    .map_err(|e| invalid(e.to_string()))?;
                let desired = K::desired(resource, &refs.resolved, decision.into())
                    .map_err(|e| invalid(e.to_string()))?;
                jobs.push(Box::new(Prepared::<K> {
                    name,
                    refs,
                    desired,
                }));
            }
            Ok(jobs)
        }
        .boxed_local()
    }
}

impl<K: Kind> Job for Prepared<K> {
    fn name(&self) -> &str {
        &self.name
    }

    fn device_key(&self) -> String {
        self.refs.device_key()
    }

    fn simulate(&mut self, base_url: &str) {
        // Only device targets have a simulated device.
        let Some(device) = self.refs.device_mut() else {
            return;
        };
        let spec = &mut device.spec;
        spec.endpoint = base_url.to_owned();
        spec.dialect = None;
        spec.tls = None;
        self.refs.ca_bundle = None;
    }

    fn run<'a>(
        &'a self,
        mode: Mode,
        painter: Painter,
        out: &'a mut dyn Write,
    ) -> LocalBoxFuture<'a, Result<u8, CommandError>> {
        reconcile::<K>(self, mode, painter, out).boxed_local()
    }
}

/// Plans (and applies) one resource; returns its exit code.
async fn reconcile<K: Kind>(
    job: &Prepared<K>,
    mode: Mode,
    painter: Painter,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let label = format!("{} ({})", job.name, job.refs.endpoint());
    let options = plan::ConnectOptions {
        observer: None,
        retry: plan::retry_for(false),
    };
    let client = match K::connect(&job.refs, &job.desired, &options) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            return Ok(2);
        }
    };
    if job.refs.insecure_skip_verify() {
        writeln!(
            out,
            "WARNING: {label}: TLS certificate verification is disabled (spec.tls.insecureSkipVerify)"
        )?;
    }
    let memory = SecretDigests::new();
    let survey = match plan::survey::<K>(&client, &job.desired, &memory, false).await {
        Ok(s) => s,
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            return Ok(2);
        }
    };
    let first = &survey.plan;
    write!(out, "{}", show::plan(&label, first, painter))?;
    if mode == Mode::Diff {
        return Ok(u8::from(!first.is_empty()));
    }
    if first.steps.is_empty() {
        return Ok(u8::from(!first.blocked.is_empty()));
    }
    writeln!(out, "\napplying {} step(s) to {label}", first.steps.len())?;
    let outcome = match plan::converge::<K>(
        &client,
        &job.desired,
        &survey.observed,
        first,
        &memory,
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

    // The contract: after one apply, the next plan is empty. The outcome's
    // remaining plan is that next plan, made from the verification.
    let second = &outcome.remaining;
    if second.steps.is_empty() {
        writeln!(out, "second plan for {label}: empty (in sync)")?;
        Ok(u8::from(
            !outcome.not_taken.is_empty() || !second.blocked.is_empty(),
        ))
    } else {
        writeln!(out, "second plan for {label}: NOT empty")?;
        write!(out, "{}", show::plan(&label, second, painter))?;
        Ok(1)
    }
}
