//! Duration distributions for service times and cold starts, written on the
//! command line as `exp:2s`, `const:500ms` or `lognormal:MEDIAN,SIGMA`.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use super::Error;

/// A distribution of durations, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always the same duration.
    Const(f64),
    /// Exponential with this mean (the memoryless M in M/M/c).
    Exp(f64),
    /// Lognormal with this median and shape σ (of the underlying normal):
    /// the usual fit for container start-up and request latencies.
    LogNormal {
        /// Median, seconds.
        median: f64,
        /// σ of ln(duration).
        sigma: f64,
    },
}

impl Dist {
    /// Parses `exp:MEAN`, `const:D` or `lognormal:MEDIAN,SIGMA`; durations in
    /// humantime form (`1s`, `250ms`).
    pub fn parse(s: &str) -> Result<Dist, Error> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "distribution \"{s}\": {why}; expected exp:MEAN, const:DURATION or lognormal:MEDIAN,SIGMA (e.g. exp:2s, lognormal:450ms,0.25)"
            ))
        };
        let (kind, rest) = s.split_once(':').ok_or_else(|| bad("missing ':'"))?;
        let dur = |v: &str| -> Result<f64, Error> {
            crate::config::parse_duration(v)
                .map(|d| d.as_secs_f64())
                .map_err(|e| bad(&e))
        };
        let d = match kind.trim() {
            "const" => Dist::Const(dur(rest)?),
            "exp" => {
                let m = dur(rest)?;
                if m <= 0.0 {
                    return Err(bad("the mean must be positive"));
                }
                Dist::Exp(m)
            }
            "lognormal" => {
                let (m, sg) = rest
                    .split_once(',')
                    .ok_or_else(|| bad("lognormal needs MEDIAN,SIGMA"))?;
                let median = dur(m)?;
                let sigma: f64 = sg
                    .trim()
                    .parse()
                    .map_err(|_| bad("SIGMA must be a number"))?;
                if median <= 0.0 || !(0.0..10.0).contains(&sigma) {
                    return Err(bad("median must be positive and sigma in [0, 10)"));
                }
                Dist::LogNormal { median, sigma }
            }
            other => return Err(bad(&format!("unknown kind \"{other}\""))),
        };
        Ok(d)
    }

    /// The distribution's mean, seconds.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Const(v) | Dist::Exp(v) => v,
            Dist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
        }
    }

    /// A sampler bound to this distribution (parameters validated once).
    pub fn sampler(&self) -> Sampler {
        match *self {
            Dist::Const(v) => Sampler::Const(v),
            // Both constructors fail only on invalid parameters, which
            // `parse` rejected; fall back to the mean if ever reached.
            Dist::Exp(m) => Exp::new(1.0 / m).map_or(Sampler::Const(m), Sampler::Exp),
            Dist::LogNormal { median, sigma } => LogNormal::new(median.ln(), sigma)
                .map_or(Sampler::Const(median), Sampler::LogNormal),
        }
    }
}

impl std::fmt::Display for Dist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Dist::Const(v) => write!(f, "const:{}", fmt_secs(v)),
            Dist::Exp(v) => write!(f, "exp:{}", fmt_secs(v)),
            Dist::LogNormal { median, sigma } => {
                write!(f, "lognormal:{},{sigma}", fmt_secs(median))
            }
        }
    }
}

/// Seconds as a short humantime string (`450ms`, `2s`).
pub fn fmt_secs(v: f64) -> String {
    if v < 1.0 {
        format!("{}ms", (v * 1000.0).round())
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}s", v.round())
    } else {
        format!("{v}s")
    }
}

/// A ready-to-draw distribution.
#[derive(Debug, Clone, Copy)]
pub enum Sampler {
    /// Constant.
    Const(f64),
    /// Exponential.
    Exp(Exp<f64>),
    /// Lognormal.
    LogNormal(LogNormal<f64>),
}

impl Sampler {
    /// Draws one duration, seconds.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Sampler::Const(v) => *v,
            Sampler::Exp(d) => d.sample(rng),
            Sampler::LogNormal(d) => d.sample(rng),
        }
    }
}

/// A distribution given by percentiles (as the Azure Functions trace
/// publishes them): sampled by inverting the piecewise-linear CDF through
/// the points `(p, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles {
    /// `(cumulative probability, seconds)`, probabilities strictly rising
    /// from 0 to 1, values non-decreasing.
    points: Vec<(f64, f64)>,
}

impl Percentiles {
    /// Builds the table; values are sorted so a noisy table (a p75 below
    /// the p50) still gives a valid inverse CDF.
    pub fn new(mut points: Vec<(f64, f64)>) -> Option<Self> {
        if points.len() < 2 {
            return None;
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut vals: Vec<f64> = points.iter().map(|p| p.1.max(0.0)).collect();
        vals.sort_by(f64::total_cmp);
        for (p, v) in points.iter_mut().zip(vals) {
            p.1 = v;
        }
        Some(Percentiles { points })
    }

    /// The value at cumulative probability `u` in [0, 1].
    pub fn quantile(&self, u: f64) -> f64 {
        let pts = &self.points;
        let u = u.clamp(pts[0].0, pts[pts.len() - 1].0);
        let i = pts.partition_point(|p| p.0 < u).clamp(1, pts.len() - 1);
        let (p0, v0) = pts[i - 1];
        let (p1, v1) = pts[i];
        if p1 <= p0 {
            return v1;
        }
        v0 + (v1 - v0) * (u - p0) / (p1 - p0)
    }

    /// Draws one value.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.quantile(rng.random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_and_reports_means() {
        assert_eq!(Dist::parse("exp:2s").unwrap(), Dist::Exp(2.0));
        assert_eq!(Dist::parse("const:500ms").unwrap(), Dist::Const(0.5));
        let l = Dist::parse("lognormal:1s,0.5").unwrap();
        assert!((l.mean() - (0.125f64).exp()).abs() < 1e-12);
        assert_eq!(l.to_string(), "lognormal:1s,0.5");
        assert!(Dist::parse("gamma:1s").is_err());
        assert!(Dist::parse("exp").is_err());
        assert!(Dist::parse("lognormal:1s").is_err());
    }

    #[test]
    fn exp_sample_mean_is_close() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let s = Dist::Exp(2.0).sampler();
        let n = 100_000;
        let m: f64 = (0..n).map(|_| s.sample(&mut rng)).sum::<f64>() / n as f64;
        assert!((m - 2.0).abs() < 0.05, "{m}");
    }

    #[test]
    fn percentile_table_interpolates() {
        let p = Percentiles::new(vec![(0.0, 1.0), (0.5, 2.0), (1.0, 10.0)]).unwrap();
        assert_eq!(p.quantile(0.0), 1.0);
        assert_eq!(p.quantile(0.25), 1.5);
        assert_eq!(p.quantile(0.75), 6.0);
        assert_eq!(p.quantile(1.0), 10.0);
    }
}
