//! Scheduled bounds: which `[[pool.schedule]]` windows are open at an
//! instant, and the `[min, max]` they leave in force.
//!
//! Windows are read in local wall-clock time of their own time zone, so
//! "08:00" stays 08:00 across daylight-saving changes (a window starting in
//! a skipped hour opens at the first instant after it).

use jiff::Timestamp;

use crate::config::Schedule;
use crate::config::schedule::MINUTES_PER_DAY;

use super::Policy;

/// The bounds in force at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Fewest agents: the pool's `min`, raised by open windows.
    pub min: u32,
    /// Most agents: the pool's `max`, lowered by open windows.
    pub max: u32,
    /// Whether an open window raised `min`.
    pub min_scheduled: bool,
    /// Whether an open window lowered `max`.
    pub max_scheduled: bool,
}

/// Whether `w` is open at `now`.
pub fn is_open(w: &Schedule, now: Timestamp) -> bool {
    let local = w.timezone.tz.to_datetime(now);
    let day = local.weekday();
    let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
        .unwrap_or(0)
        .min(MINUTES_PER_DAY - 1);
    let (start, end) = (w.start.0, w.end.0);
    if start < end {
        w.days.contains(day) && (start..end).contains(&minute)
    } else {
        // Crosses midnight: opened today, or opened yesterday and not yet closed.
        (w.days.contains(day) && minute >= start)
            || (w.days.contains(day.previous()) && minute < end)
    }
}

/// The `[min, max]` in force at `now`: each open window can only raise
/// `min` or lower `max`. Should open windows contradict each other (one
/// raising `min` above another's `max`), the lower `max` wins: a lowered
/// `max` usually protects something (a budget, a dependency), a raised
/// `min` only buys latency.
pub fn bounds_at(policy: &Policy, now: Timestamp) -> Bounds {
    let mut b = Bounds {
        min: policy.min,
        max: policy.max,
        min_scheduled: false,
        max_scheduled: false,
    };
    for w in policy.schedule.iter().filter(|w| is_open(w, now)) {
        if let Some(m) = w.min
            && m > b.min
        {
            b.min = m;
            b.min_scheduled = true;
        }
        if let Some(m) = w.max
            && m < b.max
        {
            b.max = m;
            b.max_scheduled = true;
        }
    }
    if b.min > b.max {
        b.min = b.max;
        b.min_scheduled = b.max_scheduled;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Days, TimeOfDay, Zone};

    fn window(days: &[&str], start: &str, end: &str, tz: &str) -> Schedule {
        Schedule {
            days: if days.is_empty() {
                Days::default()
            } else {
                Days::try_from(days.iter().map(|d| d.to_string()).collect::<Vec<_>>()).unwrap()
            },
            start: TimeOfDay::try_from(start.to_string()).unwrap(),
            end: TimeOfDay::try_from(end.to_string()).unwrap(),
            timezone: Zone::named(tz).unwrap(),
            min: Some(4),
            max: None,
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn business_hours_in_berlin() {
        let w = window(&["mon-fri"], "08:00", "18:00", "Europe/Berlin");
        let cases = [
            // Tuesday 2024-01-16, CET = UTC+1.
            ("2024-01-16T06:59:00Z", false),
            ("2024-01-16T07:00:00Z", true),
            ("2024-01-16T16:59:59Z", true),
            ("2024-01-16T17:00:00Z", false),
            // Summer (CEST = UTC+2): 08:00 local is 06:00 UTC.
            ("2024-07-16T06:00:00Z", true),
            ("2024-07-16T05:59:00Z", false),
            // Saturday.
            ("2024-01-20T10:00:00Z", false),
        ];
        for (t, open) in cases {
            assert_eq!(is_open(&w, at(t)), open, "{t}");
        }
    }

    #[test]
    fn overnight_window_belongs_to_the_day_it_opens() {
        // Friday 22:00 to Saturday 06:00 UTC only.
        let w = window(&["fri"], "22:00", "06:00", "UTC");
        assert!(is_open(&w, at("2024-01-19T23:00:00Z"))); // Fri
        assert!(is_open(&w, at("2024-01-20T05:00:00Z"))); // Sat early
        assert!(!is_open(&w, at("2024-01-20T23:00:00Z"))); // Sat late
        assert!(!is_open(&w, at("2024-01-19T05:00:00Z"))); // Fri early
    }

    #[test]
    fn whole_day_and_bounds() {
        let mut all_day = window(&[], "00:00", "24:00", "UTC");
        assert!(is_open(&all_day, at("2024-01-19T23:59:59Z")));
        let p = Policy {
            min: 1,
            max: 10,
            schedule: vec![all_day.clone()],
            ..Default::default()
        };
        let b = bounds_at(&p, at("2024-01-19T12:00:00Z"));
        assert_eq!((b.min, b.max, b.min_scheduled), (4, 10, true));
        // A contradicting window's lower max wins.
        all_day.min = None;
        all_day.max = Some(2);
        let p = Policy {
            schedule: vec![p.schedule[0].clone(), all_day],
            ..p
        };
        let b = bounds_at(&p, at("2024-01-19T12:00:00Z"));
        assert_eq!((b.min, b.max), (2, 2));
    }
}
