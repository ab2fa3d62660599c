//! The text of `jetpool explain POOL`: the pool now, then its recent
//! decisions newest first, each with every input it saw. Inputs are
//! printed field by field from the JSON, so a field the service gains
//! shows up here without a change.

use std::fmt::Write;

use jiff::Timestamp;
use serde_json::Value;

/// Renders `/status/{pool}` (`{status, history, decisions}`), showing at
/// most `last` decisions.
pub fn render(doc: &Value, last: usize) -> String {
    let mut out = String::new();
    let s = &doc["status"];
    let d = &s["decision"];
    let r = &s["replicas"];
    let _ = writeln!(
        out,
        "pool {}  stream {}  consumer {}  bounds {}..{}",
        text(&s["pool"]),
        text(&s["stream"]),
        text(&s["consumer"]),
        text(&s["min"]),
        text(&s["max"]),
    );
    let health = match (&s["failure"], s["fresh"].as_bool()) {
        (Value::String(f), _) => format!("blind: {f}"),
        (_, Some(true)) => "metrics fresh".into(),
        _ => "blind: metrics stale".into(),
    };
    let _ = writeln!(
        out,
        "now: desired {}, running {}, starting {}, draining {}, standby {}; guardrail {}; {health}",
        text(&d["desired"]),
        text(&r["ready"]),
        text(&r["starting"]),
        text(&r["draining"]),
        text(&r["standby"]),
        text(&d["limit"]),
    );
    if let Some(o) = overrides(&s["overrides"]) {
        let _ = writeln!(out, "override: {o}");
    }
    let decisions: Vec<&Value> = doc["decisions"]
        .as_array()
        .map(|a| a.iter().rev().take(last).collect())
        .unwrap_or_default();
    let total = doc["decisions"].as_array().map_or(0, Vec::len);
    if decisions.is_empty() {
        let _ = writeln!(out, "\nno decision yet");
    }
    for (i, rec) in decisions.into_iter().enumerate() {
        let d = &rec["decision"];
        let inputs = &rec["inputs"];
        let held = if rec["until"] != rec["at"] {
            format!(" (the same until {})", time(&rec["until"]))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\ndecision {} of {total}, {}{held}: {} -> {}, guardrail {}",
            total - i,
            time(&rec["at"]),
            text(&rec["from"]),
            text(&d["desired"]),
            text(&d["limit"]),
        );
        let mut row = |name: &str, value: String| {
            if !value.is_empty() {
                let _ = writeln!(out, "  {name:<10} {value}");
            }
        };
        row("reason", text(&d["reason"]));
        if let Value::String(f) = &rec["failure"] {
            row("failure", f.clone());
        }
        row(
            "consumer",
            fields(&inputs["consumer"], &["at"]) + &age(&d["staleness_s"]),
        );
        row("agents", fields(&inputs["agents"], &["at"]));
        row("replicas", fields(&inputs["replicas"], &[]));
        row("estimates", fields(&d["estimates"], &[]));
        row(
            "model",
            fields(d, &["estimates", "reason", "limit", "staleness_s"]),
        );
        // Each trigger's recommendation (`-` while it is blind).
        let triggers = d["triggers"].as_array().map(|ts| {
            ts.iter()
                .map(|t| format!("{}={}", text(&t["name"]), text(&t["recommended"])))
                .collect::<Vec<_>>()
                .join(" ")
        });
        row("triggers", triggers.unwrap_or_default());
        row(
            "other",
            fields(inputs, &["consumer", "agents", "replicas", "failure"]),
        );
        row(
            "override",
            overrides(&rec["overrides"]).unwrap_or_else(|| "none".into()),
        );
    }
    out
}

/// `k=v` for every scalar field of an object, except `skip`.
fn fields(v: &Value, skip: &[&str]) -> String {
    let Some(map) = v.as_object() else {
        return if v.is_null() { "-".into() } else { text(v) };
    };
    let mut keys: Vec<&String> = map.keys().filter(|k| !skip.contains(&k.as_str())).collect();
    keys.sort();
    keys.into_iter()
        .filter(|k| !map[*k].is_object() && !map[*k].is_array())
        .map(|k| format!("{k}={}", text(&map[k])))
        .collect::<Vec<_>>()
        .join(" ")
}

