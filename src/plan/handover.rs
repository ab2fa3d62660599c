//! What a `--ha` leader hands to the next one about its drains: each drain
//! under way with its cause and deadline ([`Roster::drains`]), and how a
//! new leader puts them back into its roster ([`Roster::restore_drains`]),
//! so a failover neither forgets a drain nor restarts its clock.

use jiff::Timestamp;

use super::{Drain, DrainCause, Role, Roster, StopCause};

/// A drain under way, as a leader records it for its successor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KnownDrain {
    /// The agent (container name).
    pub name: String,
    /// Why it drains.
    pub cause: DrainCause,
    /// When the drain was requested.
    pub since: Timestamp,
    /// When it is stopped if it has not exited by then.
    pub deadline: Timestamp,
    /// Tasks it held when the drain began.
    pub held: u64,
}

impl Roster {
    /// The drains under way whose agents acknowledged them (a request
    /// still in flight has no deadline yet, and the agent may never have
    /// heard of it), by agent name. A drain whose stop is in flight is
    /// included: its deadline has passed, so a successor stops it at once.
    pub fn drains(&self) -> Vec<KnownDrain> {
        let mut out: Vec<KnownDrain> = self
            .members
            .values()
            .filter_map(|m| {
                let (d, cause) = match m.role {
                    Role::Draining(d) => (d, DrainCause::ScaleIn),
                    Role::Rolling(d) => (d, DrainCause::Roll),
                    Role::Stopping {
                        prior: Some(d),
                        cause,
                    } => {
                        let roll = cause == StopCause::Roll;
                        (
                            d,
                            if roll {
                                DrainCause::Roll
                            } else {
                                DrainCause::ScaleIn
                            },
                        )
                    }
                    _ => return None,
                };
                Some(KnownDrain {
                    name: m.name.clone(),
                    cause,
                    since: d.since,
                    deadline: d.deadline?,
                    held: d.held,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Puts back drains a previous leader began: each member this roster
    /// already knows as draining (its agent's own report says so) takes
    /// the known drain's cause, start and deadline, in place of the
    /// deadline counted from when this instance first saw it. Members not
    /// draining are left alone (the agent's report decides whether it
    /// drains), and so is a drain whose request this instance has in
    /// flight (its own, newer). Returns the names restored.
    pub fn restore_drains(&mut self, known: &[KnownDrain]) -> Vec<String> {
        let mut restored = Vec::new();
        for m in self.members.values_mut() {
            let current = match m.role {
                Role::Draining(d) | Role::Rolling(d) if d.deadline.is_some() => d,
                _ => continue,
            };
            let Some(k) = known.iter().find(|k| k.name == m.name) else {
                continue;
            };
            let d = Drain {
                since: k.since,
                deadline: Some(k.deadline),
                held: k.held.max(current.held),
            };
            m.role = match k.cause {
                DrainCause::ScaleIn => Role::Draining(d),
                DrainCause::Roll => Role::Rolling(d),
            };
            restored.push(m.name.clone());
        }
        restored
    }
}
