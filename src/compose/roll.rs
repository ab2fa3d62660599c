//! Rolling a compose pool to its service's new configuration: while a
//! running replica carries an older config hash than the template, stop it
//! (the same stop-then-remove path the pool loop uses), start one from the
//! new template, wait until it runs, and go on to the next. One at a time,
//! so the pool never loses more than one agent's capacity to a roll.
//!
//! `docker-compose up` recreates the containers it lists itself; this
//! catches the replicas it did not (made while it ran, or older ones found
//! when jetpool starts).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use super::ComposeTemplate;
use crate::docker::{Phase, ScaleTarget};
use crate::telemetry;

/// How often the pool is checked for old replicas without a template change.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// How long a new replica may take to run before the roll pauses.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// The roll was interrupted by shutdown.
struct Stopped;

/// Rolls `pool` whenever `template` changes (and checks every few seconds)
/// until `stop` turns true.
pub async fn run<T: ScaleTarget>(
    pool: String,
    template: ComposeTemplate,
    target: Arc<T>,
    mut stop: watch::Receiver<bool>,
) {
    let mut changes = template.subscribe();
    loop {
        if pass(&pool, &template, target.as_ref(), &mut stop)
            .await
            .is_err()
        {
            return;
        }
        tokio::select! {
            _ = stop.wait_for(|&v| v) => return,
            r = changes.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(CHECK_EVERY) => {},
        }
    }
}

/// Runs `f` unless `stop` turns true first.
async fn or_stop<F: Future>(stop: &mut watch::Receiver<bool>, f: F) -> Result<F::Output, Stopped> {
    tokio::select! {
        out = f => Ok(out),
        _ = stop.wait_for(|&v| v) => Err(Stopped),
    }
}

/// Replaces old replicas one by one until none is left (or a step fails,
/// which is retried at the next check).
async fn pass<T: ScaleTarget>(
    pool: &str,
    template: &ComposeTemplate,
    target: &T,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Stopped> {
    loop {
        let current = template.id();
        let Ok(list) = or_stop(stop, target.list(pool)).await? else {
            return Ok(());
        };
        let Some(old) = list
            .into_iter()
            .filter(|c| {
                c.phase == Phase::Running && c.template.as_deref().is_some_and(|t| t != current)
            })
            .min_by_key(|c| (c.created, c.name.clone()))
        else {
            return Ok(());
        };
        info!(pool = %pool, agent = %old.name, from = old.template.as_deref().unwrap_or("-"),
              to = %current, "rolling a replica to the service's new configuration");
        telemetry::replica_rolled(pool);
        let timeout = template.stop_timeout();
        let stopped = match or_stop(stop, target.stop(&old.id, timeout)).await? {
            Ok(()) => or_stop(stop, target.remove(&old.id)).await?,
            Err(e) => Err(e),
        };
        if let Err(e) = stopped {
            telemetry::docker_error(pool, "stop");
            warn!(pool = %pool, agent = %old.name, error = %e, "cannot stop an old replica; retrying later");
            return Ok(());
        }
        let req = template.start_request(pool);
        let name = req.name.clone();
        let id = match or_stop(stop, target.start(req)).await? {
            Ok(id) => id,
            Err(e) => {
                telemetry::docker_error(pool, "start");
                warn!(pool = %pool, agent = %name, error = %e, "cannot start a new replica; retrying later");
                return Ok(());
            }
        };
        telemetry::container_op(pool, true);
        if !or_stop(stop, runs(pool, target, &id)).await? {
            warn!(pool = %pool, agent = %name, "the new replica is not running; the roll waits for the next check");
            return Ok(());
        }
        info!(pool = %pool, agent = %name, "replica replaced");
    }
}

/// Waits until container `id` runs; false when it exits or takes too long.
async fn runs<T: ScaleTarget>(pool: &str, target: &T, id: &str) -> bool {
    let deadline = Instant::now() + START_PATIENCE;
    while Instant::now() < deadline {
        if let Ok(list) = target.list(pool).await {
            match list.iter().find(|c| c.id == id).map(|c| c.phase) {
                Some(Phase::Running) => return true,
                Some(Phase::Exited | Phase::Removing) | None => return false,
                Some(Phase::Created) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::Recipe;
    use crate::compose::template::Naming;
    use crate::virtual_target::VirtualTarget;

    fn recipe(hash: &str) -> Recipe {
        Recipe {
            project: "p".into(),
            service: "agent".into(),
            config_hash: hash.into(),
            naming: Naming::Underscore,
            body: Default::default(),
            networking: None,
            stop_timeout: Duration::from_secs(1),
            source: "p_agent_1".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn old_replicas_are_replaced_one_at_a_time() {
        let target = Arc::new(VirtualTarget::new());
        let t = ComposeTemplate::new(recipe("h1"), 0);
        for _ in 0..3 {
            target.start(t.start_request("w")).await.unwrap();
        }
        t.update(recipe("h2"));
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(run("w".into(), t.clone(), target.clone(), rx));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let list = target.list("w").await.unwrap();
            let running: Vec<_> = list.iter().filter(|c| c.phase == Phase::Running).collect();
            if running.len() == 3 && running.iter().all(|c| c.template.as_deref() == Some("h2")) {
                break;
            }
            assert!(Instant::now() < deadline, "roll did not finish: {list:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = tx.send(true);
        task.await.unwrap();
        let ops: Vec<&str> = target.log().iter().skip(3).map(|(op, _)| *op).collect();
        assert_eq!(
            ops,
            [
                "stop", "remove", "start", "stop", "remove", "start", "stop", "remove", "start"
            ],
            "one replica at a time, the old one out before the new one in"
        );
        let names: Vec<String> = target.log().into_iter().map(|(_, n)| n).collect();
        assert_eq!(names[0], "p_agent_1");
        assert_eq!(
            names[5], "p_agent_4",
            "new replicas numbered on from the highest"
        );
    }
}
