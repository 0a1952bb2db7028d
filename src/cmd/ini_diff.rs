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
}

/// Compares the files and prints the changes; returns the exit code (0 no
/// differences, 1 differences).
pub fn run(args: &IniDiffArgs) -> Result<u8, String> {
    let read = |path: &PathBuf| -> Result<ini::IniDocument, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        ini::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let prune = DiffOptions {
        prune_tables: args.prune_tables.clone(),
        ..DiffOptions::default()
    };
    let changes = ini::diff(&read(&args.desired)?, &read(&args.observed)?, &prune);
    if changes.is_empty() {
        if !args.ini_only {
            println!("No differences.");
        }
        return Ok(0);
    }
    let text = changes.render_incremental().map_err(|e| e.to_string())?;
    if args.ini_only {
        print!("{text}");
    } else {
        println!(
            "{} change(s):\n{changes}\nIncremental INI:\n{}",
            changes.len(),
            text.replace("\r\n", "\n")
        );
    }
    Ok(1)
}
