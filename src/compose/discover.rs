//! Finding the labelled compose services: one list call returns every
//! container carrying `jetpool.pool` and compose's project label (one-off
//! `docker-compose run` containers excluded), grouped by service.

use std::collections::{BTreeMap, HashMap};

use super::{
    LABEL_CONFIG_HASH, LABEL_NUMBER, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE, ServiceKey,
};
use crate::target::docker::DockerTarget;
use crate::target::{LABEL_MANAGED, LABEL_POOL, LabelFilter, Phase, Summary, TargetError};

/// One labelled service and its containers, in any state.
#[derive(Debug, Clone)]
pub struct Service {
    /// Project and service.
    pub key: ServiceKey,
    /// Its containers (never empty).
    pub containers: Vec<Summary>,
}

impl Service {
    /// The container to clone: the newest one compose made (it carries the
    /// service's latest config), else the newest of jetpool's replicas.
    pub fn source(&self) -> Option<&Summary> {
        let newest = |compose_made: bool| {
            self.containers
                .iter()
                .filter(|c| (c.label(LABEL_MANAGED) != Some("true")) == compose_made)
                .max_by_key(|c| (c.created, c.id.clone()))
        };
        newest(true).or_else(|| newest(false))
    }

    /// The labels of the source container.
    pub fn labels(&self) -> HashMap<String, String> {
        self.source()
            .map(|c| c.labels.clone().into_iter().collect())
            .unwrap_or_default()
    }

    /// The config hash of the source container.
    pub fn config_hash(&self) -> Option<&str> {
        self.source()?.label(LABEL_CONFIG_HASH)
    }

    /// The highest container number in use (0 when none is labelled).
    pub fn highest_number(&self) -> u32 {
        self.containers
            .iter()
            .filter_map(|c| c.label(LABEL_NUMBER)?.parse().ok())
            .max()
            .unwrap_or(0)
    }

    /// How many of its containers run.
    pub fn running(&self) -> usize {
        self.containers
            .iter()
            .filter(|c| c.phase == Phase::Running)
            .count()
    }
}

/// The containers of labelled compose services, of `project` only when
/// given; one-off `docker-compose run` containers are never pooled.
pub fn filters(project: Option<&str>) -> Vec<LabelFilter> {
    vec![
        LabelFilter::present(LABEL_POOL),
        match project {
            Some(p) => LabelFilter::equals(LABEL_PROJECT, p),
            None => LabelFilter::present(LABEL_PROJECT),
        },
        LabelFilter::equals(LABEL_ONEOFF, "False"),
    ]
}

/// Lists the labelled services, of `project` only when given.
pub async fn scan(
    docker: &DockerTarget,
    project: Option<&str>,
) -> Result<Vec<Service>, TargetError> {
    Ok(group(docker.list_labelled(&filters(project)).await?))
}

/// Groups containers by project and service, in a stable order.
pub fn group(list: Vec<Summary>) -> Vec<Service> {
    let mut by: BTreeMap<ServiceKey, Vec<Summary>> = BTreeMap::new();
    for c in list {
        let (Some(project), Some(service)) = (c.label(LABEL_PROJECT), c.label(LABEL_SERVICE))
        else {
            continue;
        };
        let key = ServiceKey {
            project: project.to_string(),
            service: service.to_string(),
        };
        by.entry(key).or_default().push(c);
    }
    by.into_iter()
        .map(|(key, containers)| Service { key, containers })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, service: &str, created: i64, managed: bool, number: u32) -> Summary {
        let mut labels = BTreeMap::from([
            (LABEL_PROJECT.to_string(), "p".to_string()),
            (LABEL_SERVICE.to_string(), service.to_string()),
            (LABEL_NUMBER.to_string(), number.to_string()),
            (LABEL_CONFIG_HASH.to_string(), format!("hash-{id}")),
        ]);
        if managed {
            labels.insert(LABEL_MANAGED.into(), "true".into());
        }
        Summary {
            id: id.into(),
            name: format!("p_{service}_{number}"),
            phase: Phase::Running,
            created,
            unhealthy: false,
            exit_code: None,
            labels,
        }
    }

    #[test]
    fn groups_by_service_and_picks_the_newest_compose_made_source() {
        let groups = group(vec![
            c("a", "agent", 10, false, 1),
            c("b", "agent", 30, true, 3),
            c("c", "agent", 20, false, 2),
            c("d", "other", 5, true, 7),
        ]);
        assert_eq!(groups.len(), 2);
        let agent = &groups[0];
        assert_eq!(agent.key.to_string(), "p/agent");
        assert_eq!(agent.source().map(|s| s.id.as_str()), Some("c"));
        assert_eq!(agent.config_hash(), Some("hash-c"));
        assert_eq!(agent.highest_number(), 3);
        assert_eq!(agent.running(), 3);
        // Only jetpool's replicas left: the newest of them.
        assert_eq!(groups[1].source().map(|s| s.id.as_str()), Some("d"));
    }
}
