//! The command line: every subcommand with its own clap arguments, and the
//! dispatch `main` calls. Front ends only: they turn arguments into calls
//! of `crate::plan` (through `diff`/`apply`), `crate::controller` (`run`),
//! `crate::api` (`crd`), `crate::config` (`ini-diff`) and
//! `crate::simulator` (`simulate`, whose arguments live with the simulator
//! in `crate::simulator::SimulateArgs`).

pub mod ini_diff;
pub mod manifests;
pub mod reconcile;
pub mod run;
pub mod show;
pub mod state;
pub mod strict;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use reconcile::{CommandError, Mode, ReconcileArgs, run};

/// Declarative management of AudioCodes Mediant SBCs and gateways.
#[derive(Parser)]
#[command(name = "mediant-operator", version, about)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Show what `apply` would change on each device of the manifests, as a
    /// diff. Exit code as `kubectl diff`: 0 no differences, 1 differences,
    /// 2 or more an error.
    Diff(ReconcileArgs),
    /// Make each device of the manifests match: print the plan, run it step
    /// by step, verify, and show that a second plan is empty.
    Apply(ReconcileArgs),
    /// Run the Kubernetes controller (in-cluster or from a kubeconfig), with
    /// leader election, /metrics, /healthz and /readyz.
    Run(run::RunArgs),
    /// Print every CustomResourceDefinition as multi-document YAML (the
    /// source of `crds/*.yaml`), or write one file per CRD with `--out-dir`.
    Crd(CrdArgs),
    /// Serve simulated Mediant devices on loopback (prints one base URL per
    /// device, then serves until Ctrl-C).
    Simulate(crate::simulator::SimulateArgs),
    /// Compare two INI files semantically (desired against a device's dump)
    /// and print the changes and the incremental INI that applies them.
    /// Exit code: 0 no differences, 1 differences, 2 error.
    IniDiff(ini_diff::IniDiffArgs),
}

/// Arguments of `crd`.
#[derive(Debug, clap::Args)]
pub struct CrdArgs {
    /// Write `<group>_<plural>.yaml` per CRD into this directory (e.g.
    /// `crds/`) instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<std::path::PathBuf>,
}

/// Runs the parsed command line; errors are printed, exit code 2.
pub fn main(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Diff(args) => reconcile_on_runtime(&args, Mode::Diff),
        Command::Apply(args) => reconcile_on_runtime(&args, Mode::Apply),
        Command::Run(args) => {
            runtime()?
                .block_on(run::run(args))
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crd(CrdArgs { out_dir: None }) => {
            print!("{}", crate::api::crd_yaml().map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Crd(CrdArgs { out_dir: Some(dir) }) => {
            for (name, text) in crate::api::crd_files().map_err(|e| e.to_string())? {
                let path = dir.join(&name);
                std::fs::write(&path, text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => {
            crate::simulator::run(&args).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::IniDiff(args) => ini_diff::run(&args).map(ExitCode::from),
    }
}

/// The async runtime of a command.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Runs `diff` or `apply` on a runtime of its own.
fn reconcile_on_runtime(args: &ReconcileArgs, mode: Mode) -> Result<ExitCode, String> {
    let mut stdout = std::io::stdout().lock();
    let code = runtime()?
        .block_on(run(args, mode, &mut stdout))
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::from(code))
}
