//! The `mediant-operator` command line: parses the arguments and hands
//! them to `mediant_operator::cmd`, where every subcommand lives.

// No unwrap()/expect() outside tests: errors are values with messages a user
// can act on (unit tests, under cfg(test), may unwrap).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use mediant_operator::cmd::{self, Cli};

fn main() -> ExitCode {
    cmd::main(Cli::parse())
}
