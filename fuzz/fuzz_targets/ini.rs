//! The INI parser on arbitrary bytes (CR/LF/CRLF, NUL, invalid UTF-8,
//! huge FORMAT lines): a document or a named error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediant_operator::config::ini;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = ini::parse_bytes(data) {
        let _ = doc.params().count();
    }
});
