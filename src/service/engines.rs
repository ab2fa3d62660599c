//! The Docker engines of `jetpool run` (`--engine NAME=URL`, or the one
//! of `DOCKER_HOST`, named `local`), and the policy-file pools naming an
//! engine that is not one of them: refused at start (exit 2) and on every
//! reload, like the allow-lists' refusals.

use std::time::Duration;

use tracing::warn;

use crate::config::ConfigError;
use crate::pool::spec::Policies;
use crate::target::TargetError;
use crate::target::docker::DockerTarget;
use crate::target::engines::{EngineConfig, EngineFlagError, EngineSet, LOCAL, endpoint};

/// The engines of `--engine`, `--engine-tls` and `--engine-weight`, their
/// TLS files checked.
pub fn from_flags(
    engines: &[String],
    tls: &[String],
    weights: &[String],
) -> Result<Vec<EngineConfig>, EngineFlagError> {
    let configs = endpoint::parse(engines, tls, weights)?;
    endpoint::check_tls_files(&configs)?;
    Ok(configs)
}

/// The names `[pool.container] engines` may use.
pub fn names(configs: &[EngineConfig]) -> Vec<String> {
    if configs.is_empty() {
        return vec![LOCAL.to_string()];
    }
    configs.iter().map(|c| c.name.clone()).collect()
}

/// The pools of `policies` naming an engine outside `known`, each as a
/// problem at the pool's name.
pub fn refused(policies: &Policies, known: &[String]) -> Vec<ConfigError> {
    policies
        .tables
        .iter()
        .filter_map(|t| {
            let c = t.raw.container.as_ref()?;
            let unknown: Vec<&str> = c
                .engines
                .iter()
                .filter(|e| !known.contains(e))
                .map(String::as_str)
                .collect();
            (!unknown.is_empty()).then(|| ConfigError {
                location: t.name_at.clone(),
                key: Some("container.engines".into()),
                message: format!(
                    "pool \"{}\": unknown engine {} (jetpool runs with: {})",
                    t.raw.name,
                    unknown.join(", "),
                    known.join(", ")
                ),
            })
        })
        .collect()
}

/// Connects the engines. Without `--engine`, the one of `DOCKER_HOST`
/// must answer, as it always had to, except with `tolerate_down` (a dry
/// run without compose), where it may be `None`. With `--engine`, an
/// engine that does not answer is only marked down: it may come back.
pub async fn connect(
    configs: &[EngineConfig],
    longest_stop: Duration,
    tolerate_down: bool,
) -> Result<Option<EngineSet>, TargetError> {
    if !configs.is_empty() {
        return Ok(Some(EngineSet::connect(configs, longest_stop).await));
    }
    match DockerTarget::connect(longest_stop).await {
        Ok(d) => Ok(Some(EngineSet::single(d))),
        Err(e) if tolerate_down => {
            warn!(error = %e, "dry run: Docker not reachable; virtual pools start empty");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::pool::spec;

    #[test]
    fn pools_naming_unknown_engines_are_refused_at_their_name() {
        let toml = "[[pool]]\nname = \"a\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 2\n[pool.container]\nimage = \"x\"\nengines = [\"a\", \"gpu\"]\n\n[[pool]]\nname = \"b\"\nstream = \"S\"\nconsumer = \"d\"\nmax = 2\n[pool.container]\nimage = \"x\"\n";
        let policies = spec::parse_policies(Path::new("p.toml"), toml).expect("valid");
        let known = vec!["a".to_string(), "b".to_string()];
        let refused = refused(&policies, &known);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].location.line, 2);
        let m = refused[0].to_string();
        assert!(m.starts_with("p.toml:2:"), "{m}");
        assert!(
            m.contains("pool \"a\": unknown engine gpu (jetpool runs with: a, b)"),
            "{m}"
        );
        assert!(super::refused(&policies, &names(&[])).len() == 1);
        assert_eq!(names(&[]), [LOCAL]);
    }
}
