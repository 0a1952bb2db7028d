//! The manifest reader of `diff -f`/`apply -f` (YAML, strict fields, every
//! kind's schema and validation) on arbitrary text: documents or a named
//! error, never a panic. The pure part only: no file is read.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mediant_operator::cmd::manifests::Manifests;

fuzz_target!(|text: &str| {
    let mut manifests = Manifests::default();
    let _ = manifests.add_text(Path::new("fuzz.yaml"), text);
});
