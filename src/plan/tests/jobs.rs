//! Job pools: one container per task, never stopped to scale in or
//! rolled; finished jobs removed with their outcome; a job past its
//! timeout killed.

use super::*;
use crate::plan::JobRules;

fn jobs(w: World, timeout: Option<u64>) -> World {
    World {
        jobs: Some(JobRules {
            timeout: timeout.map(Duration::from_secs),
        }),
        ..w
    }
}

#[test]
fn a_job_pool_starts_up_to_desired_and_never_stops_a_running_job() {
    let mut w = jobs(three_agents(), None);
    let start = Action::Start { standby: false };
    assert_eq!(w.plan(5), [start.clone(), start]);
    assert_eq!(
        w.plan(1),
        [],
        "scale-in stops nothing: jobs exit by themselves"
    );
    // A new template reaches the next jobs only.
    w.template = "t2".into();
    assert_eq!(w.plan(3), []);
}

#[test]
fn finished_jobs_are_removed_with_their_outcome() {
    let mut w = jobs(three_agents(), None);
    w.listed_mut("a").phase = Phase::Exited;
    w.listed_mut("a").exit_code = Some(0);
    w.listed_mut("b").phase = Phase::Exited;
    w.listed_mut("b").exit_code = Some(1);
    let actions = w.plan(1);
    let remove = |name: &str, end: JobEnd, code: i64| Action::Remove {
        id: id(name),
        name: name.into(),
        cause: RemoveCause::Job {
            end,
            exit_code: Some(code),
            crashed: false,
        },
    };
    assert_eq!(
        actions,
        [
            remove("a", JobEnd::Succeeded, 0),
            remove("b", JobEnd::Failed, 1)
        ]
    );
}

#[test]
fn a_job_that_fails_at_once_without_reporting_backs_starts_off() {
    let mut w = jobs(World::new(), None);
    w.started_and_exited(Some(127));
    let actions = w.step(1);
    assert!(
        matches!(
            actions[0],
            Action::Remove {
                cause: RemoveCause::Job { crashed: true, .. },
                ..
            }
        ),
        "{actions:?}"
    );
}

#[test]
fn a_job_past_its_timeout_is_killed() {
    let mut w = jobs(three_agents(), Some(60));
    assert_eq!(w.plan(3), [], "adopted jobs count from their creation");
    w.advance(70);
    let actions = w.plan(3);
    let killed = actions.iter().filter(|a| {
        matches!(
            a,
            Action::Stop {
                cause: StopCause::JobTimeout,
                ..
            }
        )
    });
    assert_eq!(killed.count(), 3, "{actions:?}");
}
