//! The policy-file pools of a running jetpool. They start from the files
//! at start, and follow them: on SIGHUP and when a file under `--policies`
//! changes (debounced), the directory is loaded again and, if it is valid,
//! added pools start, removed pools stop (their agents keep running, as on
//! shutdown) and changed pools take their new spec in place, keeping their
//! estimates, windows and history. An invalid edit is refused with the
//! usual `file:line:column` messages and the running policies stay.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::config::{self, ConfigError, ConfigErrors, RawPool};
use crate::http::Registry;
use crate::pool::spec::{self, Policies, Table};
use crate::pool::{PoolNames, PoolSpec, RunnerFactory, wait_for};
use crate::target::ScaleTarget;
use crate::telemetry::{self, events::PoliciesReloaded, events::ReloadRefused};

/// Changes arriving within this window cause one reload (an editor's save
/// is several events; a deploy tool may write several files).
const DEBOUNCE: Duration = Duration::from_millis(250);

/// Loads the policy directory. With compose discovery on, a missing or
/// empty directory is no error: the pools then all come from labels.
pub fn load(dir: &Path, compose: bool) -> Result<Policies, ConfigErrors> {
    if compose && config::policy_files(dir).map_or(true, |f| f.is_empty()) {
        return Ok(Policies::default());
    }
    spec::load_dir(dir)
}

/// One running policy-file pool.
struct Pool {
    /// Its current spec; a new one is taken in place by the loop.
    spec: watch::Sender<Arc<PoolSpec>>,
    /// Tells the loop to stop.
    stop: watch::Sender<bool>,
    /// The loop.
    task: JoinHandle<()>,
}

/// What one reload changed, by pool name.
#[derive(Debug, Default)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    updated: Vec<String>,
    restarted: Vec<String>,
}

/// The policy-file pools and what they are started with.
pub struct FilePools {
    /// Builds the pools' loops, wired like every other pool.
    pub factory: RunnerFactory,
    /// Where pools are published for `/status` and `/healthz`.
    pub registry: Registry,
    /// Pool names in use, shared with compose discovery.
    pub names: PoolNames,
    /// The tables the compose pools borrow through `jetpool.policy`,
    /// sent again after every reload that changed them.
    pub lent: watch::Sender<Arc<Vec<RawPool>>>,
    /// The directory to reload from; `None`: the pools given at start only.
    pub dir: Option<PathBuf>,
    /// Whether compose discovery is on (an empty directory is then valid).
    pub compose: bool,
    /// The engines' names, which `[pool.container] engines` may use.
    pub engines: Vec<String>,
}

/// [`FilePools`] started: its pools run; [`Files::follow`] keeps them in
/// line with the directory.
pub struct Files<T> {
    /// The fixed parts.
    with: FilePools,
    /// Where the pools' containers run.
    target: Arc<T>,
    /// The running pools, by name.
    running: BTreeMap<String, Pool>,
    /// Loops of removed pools, finishing.
    retiring: JoinSet<()>,
}

impl FilePools {
    /// Claims the names of `initial`'s pools and starts them on `target`,
    /// before anything else (compose discovery) can claim a name.
    pub fn start<T: ScaleTarget>(self, target: Arc<T>, initial: Policies) -> Files<T> {
        let mut files = Files {
            with: self,
            target,
            running: BTreeMap::new(),
            retiring: JoinSet::new(),
        };
        if let Err(errors) = files.apply(initial) {
            // Loading refuses duplicate names and nothing else has claimed
            // one yet, so this does not happen; reported all the same.
            ReloadRefused {
                trigger: "start",
                errors: &errors,
            }
            .emit();
        }
        files
    }
}

