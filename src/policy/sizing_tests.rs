//! Tests of the sizing model.

use super::*;

fn est(rate: f64, per_agent: f64) -> Estimates {
    Estimates {
        arrival_rate: rate,
        forecast_rate: rate,
        per_agent_rate: per_agent,
        service_time_s: 1.0 / per_agent,
        concurrency: 1.0,
        ..Default::default()
    }
}

fn stats(pending: u64, ack_pending: u64) -> ConsumerStats {
    ConsumerStats {
        pending,
        ack_pending,
        ..Default::default()
    }
}

#[test]
fn littles_law_with_backlog() {
    let s = Scaling::default();
    // Steady: 35 / (4.1 * 0.8) = 10.7 -> 11.
    let z = size(&s, &est(35.0, 4.1), &stats(0, 0), None, 0);
    assert_eq!(z.need, 11);
    // Draining: (35 + 1200/20) / 4.1 = 23.2 -> 24.
    let z = size(&s, &est(35.0, 4.1), &stats(1200, 0), None, 0);
    assert_eq!(z.need, 24);
    // A small queue is drained by the steady headroom.
    let z = size(&s, &est(35.0, 4.1), &stats(30, 0), None, 0);
    assert_eq!(z.need, 11);
}

#[test]
fn in_flight_holds_agents_but_never_adds_them() {
    let s = Scaling::default();
    // Nothing arrives, 6 tasks in flight: keep the 6 agents holding them...
    let z = size(&s, &est(0.0, 1.0), &stats(0, 6), None, 8);
    assert_eq!((z.need, z.hold, z.recommended), (0, 6, 6));
    // ...but ask for no more than the pool already has.
    let z = size(&s, &est(0.0, 1.0), &stats(0, 6), None, 2);
    assert_eq!(z.recommended, 2);
}

fn standing(wait_s: u64) -> Scaling {
    Scaling {
        target_wait: Some(std::time::Duration::from_secs(wait_s)),
        ..Default::default()
    }
}

#[test]
fn a_standing_queue_is_served_at_full_utilisation() {
    // 10/s at 1/s per agent, W = 15 s: the target is 150 queued, the
    // band ±50, and the excess past it is worked off within
    // T' = max(20 s, 4/3 · 15 s) = 20 s.
    let s = standing(15);
    let e = est(10.0, 1.0);
    let need = |b: u64| size(&s, &e, &stats(b, 10), None, 10).need;
    // At the target and anywhere in the band: λ/μ, no ρ headroom.
    for b in [100, 150, 200] {
        assert_eq!(need(b), 10, "backlog {b}");
    }
    // Past the band: 300 is 100 past it, +100/20 = 5 agents.
    assert_eq!(need(300), 15);
    // Short of it: an empty queue is 100 short, -5 agents, so it refills.
    assert_eq!(need(0), 5);
    // The drain-to-empty model asks 10/0.8 at an empty queue, and
    // 10 + 150/20 to drain the same queue.
    let z = |b: u64| size(&Scaling::default(), &e, &stats(b, 10), None, 10).need;
    assert_eq!((z(0), z(150)), (13, 18));
}

#[test]
fn the_standing_queue_model_is_monotone_in_backlog_and_rate() {
    for (wait, drain) in [(15, 20), (30, 5), (1, 60)] {
        let mut s = standing(wait);
        s.target_drain_time = std::time::Duration::from_secs(drain);
        let load = |b: u64, rate: f64| size(&s, &est(rate, 0.5), &stats(b, 0), None, 0).load;
        for rate in [0.0, 0.5, 3.0, 40.0] {
            let mut last = 0.0;
            for b in (0..4000).step_by(7) {
                let l = load(b, rate);
                assert!(l >= last, "W {wait}: backlog {b} at {rate}/s: {l} < {last}");
                last = l;
            }
        }
        for b in [0, 10, 150, 900, 3000] {
            let mut last = 0.0;
            for r in 0..400 {
                let l = load(b, f64::from(r) * 0.25);
                assert!(l >= last, "W {wait}: rate {r} at backlog {b}: {l} < {last}");
                last = l;
            }
        }
    }
}

#[test]
fn a_standing_queue_holds_no_busy_agent() {
    // Every agent is busy while the queue stands; they drain when
    // removed, so the model may ask for fewer than hold work.
    let z = size(&standing(15), &est(10.0, 1.0), &stats(150, 20), None, 20);
    assert_eq!((z.busy, z.hold, z.recommended), (20, 0, 10));
}

#[test]
fn feedable_is_max_ack_pending_over_concurrency() {
    let mut c = stats(0, 0);
    c.max_ack_pending = Some(10);
    let e = Estimates {
        concurrency: 4.0,
        ..est(0.0, 1.0)
    };
    assert_eq!(size(&Scaling::default(), &e, &c, None, 0).feedable, Some(3));
}

#[test]
fn busy_agents_count_the_reported_slots_per_agent() {
    // 8 tasks in flight on agents of 4 slots each: 2 agents are busy.
    let e = Estimates {
        concurrency: 4.0,
        ..est(0.0, 1.0)
    };
    assert_eq!(size(&Scaling::default(), &e, &stats(0, 8), None, 5).busy, 2);
}
