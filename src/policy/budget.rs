//! The global agent budget (`jetpool run --max-agents N`): at most N agents
//! across all pools, shared by pool priority. Pure and deterministic: the
//! service calls [`allocate`] every tick with each pool's latest
//! [`Decision`](super::Decision) and hands each pool its grant in
//! [`Observation::budget`](super::Observation::budget); `decide` caps the
//! pool's count at it ([`Limit::Budget`](super::Limit::Budget)).
//!
//! The sharing rule, in three rounds, each handing out what is left:
//! 1. **Floors.** Each pool's floor is its `min`, or 1 if it runs more than
//!    one agent (so a cut goes through 1 and never drops a pool from N to 0
//!    at once while the total allows it).
//! 2. **Demand.** Each pool up to its `desired` count.
//! 3. **Headroom.** What is still left, up to each pool's `max`, so a pool
//!    whose need grows can act at once instead of a tick later.
//!
//! Within a round, higher `priority` is served completely before lower.
//! Pools of equal priority share water-filling: equal shares, a pool that
//! needs less than its share keeps only what it needs and the rest is
//! shared again; a unit that cannot be split evenly goes to the pool whose
//! name sorts first. Round 3 ignores priority for the shares (headroom is
//! for everyone) but uses it to hand out the indivisible units. The grants
//! never sum to more than the total.

/// One pool's request, from its latest decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Pool name: breaks ties, so the outcome does not depend on order.
    pub pool: String,
    /// Higher is served first (`priority` in the policy file).
    pub priority: u32,
    /// Bound in force now ([`Decision::min`](super::Decision::min)).
    pub min: u32,
    /// Upper bound in force now ([`Decision::max`](super::Decision::max)).
    pub max: u32,
    /// What the pool wants before the budget
    /// ([`Decision::demand`](super::Decision::demand)).
    pub desired: u32,
    /// What it runs now ([`Decision::current`](super::Decision::current)).
    pub current: u32,
}

impl Request {
    /// What round 1 guarantees.
    fn floor(&self) -> u32 {
        self.min.max(u32::from(self.current > 1))
    }

    /// What round 2 fills to.
    fn want(&self) -> u32 {
        self.desired.max(self.floor())
    }

    /// What round 3 fills to.
    fn ceiling(&self) -> u32 {
        self.max.max(self.want())
    }
}

/// Shares `total` agents among `requests`; returns each pool's ceiling, in
/// the order of `requests`.
pub fn allocate(total: u32, requests: &[Request]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&requests[a], &requests[b]);
        rb.priority
            .cmp(&ra.priority)
            .then_with(|| ra.pool.cmp(&rb.pool))
            .then(a.cmp(&b))
    });
    let mut grant = vec![0u32; requests.len()];
    let mut left = total;
    for target in [Request::floor, Request::want] {
        for group in order.chunk_by(|&a, &b| requests[a].priority == requests[b].priority) {
            left -= fill(&mut grant, group, |i| target(&requests[i]), left);
        }
    }
    fill(&mut grant, &order, |i| requests[i].ceiling(), left);
    grant
}

/// Water-fills `members` (in tie-break order) towards `target` with at most
/// `avail`; returns how much it handed out.
fn fill(grant: &mut [u32], members: &[usize], target: impl Fn(usize) -> u32, avail: u32) -> u32 {
    let mut left = avail;
    loop {
        let hungry: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| grant[i] < target(i))
            .collect();
        if hungry.is_empty() || left == 0 {
            break;
        }
        // `hungry` is non-empty and at most usize, so the share is exact.
        let share = left / u32::try_from(hungry.len()).unwrap_or(u32::MAX);
        if share == 0 {
            for &i in hungry.iter().take(left as usize) {
                grant[i] += 1;
            }
            left = 0;
            break;
        }
        for &i in &hungry {
            let give = share.min(target(i) - grant[i]);
            grant[i] += give;
            left -= give;
        }
    }
    avail - left
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pool: &str, priority: u32, min: u32, desired: u32) -> Request {
        Request {
            pool: pool.into(),
            priority,
            min,
            max: 100,
            desired,
            current: desired,
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, u32, Vec<Request>, Vec<u32>)] = &[
            (
                "enough for everyone: demand met, headroom shared",
                30,
                vec![req("a", 0, 0, 4), req("b", 0, 0, 6)],
                vec![14, 16],
            ),
            (
                "higher priority served first",
                10,
                vec![req("low", 0, 0, 8), req("high", 5, 0, 8)],
                vec![2, 8],
            ),
            (
                "mins before anyone's demand",
                10,
                vec![req("low", 0, 3, 8), req("high", 5, 0, 20)],
                vec![3, 7],
            ),
            (
                "ties split evenly, odd unit to the first name",
                9,
                vec![req("b", 1, 0, 10), req("a", 1, 0, 10)],
                vec![4, 5],
            ),
            (
                "a small demand keeps only what it needs",
                10,
                vec![req("a", 1, 0, 2), req("b", 1, 0, 10), req("c", 1, 0, 10)],
                vec![2, 4, 4],
            ),
            (
                "mins beyond the total go by priority",
                3,
                vec![req("a", 0, 2, 2), req("b", 9, 2, 2)],
                vec![1, 2],
            ),
        ];
        for (what, total, reqs, want) in cases {
            assert_eq!(&allocate(*total, reqs), want, "{what}");
        }
    }

    #[test]
    fn a_running_pool_keeps_one_agent_on_the_way_down() {
        let mut low = req("low", 0, 0, 0);
        low.current = 5;
        let high = req("high", 9, 0, 50);
        assert_eq!(allocate(10, &[low, high]), vec![1, 9]);
    }
}
