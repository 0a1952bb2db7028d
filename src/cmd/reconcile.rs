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
use crate::plan::{self, Dereferenced, Kind, Target};
use crate::simulator::{Fleet, FleetConfig};

use super::manifests::{self, Fallback, ManifestSources, Manifests, namespace_of};
use super::show::{self, Painter};
use super::state::{self, State, StateError};

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
    /// State file remembering, between runs, digests of the write-only
    /// values sent (passwords, hidden parameters) and pending saves.
    /// Default: `mediant-operator.state.json` in the folder of the first
    /// `-f` path (none with `--simulate`). Locked while a run uses it.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Key file of the state's HMAC digests (default: the state path with
    /// `.key` appended; created with a random key when absent).
    #[arg(long)]
    pub state_key_file: Option<PathBuf>,
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
    /// The state file cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
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
    /// Plans (and applies) with what `state` remembers, and records what
    /// was sent there; returns the exit code.
    fn run<'a>(
        &'a self,
        mode: Mode,
        painter: Painter,
        out: &'a mut dyn Write,
        state: &'a mut State,
    ) -> LocalBoxFuture<'a, Result<u8, CommandError>>;
}

struct Prepared<K: Kind> {
    name: String,
    /// `namespace/name` of the resource (its key in the state).
    resource_key: String,
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
    for note in &loaded.ignored {
        writeln!(out, "note: {note}")?;
    }
    // Locked before anything is sent, kept until the command ends.
    let mut state = match (&args.state, args.simulate) {
        (None, true) => State::ephemeral(),
        (path, _) => {
            let path = path
                .clone()
                .unwrap_or_else(|| state::default_path(&args.files));
            State::open(&path, args.state_key_file.as_deref(), mode == Mode::Apply)?
        }
    };
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
            let Some(url) = urls.get(&job.device_key()) else {
                // Never fall through to the real endpoint under --simulate.
                return Err(CommandError::Simulator(format!(
                    "no simulated device for {} (device {})",
                    job.name(),
                    job.device_key()
                )));
            };
            writeln!(out, "simulated device for {} at {url}", job.name())?;
            job.simulate(url);
        }
        writeln!(out)?;
        Some(fleet)
    } else {
        None
    };

    let mut code = 0u8;
    for job in &jobs {
        let result = job.run(mode, painter, out, &mut state).await?;
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
                let resource_key = format!("{namespace}/{}", resource.name_any());
                let mut name = resource_key.clone();
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
                    resource_key,
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
        if self.refs.device().is_none() {
            return;
        }
        // A simulated device is fresh from the factory: its only user is
        // the factory one, whatever the manifests' Secret holds for the
        // real device (which would otherwise meet a 401).
        self.refs.credentials = crate::device::Credentials::new("Admin", "Admin");
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
        state: &'a mut State,
    ) -> LocalBoxFuture<'a, Result<u8, CommandError>> {
        reconcile::<K>(self, mode, painter, out, state).boxed_local()
    }
}

/// Plans (and applies) one resource; returns its exit code.
async fn reconcile<K: Kind>(
    job: &Prepared<K>,
    mode: Mode,
    painter: Painter,
    out: &mut dyn Write,
    state: &mut State,
) -> Result<u8, CommandError> {
    let id = format!("{} {}", K::KIND, job.resource_key);
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
    // A save an earlier run recorded and did not get to (cut off between
    // its writes and its save): done first.
    let device = job.refs.device_key();
    let mut unsaved = false;
    if state.pending_save(&device).is_some() {
        if mode == Mode::Apply {
            writeln!(
                out,
                "{label}: saving the configuration an earlier apply wrote and did not save"
            )?;
            if let Err(e) = K::save_pending(&client).await {
                writeln!(out, "{label}: error: {e}")?;
                return Ok(2);
            }
            state.set_pending_save(&device, None);
            state.save()?;
        } else {
            writeln!(
                out,
                "{label}: an earlier apply wrote changes it did not save; the next apply saves \
                 them first"
            )?;
            unsaved = true;
        }
    }
    let memory = state.memory(&id);
    let survey = match plan::survey::<K>(&client, &job.desired, &memory, false).await {
        Ok(s) => s,
        Err(e) => {
            writeln!(out, "{label}: error: {e}")?;
            return Ok(2);
        }
    };
    let first = &survey.plan;
    write!(out, "{}", show::plan(&label, first, painter))?;
    // A reset loop is refused by name, whatever the mode.
    let repeated = first
        .blocked
        .iter()
        .filter(|(_, reason)| plan::is_repeated_reset(reason))
        .count();
    for (step, reason) in first
        .blocked
        .iter()
        .filter(|(_, r)| plan::is_repeated_reset(r))
    {
        writeln!(out, "{label}: error: {}: {reason}", step.description)?;
    }
    if mode == Mode::Diff {
        return Ok(if repeated > 0 {
            2
        } else {
            u8::from(!first.is_empty() || unsaved)
        });
    }
    if first.steps.is_empty() {
        return Ok(if repeated > 0 {
            2
        } else {
            u8::from(!first.blocked.is_empty())
        });
    }
    writeln!(out, "\napplying {} step(s) to {label}", first.steps.len())?;
    // Recorded before the first write: a run killed between the writes and
    // the save leaves the save to the next run.
    let saves = first.steps.iter().any(|s| K::saves(&s.action));
    if saves {
        state.set_pending_save(
            &device,
            Some(state::PendingSave {
                since: k8s_openapi::jiff::Timestamp::now().to_string(),
                by: id.clone(),
            }),
        );
        state.save()?;
    }
    let mut sent = memory.clone();
    let outcome = plan::converge_recording::<K>(
        &client,
        &job.desired,
        &survey.observed,
        first,
        &mut sent,
        |n, step| {
            let _ = writeln!(out, "  running step {n}: {}", step.description);
        },
    )
    .await;
    // Remembered even when a later step failed: what was sent is not sent
    // (nor a reset repeated) next time.
    state.remember(&id, &sent);
    if saves && outcome.is_ok() {
        state.set_pending_save(&device, None);
    }
    state.save()?;
    let outcome = match outcome {
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
    let mut loops = false;
    for (step, reason) in second
        .blocked
        .iter()
        .filter(|(_, r)| plan::is_repeated_reset(r))
    {
        writeln!(out, "{label}: error: {}: {reason}", step.description)?;
        loops = true;
    }
    if loops {
        return Ok(2);
    }
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
