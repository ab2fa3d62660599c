//! `jetpool run`: loads the policies, connects to NATS and Docker, runs one
//! loop per pool and the HTTP endpoints until asked to stop. The pools of
//! the policy files ([`files`]: reloaded on SIGHUP and on change) and of
//! compose labels run side by side in one service, their names claimed in
//! one [`PoolNames`] so none runs twice.

mod allowed;
mod files;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::compose::{ComposeArgs, Supervisor};
use crate::config::ConfigErrors;
use crate::error::Result;
use crate::http::{self, AppState, Registry};
use crate::nats::NatsArgs;
use crate::overrides::Follower;
use crate::pool::{Policies, PoolNames, RunnerFactory, wait_for};
use crate::swarm::SwarmArgs;
use crate::target::ScaleTarget;
use crate::target::allow::Allowed;
use crate::target::docker::DockerTarget;
use crate::target::virt::VirtualTarget;
use files::FilePools;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Arguments of `jetpool run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Directory of policy files (`*.toml`); reloaded on SIGHUP and when a
    /// file in it changes.
    #[arg(long, env = "JETPOOL_POLICIES", default_value = "policies")]
    pub policies: PathBuf,
    /// NATS connection.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Address for /metrics, /healthz and /status.
    #[arg(long, env = "JETPOOL_LISTEN", default_value = "127.0.0.1:9464")]
    pub listen: String,
    /// Decide and log every decision, but touch no container.
    #[arg(long, env = "JETPOOL_DRY_RUN")]
    pub dry_run: bool,
    /// `NATS_URL` given to agents whose template sets no `nats_url`
    /// (defaults to the URL jetpool itself uses).
    #[arg(long, env = "JETPOOL_AGENT_NATS_URL")]
    pub agent_nats_url: Option<String>,
    /// Log format.
    #[arg(long, env = "JETPOOL_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// At most this many agents in all pools together, shared by pool
    /// `priority` (mins first, then demand).
    #[arg(long, env = "JETPOOL_MAX_AGENTS")]
    pub max_agents: Option<u32>,
    /// Pools from compose labels.
    #[command(flatten)]
    pub compose: ComposeArgs,
    /// Pools from Swarm service labels.
    #[command(flatten)]
    pub swarm: SwarmArgs,
    /// JetStream key-value bucket of runtime overrides (`jetpool pause`,
    /// `pin`); created when missing. Instances sharing it share overrides.
    #[arg(long, env = "JETPOOL_OVERRIDES_BUCKET", default_value = crate::overrides::DEFAULT_BUCKET)]
    pub overrides_bucket: String,
    /// Images agents may run (a glob: `registry.example.com/agents/*`);
    /// repeatable. Unset: any image.
    #[arg(
        long = "allow-image",
        env = "JETPOOL_ALLOW_IMAGES",
        value_delimiter = ','
    )]
    pub allow_images: Vec<String>,
    /// Host directories agents may bind-mount from; repeatable. Unset: any.
    #[arg(
        long = "allow-mount",
        env = "JETPOOL_ALLOW_MOUNTS",
        value_delimiter = ','
    )]
    pub allow_mounts: Vec<String>,
}

/// Everything [`run`] needs, already validated.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The policy files as loaded at start: their pools run (with compose
    /// discovery on too), and every table lends its settings to compose
    /// services that name it.
    pub policies: Policies,
    /// The directory they came from, reloaded on SIGHUP and when a file in
    /// it changes; `None` runs `policies` as given, without reloads.
    pub policy_dir: Option<PathBuf>,
    /// NATS connection settings.
    pub nats: NatsArgs,
    /// HTTP listen address.
    pub listen: String,
    /// Log decisions only.
    pub dry_run: bool,
    /// `NATS_URL` for agents.
    pub agent_nats_url: String,
    /// Global budget of agents across pools.
    pub max_agents: Option<u32>,
    /// Compose discovery.
    pub compose: ComposeArgs,
    /// Swarm discovery.
    pub swarm: SwarmArgs,
    /// The bucket of runtime overrides.
    pub overrides_bucket: String,
    /// What templates may be made of.
    pub allowed: Allowed,
}

/// Sets up logging; a second call (tests) keeps the first subscriber.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn signals() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Entry point of `jetpool run`; returns the exit code.
pub async fn main(args: RunArgs) -> i32 {
    init_tracing(args.log_format);
    let allowed = match Allowed::new(&args.allow_images, &args.allow_mounts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let discovers = args.compose.enabled || args.swarm.enabled;
    let policies = match files::load(&args.policies, discovers) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "error: invalid policies in {}:\n{e}",
                args.policies.display()
            );
            return 2;
        }
    };
    let refused = allowed::refused(&policies, &allowed);
    if !refused.is_empty() {
        eprintln!(
            "error: policies in {} refused:\n{}",
            args.policies.display(),
            ConfigErrors(refused)
        );
        return 2;
    }
    let cfg = ServiceConfig {
        policies,
        policy_dir: Some(args.policies.clone()),
        agent_nats_url: args
            .agent_nats_url
            .clone()
            .unwrap_or_else(|| args.nats.url.clone()),
        nats: args.nats,
        listen: args.listen,
        dry_run: args.dry_run,
        max_agents: args.max_agents,
        compose: args.compose,
        swarm: args.swarm,
        overrides_bucket: args.overrides_bucket,
        allowed,
    };
    match run(cfg, signals()).await {
        Ok(()) => 0,
        Err(e) => {
            error!(error = %e, "jetpool stopped");
            eprintln!("error: {e}");
            1
        }
    }
}

/// Runs the service until `shutdown` resolves, then stops deciding and
/// returns, leaving agents running.
pub async fn run(cfg: ServiceConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    // The recorder first: a pool registers its counters at zero when it
    // starts, and its first ticks record; before the recorder exists those
    // would go nowhere (and `rate()` would miss the first events).
    let metrics = crate::telemetry::prometheus();
    let listener = http::bind(&cfg.listen).await?;
    let client = cfg.nats.connect("jetpool").await?;
    let pools = cfg.policies.pools();
    info!(nats = %cfg.nats.redacted_url(), pools = pools.len(), compose = cfg.compose.enabled,
          dry_run = cfg.dry_run, "connected to NATS");
    for t in cfg
        .policies
        .tables
        .iter()
        .filter(|t| t.raw.container.is_none())
    {
        info!(pool = %t.raw.name, file = %t.source.display(),
              "a table without [pool.container] runs no pool; it lends its settings to compose services naming it in jetpool.policy");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let registry = Registry::default();
    let longest = pools
        .iter()
        .map(|p| p.template.stop_timeout())
        .max()
        .unwrap_or_default();
    let docker = if cfg.dry_run && !cfg.compose.enabled && !cfg.swarm.enabled {
        DockerTarget::connect(longest)
            .await
            .inspect_err(
                |e| warn!(error = %e, "dry run: Docker not reachable; virtual pools start empty"),
            )
            .ok()
    } else {
        Some(DockerTarget::connect(longest).await?)
    };
    let docker = docker.map(Arc::new);
    let virt = cfg.dry_run.then(|| Arc::new(VirtualTarget::new()));
    // Overrides are loaded before any pool starts, so a pool paused
    // before a restart is paused from its first tick.
    let (follower, overrides) = Follower::start(client.clone(), &cfg.overrides_bucket).await;
    tasks.spawn(follower.run(wait_for(stop_rx.clone())));
    let factory = RunnerFactory::new(
        client.clone(),
        cfg.max_agents.map(crate::budget::start),
        cfg.dry_run,
        cfg.agent_nats_url.clone(),
    )
    .with_overrides(overrides)
    .with_allowed(cfg.allowed.clone());
    let names = PoolNames::default();
    let (lent, lent_rx) = watch::channel(Arc::new(cfg.policies.lent()));
    let files = FilePools {
        factory: factory.clone(),
        registry: registry.clone(),
        names: names.clone(),
        lent,
        dir: cfg.policy_dir.clone(),
        compose: cfg.compose.enabled || cfg.swarm.enabled,
    };
    let files_stop = wait_for(stop_rx.clone());
    match (&virt, &docker) {
        (Some(virt), d) => {
            // Start the virtual pools from what really runs, when Docker
            // answers, so the dry run shows what jetpool would do from here.
            if let Some(d) = d {
                for p in &pools {
                    for c in d.list(&p.name).await.unwrap_or_default() {
                        virt.adopt(&p.name, &c.name);
                    }
                }
            }
            let files = files.start(virt.clone(), cfg.policies.clone());
            tasks.spawn(files.follow(files_stop));
        }
        (None, Some(d)) => {
            let files = files.start(d.clone(), cfg.policies.clone());
            tasks.spawn(files.follow(files_stop));
        }
        (None, None) => {}
    }
    // The file pools have claimed their names: a compose service that
    // clashes with one is the one refused.
    if cfg.swarm.enabled
        && let Some(d) = &docker
    {
        if cfg.dry_run {
            warn!("--dry-run: Swarm discovery is off (it would change service counts)");
        } else {
            let swarm = crate::swarm::Supervisor::new(
                d.clone(),
                factory.clone(),
                cfg.swarm.stack.clone(),
                lent_rx.clone(),
                names.clone(),
                registry.clone(),
            );
            tasks.spawn(swarm.run(wait_for(stop_rx.clone())));
        }
    }
    if cfg.compose.enabled
        && let Some(d) = docker
    {
        let supervisor = Supervisor::new(
            d,
            factory.clone(),
            cfg.compose.project.clone(),
            lent_rx,
            names,
            registry.clone(),
            virt,
        );
        tasks.spawn(supervisor.run(wait_for(stop_rx.clone())));
    }
    let state = AppState {
        metrics,
        pools: registry,
        dry_run: cfg.dry_run,
    };
    let http_stop = wait_for(stop_rx.clone());
    let server = tokio::spawn(http::serve(listener, state, http_stop));
    info!(listen = %cfg.listen, "serving the status page at /, /events, /metrics, /healthz and /status");
    shutdown.await;
    info!("shutting down: no more decisions; agents keep running");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    match server.await {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "HTTP server task failed");
            Ok(())
        }
    }
}
