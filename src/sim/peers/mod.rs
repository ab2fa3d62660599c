//! Emulations of the autoscalers jetpool is compared with, each with its
//! documented defaults and a `-tuned` variant set the way a competent
//! operator would for the workload.
//!
//! Every tuned variant gets the same backlog allowance per replica that the
//! issue fixes for `keda-tuned`: `L = max(1, round((SLO / 2) / mean service
//! time))` tasks of lag per replica (half the SLO of queueing per agent),
//! and shorter delays in its own terms:
//!
//! | variant | knobs |
//! |---|---|
//! | `keda-tuned` | lagThreshold L, pollingInterval 5 s, HPA `behavior` with scale-down stabilisation 60 s (other behavior defaults) |
//! | `hpa-tuned` | AverageValue target L, `behavior` scale-down stabilisation 60 s |
//! | `knative-tuned` | target L per pod at 100% utilisation, stable window 30 s (panic window 3 s) |
//! | `ray-tuned` | target_ongoing_requests L, upscale_delay 5 s, downscale_delay 60 s, look_back 10 s, min_replicas 0 |
//! | `nomad-tuned` | target L per allocation, evaluation_interval 5 s, cooldown 30 s, min 0 |
//!
//! Every peer gets the same `max` as jetpool (KEDA's default
//! maxReplicaCount of 100 would cap the bigger traces, which no operator
//! would leave).
//!
//! Job pools (a job world, jetpool's `mode = "job"`) are compared with
//! KEDA's ScaledJob ([`keda_job`]), `lagThreshold` 1 (one job per
//! message) in every variant:
//!
//! | variant | knobs |
//! |---|---|
//! | `keda-job` | pollingInterval 30 s, strategy `default` |
//! | `keda-job-tuned` | pollingInterval 5 s, strategy `default` |
//! | `keda-job-accurate` | pollingInterval 5 s, strategy `accurate` |

pub mod hpa;
pub mod keda;
pub mod keda_job;
pub mod knative;
pub mod nomad;
pub mod ray;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::controller::Controller;
use hpa::{Behavior, Hpa, HpaCore};
use keda::{Keda, KedaKnobs};
use keda_job::{KedaJob, KedaJobKnobs, Strategy};
use knative::{Kpa, KpaKnobs};
use nomad::{Nomad, NomadKnobs};
use ray::{Ray, RayKnobs};

/// The peers, in report order; `bound` is the lower bound, not a policy.
pub const PEERS: [&str; 11] = [
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
    "bound",
];

/// The peers of a job world, in report order; `bound` is the lower bound.
pub const JOB_PEERS: [&str; 4] = ["keda-job", "keda-job-tuned", "keda-job-accurate", "bound"];

/// What a peer's construction depends on.
#[derive(Debug, Clone, Copy)]
pub struct PeerCtx {
    /// Largest replica count any policy may use.
    pub max: u32,
    /// Per-agent concurrency.
    pub concurrency: u32,
    /// The SLO on queue wait, seconds.
    pub slo: f64,
    /// The trace's mean service time, seconds.
    pub mean_service: f64,
    /// The run's seed: phases of the peers' loops are drawn from it.
    pub seed: u64,
}

impl PeerCtx {
    /// The tuned backlog allowance per replica:
    /// `max(1, round((SLO/2) / mean service time))`.
    pub fn lag_threshold(&self) -> f64 {
        ((self.slo / 2.0) / self.mean_service.max(1e-9))
            .round()
            .max(1.0)
    }
}

/// A 64-bit FNV-1a hash, to derive a per-policy seed from its name.
pub fn name_seed(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Builds the peer called `name`; `None` for an unknown name or `bound`.
pub fn build(name: &str, c: &PeerCtx) -> Option<Box<dyn Controller>> {
    let mut rng = ChaCha8Rng::seed_from_u64(name_seed(c.seed, name));
    let l = c.lag_threshold();
    let max = c.max;
    let ctl: Box<dyn Controller> = match name {
        "keda" | "keda-tuned" => {
            let tuned = name == "keda-tuned";
            let knobs = KedaKnobs {
                polling_interval: if tuned { 5.0 } else { 30.0 },
                ..KedaKnobs::default()
            };
            let core = if tuned {
                HpaCore::new(l, 1, max, Behavior::with_down_window(60.0))
            } else {
                HpaCore::new(10.0, 1, max, Behavior::Legacy)
            };
            let poll_phase = rng.random::<f64>() * knobs.polling_interval;
            let sync_phase = rng.random::<f64>() * 15.0;
            Box::new(Keda::new(name, knobs, core, poll_phase, sync_phase))
        }
        "hpa" => Box::new(Hpa::new(
            name,
            HpaCore::new(10.0, 1, max, Behavior::Legacy),
            rng.random::<f64>() * 15.0,
        )),
        "hpa-tuned" => Box::new(Hpa::new(
            name,
            HpaCore::new(l, 1, max, Behavior::with_down_window(60.0)),
            rng.random::<f64>() * 15.0,
        )),
        "knative" => Box::new(Kpa::new(
            name,
            KpaKnobs::defaults(c.concurrency, max),
            rng.random::<f64>() * 2.0,
        )),
        "knative-tuned" => {
            let k = KpaKnobs {
                target: l,
                stable_window: 30.0,
                panic_window: 3.0,
                ..KpaKnobs::defaults(c.concurrency, max)
            };
            Box::new(Kpa::new(name, k, rng.random::<f64>() * 2.0))
        }
        "ray" => Box::new(Ray::new(
            name,
            RayKnobs::defaults(max),
            rng.random::<f64>() * 10.0,
        )),
        "ray-tuned" => {
            let k = RayKnobs {
                target: l,
                upscale_delay: 5.0,
                downscale_delay: 60.0,
                look_back: 10.0,
                min: 0,
                ..RayKnobs::defaults(max)
            };
            Box::new(Ray::new(name, k, rng.random::<f64>() * 10.0))
        }
        "nomad" => Box::new(Nomad::new(
            name,
            NomadKnobs::defaults(max),
            rng.random::<f64>() * 10.0,
        )),
        "nomad-tuned" => {
            let k = NomadKnobs {
                target: l,
                interval: 5.0,
                cooldown: 30.0,
                min: 0,
                ..NomadKnobs::defaults(max)
            };
            Box::new(Nomad::new(name, k, rng.random::<f64>() * 5.0))
        }
        "keda-job" | "keda-job-tuned" | "keda-job-accurate" => {
            let knobs = KedaJobKnobs {
                polling_interval: if name == "keda-job" { 30.0 } else { 5.0 },
                lag_threshold: 1.0,
                max,
                strategy: if name == "keda-job-accurate" {
                    Strategy::Accurate
                } else {
                    Strategy::Default
                },
            };
            let phase = rng.random::<f64>() * knobs.polling_interval;
            Box::new(KedaJob::new(name, knobs, phase))
        }
        _ => return None,
    };
    Some(ctl)
}
