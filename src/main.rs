//! The `mediant-operator` command line: parses the arguments and hands
//! them to `mediant_operator::cmd`, where every subcommand lives.

use std::process::ExitCode;

use clap::Parser;
use mediant_operator::cmd::{self, Cli};

fn main() -> ExitCode {
    cmd::main(Cli::parse())
}