fn age(staleness: &Value) -> String {
    match staleness.as_f64() {
        Some(s) if s.is_finite() => format!(" (read {s:.1}s before the decision)"),
        _ => String::new(),
    }
}

/// A JSON scalar as text: strings bare, floats with at most 3 decimals.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            let s = format!("{f:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        other => other.to_string(),
    }
}

fn time(v: &Value) -> String {
    v.as_str()
        .and_then(|s| s.parse::<Timestamp>().ok())
        .map_or_else(
            || text(v),
            |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// `paused since … by …: why; pinned at N since …`, or `None`.
fn overrides(o: &Value) -> Option<String> {
    let mut parts = Vec::new();
    let stamp = |s: &Value| {
        let mut t = format!("since {}", time(&s["at"]));
        if let Value::String(by) = &s["by"] {
            t.push_str(&format!(" by {by}"));
        }
        if let Value::String(why) = &s["reason"] {
            t.push_str(&format!(": {why}"));
        }
        t
    };
    if o["pinned"].is_object() {
        parts.push(format!(
            "pinned at {} {}",
            text(&o["pinned"]["replicas"]),
            stamp(&o["pinned"])
        ));
    }
    if o["paused"].is_object() {
        parts.push(format!("paused {}", stamp(&o["paused"])));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_is_printed_newest_decision_first() {
        let doc: Value = serde_json::from_str(
            r#"{"status":{"pool":"p","stream":"S","consumer":"c","min":0,"max":5,"fresh":true,
                "failure":null,"replicas":{"ready":3,"starting":0,"draining":0,"standby":0},
                "decision":{"desired":3,"limit":"paused"},
                "overrides":{"paused":{"at":"2024-01-01T00:00:00Z","by":"ann@box","reason":"incident 7"},"pinned":null}},
              "history":[],
              "decisions":[
                {"at":"2024-01-01T00:00:00Z","until":"2024-01-01T00:00:00Z","from":1,"failure":null,
                 "decision":{"desired":2,"current":1,"limit":"none","reason":"r1","staleness_s":0.25,
                             "recommended":2,"demand":2,"min":0,"max":5,"estimates":{"arrival_rate":1.5}},
                 "inputs":{"consumer":{"at":"x","pending":7},"agents":null,"replicas":{"ready":1},
                           "cold_start_s":null,"budget":4},
                 "overrides":{"paused":null,"pinned":null}},
                {"at":"2024-01-01T00:01:00Z","until":"2024-01-01T00:02:00Z","from":3,"failure":null,
                 "decision":{"desired":3,"current":3,"limit":"paused","reason":"r2","staleness_s":0.1,
                             "recommended":9,"demand":3,"min":0,"max":5,"estimates":{"arrival_rate":2.0}},
                 "inputs":{"consumer":{"pending":90},"agents":{"reporting":3,"in_flight":3},
                           "replicas":{"ready":3}},
                 "overrides":{"paused":{"at":"2024-01-01T00:00:30Z"},"pinned":null}}]}"#,
        )
        .unwrap();
        let text = render(&doc, 5);
        assert!(
            text.contains("override: paused since 2024-01-01 00:00:00 UTC by ann@box: incident 7")
        );
        let second = text.find("decision 2 of 2").expect(&text);
        let first = text.find("decision 1 of 2").expect(&text);
        assert!(second < first, "newest first:\n{text}");
        assert!(
            text.contains("(the same until 2024-01-01 00:02:00 UTC): 3 -> 3, guardrail paused")
        );
        assert!(text.contains("  consumer   pending=90 (read 0.1s before the decision)"));
        assert!(text.contains("  agents     in_flight=3 reporting=3"));
        assert!(text.contains("  estimates  arrival_rate=1.5"));
        assert!(
            text.contains("  model      current=1 demand=2 desired=2 max=5 min=0 recommended=2")
        );
        assert!(text.contains("  other      budget=4 cold_start_s=-"));
        assert!(text.contains("  agents     -"));
        assert_eq!(render(&doc, 1).matches("\ndecision ").count(), 1);
    }
}
