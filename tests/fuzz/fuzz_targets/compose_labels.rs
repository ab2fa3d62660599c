//! Any set of container labels, resolved as a compose service's pool:
//! a pool or a list of label errors; never a panic.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|pairs: Vec<(String, String)>| {
    let labels: HashMap<String, String> = pairs.into_iter().collect();
    let _ = jetpool::compose::labels::resolve(&labels, &[]);
});
