//! A compose service's container as a template: [`Recipe::from_inspected`]
//! takes the clone the Docker edge made of one container and keeps what
//! belongs to the service (its compose project, service, config hash and
//! naming), leaving out what compose and jetpool set per replica. A
//! recipe becomes a [`Template`] whose replicas compose lists as its own:
//! named and numbered the way compose does, with compose's labels.

use std::time::Duration;

use super::{LABEL_CONFIG_HASH, LABEL_NUMBER, LABEL_PROJECT, LABEL_SERVICE, LABEL_VERSION};
use crate::target::{
    ContainerSpec, ENV_AGENT_ID, ENV_POOL, ENV_STANDBY, Inspected, LABEL_MANAGED, LABEL_TEMPLATE,
    Naming, Template, TemplateVersion,
};

/// How the compose that made the service names its containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeNaming {
    /// docker-compose v1: `<project>_<service>_<n>`.
    Underscore,
    /// Compose v2: `<project>-<service>-<n>`.
    Dash,
}

impl ComposeNaming {
    /// The name of replica `n`.
    pub fn name(self, project: &str, service: &str, n: u32) -> String {
        format!("{}{n}", self.prefix(project, service))
    }

    /// Everything before the replica number.
    pub fn prefix(self, project: &str, service: &str) -> String {
        match self {
            ComposeNaming::Underscore => format!("{project}_{service}_"),
            ComposeNaming::Dash => format!("{project}-{service}-"),
        }
    }
}

/// Everything needed to create one more replica of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// Compose project.
    pub project: String,
    /// Compose service.
    pub service: String,
    /// The service configuration's hash; replicas of another hash roll.
    pub config_hash: String,
    /// The naming of the compose that made the service.
    pub naming: ComposeNaming,
    /// The container, without the per-replica number, name and agent id.
    pub spec: ContainerSpec,
    /// The container it was cloned from, for messages.
    pub source: String,
    /// The image as the service declares it (a tag, where the spec holds
    /// the id), for the allow-lists.
    pub image_name: String,
}

/// Why a container cannot be a service's template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloneError {
    /// A compose label is missing: not a compose service's container.
    #[error("container {container} has no {label} label")]
    MissingLabel {
        /// The container's name.
        container: String,
        /// The missing label.
        label: &'static str,
    },
}

/// Environment variables jetpool sets per replica.
fn is_per_replica_env(k: &str) -> bool {
    matches!(k, ENV_AGENT_ID | ENV_POOL | ENV_STANDBY)
}

/// Labels set per replica (or only on one-off containers), never cloned.
fn is_per_replica_label(k: &str) -> bool {
    matches!(
        k,
        LABEL_NUMBER
            | LABEL_MANAGED
            | LABEL_TEMPLATE
            | "com.docker.compose.slug"
            | "com.docker.compose.replace"
    )
}

impl Recipe {
    /// The recipe of the service the cloned container `c` belongs to.
    /// Fails, naming the missing label, when `c` is not a compose
    /// service's container.
    pub fn from_inspected(c: &Inspected) -> Result<Recipe, CloneError> {
        let labels = &c.spec.labels;
        let label = |k: &'static str| {
            labels
                .get(k)
                .cloned()
                .ok_or_else(|| CloneError::MissingLabel {
                    container: c.name.clone(),
                    label: k,
                })
        };
        let project = label(LABEL_PROJECT)?;
        let service = label(LABEL_SERVICE)?;
        let config_hash = label(LABEL_CONFIG_HASH)?;
        let number = labels.get(LABEL_NUMBER).cloned().unwrap_or_default();
        let named =
            |n: ComposeNaming| c.name == format!("{}{number}", n.prefix(&project, &service));
        let naming = if named(ComposeNaming::Underscore) {
            ComposeNaming::Underscore
        } else if named(ComposeNaming::Dash) {
            ComposeNaming::Dash
        } else if labels
            .get(LABEL_VERSION)
            .is_some_and(|v| v.starts_with("1."))
        {
            ComposeNaming::Underscore
        } else {
            ComposeNaming::Dash
        };
        let mut spec = c.spec.clone();
        spec.env.retain(|k, _| !is_per_replica_env(k));
        spec.labels.retain(|k, _| !is_per_replica_label(k));
        Ok(Recipe {
            project,
            service,
            config_hash,
            naming,
            image_name: c.image_name.clone().unwrap_or_else(|| spec.image.clone()),
            spec,
            source: c.name.clone(),
        })
    }

    /// The spec as the allow-lists judge it: with the image the service
    /// declares rather than its id.
    pub fn declared(&self) -> ContainerSpec {
        ContainerSpec {
            image: self.image_name.clone(),
            ..self.spec.clone()
        }
    }

    /// The grace period of the service's containers.
    pub fn stop_timeout(&self) -> Duration {
        self.spec.grace_period()
    }

    /// The recipe as a template version: its id is the config hash, and
    /// replicas are numbered, compose's number label included.
    pub fn version(&self) -> TemplateVersion {
        TemplateVersion {
            id: self.config_hash.clone(),
            spec: self.spec.clone(),
            naming: Naming::Numbered {
                prefix: self.naming.prefix(&self.project, &self.service),
                label: Some(LABEL_NUMBER.to_string()),
            },
            inject_nats_url: false,
            // A compose service stays on the engine of its project.
            engines: Vec::new(),
        }
    }

    /// A live template starting from this recipe, numbering new replicas
    /// from `highest + 1`.
    pub fn template(&self, highest: u32) -> Template {
        let t = Template::new(self.version());
        t.saw_number(highest);
        t
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
