//! Swarm services and tasks through the Docker API, in jetpool's types:
//! the services carrying given labels, one service's tasks, and the one
//! write jetpool makes to a service, its replica count.
//!
//! A count is changed as `docker service scale` does: the whole spec as
//! inspected goes back with its version, and only the count differs. The
//! tasks' spec is untouched, so Swarm restarts none of them; an update
//! that lost a race with another writer ("update out of sequence") is
//! read and tried again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{Service, TaskSpecRestartPolicyConditionEnum as Restart, TaskState};
use bollard::query_parameters::{
    InspectServiceOptions, ListServicesOptions, ListTasksOptions, UpdateServiceOptions,
};

use super::error::to_target;
use super::list::label_filters;
use super::{DockerTarget, timed};
use crate::target::{ErrorKind, LabelFilter, Phase, TargetError, TargetOp};

/// Swarm's label naming the service of a task's container.
const LABEL_SERVICE_NAME: &str = "com.docker.swarm.service.name";

/// How often a count update is tried when other writers keep winning.
const UPDATE_ATTEMPTS: u32 = 5;

/// A replicated Swarm service, as discovery and scaling need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmService {
    /// Swarm's id of the service.
    pub id: String,
    /// The service's name (tasks are named `<name>.<slot>.<task id>`).
    pub name: String,
    /// The service's labels (`deploy.labels` in a stack file).
    pub labels: BTreeMap<String, String>,
    /// The replica count; `None` for a service not in replicated mode.
    pub replicas: Option<u64>,
    /// The tasks' environment as written, templates unexpanded.
    pub env: Vec<String>,
    /// The tasks' image as the spec names it.
    pub image: String,
    /// The restart condition: `any` (Swarm's default), `on-failure`, `none`.
    pub restart: String,
    /// Grace period between the stop signal and SIGKILL, if set.
    pub stop_grace: Option<Duration>,
}

/// One task of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTask {
    /// Swarm's id of the task.
    pub id: String,
    /// The slot it fills (a replica number).
    pub slot: u64,
    /// What the task is doing, in a container's terms.
    pub phase: Phase,
    /// Swarm no longer wants it to run (shut down, or being removed).
    pub retired: bool,
    /// Swarm is removing it with its slot (the count was lowered).
    pub removing: bool,
    /// Its container, once it has one.
    pub container: Option<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// A task's state in a container's terms.
pub(crate) fn task_phase(state: Option<TaskState>) -> Phase {
    match state {
        Some(TaskState::RUNNING) => Phase::Running,
        Some(
            TaskState::COMPLETE
            | TaskState::SHUTDOWN
            | TaskState::FAILED
            | TaskState::REJECTED
            | TaskState::ORPHANED,
        ) => Phase::Exited,
        Some(TaskState::REMOVE) => Phase::Removing,
        _ => Phase::Created,
    }
}

fn service(s: Service) -> Option<SwarmService> {
    let spec = s.spec?;
    let task = spec.task_template.unwrap_or_default();
    let container = task.container_spec.unwrap_or_default();
    let restart = match task.restart_policy.and_then(|r| r.condition) {
        Some(Restart::ON_FAILURE) => "on-failure",
        Some(Restart::NONE) => "none",
        _ => "any",
    };
    Some(SwarmService {
        id: s.id?,
        name: spec.name?,
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
        replicas: spec
            .mode
            .and_then(|m| m.replicated)
            .map(|r| u64::try_from(r.replicas.unwrap_or(1)).unwrap_or(0)),
        env: container.env.unwrap_or_default(),
        image: container.image.unwrap_or_default(),
        restart: restart.to_string(),
        stop_grace: container
            .stop_grace_period
            .and_then(|ns| u64::try_from(ns).ok())
            .map(Duration::from_nanos),
    })
}

fn task(t: bollard::models::Task) -> Option<SwarmTask> {
    let status = t.status.unwrap_or_default();
    Some(SwarmTask {
        id: t.id?,
        slot: t.slot.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        phase: task_phase(status.state),
        // Desired states past `running`: Swarm is ending the task.
        retired: !matches!(
            t.desired_state,
            None | Some(TaskState::RUNNING | TaskState::READY | TaskState::NEW)
        ),
        removing: t.desired_state == Some(TaskState::REMOVE),
        container: status.container_status.and_then(|c| c.container_id),
        created: t
            .created_at
            .and_then(|c| c.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second()),
    })
}

/// True for swarmkit's answer to a write based on an old version.
fn out_of_sequence(e: &TargetError) -> bool {
    e.message.contains("update out of sequence")
}

