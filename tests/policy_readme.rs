//! `policies/README.md` matches the code: every key the parser accepts has
//! a row in its tables, and the "every default, spelled out" pool parses to
//! exactly the minimal pool, so the documented defaults are the real ones.

use std::path::Path;

use jetpool::pool::{PoolSpec, spec::parse_str};

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/README.md");
    std::fs::read_to_string(path).expect("read policies/README.md")
}

/// The first ```toml block after `heading`.
fn toml_block_after(text: &str, heading: &str) -> String {
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("heading {heading}"));
    let rest = &text[from..];
    let start = rest.find("```toml\n").expect("toml block") + "```toml\n".len();
    let len = rest[start..].find("```").expect("block end");
    rest[start..start + len].to_string()
}

fn parse(text: &str) -> PoolSpec {
    let mut pools = parse_str(Path::new("README.md"), text)
        .unwrap_or_else(|e| panic!("README example does not parse: {e:?}"));
    assert_eq!(pools.len(), 1);
    pools.remove(0)
}

/// The keys a table accepts, read from the parser's own answer to an
/// unknown key ("unknown field `x`, expected one of `a`, `b`").
fn accepted_keys(text_with_probe: &str) -> Vec<String> {
    let errors = parse_str(Path::new("probe.toml"), text_with_probe).expect_err("probe rejected");
    let msg = &errors[0].message;
    let list = msg
        .split("expected one of")
        .nth(1)
        .unwrap_or_else(|| panic!("{msg}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

const POOL: &str = "[[pool]]\nname = \"a\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 3\n";

#[test]
fn every_key_has_a_row() {
    let doc = readme();
    let probes = [
        format!("{POOL}probe_key = 1\n[pool.container]\nimage = \"x\"\n"),
        format!("{POOL}[pool.container]\nimage = \"x\"\nprobe_key = 1\n"),
        format!("{POOL}[pool.container]\nimage = \"x\"\n[pool.scaling]\nprobe_key = 1\n"),
        format!(
            "{POOL}[pool.container]\nimage = \"x\"\n[pool.scaling]\n\
             scale_up_limits = [{{ pods = 1, period = \"1s\", probe_key = 1 }}]\n"
        ),
        format!(
            "{POOL}[pool.container]\nimage = \"x\"\n[[pool.schedule]]\n\
             start = \"08:00\"\nend = \"09:00\"\nmin = 1\nprobe_key = 1\n"
        ),
        format!("{POOL}[pool.container]\nimage = \"x\"\n[pool.agents]\nprobe_key = 1\n"),
        format!(
            "{POOL}[pool.container]\nimage = \"x\"\n[[pool.trigger]]\n\
             type = \"cpu\"\ntarget = 0.5\nprobe_key = 1\n"
        ),
    ];
    let mut checked = 0;
    for probe in &probes {
        for key in accepted_keys(probe) {
            let row = format!("| `{key}` |");
            assert!(
                doc.contains(&row),
                "policies/README.md has no row for `{key}`"
            );
            checked += 1;
        }
    }
    // pool 16, container 15, scaling 22, rate limit 3, schedule 6, agents 6,
    // trigger 10.
    assert_eq!(
        checked, 78,
        "a table gained or lost keys: update this count and the README"
    );
}

#[test]
fn documented_defaults_are_the_real_ones() {
    let doc = readme();
    let minimal = parse(&toml_block_after(&doc, "## A minimal pool"));
    let spelled = parse(&toml_block_after(&doc, "## Every default, spelled out"));
    assert_eq!(spelled, minimal);
}
