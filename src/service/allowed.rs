//! Policy-file pools checked against the allow-lists
//! ([`Allowed`]): at start (an error exits 2) and on every reload.

use crate::config::ConfigError;
use crate::pool::spec::Policies;
use crate::target::allow::Allowed;

/// The pools of `policies` whose template is outside `allowed`, each as a
/// problem at the pool's name.
pub fn refused(policies: &Policies, allowed: &Allowed) -> Vec<ConfigError> {
    policies
        .tables
        .iter()
        .filter_map(|t| {
            let spec = t.spec()?;
            let e = allowed.check(&spec.template.current().spec).err()?;
            Some(ConfigError {
                location: t.name_at.clone(),
                key: Some("container".into()),
                message: format!("pool \"{}\": {e}", spec.name),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::pool::spec;

    #[test]
    fn pools_outside_the_allow_lists_are_refused_at_their_name() {
        let toml = "[[pool]]\nname = \"a\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 2\n[pool.container]\nimage = \"evil:1\"\n\n[[pool]]\nname = \"b\"\nstream = \"S\"\nconsumer = \"d\"\nmax = 2\n[pool.container]\nimage = \"agents/b:1\"\n";
        let policies = spec::parse_policies(Path::new("p.toml"), toml).expect("valid");
        let allowed = Allowed::new(&["agents/*".into()], &[]).expect("valid list");
        let refused = refused(&policies, &allowed);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].location.line, 2);
        assert!(
            refused[0].message.contains("pool \"a\": image \"evil:1\""),
            "{refused:?}"
        );
        assert!(super::refused(&policies, &Allowed::default()).is_empty());
    }
}
