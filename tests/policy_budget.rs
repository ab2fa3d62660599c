//! The global budget's sharing rule (`policy::budget::allocate`), as
//! properties over random pools and totals.

use jetpool::policy::budget::{Request, allocate};
use proptest::prelude::*;

fn floor(r: &Request) -> u32 {
    r.min.max(u32::from(r.current > 1))
}

fn want(r: &Request) -> u32 {
    r.desired.max(floor(r))
}

fn ceiling(r: &Request) -> u32 {
    r.max.max(want(r))
}

fn requests() -> impl Strategy<Value = Vec<Request>> {
    prop::collection::vec((0u32..4, 0u32..5, 0u32..30, 0u32..30, 0u32..30), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (priority, min, desired, span, current))| Request {
                pool: format!("pool-{i:02}"),
                priority,
                min,
                max: min + span.max(1),
                desired: desired.clamp(min, min + span.max(1)),
                current,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn shares_follow_the_documented_rule(total in 0u32..120, reqs in requests(), seed in any::<u64>()) {
        let grants = allocate(total, &reqs);
        prop_assert_eq!(grants.len(), reqs.len());
        let sum: u64 = grants.iter().map(|&g| u64::from(g)).sum();
        let floors: u64 = reqs.iter().map(|r| u64::from(floor(r))).sum();
        let wants: u64 = reqs.iter().map(|r| u64::from(want(r))).sum();
        let ceilings: u64 = reqs.iter().map(|r| u64::from(ceiling(r))).sum();
        // Never more than the total, and none of it left unused while a
        // pool could take it.
        prop_assert_eq!(sum, u64::from(total).min(ceilings));
        for (r, &g) in reqs.iter().zip(&grants) {
            prop_assert!(g <= ceiling(r));
            if u64::from(total) >= floors {
                prop_assert!(g >= floor(r), "floor of {}", r.pool);
            }
            if u64::from(total) >= wants {
                prop_assert!(g >= want(r), "demand of {}", r.pool);
            }
        }
        for (a, &ga) in reqs.iter().zip(&grants) {
            for (b, &gb) in reqs.iter().zip(&grants) {
                // Unmet higher-priority demand leaves lower priority its floor at most.
                if a.priority > b.priority && ga < want(a) {
                    prop_assert!(gb <= floor(b), "{} starved by {}", a.pool, b.pool);
                }
                // Equal priority, both short of their demand after their
                // floors: equal shares of the rest, give or take one.
                if a.priority == b.priority
                    && u64::from(total) >= floors
                    && ga < want(a)
                    && gb < want(b)
                {
                    let (xa, xb) = (i64::from(ga - floor(a)), i64::from(gb - floor(b)));
                    prop_assert!((xa - xb).abs() <= 1, "{} {} vs {} {}", a.pool, xa, b.pool, xb);
                }
            }
        }
        // The order of the requests does not matter.
        let mut shuffled: Vec<(Request, u32)> = reqs.iter().cloned().zip(grants.iter().copied()).collect();
        let n = shuffled.len();
        for i in 0..n {
            let j = (seed.wrapping_mul(i as u64 + 1) % n as u64) as usize;
            shuffled.swap(i, j);
        }
        let (sreqs, sgrants): (Vec<Request>, Vec<u32>) = shuffled.into_iter().unzip();
        prop_assert_eq!(allocate(total, &sreqs), sgrants);
    }
}
