//! The rules of the `[[pool.trigger]]` tables: a target above zero, the
//! keys each type needs (and only those), a URL that parses, and names
//! unique within the pool. Whether a token file can be read is a question
//! for the file system, asked where policy files are loaded
//! (`pool::spec`), not here: validation stays pure.

use std::collections::BTreeSet;
use std::time::Duration;

use super::is_plain_name;
use crate::config::{Problem, RawTrigger, TriggerType};
use crate::policy::triggers::{PromQuery, Source, Trigger};

/// The HPA's default tolerance band.
const DEFAULT_TOLERANCE: f64 = 0.1;
/// The longest a Prometheus query waits by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks every trigger; returns the typed triggers or every problem.
pub(super) fn validate(raw: &[RawTrigger]) -> Result<Vec<Trigger>, Vec<Problem>> {
    let mut out = Vec::new();
    let mut triggers = Vec::new();
    let mut names = BTreeSet::new();
    for (i, r) in raw.iter().enumerate() {
        let idx = i.to_string();
        let at = |key: &str| -> Vec<String> { vec!["trigger".into(), idx.clone(), key.into()] };
        let mut push = |key: &str, msg: String| {
            let path = at(key);
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            out.push(Problem::at(&refs, msg));
        };
        let name = r
            .name
            .clone()
            .unwrap_or_else(|| r.kind.as_str().to_string());
        if !is_plain_name(&name) {
            push(
                "name",
                format!(
                    "trigger name \"{name}\" is not allowed: use 1 to 64 letters, digits, '-' or '_'"
                ),
            );
        } else if name == crate::policy::triggers::BACKLOG || !names.insert(name.clone()) {
            push(
                if r.name.is_some() { "name" } else { "type" },
                format!(
                    "trigger name \"{name}\" is already used in this pool (\"backlog\" is the model's); give each trigger its own name"
                ),
            );
        }
        if !(r.target > 0.0 && r.target.is_finite()) {
            push(
                "target",
                format!("target must be a number greater than 0, got {}", r.target),
            );
        } else if matches!(r.kind, TriggerType::Cpu | TriggerType::Memory) && r.target > 1.0 {
            push(
                "target",
                format!(
                    "target of a {} trigger is a share of each agent's limit, in (0, 1]; got {}",
                    r.kind.as_str(),
                    r.target
                ),
            );
        }
        let tolerance = r.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(0.0..1.0).contains(&tolerance) {
            push(
                "tolerance",
                format!("tolerance must be in [0, 1), got {tolerance}"),
            );
        }
        let source = match r.kind {
            TriggerType::Cpu | TriggerType::Memory => {
                for key in r.prometheus_keys() {
                    push(
                        key,
                        format!(
                            "{key} only applies to a prometheus trigger, not to type \"{}\"",
                            r.kind.as_str()
                        ),
                    );
                }
                if r.kind == TriggerType::Cpu {
                    Source::Cpu
                } else {
                    Source::Memory
                }
            }
            TriggerType::Prometheus => match prometheus(r) {
                Ok(q) => Source::Prometheus(q),
                Err(problems) => {
                    for (key, msg) in problems {
                        push(key, msg);
                    }
                    continue;
                }
            },
        };
        triggers.push(Trigger {
            name,
            source,
            target: r.target,
            tolerance,
        });
    }
    if out.is_empty() {
        Ok(triggers)
    } else {
        Err(out)
    }
}

/// A prometheus trigger's query settings, or what is wrong with them.
fn prometheus(r: &RawTrigger) -> Result<PromQuery, Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    let url = r.url.clone().unwrap_or_default();
    if r.url.is_none() {
        out.push((
            "url",
            "a prometheus trigger needs url, the server's base URL (such as \"http://127.0.0.1:9090\")"
                .to_string(),
        ));
    } else if let Err(why) = check_url(&url) {
        out.push(("url", why));
    }
    let query = r.query.clone().unwrap_or_default();
    if query.trim().is_empty() {
        out.push((
            "query",
            "a prometheus trigger needs query, a PromQL expression giving one number".to_string(),
        ));
    }
    let activation = r.activation.unwrap_or(0.0);
    if !activation.is_finite() {
        out.push(("activation", "activation must be a finite number".into()));
    }
    let timeout = r.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(60) {
        out.push(("timeout", "timeout must be between 100ms and 1m".into()));
    }
    if !out.is_empty() {
        return Err(out);
    }
    Ok(PromQuery {
        url: url.trim_end_matches('/').to_string(),
        query,
        activation,
        token_file: r.token_file.clone(),
        ignore_null_values: r.ignore_null_values.unwrap_or(true),
        timeout,
    })
}

/// An `http://` or `https://` URL with a host, and neither a query nor a
/// fragment (the query is jetpool's to add).
fn check_url(url: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("url \"{url}\" {why}"));
    let Ok(uri) = url.parse::<http::Uri>() else {
        return bad("is not a valid URL");
    };
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return bad("must start with http:// or https://"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if uri.query().is_some() || url.contains('#') {
        return bad("must be the server's base URL, without a query or fragment");
    }
    Ok(())
}
