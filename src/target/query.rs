//! What an engine reports beyond a pool's own containers, in jetpool's
//! types: containers selected by any labels ([`Summary`]), one container
//! cloned into a [`ContainerSpec`] ([`Inspected`]), and the events of
//! containers selected by labels ([`WatchEvent`]). Compose discovery uses
//! these; a pool only needs the [`ScaleTarget`](super::ScaleTarget) trait.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ContainerId, ContainerSpec, Listed, Phase, TargetError};

/// One container of an engine's list with all its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The engine's container id.
    pub id: ContainerId,
    /// Container name, without Docker's leading slash.
    pub name: String,
    /// Lifecycle phase.
    pub phase: Phase,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// The engine's healthcheck reports it unhealthy.
    pub unhealthy: bool,
    /// How an exited container ended, when the engine says.
    pub exit_code: Option<i64>,
    /// Every label of the container.
    pub labels: BTreeMap<String, String>,
}

impl Summary {
    /// The value of label `key`, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The container as a pool lists it, its template id read from label
    /// `template_label` (compose pools use compose's config hash).
    pub fn listed(self, template_label: &str) -> Listed {
        Listed {
            template: self.labels.get(template_label).cloned(),
            id: self.id,
            name: self.name,
            phase: self.phase,
            created: self.created,
            unhealthy: self.unhealthy,
            exit_code: self.exit_code,
        }
    }
}

/// A condition on a container's labels, for listing and watching.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LabelFilter {
    /// The label is set, to any value.
    Present(String),
    /// The label is set to this value.
    Equals(String, String),
}

impl LabelFilter {
    /// Label `key` set to any value.
    pub fn present(key: impl Into<String>) -> Self {
        LabelFilter::Present(key.into())
    }

    /// Label `key` set to `value`.
    pub fn equals(key: impl Into<String>, value: impl Into<String>) -> Self {
        LabelFilter::Equals(key.into(), value.into())
    }

    /// Whether `labels` satisfy the condition.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            LabelFilter::Present(k) => labels.contains_key(k),
            LabelFilter::Equals(k, v) => labels.get(k) == Some(v),
        }
    }
}

/// One container, inspected and cloned: a spec that creates another just
/// like it. The engine has already left out what belongs to the source
/// alone (its id as hostname and alias, static addresses, its restart
/// policy); what a caller's own labels and environment add per replica
/// is the caller's to strip.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    /// The engine's container id.
    pub id: ContainerId,
    /// Container name, without Docker's leading slash.
    pub name: String,
    /// The clone. Its image is the source's image id, not its tag: a tag
    /// moved since the source was created would give the clone another
    /// image. Its labels and networks are the source's.
    pub spec: ContainerSpec,
    /// The image as the source was declared with (`Config.Image`, a tag
    /// such as `agents/worker:1`): what allow-lists are checked against,
    /// since the id in `spec` matches no operator's pattern.
    pub image_name: Option<String>,
}

/// What happened to a container, as an engine's event names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventAction {
    /// Created.
    Create,
    /// Started.
    Start,
    /// Sent a signal (`docker kill`, or the first step of `docker stop`).
    Kill,
    /// Stopped.
    Stop,
    /// Its process exited.
    Die,
    /// Killed for running out of memory.
    Oom,
    /// Its healthcheck changed state; `true` when now unhealthy.
    Health {
        /// The healthcheck reports it unhealthy.
        unhealthy: bool,
    },
    /// Removed.
    Destroy,
    /// Anything else (pause, rename, exec, ...), as the engine names it.
    Other(String),
}

impl EventAction {
    /// The action as Docker names it (`health_status` for both health
    /// changes).
    pub fn as_str(&self) -> &str {
        match self {
            EventAction::Create => "create",
            EventAction::Start => "start",
            EventAction::Kill => "kill",
            EventAction::Stop => "stop",
            EventAction::Die => "die",
            EventAction::Oom => "oom",
            EventAction::Health { .. } => "health_status",
            EventAction::Destroy => "destroy",
            EventAction::Other(s) => s,
        }
    }
}

impl std::fmt::Display for EventAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One container event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// The container's id.
    pub id: ContainerId,
    /// The container's name.
    pub name: String,
    /// What happened.
    pub action: EventAction,
    /// The container's labels, as the event carries them.
    pub labels: BTreeMap<String, String>,
    /// When it happened, Unix seconds.
    pub time: i64,
}

/// An item of a watch on containers selected by labels.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// Something happened to one of the containers.
    Container(ContainerEvent),
    /// The event stream broke. The watch reconnects by itself after
    /// `retry_in`, replaying events from the last one seen, so none is
    /// lost; the item is there so the caller can log, count, and rescan.
    Lost {
        /// Why it broke.
        error: TargetError,
        /// The wait before reconnecting (doubling up to a cap).
        retry_in: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters_match_presence_and_value() {
        let labels = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert!(LabelFilter::present("a").matches(&labels));
        assert!(LabelFilter::equals("a", "1").matches(&labels));
        assert!(!LabelFilter::equals("a", "2").matches(&labels));
        assert!(!LabelFilter::present("b").matches(&labels));
    }
}
