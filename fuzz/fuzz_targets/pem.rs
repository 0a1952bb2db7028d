//! The PEM readers (certificate chains, private keys, signing requests) on
//! arbitrary text: a value or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediant_operator::config::pem;

fuzz_target!(|text: &str| {
    let _ = pem::parse_certificates(text);
    let _ = pem::PrivateKey::parse(text, None);
    let _ = pem::SigningRequest::parse(text);
});
