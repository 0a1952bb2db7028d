//! The CLI script parser on arbitrary text: a script or an error, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediant_operator::config::cli::CliScript;

fuzz_target!(|text: &str| {
    let _ = CliScript::parse(text);
});
