//! `[[pool.schedule]]` tables: time windows in a named IANA time zone that
//! raise the pool's `min` or lower its `max` while they are open, such as
//! "weekdays 08:00 to 18:00 Europe/Berlin, min 4".
//!
//! Time zones come from jiff's bundled tz database, not the host's
//! `/usr/share/zoneinfo`: the production image is `FROM scratch` and has none.
//! Whether a window is open at an instant is decided in
//! [`policy::schedule`](crate::policy::schedule).

use std::fmt;

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use serde::Deserialize;

/// One scheduled window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Days the window opens on (`["mon-fri"]`, `["sat", "sun"]`); every
    /// day when absent. A window that crosses midnight belongs to the day it
    /// opens on.
    #[serde(default)]
    pub days: Days,
    /// Local wall-clock time the window opens (`"08:00"`).
    pub start: TimeOfDay,
    /// Local wall-clock time the window closes, exclusive (`"18:00"`,
    /// `"24:00"` for midnight). Earlier than `start` means it closes the
    /// next day.
    pub end: TimeOfDay,
    /// The IANA time zone `start` and `end` are read in; UTC when absent.
    #[serde(default)]
    pub timezone: Zone,
    /// While open, the pool runs at least this many agents.
    #[serde(default)]
    pub min: Option<u32>,
    /// While open, the pool runs at most this many agents (0 stops it).
    #[serde(default)]
    pub max: Option<u32>,
}

/// Minutes in a day; `24:00` is allowed as an end time.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// A local wall-clock time, minutes after midnight (`0..=1440`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct TimeOfDay(pub u16);

impl TryFrom<String> for TimeOfDay {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let bad =
            || format!("invalid time \"{s}\"; expected \"HH:MM\" from \"00:00\" to \"24:00\"");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        let total = h * 60 + m;
        if m >= 60 || total > MINUTES_PER_DAY {
            return Err(bad());
        }
        Ok(TimeOfDay(total))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A set of weekdays, bit 0 = Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct Days(pub u8);

/// Day names in Monday-first order, as policy files spell them.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Default for Days {
    fn default() -> Self {
        Days(0x7f)
    }
}

impl Days {
    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        let bit = day.to_monday_zero_offset();
        self.0 & (1 << bit) != 0
    }
}

fn day_index(name: &str) -> Option<u8> {
    let name = name.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == name)
        .and_then(|i| u8::try_from(i).ok())
}

impl TryFrom<Vec<String>> for Days {
    type Error = String;

    fn try_from(items: Vec<String>) -> Result<Self, String> {
        if items.is_empty() {
            return Err("days must not be empty; leave it out for every day".into());
        }
        let mut mask = 0u8;
        for item in &items {
            let bad = || {
                format!(
                    "unknown day \"{item}\"; use mon, tue, wed, thu, fri, sat, sun or a range such as \"mon-fri\""
                )
            };
            match item.split_once('-') {
                Some((a, b)) => {
                    let a = day_index(a).ok_or_else(bad)?;
                    let b = day_index(b).ok_or_else(bad)?;
                    // A range may wrap around the week ("fri-mon").
                    let mut d = a;
                    loop {
                        mask |= 1 << d;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => mask |= 1 << day_index(item).ok_or_else(bad)?,
            }
        }
        Ok(Days(mask))
    }
}

/// A time zone from the bundled IANA database, with the name it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The name as written in the policy file.
    pub name: String,
    /// The resolved zone.
    pub tz: TimeZone,
}

impl Default for Zone {
    fn default() -> Self {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Zone::named(&name).map_err(serde::de::Error::custom)
    }
}

impl Zone {
    /// Looks `name` up in the bundled tz database; the error suggests the
    /// closest known name.
    pub fn named(name: &str) -> Result<Self, String> {
        match TimeZone::get(name) {
            Ok(tz) => Ok(Zone {
                name: name.to_string(),
                tz,
            }),
            Err(_) => {
                let hint = closest_zone(name)
                    .map(|z| format!(" (did you mean \"{z}\"?)"))
                    .unwrap_or_default();
                Err(format!(
                    "unknown time zone \"{name}\"{hint}; use an IANA name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
                ))
            }
        }
    }
}

/// The bundled zone name nearest to `name` by edit distance, if close.
fn closest_zone(name: &str) -> Option<String> {
    let want = name.to_ascii_lowercase();
    jiff::tz::db()
        .available()
        .map(|z| z.as_str().to_string())
        .map(|z| (edit_distance(&want, &z.to_ascii_lowercase()), z))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, z)| z)
}

/// Levenshtein distance, for "did you mean" hints only.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (up + 1).min(row[j] + 1).min(diag + usize::from(ca != *cb));
            diag = up;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_days_and_ranges() {
        let d = Days::try_from(vec!["mon-fri".to_string()]).unwrap();
        assert_eq!(d.0, 0b0011111);
        let d = Days::try_from(vec!["fri-mon".to_string()]).unwrap();
        assert_eq!(d.0, 0b1110001);
        let d = Days::try_from(vec!["Sat".to_string(), "sun".to_string()]).unwrap();
        assert!(d.contains(Weekday::Sunday) && !d.contains(Weekday::Friday));
        assert!(Days::try_from(vec!["mo".to_string()]).is_err());
        assert!(Days::try_from(Vec::new()).is_err());
    }

    #[test]
    fn parses_times() {
        assert_eq!(TimeOfDay::try_from("08:30".to_string()), Ok(TimeOfDay(510)));
        assert_eq!(
            TimeOfDay::try_from("24:00".to_string()),
            Ok(TimeOfDay(1440))
        );
        for bad in ["8:30", "24:01", "12:60", "noon", "12-00"] {
            assert!(TimeOfDay::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_zone_suggests_the_closest() {
        let e = Zone::named("Europe/Berln").unwrap_err();
        assert!(e.contains("did you mean \"Europe/Berlin\""), "{e}");
        assert!(Zone::named("Europe/Berlin").is_ok());
    }
}
