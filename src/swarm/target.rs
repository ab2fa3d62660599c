//! One Swarm service as a [`ScaleTarget`]. Its tasks are the pool's
//! containers: the id and the name are the task's id, which its agent
//! reports as its own (`JETPOOL_AGENT_ID={{.Task.ID}}`). Swarm makes and
//! removes tasks; jetpool only changes the count, one at a time:
//!
//! - `start` raises the count by one and returns the task Swarm made;
//! - `remove` of a task that exited (a drained agent) lowers the count to
//!   the number of slots whose task is alive. With restart condition
//!   `on-failure`, a completed task keeps its slot until then, and Swarm
//!   removes the slots without a running task before any running one
//!   (swarmkit's replicated orchestrator sorts running slots first and
//!   cuts from the end). Two rules make "the slots without a running
//!   task" exactly the completed ones:
//!   - the count is *set* to the live slots, never decremented, so a
//!     `remove` repeated before Swarm has reconciled (the next tick sees
//!     the task still there) cannot lower it twice and take a running
//!     slot with it;
//!   - it is not lowered while a live task is still starting: Swarm
//!     would count that one as not running and might take it instead.
//!
//!   `remove` refuses to lower the count while the task still runs;
//! - `stop` stops the task's container on the engine jetpool talks to
//!   (an agent that hangs, or outlived its drain deadline). If it exits
//!   non-zero, Swarm restarts its slot, which the pool then adopts.
//!
//! The acts are serialised, so each sees the tasks the previous one left.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::target::docker::DockerTarget;
use crate::target::docker::swarm::SwarmTask;
use crate::target::{
    ContainerId, ErrorKind, LabelFilter, Listed, Phase, ScaleTarget, StartRequest, TargetError,
    TargetEvent, TargetOp,
};

/// The engine name in errors.
const ENGINE: &str = "swarm";
/// How long an act waits for Swarm to make a task, or for a stopped task
/// to be reported exited.
const TASK_WAIT: Duration = Duration::from_secs(20);
/// How often it looks meanwhile.
const POLL: Duration = Duration::from_millis(200);
/// Swarm's label holding the id of a container's task.
const LABEL_TASK_ID: &str = "com.docker.swarm.task.id";

/// The task that stands for each slot: one Swarm still wants running,
/// else the newest (a completed or failed task left in its slot).
pub fn current(tasks: &[SwarmTask]) -> BTreeMap<u64, &SwarmTask> {
    let mut by: BTreeMap<u64, &SwarmTask> = BTreeMap::new();
    for t in tasks {
        let better = by
            .get(&t.slot)
            .is_none_or(|c| (!t.retired, t.created, &t.id) > (!c.retired, c.created, &c.id));
        if better {
            by.insert(t.slot, t);
        }
    }
    by
}

/// What lowering the count for exited tasks should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// Set the count to this many: the slots whose task is alive.
    To(u64),
    /// A live task has not reached `running` yet; Swarm would count it as
    /// a candidate for removal. Look again shortly.
    Wait,
}

/// The count that leaves every live slot and drops every exited one.
/// Live: Swarm wants the slot's task running and it has not exited.
pub fn lowering(tasks: &[SwarmTask]) -> Lowering {
    let live: Vec<&SwarmTask> = current(tasks)
        .into_values()
        .filter(|t| !t.retired && !t.removing && t.phase != Phase::Exited)
        .collect();
    if live.iter().any(|t| t.phase != Phase::Running) {
        return Lowering::Wait;
    }
    Lowering::To(live.len() as u64)
}

/// The service's slots as a pool's containers.
pub fn listed(tasks: &[SwarmTask]) -> Vec<Listed> {
    current(tasks)
        .into_values()
        .map(|t| Listed {
            id: ContainerId::from(t.id.as_str()),
            name: t.id.clone(),
            // A task Swarm is taking away is leaving, whatever it does now.
            phase: if t.removing || (t.retired && t.phase != Phase::Exited) {
                Phase::Removing
            } else {
                t.phase
            },
            created: t.created,
            // Swarm rolls a changed service itself.
            template: None,
            // Swarm replaces tasks its healthcheck finds unhealthy itself.
            unhealthy: false,
            // Job pools are not offered on Swarm: no outcome to count.
            exit_code: None,
        })
        .collect()
}

