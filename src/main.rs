//! The `mediant-operator` command line: a thin front end over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mediant_operator::cmd::{self, Mode, ReconcileArgs};
use mediant_operator::config::ini::{self, DiffOptions};

/// Declarative management of AudioCodes Mediant SBCs and gateways.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what `apply` would change on each device of the manifests, as a
    /// diff. Exit code as `kubectl diff`: 0 no differences, 1 differences,
    /// 2 or more an error.
    Diff(ReconcileArgs),
    /// Make each device of the manifests match: print the plan, run it step
    /// by step, verify, and show that a second plan is empty.
    Apply(ReconcileArgs),
    /// Run the Kubernetes controller (in-cluster or from a kubeconfig), with
    /// leader election, /metrics, /healthz and /readyz.
    Run(mediant_operator::controller::run::RunArgs),
    /// Print every CustomResourceDefinition as multi-document YAML (the
    /// source of `crds/*.yaml`).
    Crd,
    /// Serve simulated Mediant devices on loopback (prints one base URL per
    /// device, then serves until Ctrl-C).
    Simulate(mediant_operator::simulator::SimulateArgs),
    /// Compare two INI files semantically (desired against a device's dump)
    /// and print the changes and the incremental INI that applies them.
    /// Exit code: 0 no differences, 1 differences, 2 error.
    IniDiff {
        /// The desired configuration (only what it declares is compared).
        #[arg(long)]
        desired: PathBuf,
        /// The observed configuration, e.g. a device's `GET /api/v1/files/ini`.
        #[arg(long)]
        observed: PathBuf,
        /// Delete rows of this table that the desired file does not declare (repeatable).
        #[arg(long = "prune-table", value_name = "TABLE")]
        prune_tables: Vec<String>,
        /// Print only the incremental INI.
        #[arg(long)]
        ini_only: bool,
        /// Print secret values (passwords, keys, community strings) in the
        /// incremental INI instead of masking them.
        #[arg(long)]
        show_secrets: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Diff(args) => reconcile(&args, Mode::Diff),
        Command::Apply(args) => reconcile(&args, Mode::Apply),
        Command::Run(args) => {
            runtime()?
                .block_on(mediant_operator::controller::run::run(args))
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crd => {
            print!(
                "{}",
                mediant_operator::api::crd_yaml().map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => {
            mediant_operator::simulator::run(&args).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::IniDiff {
            desired,
            observed,
            prune_tables,
            ini_only,
            show_secrets,
        } => {
            let read = |path: &PathBuf| -> Result<ini::IniDocument, String> {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                ini::parse_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            };
            let prune = DiffOptions {
                prune_tables,
                ..DiffOptions::default()
            };
            let observed = read(&observed)?;
            let changes =
                ini::plan_diff(&read(&desired)?, &observed, &prune).map_err(|e| e.to_string())?;
            if changes.is_empty() {
                if !ini_only {
                    println!("No differences.");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let secrets = changes.secret_count();
            if secrets > 0 {
                // Loud, on stderr, whatever is printed on stdout.
                if show_secrets {
                    eprintln!(
                        "WARNING: the incremental INI below contains {secrets} secret value(s) IN CLEAR (--show-secrets); do not paste it into tickets or logs"
                    );
                } else {
                    eprintln!(
                        "WARNING: the incremental INI contains {secrets} secret value(s); they are masked as *** below (the text cannot be uploaded as is); pass --show-secrets to print them"
                    );
                }
            }
            let shown = if show_secrets {
                changes.clone()
            } else {
                changes.masked()
            };
            let text = shown.render_incremental().map_err(|e| e.to_string())?;
            let deletions = changes
                .render_cli_deletions(&observed)
                .map_err(|e| e.to_string())?;
            if ini_only {
                print!("{text}");
            } else {
                println!(
                    "{} change(s):\n{changes}\nIncremental INI:\n{}",
                    changes.len(),
                    text.replace("\r\n", "\n")
                );
                if let Some(script) = deletions {
                    println!(
                        "Row deletions (incremental CLI script; INI cannot delete a row):\n{script}"
                    );
                }
            }
            Ok(ExitCode::from(1))
        }
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
fn reconcile(args: &ReconcileArgs, mode: Mode) -> Result<ExitCode, String> {
    let mut stdout = std::io::stdout().lock();
    let code = runtime()?
        .block_on(cmd::run(args, mode, &mut stdout))
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::from(code))
}
