//! What a Swarm service must declare to be pooled. Pure, so each rule is
//! unit-tested; every problem says what to write instead.

use super::AGENT_ID_TEMPLATE;
use crate::config::PoolMode;
use crate::target::docker::swarm::SwarmService;
use crate::target::{ENV_AGENT_ID, ENV_POOL};

/// Why a labelled service is not pooled (besides its `jetpool.*` labels).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    /// Global services have one task per node, not a count to change.
    #[error("not a replicated service (mode global or job): there is no replica count to scale")]
    NotReplicated,
    /// Swarm would restart drained agents.
    #[error(
        "restart condition \"{0}\": Swarm would restart every agent jetpool drains; set deploy.restart_policy.condition: on-failure (or --restart-condition on-failure)"
    )]
    RestartAny(String),
    /// The agents could not tell jetpool who they are.
    #[error(
        "environment {ENV_AGENT_ID} is {found}: it must be {AGENT_ID_TEMPLATE}, so each agent reports its task's id"
    )]
    AgentId {
        /// What the service sets, or "missing".
        found: String,
    },
    /// A job pool needs a container per task, which a count cannot give.
    #[error(
        "the pool's policy has mode = \"job\": Swarm makes a service's tasks from one count and restarts or replaces them itself, so jetpool cannot start one container per task and reap it by exit code; run job pools on a Docker engine (a policy file's [pool.container], or a compose service)"
    )]
    JobMode,
    /// The agents would report to another pool.
    #[error("environment {ENV_POOL} is {found}: it must be the pool's name, {pool}")]
    Pool {
        /// What the service sets, or "missing".
        found: String,
        /// The pool from `jetpool.pool`.
        pool: String,
    },
}

/// The value of `key` in an environment list (`KEY=value`).
fn env<'a>(list: &'a [String], key: &str) -> Option<&'a str> {
    list.iter()
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Every reason `svc` cannot be pool `pool` run with `mode`; empty when
/// it can.
pub fn check(svc: &SwarmService, pool: &str, mode: PoolMode) -> Vec<Unfit> {
    let mut out = Vec::new();
    if mode == PoolMode::Job {
        out.push(Unfit::JobMode);
    }
    if svc.replicas.is_none() {
        out.push(Unfit::NotReplicated);
    }
    if svc.restart == "any" {
        out.push(Unfit::RestartAny(svc.restart.clone()));
    }
    let shown = |v: Option<&str>| v.map_or("missing".to_string(), |v| format!("\"{v}\""));
    let id = env(&svc.env, ENV_AGENT_ID);
    if id != Some(AGENT_ID_TEMPLATE) {
        out.push(Unfit::AgentId { found: shown(id) });
    }
    let p = env(&svc.env, ENV_POOL);
    if p != Some(pool) {
        out.push(Unfit::Pool {
            found: shown(p),
            pool: pool.to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(restart: &str, env: &[&str]) -> SwarmService {
        SwarmService {
            id: "x".into(),
            name: "s".into(),
            labels: Default::default(),
            replicas: Some(1),
            env: env.iter().map(|s| s.to_string()).collect(),
            image: "img".into(),
            restart: restart.into(),
            stop_grace: None,
        }
    }

    #[test]
    fn a_well_declared_service_is_fit() {
        let s = svc(
            "on-failure",
            &["JETPOOL_AGENT_ID={{.Task.ID}}", "JETPOOL_POOL=p", "X=1"],
        );
        assert!(check(&s, "p", PoolMode::Agents).is_empty());
        let job = check(&s, "p", PoolMode::Job);
        assert_eq!(job, [Unfit::JobMode]);
        assert!(job[0].to_string().contains("Docker engine"));
        assert!(
            check(
                &svc(
                    "none",
                    &s.env.iter().map(String::as_str).collect::<Vec<_>>()
                ),
                "p",
                PoolMode::Agents
            )
            .is_empty()
        );
    }

    #[test]
    fn every_problem_is_named() {
        let mut s = svc("any", &["JETPOOL_AGENT_ID=fixed", "JETPOOL_POOL=other"]);
        s.replicas = None;
        let problems = check(&s, "p", PoolMode::Agents);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[1].to_string().contains("on-failure"));
        assert!(problems[2].to_string().contains("{{.Task.ID}}"));
        assert!(problems[3].to_string().contains("\"other\""));
        let bare = check(&svc("on-failure", &[]), "p", PoolMode::Agents);
        assert!(bare.iter().all(|u| u.to_string().contains("missing")));
    }
}
