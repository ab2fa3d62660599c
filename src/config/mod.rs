//! Policy files: every `*.toml` in a directory, each holding one or more
//! `[[pool]]` tables. Parsed once into typed [`PoolSpec`]s; every problem is
//! reported with file, line and column so `jetpool check` and `jetpool run`
//! print the same, actionable messages.

mod duration;
mod locate;
pub mod pool;
pub mod rate_limit;
pub mod scaling;
pub mod schedule;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use duration::{format_duration, parse_duration};
pub use pool::{AgentsSpec, ContainerSpec, PoolSpec};
pub use rate_limit::{RateLimit, Select, Step};
pub use scaling::{Scaling, StaleFallback};
pub use schedule::{Days, Schedule, TimeOfDay, Zone};

/// Where in a policy file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The policy file.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column; 0 when the problem concerns the whole file.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `source`.
    pub fn at(file: &Path, source: &str, offset: usize) -> Self {
        let offset = offset.min(source.len());
        let before = &source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..offset].chars().count() + 1;
        Location {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    /// A location naming only the file.
    pub fn file(file: &Path) -> Self {
        Location {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// One problem in the policy files, displayed as
/// `file:line:column: key: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {}{message}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// Where the problem is.
    pub location: Location,
    /// The dotted key the problem is about (`pool[0].max`), when known.
    pub key: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// All problems found in a set of policy files; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The raw shape of one policy file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    /// The pools this file declares.
    #[serde(default)]
    pool: Vec<pool::RawPool>,
}

/// The `*.toml` files directly in `dir`, sorted by name (not recursive).
pub fn policy_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every `*.toml` file in `dir` (sorted by name, not recursive).
pub fn load_dir(dir: &Path) -> Result<Vec<PoolSpec>, ConfigErrors> {
    let files = policy_files(dir).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            location: Location::file(dir),
            key: None,
            message: format!("cannot read policy directory: {e}"),
        }])
    })?;
    if files.is_empty() {
        return Err(ConfigErrors(vec![ConfigError {
            location: Location::file(dir),
            key: None,
            message: "no policy files (*.toml) in this directory".into(),
        }]));
    }
    load_files(&files)
}

/// Loads the given files and directories (directories contribute their
/// `*.toml` files) and validates them together, so pool names are checked
/// for uniqueness across all of them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<PoolSpec>, ConfigErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            match policy_files(p) {
                Ok(v) => files.extend(v),
                Err(e) => errors.push(ConfigError {
                    location: Location::file(p),
                    key: None,
                    message: format!("cannot read directory: {e}"),
                }),
            }
        } else {
            files.push(p.clone());
        }
    }
    match load_files(&files) {
        Ok(pools) if errors.is_empty() => Ok(pools),
        Ok(_) => Err(ConfigErrors(errors)),
        Err(ConfigErrors(more)) => {
            errors.extend(more);
            Err(ConfigErrors(errors))
        }
    }
}

/// Parses and validates `files`, collecting every problem rather than
/// stopping at the first.
pub fn load_files(files: &[PathBuf]) -> Result<Vec<PoolSpec>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut pools = Vec::new();
    // name -> where it was first declared, for the uniqueness check.
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    for file in files {
        let source = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                errors.push(ConfigError {
                    location: Location::file(file),
                    key: None,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match parse_str(file, &source) {
            Ok(parsed) => {
                for (i, p) in parsed.into_iter().enumerate() {
                    let loc =
                        locate::key_location(file, &source, &["pool", &i.to_string(), "name"]);
                    if let Some(first) = seen.get(&p.name) {
                        errors.push(ConfigError {
                            location: loc,
                            key: Some(format!("pool[{i}].name")),
                            message: format!(
                                "pool name \"{}\" is already used at {first}; names must be unique across all policy files",
                                p.name
                            ),
                        });
                    } else {
                        seen.insert(p.name.clone(), loc);
                        pools.push(p);
                    }
                }
            }
            Err(mut es) => errors.append(&mut es),
        }
    }
    if errors.is_empty() {
        Ok(pools)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Parses one policy file's text; `file` is used for locations only.
pub fn parse_str(file: &Path, source: &str) -> Result<Vec<PoolSpec>, Vec<ConfigError>> {
    let raw: PolicyFile = toml::from_str(source).map_err(|e| {
        let (location, key) = match e.span() {
            Some(span) => {
                let path = locate::key_at(source, span.start);
                (
                    Location::at(file, source, span.start),
                    (!path.is_empty()).then(|| dotted(&path)),
                )
            }
            None => (Location::file(file), None),
        };
        vec![ConfigError {
            location,
            key,
            message: e.message().trim().to_string(),
        }]
    })?;
    if raw.pool.is_empty() {
        return Err(vec![ConfigError {
            location: Location::file(file),
            key: None,
            message: "no [[pool]] table in this file".into(),
        }]);
    }
    let mut pools = Vec::new();
    let mut errors = Vec::new();
    for (i, rp) in raw.pool.into_iter().enumerate() {
        match rp.validate() {
            Ok(p) => pools.push(p.with_source(file)),
            Err(problems) => {
                for (path, message) in problems {
                    let mut keys = vec!["pool".to_string(), i.to_string()];
                    keys.extend(path);
                    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                    errors.push(ConfigError {
                        location: locate::key_location(file, source, &refs),
                        key: Some(dotted(&keys)),
                        message,
                    });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(pools)
    } else {
        Err(errors)
    }
}

/// Writes a key path the way a person reads it: `pool[0].schedule[1].min`.
fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// A validation problem: the key path inside one `[[pool]]` and the message.
pub(crate) type Problem = (Vec<String>, String);

/// Shorthand to build a [`Problem`].
pub(crate) fn problem(path: &[&str], message: impl Into<String>) -> Problem {
    (path.iter().map(|s| s.to_string()).collect(), message.into())
}
