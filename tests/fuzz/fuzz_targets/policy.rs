//! Any text as a policy file: parsed and validated, or refused with
//! located errors; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = jetpool::pool::spec::parse_policies(std::path::Path::new("fuzz.toml"), text);
    }
});
