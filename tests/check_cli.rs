//! `jetpool check`, run as the binary: the shipped policies pass; broken
//! ones fail with exit status 1 and name the file, the line and the key,
//! and say what is allowed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn jetpool_check(paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jetpool"))
        .arg("check")
        .args(paths)
        .output()
        .expect("run jetpool check")
}

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

#[test]
fn shipped_policies_pass() {
    let demo = policies_dir().join("demo");
    let out = jetpool_check(&[&policies_dir(), &demo]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for file in [
        "wait-slo.toml",
        "latency-sensitive.toml",
        "batch-scale-to-zero.toml",
        "business-hours.toml",
        "demo.toml",
    ] {
        let listed = stdout
            .lines()
            .any(|l| l.starts_with("ok   ") && l.contains(file));
        assert!(listed, "{file} not listed as ok:\n{stdout}");
    }
    assert!(stdout.contains("pool(s) valid"), "{stdout}");
    // A wait_slo pool says what it derives, at both ends of the cold start.
    assert!(
        stdout.contains("wait_slo 30s at 0.99: until a cold start is measured (assumed 1m, twice the SLO): no standing queue")
            && stdout.contains("with a 2s cold start measured: target_wait 15.0s (standing queue); scale_down_delay 15.0s"),
        "{stdout}"
    );
}

/// A valid pool; each broken case changes one thing.
const VALID: &str = r#"[[pool]]
name = "work"
stream = "TASKS"
consumer = "work"
min = 0
max = 10

[pool.container]
image = "jetpool:local"
command = ["agent", "--stream", "TASKS", "--consumer", "work"]

[pool.scaling]
cooldown = "0s"
"#;

/// (case, text to append or replace in VALID, the text on the line the
/// error must point at, the key it must name, a fragment of what is allowed)
struct Broken {
    case: &'static str,
    from: &'static str,
    to: &'static str,
    line_with: &'static str,
    key: &'static str,
    allowed: &'static str,
}

const BROKEN: &[Broken] = &[
    Broken {
        case: "unknown key",
        from: "cooldown = \"0s\"",
        to: "scale_down_dealy = \"1m\"",
        line_with: "scale_down_dealy",
        key: "pool[0].scaling.scale_down_dealy",
        allowed: "expected one of `target_drain_time`",
    },
    Broken {
        case: "min above max",
        from: "min = 0",
        to: "min = 12",
        line_with: "min = 12",
        key: "pool[0].min",
        allowed: "min (12) must not exceed max (10)",
    },
    Broken {
        case: "bad duration",
        from: "cooldown = \"0s\"",
        to: "cooldown = \"soon\"",
        line_with: "cooldown",
        key: "pool[0].scaling.cooldown",
        allowed: "such as \"500ms\", \"30s\"",
    },
    Broken {
        case: "bad time zone",
        from: "[pool.scaling]",
        to: "[[pool.schedule]]\nstart = \"08:00\"\nend = \"18:00\"\ntimezone = \"Europe/Berln\"\nmin = 2\n\n[pool.scaling]",
        line_with: "timezone",
        key: "pool[0].schedule[0].timezone",
        allowed: "did you mean \"Europe/Berlin\"",
    },
    Broken {
        case: "bad day",
        from: "[pool.scaling]",
        to: "[[pool.schedule]]\ndays = [\"mo-fr\"]\nstart = \"08:00\"\nend = \"18:00\"\nmin = 2\n\n[pool.scaling]",
        line_with: "days",
        key: "pool[0].schedule[0].days",
        allowed: "a range such as \"mon-fri\"",
    },
    Broken {
        case: "schedule min above max",
        from: "[pool.scaling]",
        to: "[[pool.schedule]]\nstart = \"08:00\"\nend = \"18:00\"\nmin = 11\n\n[pool.scaling]",
        line_with: "min = 11",
        key: "pool[0].schedule[0].min",
        allowed: "must not exceed the pool's max (10)",
    },
    Broken {
        case: "tolerance out of range",
        from: "cooldown = \"0s\"",
        to: "tolerance = 1.5",
        line_with: "tolerance",
        key: "pool[0].scaling.tolerance",
        allowed: "tolerance must be in [0, 1)",
    },
    Broken {
        case: "target wait too short",
        from: "cooldown = \"0s\"",
        to: "target_wait = \"10ms\"",
        line_with: "target_wait",
        key: "pool[0].scaling.target_wait",
        allowed: "target_wait must be from 100ms to 1h",
    },
    Broken {
        case: "rate limit with pods and percent",
        from: "cooldown = \"0s\"",
        to: "scale_up_limits = [{ pods = 4, percent = 100, period = \"15s\" }]",
        line_with: "scale_up_limits",
        key: "pool[0].scaling.scale_up_limits",
        allowed: "exactly one of `pods` or `percent`",
    },
    Broken {
        case: "rate limit element out of range",
        from: "cooldown = \"0s\"",
        to: "scale_down_limits = [\n  { pods = 2, period = \"1m\" },\n  { percent = 0, period = \"1m\" },\n]",
        line_with: "percent = 0",
        key: "pool[0].scaling.scale_down_limits[1].percent",
        allowed: "percent must be at least 1",
    },
    Broken {
        case: "rate limit period out of range",
        from: "cooldown = \"0s\"",
        to: "scale_up_limits = [{ pods = 4, period = \"2h\" }]",
        line_with: "scale_up_limits",
        key: "pool[0].scaling.scale_up_limits[0].period",
        allowed: "period must be between 1s and 30m, got 2h",
    },
    Broken {
        case: "unknown select",
        from: "cooldown = \"0s\"",
        to: "scale_down_select = \"fastest\"",
        line_with: "scale_down_select",
        key: "pool[0].scaling.scale_down_select",
        allowed: "expected one of `max`, `min`, `disabled`",
    },
    Broken {
        case: "fixed fallback without a count",
        from: "cooldown = \"0s\"",
        to: "stale_fallback = \"fixed\"",
        line_with: "stale_fallback",
        key: "pool[0].scaling.stale_fallback",
        allowed: "needs stale_replicas",
    },
    Broken {
        case: "paused and pinned",
        from: "max = 10",
        to: "max = 10\npaused = true\npinned = 3",
        line_with: "pinned",
        key: "pool[0].pinned",
        allowed: "not both",
    },
    Broken {
        case: "wrong type",
        from: "max = 10",
        to: "max = \"ten\"",
        line_with: "max = ",
        key: "pool[0].max",
        allowed: "expected u32",
    },
    Broken {
        case: "unknown trigger type",
        from: "cooldown = \"0s\"",
        to: "cooldown = \"0s\"\n\n[[pool.trigger]]\ntype = \"gpu\"\ntarget = 0.7",
        line_with: "type = \"gpu\"",
        key: "pool[0].trigger[0].type",
        allowed: "expected one of `cpu`, `memory`, `prometheus`",
    },
    Broken {
        case: "trigger target not above zero",
        from: "cooldown = \"0s\"",
        to: "cooldown = \"0s\"\n\n[[pool.trigger]]\ntype = \"cpu\"\ntarget = 0",
        line_with: "target = 0",
        key: "pool[0].trigger[0].target",
        allowed: "target must be a number greater than 0",
    },
    Broken {
        case: "prometheus trigger without url",
        from: "cooldown = \"0s\"",
        to: "cooldown = \"0s\"\n\n[[pool.trigger]]\ntype = \"prometheus\"\nquery = \"sum(x)\"\ntarget = 10",
        line_with: "[[pool.trigger]]",
        key: "pool[0].trigger[0].url",
        allowed: "a prometheus trigger needs url",
    },
    Broken {
        case: "prometheus trigger without query",
        from: "cooldown = \"0s\"",
        to: "cooldown = \"0s\"\n\n[[pool.trigger]]\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\ntarget = 10",
        line_with: "[[pool.trigger]]",
        key: "pool[0].trigger[0].query",
        allowed: "a prometheus trigger needs query",
    },
    Broken {
        case: "prometheus trigger with a bad url",
        from: "cooldown = \"0s\"",
        to: "cooldown = \"0s\"\n\n[[pool.trigger]]\ntype = \"prometheus\"\nurl = \"prometheus:9090\"\nquery = \"sum(x)\"\ntarget = 10",
        line_with: "url = ",
        key: "pool[0].trigger[0].url",
        allowed: "must start with http:// or https://",
    },
    Broken {
        case: "prometheus trigger with an unreadable token file",
        from: "cooldown = \"0s\"",
        to: "cooldown = \"0s\"\n\n[[pool.trigger]]\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\nquery = \"sum(x)\"\ntarget = 10\ntoken_file = \"/nonexistent/jetpool-token\"",
        line_with: "token_file",
        key: "pool[0].trigger[0].token_file",
        allowed: "token_file /nonexistent/jetpool-token cannot be read",
    },
];

#[test]
fn broken_policies_name_file_line_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    for b in BROKEN {
        assert!(VALID.contains(b.from), "{}: fixture", b.case);
        let text = VALID.replacen(b.from, b.to, 1);
        let path = dir
            .path()
            .join(format!("{}.toml", b.case.replace(' ', "-")));
        std::fs::write(&path, &text).expect("write policy");
        let line = 1 + text
            .lines()
            .position(|l| l.contains(b.line_with))
            .expect("marker line");
        let out = jetpool_check(&[&path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", b.case);
        let at = format!("{}:{line}:", path.display());
        assert!(
            stderr.contains(&at),
            "{}: expected {at} in\n{stderr}",
            b.case
        );
        assert!(
            stderr.contains(&format!(": {}: ", b.key)),
            "{}: key {} in\n{stderr}",
            b.case,
            b.key
        );
        assert!(
            stderr.contains(b.allowed),
            "{}: `{}` in\n{stderr}",
            b.case,
            b.allowed
        );
    }
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = VALID.replacen("min = 0", "min = 12", 1).replacen(
        "cooldown = \"0s\"",
        "tolerance = 2.0\nconcurrency = 0",
        1,
    );
    let path = dir.path().join("many.toml");
    std::fs::write(&path, text).expect("write policy");
    let out = jetpool_check(&[&path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for key in [
        "pool[0].min",
        "pool[0].scaling.tolerance",
        "pool[0].scaling.concurrency",
    ] {
        assert!(stderr.contains(key), "{key} in\n{stderr}");
    }
    assert!(stderr.contains("3 problem(s) found"), "{stderr}");
}

#[test]
fn a_broken_file_fails_a_directory_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a-good.toml"), VALID).expect("write");
    let bad = VALID
        .replacen("name = \"work\"", "name = \"other\"", 1)
        .replacen("min = 0", "min = 11", 1);
    std::fs::write(dir.path().join("b-bad.toml"), bad).expect("write");
    let out = jetpool_check(&[dir.path()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("b-bad.toml:5:"), "{stderr}");
}

#[test]
fn a_missing_file_is_an_error() {
    let out = jetpool_check(&[Path::new("/nonexistent/policy.toml")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/policy.toml: cannot read"),
        "{stderr}"
    );
}

#[test]
fn a_reader_that_goes_away_ends_it_quietly() {
    // `jetpool check | head -1`: enough pools that the report outgrows the
    // pipe's buffer, and a reader that closes it after one line.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut toml = String::new();
    for i in 0..1000 {
        toml.push_str(&format!(
            "[[pool]]\nname = \"p{i}\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 2\n[pool.container]\nimage = \"img\"\n\n"
        ));
    }
    let file = dir.path().join("many.toml");
    std::fs::write(&file, toml).expect("policy");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "\"{}\" check \"{}\" | head -1",
            env!("CARGO_BIN_EXE_jetpool"),
            file.display()
        ))
        .output()
        .expect("run jetpool check | head");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.starts_with("ok   "), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
}
