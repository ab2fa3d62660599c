//! The global agent budget (`jetpool run --max-agents N`): one task owns
//! the pools' latest requests and shares the budget among them with the
//! pure [`crate::policy::budget::allocate`]; each pool reads its
//! grant at its next tick and applies it as a cap in `decide`.

use std::collections::BTreeMap;

use tokio::sync::{mpsc, watch};

use crate::policy::Decision;
use crate::policy::budget::{Request, allocate};

/// A pool's handle on the budget.
#[derive(Debug, Clone)]
pub struct BudgetClient {
    /// Where the pool sends its latest request.
    requests: mpsc::Sender<Request>,
    /// The grants, by pool name.
    grants: watch::Receiver<BTreeMap<String, u32>>,
}

impl BudgetClient {
    /// The pool's current grant; `None` until the first allocation that
    /// includes it.
    pub fn grant(&self, pool: &str) -> Option<u32> {
        self.grants.borrow().get(pool).copied()
    }

    /// Withdraws `pool`'s claim (when the pool is removed): a zero request
    /// gets a zero grant and leaves the budget to the others.
    pub fn forget(&self, pool: &str) {
        let _ = self.requests.try_send(Request {
            pool: pool.to_string(),
            priority: 0,
            min: 0,
            max: 0,
            desired: 0,
            current: 0,
        });
    }

    /// Sends the request behind `decision` (dropped if the board is busy:
    /// the next tick sends a fresher one).
    pub fn request(&self, pool: &str, priority: u32, d: &Decision) {
        let _ = self.requests.try_send(Request {
            pool: pool.to_string(),
            priority,
            min: d.min,
            max: d.max,
            desired: d.demand,
            current: d.current,
        });
    }
}

/// Starts the board for a budget of `total` agents; returns the handle
/// pools use. The board runs until every handle is dropped.
pub fn start(total: u32) -> BudgetClient {
    let (tx, mut rx) = mpsc::channel::<Request>(1024);
    let (grants_tx, grants_rx) = watch::channel(BTreeMap::new());
    tokio::spawn(async move {
        let mut latest: BTreeMap<String, Request> = BTreeMap::new();
        while let Some(r) = rx.recv().await {
            latest.insert(r.pool.clone(), r);
            // Fold in whatever else is queued, then allocate once.
            while let Ok(r) = rx.try_recv() {
                latest.insert(r.pool.clone(), r);
            }
            let requests: Vec<Request> = latest.values().cloned().collect();
            let grant = allocate(total, &requests);
            let map = requests.iter().map(|r| r.pool.clone()).zip(grant).collect();
            grants_tx.send_replace(map);
        }
    });
    BudgetClient {
        requests: tx,
        grants: grants_rx,
    }
}