impl DockerTarget {
    /// Every service whose labels satisfy all `filters`.
    pub async fn swarm_services(
        &self,
        filters: &[LabelFilter],
    ) -> Result<Vec<SwarmService>, TargetError> {
        let opts = ListServicesOptions {
            filters: Some(HashMap::from([(
                "label".to_string(),
                label_filters(filters),
            )])),
            ..Default::default()
        };
        let list = timed(TargetOp::List, self.docker.list_services(Some(opts)))
            .await
            .map_err(|e| to_target(TargetOp::List, e))?;
        Ok(list.into_iter().filter_map(service).collect())
    }

    /// The tasks of service `name` Swarm still keeps, in any state.
    pub async fn swarm_tasks(&self, name: &str) -> Result<Vec<SwarmTask>, TargetError> {
        let opts = ListTasksOptions {
            filters: Some(HashMap::from([(
                "service".to_string(),
                vec![name.to_string()],
            )])),
        };
        let list = timed(TargetOp::List, self.docker.list_tasks(Some(opts)))
            .await
            .map_err(|e| to_target(TargetOp::List, e))?;
        Ok(list.into_iter().filter_map(task).collect())
    }

    /// Events of the containers of service `name`'s tasks, as a pool's
    /// target reports them (a death, an unhealthy healthcheck).
    pub fn service_events(
        &self,
        name: &str,
    ) -> futures::stream::BoxStream<'static, crate::target::TargetEvent> {
        self.pool_events(&[LabelFilter::equals(LABEL_SERVICE_NAME, name)])
    }

    /// Sets the replica count of service `name` to what `count` makes of
    /// the current one (`None`: leave it), on the latest version of the
    /// spec; returns the count set. `op` names the change in errors and
    /// metrics.
    pub async fn scale_service(
        &self,
        name: &str,
        op: TargetOp,
        count: impl Fn(u64) -> Option<u64>,
    ) -> Result<u64, TargetError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let s = timed(
                TargetOp::Inspect,
                self.docker
                    .inspect_service(name, None::<InspectServiceOptions>),
            )
            .await
            .map_err(|e| to_target(TargetOp::Inspect, e))?;
            let version = s.version.as_ref().and_then(|v| v.index).unwrap_or(0);
            let mut spec = s.spec.unwrap_or_default();
            let replicated = spec.mode.as_mut().and_then(|m| m.replicated.as_mut());
            let Some(replicated) = replicated else {
                return Err(TargetError::new(
                    super::error::ENGINE,
                    op,
                    ErrorKind::Other,
                    format!("service {name} is not in replicated mode"),
                ));
            };
            let now = u64::try_from(replicated.replicas.unwrap_or(1)).unwrap_or(0);
            let Some(new) = count(now) else {
                return Ok(now);
            };
            replicated.replicas = Some(i64::try_from(new).unwrap_or(i64::MAX));
            let opts = UpdateServiceOptions {
                version: i32::try_from(version).unwrap_or(i32::MAX),
                ..Default::default()
            };
            match timed(op, self.docker.update_service(name, spec, opts, None)).await {
                Ok(_) => return Ok(new),
                Err(e) => {
                    let e = to_target(op, e);
                    if !out_of_sequence(&e) || attempt >= UPDATE_ATTEMPTS {
                        return Err(e);
                    }
                    // Someone else updated it in between: read it again.
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_states_map_to_phases() {
        assert_eq!(task_phase(Some(TaskState::RUNNING)), Phase::Running);
        assert_eq!(task_phase(Some(TaskState::PREPARING)), Phase::Created);
        assert_eq!(task_phase(Some(TaskState::COMPLETE)), Phase::Exited);
        assert_eq!(task_phase(Some(TaskState::FAILED)), Phase::Exited);
        assert_eq!(task_phase(Some(TaskState::REMOVE)), Phase::Removing);
    }

    #[test]
    fn a_task_reads_from_the_api_shape() {
        let t: bollard::models::Task = serde_json::from_value(serde_json::json!({
            "ID": "abc", "Slot": 3, "CreatedAt": "2026-01-02T03:04:05.123Z",
            "DesiredState": "shutdown",
            "Status": {"State": "complete", "ContainerStatus": {"ContainerID": "c1"}}
        }))
        .unwrap();
        let t = task(t).unwrap();
        assert_eq!((t.slot, t.phase, t.retired), (3, Phase::Exited, true));
        assert_eq!(t.container.as_deref(), Some("c1"));
        assert_eq!(t.created, 1_767_323_045);
        assert!(out_of_sequence(&TargetError::new(
            "docker",
            TargetOp::Start,
            ErrorKind::Rejected,
            "rpc error: code = Unknown desc = update out of sequence"
        )));
    }
}
