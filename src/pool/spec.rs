//! [`PoolSpec`]: everything a pool loop needs to watch and scale one pool,
//! and the entry points that load policy files into [`Policies`]. Reading
//! and locating is `config`'s, the rules are `policy::validate`'s; this
//! joins the two and adds the container template.
//!
//! A `[[pool]]` table with a `[pool.container]` runs a pool; one without
//! it only lends its settings to the compose services that name it in
//! `jetpool.policy`.

use std::path::{Path, PathBuf};

use crate::config::{
    self, AgentsSpec, ConfigError, ConfigErrors, FilePool, Location, Problem, RawPool, RawTrigger,
};
use crate::policy::{self, Policy};
use crate::target::Template;

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
    /// Whether `new` watches the same consumer under the same name, so a
    /// running loop can take it in place (else the pool starts anew: its
    /// estimates are about another consumer).
    pub fn same_consumer(&self, new: &PoolSpec) -> bool {
        self.name == new.name && self.stream == new.stream && self.consumer == new.consumer
    }

    /// The keys in which `new` differs from this spec, for the log line of
    /// an in-place update (`["max", "paused"]`).
    pub fn changes(&self, new: &PoolSpec) -> Vec<&'static str> {
        let (a, b) = (&self.policy, &new.policy);
        let s = &a.scaling;
        [
            ("name", self.name != new.name),
            ("stream", self.stream != new.stream),
            ("consumer", self.consumer != new.consumer),
            ("min", a.min != b.min),
            ("max", a.max != b.max),
            ("interval", a.interval != b.interval),
            ("scaling", *s != b.scaling),
            ("priority", a.priority != b.priority),
            ("paused", a.paused != b.paused),
            ("pinned", a.pinned != b.pinned),
            ("schedule", a.schedule != b.schedule),
            ("trigger", a.triggers != b.triggers),
            ("container", self.template != new.template),
            ("agents", self.agents != new.agents),
            ("source", self.source != new.source),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
    }
}

/// One valid `[[pool]]` table of the policy files.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The table as written: what `jetpool.policy` lends a compose service.
    pub raw: RawPool,
    /// What [`policy::validate`] made of it.
    pub policy: Policy,
    /// The policy file.
    pub source: PathBuf,
    /// Where its `name` is written, for messages about the name.
    pub name_at: Location,
}

impl Table {
    /// The pool this table runs; `None` for a table without a
    /// `[pool.container]`, which only lends its settings.
    pub fn spec(&self) -> Option<PoolSpec> {
        let container = self.raw.container.clone()?;
        Some(PoolSpec {
            name: self.raw.name.clone(),
            stream: self.raw.stream.clone(),
            consumer: self.raw.consumer.clone(),
            policy: self.policy.clone(),
            template: Template::from_policy(&container),
            agents: self.raw.agents.clone(),
            source: self.source.clone(),
        })
    }
}

/// The policy files, loaded and validated together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policies {
    /// Every table, in file order.
    pub tables: Vec<Table>,
}

impl Policies {
    /// The pools the files run (tables with a `[pool.container]`).
    pub fn pools(&self) -> Vec<PoolSpec> {
        self.tables.iter().filter_map(Table::spec).collect()
    }

    /// Every table as written, for compose services' `jetpool.policy`.
    pub fn lent(&self) -> Vec<RawPool> {
        self.tables.iter().map(|t| t.raw.clone()).collect()
    }
}

/// Validates tables read together; every problem of every file is
/// reported, those of one file together.
fn validated(read: config::Read) -> Result<Policies, ConfigErrors> {
    let mut errors = read.errors;
    let mut tables = Vec::new();
    for fp in read.pools {
        let unreadable = token_file_problems(&fp.raw.triggers);
        match policy::validate(&fp.raw) {
            Ok(policy) if unreadable.is_empty() => tables.push(table(fp, policy)),
            Ok(_) => errors.extend(unreadable.into_iter().map(|p| fp.error(p))),
            Err(mut problems) => {
                problems.extend(unreadable);
                errors.extend(problems.into_iter().map(|p| fp.error(p)));
            }
        }
    }
    if errors.is_empty() {
        return Ok(Policies { tables });
    }
    // Stable: within a file, problems keep the order they were found in.
    errors.sort_by(|a, b| a.location.file.cmp(&b.location.file));
    Err(ConfigErrors(errors))
}

/// The token files among `raw` that cannot be read, as problems: asked
/// where policy files are loaded, so `jetpool check` and `jetpool run`
/// name them at their line rather than at the first failed query.
fn token_file_problems(raw: &[RawTrigger]) -> Vec<Problem> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let path = r.token_file.as_ref()?;
            let why = match std::fs::read_to_string(path) {
                Ok(t) if t.trim().is_empty() => "is empty".to_string(),
                Ok(_) => return None,
                Err(e) => format!("cannot be read: {e}"),
            };
            let idx = i.to_string();
            Some(Problem::at(
                &["trigger", &idx, "token_file"],
                format!("token_file {} {why}", path.display()),
            ))
        })
        .collect()
}

fn table(fp: FilePool, policy: Policy) -> Table {
    Table {
        name_at: fp.name_at,
        source: fp.file,
        raw: fp.raw,
        policy,
    }
}

/// Loads every `*.toml` file in `dir` (sorted by name, not recursive).
pub fn load_dir(dir: &Path) -> Result<Policies, ConfigErrors> {
    validated(config::read_dir(dir))
}

/// Loads the given files and directories (directories contribute their
/// `*.toml` files), pool names unique across all of them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Policies, ConfigErrors> {
    validated(config::read_paths(paths))
}

/// Loads `files`, pool names unique across all of them.
pub fn load_files(files: &[PathBuf]) -> Result<Policies, ConfigErrors> {
    validated(config::read_files(files))
}

/// Parses and validates one policy file's text; `file` is used for
/// locations only.
pub fn parse_policies(file: &Path, source: &str) -> Result<Policies, Vec<ConfigError>> {
    let pools = config::parse_file(file, source)?;
    validated(config::Read {
        pools,
        errors: Vec::new(),
    })
    .map_err(|e| e.0)
}

/// The pools one policy file's text runs (see [`parse_policies`]).
pub fn parse_str(file: &Path, source: &str) -> Result<Vec<PoolSpec>, Vec<ConfigError>> {
    parse_policies(file, source).map(|p| p.pools())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(extra: &str) -> PoolSpec {
        let toml = format!(
            "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 3\n{extra}\n[pool.container]\nimage = \"x\"\n"
        );
        parse_str(Path::new("t.toml"), &toml).unwrap().remove(0)
    }

    #[test]
    fn changes_name_the_keys_an_update_touches() {
        let a = one("");
        assert!(a.changes(&a.clone()).is_empty());
        let b = one("paused = true\n[pool.scaling]\ncooldown = \"5s\"");
        assert_eq!(a.changes(&b), ["scaling", "paused"]);
        assert!(a.same_consumer(&b));
        let mut c = one("");
        c.consumer = "other".into();
        assert!(!a.same_consumer(&c));
    }

    #[test]
    fn a_table_without_a_container_only_lends_its_settings() {
        let toml = "[[pool]]\nname = \"lend\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 3\n";
        let p = parse_policies(Path::new("t.toml"), toml).unwrap();
        assert!(p.pools().is_empty());
        assert_eq!(p.lent()[0].name, "lend");
        assert_eq!(p.tables[0].policy.max, 3);
    }
}
