//! Synthetic load shapes, named on the command line as
//! `SHAPE[:key=value,...]` (rates in tasks per second, times in humantime
//! form): the textbook stress cases for an autoscaler.
//!
//! | shape | parameters (defaults) | load |
//! |---|---|---|
//! | `step` | `low=10, high=50, at=10m, length=40m` | `low`, then `high` from `at` on |
//! | `ramp` | `low=5, high=50, at=5m, rise=10m, hold=10m, length=40m` | linear rise, hold, linear fall |
//! | `diurnal` | `low=5, high=50, period=1h, length=2h` | `low + (high-low)(1-cos(2πt/period))/2` |
//! | `on-off` | `rate=30, on=5m, off=10m, length=1h` | `rate` for `on`, silence for `off`, repeated |
//! | `flash-crowd` | `base=5, peak=100, at=10m, rise=30s, decay=5m, length=40m` | linear surge to `peak`, then exponential decay to `base` |
//!
//! Arrivals per second are Poisson with the shape's rate at mid-second.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::Error;

/// The shapes' names, for messages.
pub const SHAPES: [&str; 5] = ["step", "ramp", "diurnal", "on-off", "flash-crowd"];

/// A parsed shape: its name and parameters (seconds or tasks per second).
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// One of [`SHAPES`].
    pub name: String,
    /// Parameter values after defaults, sorted by key.
    pub params: BTreeMap<&'static str, f64>,
}

/// Default parameters per shape; `true` marks a duration.
fn defaults(name: &str) -> Option<&'static [(&'static str, f64, bool)]> {
    Some(match name {
        "step" => &[
            ("low", 10.0, false),
            ("high", 50.0, false),
            ("at", 600.0, true),
            ("length", 2400.0, true),
        ],
        "ramp" => &[
            ("low", 5.0, false),
            ("high", 50.0, false),
            ("at", 300.0, true),
            ("rise", 600.0, true),
            ("hold", 600.0, true),
            ("length", 2400.0, true),
        ],
        "diurnal" => &[
            ("low", 5.0, false),
            ("high", 50.0, false),
            ("period", 3600.0, true),
            ("length", 7200.0, true),
        ],
        "on-off" => &[
            ("rate", 30.0, false),
            ("on", 300.0, true),
            ("off", 600.0, true),
            ("length", 3600.0, true),
        ],
        "flash-crowd" => &[
            ("base", 5.0, false),
            ("peak", 100.0, false),
            ("at", 600.0, true),
            ("rise", 30.0, true),
            ("decay", 300.0, true),
            ("length", 2400.0, true),
        ],
        _ => return None,
    })
}

