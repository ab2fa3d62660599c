//! End-to-end tests of `jetpool simulate` through the binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect();
    p.to_string_lossy().into_owned()
}

fn simulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jetpool"))
        .arg("simulate")
        .args(args)
        .output()
        .expect("run jetpool")
}

fn ok_stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

const KEYS: [&str; 13] = [
    "policy",
    "trace",
    "tasks",
    "slo_s",
    "slo_attainment",
    "p50_wait_s",
    "p99_wait_s",
    "max_wait_s",
    "agent_seconds",
    "bound_agent_seconds",
    "cost_ratio",
    "starts",
    "stops",
];

#[test]
fn same_seed_gives_byte_identical_json_with_the_issue_keys() {
    let twitter = data("twitter-2021-08-day1-noon-600s.txt");
    let args = ["--trace", &twitter, "--json", "--seed", "7"];
    let a = ok_stdout(&simulate(&args));
    let b = ok_stdout(&simulate(&args));
    assert_eq!(a, b, "same seed, different JSON");
    let c = ok_stdout(&simulate(&["--trace", &twitter, "--json", "--seed", "8"]));
    assert_ne!(a, c, "another seed should draw other arrivals");

    let v: serde_json::Value = serde_json::from_str(&a).expect("JSON");
    let rows = v.as_array().expect("an array");
    let names: Vec<&str> = rows.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "jetpool",
            "keda",
            "keda-tuned",
            "hpa",
            "hpa-tuned",
            "knative",
            "knative-tuned",
            "ray",
            "ray-tuned",
            "nomad",
            "nomad-tuned",
            "bound"
        ]
    );
    for r in rows {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        let mut want = KEYS.to_vec();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(r["trace"], "twitter-2021-08-day1-noon-600s");
        assert_eq!(r["tasks"], rows[0]["tasks"]);
        let att = r["slo_attainment"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&att));
        // Nobody spends less agent time than the work-conserving bound.
        assert!(r["cost_ratio"].as_f64().unwrap() >= 0.999, "{r}");
    }
}

#[test]
fn synthetic_step_writes_png_and_svg_plots() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["png", "svg"] {
        let plot = dir.path().join(format!("step.{ext}"));
        let out = simulate(&[
            "--trace",
            "step:low=5,high=20,at=2m,length=5m",
            "--compare",
            "keda,knative",
            "--plot",
            plot.to_str().unwrap(),
        ]);
        let table = ok_stdout(&out);
        assert!(
            table.contains("jetpool") && table.contains("knative"),
            "{table}"
        );
        let bytes = std::fs::read(&plot).unwrap();
        if ext == "png" {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        } else {
            assert!(String::from_utf8_lossy(&bytes).contains("<svg"));
        }
        assert!(bytes.len() > 5000, "{ext} plot is too small");
    }
}

#[test]
fn azure_functions_cut_replays_every_invocation() {
    let out = simulate(&[
        "--trace",
        &data("azure-functions-2019-cut-invocations.csv"),
        "--trace-format",
        "azure-functions",
        "--durations",
        &data("azure-functions-2019-cut-durations.csv"),
        "--compare",
        "bound",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok_stdout(&out)).unwrap();
    // 28 + 1680 + 297 + 84 + 14 + 84 invocations in the cut.
    assert_eq!(v[0]["tasks"], 2187);
    assert_eq!(v[1]["policy"], "bound");
}

#[test]
fn timestamps_with_service_column_and_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("ts.txt");
    let mut s = String::new();
    for i in 0..200 {
        s.push_str(&format!("{},{}\n", f64::from(i) * 0.5, 2.0));
    }
    std::fs::write(&trace, s).unwrap();
    let policy = dir.path().join("pool.toml");
    std::fs::write(
        &policy,
        "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"C\"\nmax = 3\n[pool.container]\nimage = \"agent\"\n",
    )
    .unwrap();
    let out = simulate(&[
        "--trace",
        trace.to_str().unwrap(),
        "--trace-format",
        "timestamps",
        "--policy",
        policy.to_str().unwrap(),
        "--compare",
        "none",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok_stdout(&out)).unwrap();
    assert_eq!(v[0]["tasks"], 200);
    // Service times from the column: 200 tasks x 2 s.
    assert_eq!(v[0]["bound_agent_seconds"], 400.0);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("policy of pool p"), "{err}");
}

#[test]
fn errors_name_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "3\n4\nfive\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--trace".into(), bad.to_string_lossy().into_owned()],
            "bad trace line",
        ),
        (
            vec![
                "--trace".into(),
                "square:rate=3".into(),
                "--trace-format".into(),
                "synthetic".into(),
            ],
            "unknown shape \"square\"",
        ),
        (
            vec!["--trace".into(), "/nonexistent/trace.txt".into()],
            "cannot open trace /nonexistent/trace.txt",
        ),
        (
            vec![
                "--trace".into(),
                "step".into(),
                "--compare".into(),
                "kedaa".into(),
            ],
            "unknown policy \"kedaa\"",
        ),
        (
            vec![
                "--trace".into(),
                "step".into(),
                "--service-time".into(),
                "gamma:1s".into(),
            ],
            "unknown kind \"gamma\"",
        ),
        (
            vec!["--trace".into(), "step:hgh=3".into()],
            "unknown parameter \"hgh\"",
        ),
    ];
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = simulate(&a);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        if want == "bad trace line" {
            assert!(err.contains(":3:"), "line number missing: {err}");
        }
    }
}

#[test]
fn jetpool_default_runs_beside_the_policy_and_is_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("slo.toml");
    std::fs::write(
        &policy,
        "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"C\"\nmax = 10000\n\
         [pool.container]\nimage = \"agent\"\n\
         [pool.scaling]\ntarget_wait = \"15s\"\nscale_down_delay = \"15s\"\n",
    )
    .unwrap();
    let headline = dir.path().join("headline.md");
    let twitter = data("twitter-2021-08-day1-noon-600s.txt");
    let args = [
        "--trace",
        &twitter,
        "--policy",
        policy.to_str().unwrap(),
        "--compare",
        "keda,jetpool-default",
        "--headline",
        headline.to_str().unwrap(),
        "--json",
    ];
    let v: serde_json::Value = serde_json::from_str(&ok_stdout(&simulate(&args))).unwrap();
    let rows = v.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(names, ["jetpool", "jetpool-default", "keda"]);
    // The standing queue costs less agent time and more wait than the
    // defaults, which drain every backlog.
    let (jp, def) = (&rows[0], &rows[1]);
    assert!(
        jp["agent_seconds"].as_f64() < def["agent_seconds"].as_f64(),
        "{v}"
    );
    assert!(
        jp["p50_wait_s"].as_f64() > def["p50_wait_s"].as_f64(),
        "{v}"
    );
    // A second run appends one row under the one header; jetpool-default
    // is never the cheapest peer, and its figures have their own column.
    ok_stdout(&simulate(&args));
    let text = std::fs::read_to_string(&headline).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("| trace |"), "{text}");
    assert_eq!(lines[2], lines[3], "{text}");
    assert!(!lines[2].contains("| jetpool-default ("), "{text}");
    let def_cell = format!("{:.4} |", def["cost_ratio"].as_f64().unwrap());
    assert!(lines[2].ends_with(&def_cell), "{text}");
}
