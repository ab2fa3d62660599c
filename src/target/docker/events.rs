//! Docker's event stream in jetpool's types, reconnecting by itself: a
//! broken stream is reported as [`WatchEvent::Lost`] and resumed after a
//! back-off (1 s doubling to 30 s), from the time of the last event seen,
//! so nothing that happened meanwhile is missed. The task that follows the
//! stream ends as soon as its receiver is dropped.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::mpsc;

use super::DockerTarget;
use super::error::{ENGINE, to_target};
use super::list::label_filters;
use crate::target::{
    ContainerEvent, ContainerId, ErrorKind, EventAction, LabelFilter, TargetError, TargetEvent,
    TargetOp, WatchEvent, receiver_stream,
};

/// The first wait before reconnecting.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What happened, from Docker's action name.
pub(super) fn action_of(action: &str) -> EventAction {
    match action {
        "create" => EventAction::Create,
        "start" => EventAction::Start,
        "kill" => EventAction::Kill,
        "stop" => EventAction::Stop,
        "die" => EventAction::Die,
        "oom" => EventAction::Oom,
        "destroy" => EventAction::Destroy,
        // "health_status: healthy", "health_status: unhealthy".
        a if a.starts_with("health_status") => EventAction::Health {
            unhealthy: a.contains("unhealthy"),
        },
        a => EventAction::Other(a.to_string()),
    }
}

/// One Docker event as a container event; `None` for one about no
/// container.
pub(super) fn container_event(ev: EventMessage) -> Option<ContainerEvent> {
    let actor = ev.actor?;
    let labels: std::collections::BTreeMap<String, String> =
        actor.attributes.unwrap_or_default().into_iter().collect();
    Some(ContainerEvent {
        id: ContainerId::from(actor.id?),
        name: labels.get("name").cloned().unwrap_or_default(),
        action: action_of(ev.action.as_deref().unwrap_or("")),
        labels,
        time: ev.time.unwrap_or(0),
    })
}

/// A pool's event, if the container event is one the loop reacts to.
pub(super) fn pool_event(e: ContainerEvent) -> Option<TargetEvent> {
    match e.action {
        EventAction::Die | EventAction::Oom => Some(TargetEvent::Died { name: e.name }),
        EventAction::Health { unhealthy: true } => Some(TargetEvent::Unhealthy { name: e.name }),
        _ => None,
    }
}

/// Now, in Unix seconds.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Follows the container events matching `filters` into `tx` until the
/// receiver is gone.
async fn follow(
    docker: Docker,
    filters: HashMap<String, Vec<String>>,
    tx: mpsc::Sender<WatchEvent>,
) {
    let mut since = now();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let opts = EventsOptions {
            since: Some(since.to_string()),
            until: None,
            filters: Some(filters.clone()),
        };
        let mut stream = docker.events(Some(opts));
        let error = loop {
            let item = tokio::select! {
                _ = tx.closed() => return,
                item = stream.next() => item,
            };
            match item {
                Some(Ok(ev)) => {
                    since = ev.time.unwrap_or(since);
                    backoff = FIRST_BACKOFF;
                    if let Some(e) = container_event(ev)
                        && tx.send(WatchEvent::Container(e)).await.is_err()
                    {
                        return;
                    }
                }
                Some(Err(e)) => break to_target(TargetOp::Events, e),
                None => {
                    break TargetError::new(
                        ENGINE,
                        TargetOp::Events,
                        ErrorKind::Unreachable,
                        "the engine closed the event stream",
                    );
                }
            }
        };
        let lost = WatchEvent::Lost {
            error,
            retry_in: backoff,
        };
        if tx.send(lost).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

impl DockerTarget {
    /// Events of every container whose labels satisfy all `filters`, from
    /// now on, for as long as the stream is held.
    pub fn watch(&self, filters: &[LabelFilter]) -> BoxStream<'static, WatchEvent> {
        self.follow(filters, None)
    }

    /// The watch, optionally limited to Docker's event names `actions`.
    pub(super) fn follow(
        &self,
        filters: &[LabelFilter],
        actions: Option<&[&str]>,
    ) -> BoxStream<'static, WatchEvent> {
        let mut f = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), label_filters(filters)),
        ]);
        if let Some(a) = actions {
            f.insert("event".into(), a.iter().map(|s| s.to_string()).collect());
        }
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(follow(self.docker.clone(), f, tx));
        receiver_stream(rx)
    }

    /// A pool's events: its containers' deaths and failed healthchecks.
    pub(super) fn pool_events(&self, filters: &[LabelFilter]) -> BoxStream<'static, TargetEvent> {
        self.follow(filters, Some(&["die", "oom", "health_status"]))
            .filter_map(|w| async move {
                match w {
                    WatchEvent::Container(e) => pool_event(e),
                    // The loop's periodic listing covers the gap.
                    WatchEvent::Lost { .. } => None,
                }
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn event(action: &str) -> EventMessage {
        EventMessage {
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(HashMap::from([
                    ("name".into(), "proj_agent_2".into()),
                    ("com.docker.compose.service".into(), "agent".into()),
                ])),
            }),
            time: Some(1700),
            ..Default::default()
        }
    }

    #[test]
    fn events_carry_id_name_action_labels_and_time() {
        let e = container_event(event("destroy")).unwrap();
        assert_eq!(e.id.as_str(), "abc");
        assert_eq!(e.name, "proj_agent_2");
        assert_eq!(e.action, EventAction::Destroy);
        assert_eq!(e.labels["com.docker.compose.service"], "agent");
        assert_eq!(e.time, 1700);
        assert!(container_event(EventMessage::default()).is_none());
    }

    #[test]
    fn deaths_and_failed_healthchecks_wake_the_pool() {
        let pool = |a: &str| pool_event(container_event(event(a)).unwrap());
        let died = Some(TargetEvent::Died {
            name: "proj_agent_2".into(),
        });
        assert_eq!(pool("die"), died);
        assert_eq!(pool("oom"), died);
        assert_eq!(
            pool("health_status: unhealthy"),
            Some(TargetEvent::Unhealthy {
                name: "proj_agent_2".into()
            })
        );
        assert_eq!(pool("health_status: healthy"), None);
        assert_eq!(pool("start"), None);
        assert_eq!(
            action_of("pause"),
            EventAction::Other("pause".into()),
            "other actions keep their name"
        );
    }
}
