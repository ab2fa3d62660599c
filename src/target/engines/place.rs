//! Where the next agent of a pool goes: pure, so the rule is tested on
//! its own. Among the engines the pool may use and that answered, the one
//! whose share would be smallest after placing, `(agents + 1) / weight`:
//! with equal weights that is the engine with the fewest agents, with
//! weights 2 and 1 it keeps two agents on the first for each on the second.
//! Ties go to the heavier engine, then to the one declared first, so the
//! choice is deterministic.

/// One engine as placement sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The pool's live agents on it, counting starts under way.
    pub agents: u32,
    /// Its weight, at least 1.
    pub weight: u32,
    /// The pool may use it (`[pool.container] engines`).
    pub allowed: bool,
    /// It answered at its last call.
    pub up: bool,
}

/// The engines to try, best first: every allowed engine that is up, by
/// the rule of the module docs. Empty when none is.
pub fn order(slots: &[Slot]) -> Vec<usize> {
    let mut v: Vec<usize> = (0..slots.len())
        .filter(|&i| slots[i].allowed && slots[i].up)
        .collect();
    // (a + 1) / wa < (b + 1) / wb  <=>  (a + 1) * wb < (b + 1) * wa, in
    // integers wide enough not to overflow.
    v.sort_by(|&i, &j| {
        let (a, b) = (&slots[i], &slots[j]);
        let share_a = u64::from(a.agents + 1) * u64::from(b.weight.max(1));
        let share_b = u64::from(b.agents + 1) * u64::from(a.weight.max(1));
        share_a
            .cmp(&share_b)
            .then(b.weight.cmp(&a.weight))
            .then(i.cmp(&j))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(agents: u32, weight: u32) -> Slot {
        Slot {
            agents,
            weight,
            allowed: true,
            up: true,
        }
    }

    /// Places `n` agents one after another from `slots`; the final counts.
    fn fill(mut slots: Vec<Slot>, n: u32) -> Vec<u32> {
        for _ in 0..n {
            let first = order(&slots)[0];
            slots[first].agents += 1;
        }
        slots.iter().map(|s| s.agents).collect()
    }

    #[test]
    fn equal_weights_fill_the_emptiest_first() {
        assert_eq!(order(&[slot(2, 1), slot(1, 1), slot(3, 1)]), [1, 0, 2]);
        assert_eq!(order(&[slot(1, 1), slot(1, 1)]), [0, 1], "ties: first");
        assert_eq!(fill(vec![slot(0, 1), slot(0, 1)], 5), [3, 2]);
        assert_eq!(fill(vec![slot(4, 1), slot(0, 1)], 4), [4, 4]);
    }

    #[test]
    fn weights_share_agents_in_proportion() {
        assert_eq!(fill(vec![slot(0, 2), slot(0, 1)], 6), [4, 2]);
        assert_eq!(fill(vec![slot(0, 1), slot(0, 3)], 8), [2, 6]);
        assert_eq!(
            fill(vec![slot(0, 1), slot(0, 2)], 1),
            [0, 1],
            "heavier first"
        );
    }

    #[test]
    fn engines_down_or_not_allowed_get_nothing() {
        let mut down = slot(0, 5);
        down.up = false;
        let mut barred = slot(0, 5);
        barred.allowed = false;
        assert_eq!(order(&[down, slot(9, 1), barred]), [1]);
        assert!(order(&[down, barred]).is_empty());
        assert!(order(&[]).is_empty());
    }
}
