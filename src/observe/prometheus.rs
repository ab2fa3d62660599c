//! The `prometheus` trigger's edge: one instant query against a
//! Prometheus HTTP API (`GET /api/v1/query`), read as KEDA's prometheus
//! scaler reads it: one series or a scalar gives its value; no series
//! (or NaN) is 0 with `ignore_null_values`, else an error; several series
//! are an error (the query must aggregate).
//!
//! The HTTP client is blocking (`ureq`, already jetpool's client for
//! `jetpool status`), so a query runs on tokio's blocking pool, bounded by
//! the trigger's `timeout`: the pool loop never waits on it.

use std::time::Duration;

use serde::Deserialize;

use crate::policy::PromQuery;

/// Why a query gave no number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The bearer token file could not be read.
    #[error("token_file {path}: {reason}")]
    Token {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// No answer: refused, unreachable, timed out.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The query URL.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{url} answered HTTP {status}: {reason}")]
    Status {
        /// The query URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Prometheus's `error`, or the body.
        reason: String,
    },
    /// The answer was not the query API's JSON, or not one number.
    #[error("unexpected answer: {0}")]
    Answer(String),
}

/// The query API's answer, as far as a trigger reads it.
#[derive(Debug, Deserialize)]
struct Answer {
    /// `success` or `error`.
    status: String,
    /// The result, on success.
    #[serde(default)]
    data: Option<Data>,
    /// The reason, on error.
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    /// One `[time, "value"]` pair.
    Scalar((f64, String)),
    /// Series, each with its labels and one `[time, "value"]` pair.
    Vector(Vec<Sample>),
    /// Range vectors and strings: not a number a trigger can use.
    Matrix(serde::de::IgnoredAny),
    /// A string result.
    String(serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
struct Sample {
    /// `[time, "value"]`.
    value: (f64, String),
}

/// The number in a query answer, by KEDA's rules.
pub fn value_of(body: &str, ignore_null_values: bool) -> Result<f64, QueryError> {
    let a: Answer =
        serde_json::from_str(body).map_err(|e| QueryError::Answer(format!("not JSON: {e}")))?;
    if a.status != "success" {
        return Err(QueryError::Answer(format!(
            "status {}: {}",
            a.status,
            a.error.unwrap_or_default()
        )));
    }
    let raw = match a.data {
        Some(Data::Scalar((_, v))) => v,
        Some(Data::Vector(series)) => match series.as_slice() {
            [] if ignore_null_values => return Ok(0.0),
            [] => return Err(QueryError::Answer("the query returned no series".into())),
            [one] => one.value.1.clone(),
            many => {
                return Err(QueryError::Answer(format!(
                    "the query returned {} series; it must give one number (aggregate it, e.g. with sum())",
                    many.len()
                )));
            }
        },
        Some(Data::Matrix(_) | Data::String(_)) | None => {
            return Err(QueryError::Answer(
                "the result is not an instant vector or a scalar".into(),
            ));
        }
    };
    let v: f64 = raw
        .parse()
        .map_err(|_| QueryError::Answer(format!("value \"{raw}\" is not a number")))?;
    if v.is_finite() {
        Ok(v)
    } else if ignore_null_values {
        Ok(0.0)
    } else {
        Err(QueryError::Answer(format!("the query returned {v}")))
    }
}

/// Runs `q` once on the blocking pool; never takes longer than its
/// timeout (plus a little for the thread hand-off).
pub async fn query(q: &PromQuery) -> Result<f64, QueryError> {
    let q2 = q.clone();
    let url = format!("{}/api/v1/query", q.url);
    let unreachable = |reason: String| QueryError::Unreachable {
        url: url.clone(),
        reason,
    };
    let call = tokio::task::spawn_blocking(move || blocking(&q2));
    match tokio::time::timeout(q.timeout + Duration::from_millis(500), call).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(unreachable(format!("query task failed: {e}"))),
        Err(_) => Err(unreachable(format!("timed out after {:?}", q.timeout))),
    }
}

fn blocking(q: &PromQuery) -> Result<f64, QueryError> {
    let url = format!("{}/api/v1/query", q.url);
    let token = match &q.token_file {
        Some(path) => {
            let t = std::fs::read_to_string(path).map_err(|e| QueryError::Token {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            Some(t.trim().to_string())
        }
        None => None,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(q.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(&url).query("query", &q.query);
    if let Some(t) = &token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().map_err(|e| QueryError::Unreachable {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(4 << 20)
        .read_to_string()
        .map_err(|e| QueryError::Unreachable {
            url: url.clone(),
            reason: format!("reading the answer: {e}"),
        })?;
    if !(200..300).contains(&status) {
        let reason = serde_json::from_str::<Answer>(&body)
            .ok()
            .and_then(|a| a.error)
            .unwrap_or_else(|| body.chars().take(200).collect());
        return Err(QueryError::Status {
            url,
            status,
            reason,
        });
    }
    value_of(&body, q.ignore_null_values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(values: &[&str]) -> String {
        let series: Vec<String> = values
            .iter()
            .map(|v| format!(r#"{{"metric":{{}},"value":[1700000000.1,"{v}"]}}"#))
            .collect();
        format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
            series.join(",")
        )
    }

    #[test]
    fn one_series_or_a_scalar_gives_its_value() {
        assert_eq!(value_of(&vector(&["37"]), true), Ok(37.0));
        let scalar =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2.5"]}}"#;
        assert_eq!(value_of(scalar, true), Ok(2.5));
    }

    #[test]
    fn nulls_follow_ignore_null_values_and_many_series_are_an_error() {
        assert_eq!(value_of(&vector(&[]), true), Ok(0.0));
        assert!(value_of(&vector(&[]), false).is_err());
        assert_eq!(value_of(&vector(&["NaN"]), true), Ok(0.0));
        assert!(value_of(&vector(&["+Inf"]), false).is_err());
        let e = value_of(&vector(&["1", "2"]), true).unwrap_err();
        assert!(e.to_string().contains("2 series"), "{e}");
        assert!(value_of("<html>", true).is_err());
        let err = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(
            value_of(err, true)
                .unwrap_err()
                .to_string()
                .contains("parse error")
        );
    }
}
