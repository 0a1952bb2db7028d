//! `mediant-operator ini-diff`: the INI engine on two files, without a
//! device.

use std::path::PathBuf;

use crate::config::ini::{self, DiffOptions};

/// The options of `ini-diff`.
#[derive(Clone, Debug, clap::Args)]
pub struct IniDiffArgs {
    /// The desired configuration (only what it declares is compared).
    #[arg(long)]
    pub desired: PathBuf,
    /// The observed configuration, e.g. a device's `GET /api/v1/files/ini`.
    #[arg(long)]
    pub observed: PathBuf,
    /// Delete rows of this table that the desired file does not declare (repeatable).
    #[arg(long = "prune-table", value_name = "TABLE")]
    pub prune_tables: Vec<String>,
    /// Print only the incremental INI.
    #[arg(long)]
    pub ini_only: bool,
    /// Print secret values (passwords, keys, community strings) in the
    /// incremental INI instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Compares the files and prints the changes; returns the exit code (0 no
/// differences, 1 differences).
pub fn run(args: &IniDiffArgs) -> Result<u8, String> {
    let read = |path: &PathBuf| -> Result<ini::IniDocument, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        ini::parse_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    let prune = DiffOptions {
        prune_tables: args.prune_tables.clone(),
        ..DiffOptions::default()
    };
    let observed = read(&args.observed)?;
    let changes =
        ini::plan_diff(&read(&args.desired)?, &observed, &prune).map_err(|e| e.to_string())?;
    if changes.is_empty() {
        if !args.ini_only {
            println!("No differences.");
        }
        return Ok(0);
    }
    let secrets = changes.secret_count();
    if secrets > 0 {
        // Loud, on stderr, whatever is printed on stdout.
        if args.show_secrets {
            eprintln!(
                "WARNING: the incremental INI below contains {secrets} secret value(s) IN CLEAR (--show-secrets); do not paste it into tickets or logs"
            );
        } else {
            eprintln!(
                "WARNING: the incremental INI contains {secrets} secret value(s); they are masked as *** below (the text cannot be uploaded as is); pass --show-secrets to print them"
            );
        }
    }
    let shown = if args.show_secrets {
        changes.clone()
    } else {
        changes.masked()
    };
    let text = shown.render_incremental().map_err(|e| e.to_string())?;
    let deletions = changes
        .render_cli_deletions(&observed)
        .map_err(|e| e.to_string())?;
    if args.ini_only {
        print!("{text}");
    } else {
        println!(
            "{} change(s):\n{changes}\nIncremental INI:\n{}",
            changes.len(),
            text.replace("\r\n", "\n")
        );
        if let Some(script) = deletions {
            println!("Row deletions (incremental CLI script; INI cannot delete a row):\n{script}");
        }
    }
    Ok(1)
}
