//! Any bytes as an agent's stats report on any subject: screened into a
//! report or a rejection reason; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Vec<u8>)| {
    let (id, payload) = input;
    let subject = format!("jetpool.agent.p.{id}.stats");
    let _ = jetpool::observe::agents::screen("p", &subject, &payload);
});
