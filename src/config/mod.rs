//! Policy files: every `*.toml` in a directory, each holding one or more
//! `[[pool]]` tables, read into their raw serde shapes ([`RawPool`] and the
//! tables inside it). Every problem is reported with file, line and column
//! so `jetpool check` and `jetpool run` print the same, actionable
//! messages: parse errors here, and the rules of a pool (checked by
//! [`policy::validate`](crate::policy::validate)) through
//! [`FilePool::error`], which maps a key path back to its line.
//!
//! This is the bottom of the dependency order: nothing here imports any
//! other module of the crate.

mod duration;
mod locate;
pub mod pool;
pub mod rate_limit;
pub mod scaling;
pub mod schedule;
pub mod trigger;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use duration::{format_duration, parse_duration};
pub use pool::{AgentsSpec, ContainerSpec, PoolMode, RawPool};
pub use rate_limit::{RateLimit, Select, Step};
pub use scaling::{DEFAULT_COLD_START, Scaling, StaleFallback};
pub use schedule::{Days, Schedule, TimeOfDay, Zone};
pub use trigger::{RawTrigger, TriggerType};

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
    pool: Vec<RawPool>,
}

/// A rule a pool's settings break: the key path inside its `[[pool]]`
/// table (`["scaling", "scale_up_limits", "0", "pods"]`) and what is wrong.
/// The validator that finds it knows nothing of files; [`FilePool::error`]
/// turns it into a located [`ConfigError`], compose labels into a label's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Keys from the pool table down (array indices as decimal strings).
    pub path: Vec<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Problem {
    /// A problem at `path` (inside the pool table).
    pub fn at(path: &[&str], message: impl Into<String>) -> Self {
        Problem {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    /// The path as a person reads it: `scaling.scale_up_limits[0].pods`.
    pub fn dotted(&self) -> String {
        dotted(&self.path)
    }
}

/// One `[[pool]]` table as read from a file, with where it came from, so a
/// problem found later can point at the line to edit.
#[derive(Debug, Clone)]
pub struct FilePool {
    /// The table's contents.
    pub raw: RawPool,
    /// The policy file.
    pub file: PathBuf,
    /// Its index among the file's `[[pool]]` tables.
    pub index: usize,
    /// Where its `name` is written (located once per file when read).
    pub name_at: Location,
    /// The file's text, shared by its tables, to locate keys in.
    source: Arc<str>,
}

impl FilePool {
    /// Where the key at `path` (inside this pool's table) is written.
    pub fn location(&self, path: &[String]) -> Location {
        let mut keys = vec!["pool".to_string(), self.index.to_string()];
        keys.extend(path.iter().cloned());
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        locate::key_location(&self.file, &self.source, &refs)
    }

    /// The problem as a located error: `file:line:column: pool[i].key: message`.
    pub fn error(&self, problem: Problem) -> ConfigError {
        let mut keys = vec!["pool".to_string(), self.index.to_string()];
        keys.extend(problem.path.iter().cloned());
        ConfigError {
            location: self.location(&problem.path),
            key: Some(dotted(&keys)),
            message: problem.message,
        }
    }
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

/// What reading a set of policy files gave: the tables that parsed, and
/// every problem met on the way (unreadable files, parse errors, duplicate
/// names). Both are kept so a caller validating the tables can report all
/// problems of all files at once.
#[derive(Debug, Default)]
pub struct Read {
    /// The `[[pool]]` tables of the files that parsed, in file order.
    pub pools: Vec<FilePool>,
    /// Problems of the files that did not, and duplicate names.
    pub errors: Vec<ConfigError>,
}

/// Reads every `*.toml` file in `dir` (sorted by name, not recursive).
pub fn read_dir(dir: &Path) -> Read {
    let files = match policy_files(dir) {
        Ok(f) => f,
        Err(e) => return Read::failed(dir, format!("cannot read policy directory: {e}")),
    };
    if files.is_empty() {
        return Read::failed(dir, "no policy files (*.toml) in this directory".into());
    }
    read_files(&files)
}

/// Reads the given files and directories (directories contribute their
/// `*.toml` files) together, so pool names are checked for uniqueness
/// across all of them.
pub fn read_paths(paths: &[PathBuf]) -> Read {
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
    let mut read = read_files(&files);
    errors.append(&mut read.errors);
    read.errors = errors;
    read
}

impl Read {
    /// Nothing read, for one reason about `path` as a whole.
    fn failed(path: &Path, message: String) -> Read {
        Read {
            pools: Vec::new(),
            errors: vec![ConfigError {
                location: Location::file(path),
                key: None,
                message,
            }],
        }
    }
}

/// Reads and parses `files`, collecting every problem rather than stopping
/// at the first; pool names must be unique across all of them.
pub fn read_files(files: &[PathBuf]) -> Read {
    let mut read = Read::default();
    // name -> where it was first declared, for the uniqueness check.
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    for file in files {
        let source = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                read.errors.push(ConfigError {
                    location: Location::file(file),
                    key: None,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match parse_file(file, &source) {
            Ok(parsed) => {
                for p in parsed {
                    let loc = p.name_at.clone();
                    if let Some(first) = seen.get(&p.raw.name) {
                        read.errors.push(p.error(Problem::at(
                            &["name"],
                            format!(
                                "pool name \"{}\" is already used at {first}; names must be unique across all policy files",
                                p.raw.name
                            ),
                        )));
                    } else {
                        seen.insert(p.raw.name.clone(), loc);
                        read.pools.push(p);
                    }
                }
            }
            Err(mut es) => read.errors.append(&mut es),
        }
    }
    read
}

/// Parses one policy file's text into its pool tables; `file` is used for
/// locations only. Only the shape is checked here (types, unknown keys,
/// durations); the rules of a pool are policy's.
pub fn parse_file(file: &Path, source: &str) -> Result<Vec<FilePool>, Vec<ConfigError>> {
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
    let names = locate::pool_name_locations(file, source, raw.pool.len());
    let source: Arc<str> = Arc::from(source);
    Ok(raw
        .pool
        .into_iter()
        .zip(names)
        .enumerate()
        .map(|(index, (raw, name_at))| FilePool {
            raw,
            file: file.to_path_buf(),
            index,
            name_at,
            source: source.clone(),
        })
        .collect())
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
