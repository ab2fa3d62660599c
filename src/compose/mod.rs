//! Pools declared on docker-compose services. A service labelled
//! `jetpool.pool=<name>` becomes a pool: jetpool finds it through the Docker
//! API, follows the events stream so `docker-compose up` is picked up in
//! seconds, clones the service's container for each new replica, and names
//! and labels replicas the way compose does, so `docker-compose ps` lists
//! them and `docker-compose down` removes them.
//!
//! - [`labels`]: the `jetpool.*` labels of a service, validated into a
//!   pool's parameters; every problem names the service and the label.
//! - [`template`]: the [`Recipe`] of a service, from the clone the Docker
//!   edge makes of one of its containers; it becomes the pool's live
//!   [`Template`](crate::target::Template), numbering replicas as compose
//!   does.
//! - [`target`]: [`ComposeTarget`], the scale target of one service: its
//!   containers are the pool's, and the last one is kept (stopped) at zero.
//! - [`discover`]: listing the labelled services and their containers.
//!
//! Every Docker call goes through the edge,
//! [`DockerTarget`](crate::target::docker::DockerTarget), in jetpool's
//! types; nothing here names bollard's.
//! - [`supervisor`]: the dynamic set of compose pools, driven by scans and
//!   Docker events; pauses a pool while compose itself acts on it.

pub mod discover;
pub mod labels;
pub mod supervisor;
pub mod target;
pub mod template;

pub use supervisor::Supervisor;
pub use target::ComposeTarget;
pub use template::Recipe;

/// Compose's label naming a container's project.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
/// Compose's label naming a container's service.
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
/// Compose's replica number; compose gives the next replica max + 1.
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
/// `True` for `docker-compose run` containers, which are never pooled.
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
/// Hash of the service's configuration; compose recreates containers whose
/// hash differs, and the pool loop rolls its replicas to the newest.
pub const LABEL_CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// The compose version that created the container.
pub const LABEL_VERSION: &str = "com.docker.compose.version";

/// Command-line settings of compose discovery.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ComposeArgs {
    /// Discover pools from compose services labelled `jetpool.pool`. The
    /// policy files then only lend settings to services that name one in
    /// `jetpool.policy`; they start no pools of their own.
    #[arg(long = "compose", env = "JETPOOL_COMPOSE")]
    pub enabled: bool,
    /// Only this compose project's services (default: every project).
    #[arg(long = "compose-project", env = "JETPOOL_COMPOSE_PROJECT")]
    pub project: Option<String>,
}

/// A compose service: the unit that becomes a pool.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    /// The compose project.
    pub project: String,
    /// The service within it.
    pub service: String,
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.project, self.service)
    }
}
