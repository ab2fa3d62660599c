//! Durations in humantime form (`500ms`, `30s`, `5m`) for serde, with an
//! error message that says what is allowed.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses a humantime duration, with a message naming the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("invalid duration \"{s}\" ({e}); expected a number with a unit, such as \"500ms\", \"30s\", \"5m\" or \"1h\"")
    })
}

/// Formats a duration the way policy files write it.
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `#[serde(deserialize_with = "...")]` for a required duration.
pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

/// `#[serde(deserialize_with = "...")]` for an optional duration.
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}