/// One Swarm service as a pool's target.
pub struct SwarmTarget {
    /// The engine: a Swarm manager.
    docker: Arc<DockerTarget>,
    /// The service's name.
    service: String,
    /// Serialises the acts that change the count.
    acts: tokio::sync::Mutex<()>,
}

impl SwarmTarget {
    /// The target of service `service`.
    pub fn new(docker: Arc<DockerTarget>, service: &str) -> Self {
        SwarmTarget {
            docker,
            service: service.to_string(),
            acts: tokio::sync::Mutex::new(()),
        }
    }

    fn error(&self, op: TargetOp, kind: ErrorKind, msg: String) -> TargetError {
        TargetError::new(ENGINE, op, kind, format!("service {}: {msg}", self.service))
    }
}

impl ScaleTarget for SwarmTarget {
    async fn list(&self, _pool: &str) -> Result<Vec<Listed>, TargetError> {
        let tasks = self.docker.swarm_tasks(&self.service).await?;
        Ok(listed(&tasks))
    }

    async fn start(&self, req: StartRequest) -> Result<ContainerId, TargetError> {
        if req.standby {
            warn!(service = %self.service, "Swarm tasks cannot start as warm standbys; starting a working agent");
        }
        let _acts = self.acts.lock().await;
        let before = self.docker.swarm_tasks(&self.service).await?;
        let known: HashSet<&str> = before.iter().map(|t| t.id.as_str()).collect();
        let slots: HashSet<u64> = current(&before).into_keys().collect();
        let n = self
            .docker
            .scale_service(&self.service, TargetOp::Start, |n| Some(n + 1))
            .await?;
        info!(service = %self.service, replicas = n, "raised the service's replica count");
        let deadline = Instant::now() + TASK_WAIT;
        loop {
            let tasks = self.docker.swarm_tasks(&self.service).await?;
            // The new slot's task; a restart in an old slot is not ours.
            let made = tasks
                .iter()
                .filter(|t| !known.contains(t.id.as_str()) && !t.retired)
                .min_by_key(|t| (slots.contains(&t.slot), t.slot));
            if let Some(t) = made {
                return Ok(ContainerId::from(t.id.as_str()));
            }
            if Instant::now() >= deadline {
                return Err(self.error(
                    TargetOp::Start,
                    ErrorKind::Other,
                    format!("no new task {TASK_WAIT:?} after raising the count to {n}"),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), TargetError> {
        let tasks = self.docker.swarm_tasks(&self.service).await?;
        let Some(t) = tasks.iter().find(|t| t.id == id.as_str()) else {
            return Ok(());
        };
        if t.phase == Phase::Exited {
            return Ok(());
        }
        if t.container.is_none() {
            // Nothing to stop yet; the pool tries again later.
            return Err(self.error(
                TargetOp::Stop,
                ErrorKind::Conflict,
                format!("task {id} has no container yet"),
            ));
        }
        let here = self
            .docker
            .list_labelled(&[LabelFilter::equals(LABEL_TASK_ID, id.as_str())])
            .await?;
        let Some(c) = here.first() else {
            return Err(self.error(
                TargetOp::Stop,
                ErrorKind::NotFound,
                format!("task {id} runs on another node; jetpool stops only tasks on the engine it talks to"),
            ));
        };
        self.docker
            .with_timeout(timeout + Duration::from_secs(60))
            .stop(&c.id, timeout)
            .await
    }

    async fn remove(&self, id: &ContainerId) -> Result<(), TargetError> {
        let _acts = self.acts.lock().await;
        let deadline = Instant::now() + TASK_WAIT;
        loop {
            let tasks = self.docker.swarm_tasks(&self.service).await?;
            let slots = current(&tasks);
            // Gone, or its slot holds a newer task (Swarm restarted it):
            // the count already matches.
            let Some(t) = slots.values().find(|t| t.id == id.as_str()) else {
                return Ok(());
            };
            if t.removing {
                return Ok(());
            }
            let waiting_for = if t.phase != Phase::Exited {
                "it has not exited; the count is not lowered while it runs"
            } else {
                match lowering(&tasks) {
                    Lowering::To(live) => {
                        // Only ever lowers: a count raised meanwhile by a
                        // start is the start's, and stays.
                        let n = self
                            .docker
                            .scale_service(&self.service, TargetOp::Remove, |n| {
                                (live < n).then_some(live)
                            })
                            .await?;
                        info!(service = %self.service, task = %id, replicas = n,
                              "set the service's replica count to its live slots; Swarm removes the exited ones");
                        return Ok(());
                    }
                    Lowering::Wait => "a task of the service is still starting",
                }
            };
            if Instant::now() >= deadline {
                // Lowering the count now would let Swarm choose a victim.
                return Err(self.error(
                    TargetOp::Remove,
                    ErrorKind::Conflict,
                    format!("task {id}: {waiting_for}"),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn events(&self, _pool: &str) -> BoxStream<'static, TargetEvent> {
        self.docker.service_events(&self.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, slot: u64, phase: Phase, retired: bool, created: i64) -> SwarmTask {
        SwarmTask {
            id: id.into(),
            slot,
            phase,
            retired,
            removing: false,
            container: Some(format!("c-{id}")),
            created,
        }
    }

    #[test]
    fn each_slot_is_its_wanted_task_else_its_newest() {
        let tasks = [
            t("a", 1, Phase::Running, false, 10),
            // Slot 2 crashed and Swarm restarted it: the new task stands.
            t("b", 2, Phase::Exited, true, 10),
            t("c", 2, Phase::Created, false, 20),
            // Slot 3 drained: its completed task stays until the count drops.
            t("d", 3, Phase::Exited, true, 10),
            t("e", 3, Phase::Exited, true, 5),
        ];
        let l = listed(&tasks);
        let view: Vec<(&str, &str, Phase)> = l
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.phase))
            .collect();
        assert_eq!(
            view,
            [
                ("a", "a", Phase::Running),
                ("c", "c", Phase::Created),
                ("d", "d", Phase::Exited),
            ]
        );
    }

    #[test]
    fn the_count_is_set_to_the_live_slots_and_waits_for_starting_ones() {
        let mut tasks = vec![
            t("a", 1, Phase::Running, false, 10),
            // Drained: completed, its slot kept by `on-failure`.
            t("b", 2, Phase::Exited, true, 10),
            t("c", 3, Phase::Exited, true, 10),
            t("d", 4, Phase::Running, false, 10),
        ];
        assert_eq!(lowering(&tasks), Lowering::To(2));
        // Asked again before Swarm reconciled: the same count, not one less.
        assert_eq!(lowering(&tasks), Lowering::To(2));
        // A slot Swarm already takes away is not live.
        tasks[3].removing = true;
        tasks[3].retired = true;
        assert_eq!(lowering(&tasks), Lowering::To(1));
        // A task still starting would look like a candidate to Swarm.
        tasks.push(t("e", 5, Phase::Created, false, 20));
        assert_eq!(lowering(&tasks), Lowering::Wait);
    }

    #[test]
    fn tasks_swarm_takes_away_are_leaving() {
        let mut shut = t("a", 1, Phase::Running, true, 1);
        let mut gone = t("b", 2, Phase::Exited, true, 1);
        gone.removing = true;
        shut.removing = false;
        let l = listed(&[shut, gone]);
        assert!(l.iter().all(|c| c.phase == Phase::Removing), "{l:?}");
    }
}