impl Shape {
    /// Parses `SHAPE[:key=value,...]`.
    pub fn parse(spec: &str) -> Result<Shape, Error> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let name = name.trim();
        let defs = defaults(name).ok_or_else(|| {
            Error::Usage(format!(
                "unknown shape \"{name}\"; known shapes: {}",
                SHAPES.join(", ")
            ))
        })?;
        let mut params: BTreeMap<&'static str, f64> =
            defs.iter().map(|(k, v, _)| (*k, *v)).collect();
        for kv in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                Error::Usage(format!("shape {name}: expected key=value, found \"{kv}\""))
            })?;
            let Some(&(key, _, is_dur)) = defs.iter().find(|d| d.0 == k.trim()) else {
                let known: Vec<&str> = defs.iter().map(|d| d.0).collect();
                return Err(Error::Usage(format!(
                    "shape {name}: unknown parameter \"{}\"; known: {}",
                    k.trim(),
                    known.join(", ")
                )));
            };
            let val = if is_dur {
                crate::config::parse_duration(v)
                    .map(|d| d.as_secs_f64())
                    .map_err(|e| Error::Usage(format!("shape {name}, {key}: {e}")))?
            } else {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "shape {name}, {key}: \"{v}\" is not a non-negative number"
                        ))
                    })?
            };
            params.insert(key, val);
        }
        if params.get("length").is_none_or(|l| *l < 1.0) {
            return Err(Error::Usage(format!(
                "shape {name}: length must be at least 1s"
            )));
        }
        Ok(Shape {
            name: name.to_string(),
            params,
        })
    }

    fn p(&self, k: &str) -> f64 {
        self.params.get(k).copied().unwrap_or(0.0)
    }

    /// Length of the shape, seconds.
    pub fn length(&self) -> f64 {
        self.p("length")
    }

    /// The arrival rate at `t` seconds, tasks per second.
    pub fn rate(&self, t: f64) -> f64 {
        match self.name.as_str() {
            "step" => {
                if t < self.p("at") {
                    self.p("low")
                } else {
                    self.p("high")
                }
            }
            "ramp" => {
                let (lo, hi) = (self.p("low"), self.p("high"));
                let (at, rise, hold) = (self.p("at"), self.p("rise").max(1e-9), self.p("hold"));
                let x = if t < at {
                    0.0
                } else if t < at + rise {
                    (t - at) / rise
                } else if t < at + rise + hold {
                    1.0
                } else {
                    (1.0 - (t - at - rise - hold) / rise).max(0.0)
                };
                lo + (hi - lo) * x
            }
            "diurnal" => {
                let (lo, hi) = (self.p("low"), self.p("high"));
                let ph = 2.0 * std::f64::consts::PI * t / self.p("period").max(1.0);
                lo + (hi - lo) * (1.0 - ph.cos()) / 2.0
            }
            "on-off" => {
                let (on, off) = (self.p("on"), self.p("off"));
                if (t % (on + off).max(1e-9)) < on {
                    self.p("rate")
                } else {
                    0.0
                }
            }
            "flash-crowd" => {
                let (base, peak) = (self.p("base"), self.p("peak"));
                let (at, rise) = (self.p("at"), self.p("rise").max(1e-9));
                if t < at {
                    base
                } else if t < at + rise {
                    base + (peak - base) * (t - at) / rise
                } else {
                    base + (peak - base) * (-(t - at - rise) / self.p("decay").max(1e-9)).exp()
                }
            }
            _ => 0.0,
        }
    }

    /// Poisson arrival counts per second over the shape's length.
    pub fn counts(&self, rng: &mut ChaCha8Rng) -> Vec<u64> {
        let n = self.length().ceil() as usize;
        (0..n)
            .map(|i| {
                let r = self.rate(i as f64 + 0.5);
                Poisson::new(r).map_or(0, |p| p.sample(rng) as u64)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_defaults_and_overrides() {
        let s = Shape::parse("step:high=80,at=1m").unwrap();
        assert_eq!(s.rate(59.0), 10.0);
        assert_eq!(s.rate(61.0), 80.0);
        assert_eq!(s.length(), 2400.0);
        assert!(
            Shape::parse("square")
                .unwrap_err()
                .to_string()
                .contains("unknown shape")
        );
        assert!(
            Shape::parse("step:hgh=1")
                .unwrap_err()
                .to_string()
                .contains("hgh")
        );
        assert!(Shape::parse("step:at=soon").is_err());
    }

    #[test]
    fn shapes_have_documented_rates() {
        let r = Shape::parse("ramp:low=0,high=10,at=0s,rise=10s,hold=10s,length=30s").unwrap();
        assert_eq!(r.rate(5.0), 5.0);
        assert_eq!(r.rate(15.0), 10.0);
        assert_eq!(r.rate(25.0), 5.0);
        let d = Shape::parse("diurnal:low=0,high=10,period=100s").unwrap();
        assert!((d.rate(50.0) - 10.0).abs() < 1e-9);
        let o = Shape::parse("on-off:rate=7,on=10s,off=5s").unwrap();
        assert_eq!((o.rate(9.0), o.rate(12.0), o.rate(16.0)), (7.0, 0.0, 7.0));
        let f = Shape::parse("flash-crowd:base=0,peak=100,at=0s,rise=10s,decay=10s").unwrap();
        assert_eq!(f.rate(5.0), 50.0);
        assert!((f.rate(20.0) - 100.0 * (-1.0f64).exp()).abs() < 1e-9);
    }

    #[test]
    fn poisson_counts_follow_the_rate() {
        let s = Shape::parse("step:low=0,high=20,at=100s,length=200s").unwrap();
        let c = s.counts(&mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(c[..100].iter().sum::<u64>(), 0);
        let hi: u64 = c[100..].iter().sum();
        assert!((1800..2200).contains(&hi), "{hi}");
    }
}
