//! [`PoolSpec`]: everything a pool loop needs to watch and scale one pool,
//! and the entry points that load policy files into specs. Reading and
//! locating is `config`'s, the rules are `policy::validate`'s; this joins
//! the two and adds the container template.

use std::path::{Path, PathBuf};

use crate::config::{self, AgentsSpec, ConfigError, ConfigErrors, FilePool, Problem, RawPool};
use crate::policy::{self, Policy};
use crate::template::Template;

/// A validated pool: everything jetpool needs to watch and scale it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// Unique pool name; part of container names and the `jetpool.pool` label.
    pub name: String,
    /// The JetStream stream the consumer reads.
    pub stream: String,
    /// The durable pull consumer the agents share.
    pub consumer: String,
    /// Bounds and sizing knobs, the input of the pure decision core.
    pub policy: Policy,
    /// How agent containers are created.
    pub template: Template,
    /// How agents are drained, kept warm and healed.
    pub agents: AgentsSpec,
    /// Where the pool was declared (a policy file, `compose:<project>/<service>`),
    /// for messages; empty for pools built in code.
    pub source: PathBuf,
}

impl PoolSpec {
    /// Validates one policy-file table into a spec; every problem is
    /// located in its file.
    pub fn from_file(fp: &FilePool) -> Result<PoolSpec, Vec<ConfigError>> {
        let located = |problems: Vec<Problem>| -> Vec<ConfigError> {
            problems.into_iter().map(|p| fp.error(p)).collect()
        };
        let policy = policy::validate(&fp.raw).map_err(located)?;
        let raw = &fp.raw;
        let Some(container) = &raw.container else {
            return Err(located(vec![Problem::at(
                &["container"],
                "missing [pool.container] table: the image (and command) the pool's agents run",
            )]));
        };
        Ok(PoolSpec {
            name: raw.name.clone(),
            stream: raw.stream.clone(),
            consumer: raw.consumer.clone(),
            policy,
            template: Template::Spec(Box::new(container.clone())),
            agents: raw.agents.clone(),
            source: fp.file.clone(),
        })
    }

    /// The table this spec says, without a container: what a compose
    /// service naming this pool in `jetpool.policy` starts from.
    pub fn raw(&self) -> RawPool {
        let p = &self.policy;
        RawPool {
            name: self.name.clone(),
            stream: self.stream.clone(),
            consumer: self.consumer.clone(),
            min: p.min,
            max: p.max,
            interval: p.interval,
            container: None,
            scaling: p.scaling.clone(),
            priority: p.priority,
            paused: p.paused,
            pinned: p.pinned,
            schedule: p.schedule.clone(),
            agents: self.agents.clone(),
        }
    }
}

/// Validates tables read together; every problem of every file is
/// reported, those of one file together.
fn validated(read: config::Read) -> Result<Vec<PoolSpec>, ConfigErrors> {
    let mut errors = read.errors;
    let mut specs = Vec::new();
    for fp in &read.pools {
        match PoolSpec::from_file(fp) {
            Ok(s) => specs.push(s),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        return Ok(specs);
    }
    // Stable: within a file, problems keep the order they were found in.
    errors.sort_by(|a, b| a.location.file.cmp(&b.location.file));
    Err(ConfigErrors(errors))
}

/// Loads every `*.toml` file in `dir` (sorted by name, not recursive).
pub fn load_dir(dir: &Path) -> Result<Vec<PoolSpec>, ConfigErrors> {
    validated(config::read_dir(dir))
}

/// Loads the given files and directories (directories contribute their
/// `*.toml` files), pool names unique across all of them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<PoolSpec>, ConfigErrors> {
    validated(config::read_paths(paths))
}

/// Loads `files`, pool names unique across all of them.
pub fn load_files(files: &[PathBuf]) -> Result<Vec<PoolSpec>, ConfigErrors> {
    validated(config::read_files(files))
}

/// Parses and validates one policy file's text; `file` is used for
/// locations only.
pub fn parse_str(file: &Path, source: &str) -> Result<Vec<PoolSpec>, Vec<ConfigError>> {
    let read = match config::parse_file(file, source) {
        Ok(pools) => config::Read {
            pools,
            errors: Vec::new(),
        },
        Err(errors) => return Err(errors),
    };
    validated(read).map_err(|e| e.0)
}