impl<T: ScaleTarget> Files<T> {
    /// Follows the directory (SIGHUP, file changes) until `shutdown`
    /// resolves; then stops every loop (agents keep running).
    pub async fn follow(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let dir = self.with.dir.clone();
        let (tx, mut changed) = mpsc::channel::<()>(1);
        // Kept for as long as the loop runs: dropping it stops watching.
        let _watcher = dir.as_deref().and_then(|d| watch_dir(d, tx));
        let mut hangups = dir.as_ref().and_then(|_| hangups());
        if dir.is_some() {
            telemetry::reloads_started();
        }
        let mut due: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(()) = changed.recv() => due = Some(Instant::now() + DEBOUNCE),
                _ = until(due) => {
                    due = None;
                    self.reload("file change");
                }
                () = next_hangup(&mut hangups) => self.reload("SIGHUP"),
                Some(_) = self.retiring.join_next(), if !self.retiring.is_empty() => {}
            }
        }
        let pools = std::mem::take(&mut self.running);
        for p in pools.values() {
            let _ = p.stop.send(true);
        }
        for (_, p) in pools {
            let _ = p.task.await;
        }
        while self.retiring.join_next().await.is_some() {}
    }

    /// Loads the directory again and applies it, or logs why not.
    fn reload(&mut self, trigger: &'static str) {
        let Some(dir) = self.with.dir.clone() else {
            return;
        };
        let result = load(&dir, self.with.compose).and_then(|new| self.apply(new));
        match result {
            Ok(c) => PoliciesReloaded {
                trigger,
                added: &c.added,
                removed: &c.removed,
                updated: &c.updated,
                restarted: &c.restarted,
            }
            .emit(),
            Err(errors) => ReloadRefused {
                trigger,
                errors: &errors,
            }
            .emit(),
        }
    }

    /// Brings the running pools in line with `new`: all of it, or (on a
    /// name another owner holds) nothing.
    fn apply(&mut self, new: Policies) -> Result<Changes, ConfigErrors> {
        let names = &self.with.names;
        let mut claimed = Vec::new();
        let mut errors = super::allowed::refused(&new, self.with.factory.allowed());
        errors.extend(super::engines::refused(&new, &self.with.engines));
        let tables: Vec<(&Table, PoolSpec)> = new
            .tables
            .iter()
            .filter_map(|t| t.spec().map(|s| (t, s)))
            .collect();
        for (t, spec) in &tables {
            let by = owner(&t.source);
            if let Some(r) = self.running.get(&spec.name) {
                // Ours already: follow the pool into another file.
                names.release(&spec.name, &owner(&r.spec.borrow().source));
            }
            match names.claim(&spec.name, &by) {
                Ok(()) => claimed.push((spec.name.clone(), by)),
                Err(holder) => errors.push(ConfigError {
                    location: t.name_at.clone(),
                    key: Some("name".into()),
                    message: format!(
                        "pool name \"{}\" is already used by {holder}; pool names must be unique across the policy files and compose services",
                        spec.name
                    ),
                }),
            }
        }
        if !errors.is_empty() {
            for (name, by) in claimed {
                names.release(&name, &by);
            }
            for (name, r) in &self.running {
                // Restore the claims of the pools that keep running.
                let _ = names.claim(name, &owner(&r.spec.borrow().source));
            }
            return Err(ConfigErrors(errors));
        }
        let mut changes = Changes::default();
        let keep: Vec<&str> = tables.iter().map(|(_, s)| s.name.as_str()).collect();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|n| !keep.contains(&n.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.stop(&name);
            changes.removed.push(name);
        }
        for (_, spec) in tables {
            let name = spec.name.clone();
            match self.running.get(&name) {
                None => {
                    self.start(spec);
                    changes.added.push(name);
                }
                Some(r) if r.spec.borrow().same_consumer(&spec) => {
                    if **r.spec.borrow() != spec {
                        r.spec.send_replace(Arc::new(spec));
                        changes.updated.push(name);
                    }
                }
                Some(_) => {
                    // Another consumer: nothing of the old loop applies.
                    self.stop(&name);
                    let _ = self.with.names.claim(&name, &owner(&spec.source));
                    self.start(spec);
                    changes.restarted.push(name);
                }
            }
        }
        let lent = new.lent();
        self.with.lent.send_if_modified(|old| {
            let changed = **old != lent;
            if changed {
                *old = Arc::new(lent);
            }
            changed
        });
        Ok(changes)
    }

    /// Starts the loop of a pool whose name is claimed.
    fn start(&mut self, spec: PoolSpec) {
        let name = spec.name.clone();
        let (runner, status) = self.with.factory.runner(spec.clone(), self.target.clone());
        let (spec_tx, spec_rx) = watch::channel(Arc::new(spec));
        let (stop, stop_rx) = watch::channel(false);
        self.with.registry.insert(status);
        telemetry::pool_started(&name);
        let task = tokio::spawn(runner.with_updates(spec_rx).run(wait_for(stop_rx)));
        self.running.insert(
            name,
            Pool {
                spec: spec_tx,
                stop,
                task,
            },
        );
    }

    /// Stops a pool's loop (its agents keep running) and frees its name.
    fn stop(&mut self, name: &str) {
        let Some(r) = self.running.remove(name) else {
            return;
        };
        let _ = r.stop.send(true);
        self.with
            .names
            .release(name, &owner(&r.spec.borrow().source));
        self.with.registry.remove(name);
        self.with.factory.forget(name);
        telemetry::pool_removed(name);
        let mut task = r.task;
        self.retiring.spawn(async move {
            // The loop stops at its next select; if it does not within a
            // few seconds, it is aborted.
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        });
    }
}

/// The owner of a policy-file pool's name, as a name clash names it.
fn owner(file: &Path) -> String {
    format!("policy file {}", file.display())
}

/// Watches `dir` (not recursively); every change but a read sends on `tx`.
fn watch_dir(dir: &Path, tx: mpsc::Sender<()>) -> Option<RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        // Reads (our own reloads among them) change nothing; a full
        // channel already holds a pending change.
        if event.is_ok_and(|e| !matches!(e.kind, EventKind::Access(_))) {
            let _ = tx.try_send(());
        }
    };
    let watched = notify::recommended_watcher(handler)
        .and_then(|mut w| w.watch(dir, RecursiveMode::NonRecursive).map(|()| w));
    match watched {
        Ok(w) => {
            info!(dir = %dir.display(), "watching the policy files; SIGHUP reloads them too");
            Some(w)
        }
        Err(e) => {
            warn!(dir = %dir.display(), error = %e, "cannot watch the policy files for changes; SIGHUP still reloads them");
            None
        }
    }
}

/// SIGHUP, where the platform has it.
#[cfg(unix)]
type Hangups = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Option<Hangups> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .inspect_err(
            |e| warn!(error = %e, "cannot listen for SIGHUP; policy files reload on change only"),
        )
        .ok()
}

#[cfg(not(unix))]
fn hangups() -> Option<Hangups> {
    None
}

/// The next SIGHUP; never without a listener.
async fn next_hangup(hangups: &mut Option<Hangups>) {
    #[cfg(unix)]
    if let Some(h) = hangups
        && h.recv().await.is_some()
    {
        return;
    }
    *hangups = None;
    std::future::pending().await
}

/// Resolves at `at`, or never when `None`.
async fn until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
