//! An event on the simulator's queue, ordered so the standard max-heap
//! pops the earliest first (ties in scheduling order, so a run is exact).

use std::cmp::Ordering;

use super::Kind;

/// One scheduled event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    /// When it happens, virtual seconds.
    pub t: f64,
    /// Order of scheduling, so simultaneous events pop in a fixed order.
    pub seq: u64,
    /// What happens.
    pub kind: Kind,
}

impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    /// Reversed, so the std max-heap pops the earliest event first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.t.total_cmp(&self.t).then(o.seq.cmp(&self.seq))
    }
}
