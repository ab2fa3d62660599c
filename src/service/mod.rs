//! `jetpool run`: loads the policies, connects to NATS and Docker, runs one
//! loop per pool and the HTTP endpoints until asked to stop. The pools of
//! the policy files (`files`: reloaded on SIGHUP and on change) and of
//! compose labels run side by side in one service, their names claimed in
//! one [`PoolNames`] so none runs twice.

mod allowed;
mod engines;
mod files;
mod process;

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
use crate::target::engines::EngineConfig;
use crate::target::virt::VirtualTarget;
use files::FilePools;
pub use process::{init_tracing, signals};

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
    /// High availability (`--ha`, `--ha-bucket`, `--ha-lease`).
    #[command(flatten)]
    pub ha: crate::lease::HaArgs,
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
    /// A Docker engine agents run on, `NAME=URL` (`unix:///path`,
    /// `tcp://host:port`); repeatable. Unset: one engine, `local`, from
    /// `DOCKER_HOST`.
    #[arg(long = "engine", env = "JETPOOL_ENGINES", value_delimiter = ',')]
    pub engines: Vec<String>,
    /// TLS for a `tcp://` engine, `NAME=DIR`: DIR holds `ca.pem`,
    /// `cert.pem` and `key.pem`; repeatable.
    #[arg(long = "engine-tls", env = "JETPOOL_ENGINE_TLS", value_delimiter = ',')]
    pub engine_tls: Vec<String>,
    /// An engine's share of new agents, `NAME=N` (default 1); repeatable.
    #[arg(
        long = "engine-weight",
        env = "JETPOOL_ENGINE_WEIGHTS",
        value_delimiter = ','
    )]
    pub engine_weights: Vec<String>,
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
    /// The engines of `--engine`; empty: the one of `DOCKER_HOST`.
    pub engines: Vec<EngineConfig>,
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
    let engines = match engines::from_flags(&args.engines, &args.engine_tls, &args.engine_weights) {
        Ok(e) => e,
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
    let mut refused = allowed::refused(&policies, &allowed);
    refused.extend(engines::refused(&policies, &engines::names(&engines)));
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
        engines,
    };
    match run_with(cfg, &args.ha, signals()).await {
        Ok(()) => 0,
        Err(e) => {
            error!(error = %e, "jetpool stopped");
            eprintln!("error: {e}");
            1
        }
    }
}

/// Runs the service until `shutdown` resolves, then stops deciding and
/// returns, leaving agents running. Keeps no state across runs (as
/// `--no-state`): an embedding chooses its own memory.
pub async fn run(cfg: ServiceConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    let solo = crate::lease::HaArgs {
        ha: false,
        ha_bucket: String::new(),
        ha_lease: std::time::Duration::ZERO,
        ha_state_bucket: String::new(),
        no_state: true,
    };
    run_with(cfg, &solo, shutdown).await
}

/// [`run`], as one of several instances when `ha` says so: the pools act
/// only while this one holds the lease.
pub async fn run_with(
    cfg: ServiceConfig,
    ha: &crate::lease::HaArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    // The recorder first: a pool registers its counters at zero when it
    // starts, and its first ticks record; before the recorder exists those
    // would go nowhere (and `rate()` would miss the first events).
    let metrics = crate::telemetry::prometheus();
    let listener = http::bind(&cfg.listen).await?;
    let client = cfg.nats.connect("jetpool").await?;
    let (lease, fence) = ha.join(&client).await?.unzip();
    // A dry run's virtual agents' cold starts are not the real ones'.
    let handover = if cfg.dry_run && !ha.ha {
        None
    } else {
        ha.state(&client).await?
    };
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
    let tolerate_down = cfg.dry_run && !cfg.compose.enabled && !cfg.swarm.enabled;
    let docker = engines::connect(&cfg.engines, longest, tolerate_down)
        .await?
        .map(Arc::new);
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
    .with_allowed(cfg.allowed.clone())
    .with_fence(fence.clone())
    .with_state(handover);
    let names = PoolNames::default();
    let (lent, lent_rx) = watch::channel(Arc::new(cfg.policies.lent()));
    let files = FilePools {
        factory: factory.clone(),
        registry: registry.clone(),
        names: names.clone(),
        lent,
        dir: cfg.policy_dir.clone(),
        compose: cfg.compose.enabled || cfg.swarm.enabled,
        engines: engines::names(&cfg.engines),
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
    // A compose project runs on one engine: the first (`local` without
    // --engine); so does a swarm, through its manager.
    let compose_engine = docker.as_ref().and_then(|d| d.first());
    if cfg.compose.enabled && docker.is_some() && compose_engine.is_none() {
        warn!("compose discovery off: the first engine did not answer at start");
    }
    if cfg.swarm.enabled
        && let Some(d) = &compose_engine
    {
        if cfg.dry_run {
            warn!("--dry-run: Swarm discovery is off (it would change service counts)");
        } else {
            let swarm = crate::swarm::Supervisor::new(
                Arc::new(d.clone()),
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
        && let Some(d) = compose_engine
    {
        let supervisor = Supervisor::new(
            Arc::new(d),
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
        fence,
    };
    // The lease is released only after the pool loops stopped, so nothing
    // acts once a standby may lead.
    let (lease_stop, lease_rx) = watch::channel(false);
    let lease = lease.map(|l| tokio::spawn(l.run(wait_for(lease_rx))));
    let http_stop = wait_for(stop_rx.clone());
    let server = tokio::spawn(http::serve(listener, state, http_stop));
    info!(listen = %cfg.listen, "serving the status page at /, /events, /metrics, /healthz and /status");
    shutdown.await;
    info!("shutting down: no more decisions; agents keep running");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let _ = lease_stop.send(true);
    if let Some(l) = lease {
        let _ = l.await;
    }
    match server.await {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "HTTP server task failed");
            Ok(())
        }
    }
}
