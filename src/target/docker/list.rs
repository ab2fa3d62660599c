//! Docker's container list in jetpool's types: label filters in, one
//! [`Summary`] per container (all its labels) out.

use std::collections::HashMap;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::ListContainersOptions;

use super::error::to_target;
use super::{DockerTarget, timed};
use crate::target::{ContainerId, LabelFilter, Phase, Summary, TargetError, TargetOp};

/// The lifecycle phase of a container in Docker's list.
pub(super) fn phase_of(state: Option<ContainerSummaryStateEnum>) -> Phase {
    match state {
        Some(ContainerSummaryStateEnum::CREATED) => Phase::Created,
        Some(
            ContainerSummaryStateEnum::RUNNING
            | ContainerSummaryStateEnum::RESTARTING
            | ContainerSummaryStateEnum::PAUSED
            | ContainerSummaryStateEnum::STOPPING,
        ) => Phase::Running,
        Some(ContainerSummaryStateEnum::REMOVING) => Phase::Removing,
        _ => Phase::Exited,
    }
}

/// An entry of Docker's list; `None` without an id.
pub(super) fn summary(c: ContainerSummary) -> Option<Summary> {
    let name = c
        .names
        .and_then(|n| n.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    Some(Summary {
        id: ContainerId::from(c.id?),
        name,
        phase: phase_of(c.state),
        created: c.created.unwrap_or(0),
        // Docker's status line is the only place its list says so.
        unhealthy: c
            .status
            .as_deref()
            .is_some_and(|s| s.contains("(unhealthy)")),
        exit_code: c.status.as_deref().and_then(exit_code),
        labels: c.labels.unwrap_or_default().into_iter().collect(),
    })
}

/// The exit code in Docker's status line (`Exited (137) 5 seconds ago`):
/// its list carries no other field for it, and inspecting every exited
/// container would cost a call each.
fn exit_code(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.trim().parse().ok()
}

/// Label filters in Docker's spelling (`key` or `key=value`).
pub(super) fn label_filters(filters: &[LabelFilter]) -> Vec<String> {
    filters
        .iter()
        .map(|f| match f {
            LabelFilter::Present(k) => k.clone(),
            LabelFilter::Equals(k, v) => format!("{k}={v}"),
        })
        .collect()
}

impl DockerTarget {
    /// Every container, in any state, whose labels satisfy all `filters`.
    /// The engine filters; the result is checked again here, so that the
    /// "never touch an unlabelled container" rule does not rest on the
    /// engine alone.
    pub async fn list_labelled(
        &self,
        filters: &[LabelFilter],
    ) -> Result<Vec<Summary>, TargetError> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                label_filters(filters),
            )])),
            ..Default::default()
        };
        let list = timed(TargetOp::List, self.docker.list_containers(Some(opts)))
            .await
            .map_err(|e| to_target(TargetOp::List, e))?;
        Ok(list
            .into_iter()
            .filter_map(summary)
            .filter(|s| filters.iter().all(|f| f.matches(&s.labels)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_carry_name_phase_health_and_labels() {
        let c = ContainerSummary {
            id: Some("abc".into()),
            names: Some(vec!["/jetpool-p-1".into()]),
            state: Some(ContainerSummaryStateEnum::PAUSED),
            status: Some("Up 3 minutes (unhealthy)".into()),
            created: Some(42),
            labels: Some(HashMap::from([("jetpool.pool".into(), "p".into())])),
            ..Default::default()
        };
        let s = summary(c).unwrap();
        assert_eq!(s.id.as_str(), "abc");
        assert_eq!(s.name, "jetpool-p-1");
        assert_eq!(s.phase, Phase::Running, "paused still holds resources");
        assert!(s.unhealthy);
        assert_eq!(s.label("jetpool.pool"), Some("p"));
        let listed = s.listed("jetpool.template");
        assert_eq!((listed.created, listed.template), (42, None));
        assert!(summary(ContainerSummary::default()).is_none());
    }

    #[test]
    fn exit_codes_come_from_the_status_line() {
        assert_eq!(exit_code("Exited (0) 2 seconds ago"), Some(0));
        assert_eq!(exit_code("Exited (137) About a minute ago"), Some(137));
        assert_eq!(exit_code("Up 3 minutes"), None);
        assert_eq!(exit_code("Exited (x)"), None);
    }

    #[test]
    fn phases_and_filters_in_dockers_terms() {
        assert_eq!(
            phase_of(Some(ContainerSummaryStateEnum::CREATED)),
            Phase::Created
        );
        assert_eq!(
            phase_of(Some(ContainerSummaryStateEnum::DEAD)),
            Phase::Exited
        );
        assert_eq!(
            phase_of(Some(ContainerSummaryStateEnum::REMOVING)),
            Phase::Removing
        );
        assert_eq!(phase_of(None), Phase::Exited);
        assert_eq!(
            label_filters(&[LabelFilter::present("a"), LabelFilter::equals("b", "1")]),
            ["a", "b=1"]
        );
    }
}
