//! What agent containers may be made of: the operator's allow-lists of
//! images and host paths (`jetpool run --allow-image`, `--allow-mount`).
//!
//! Access to the Docker socket is root on the host, and a policy file or a
//! labelled compose service decides what jetpool starts through it. With
//! the lists set, a template naming another image, or bind-mounting a host
//! path outside the allowed directories, is refused before any container
//! is made: a policy file with a clear error (at start, exit 2; on reload,
//! the reload is refused), a compose service as not pooled. Unset, a list
//! allows everything, as before the lists existed.

use std::path::{Component, Path, PathBuf};

use super::spec::{ContainerSpec, MountKind};

/// A list given on the command line is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowError {
    /// An image pattern is not a valid glob.
    #[error("--allow-image {pattern:?} is not a valid pattern: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A mount prefix is not an absolute, normalised path.
    #[error("--allow-mount {path:?} must be an absolute path without `..`")]
    Mount {
        /// The path as given.
        path: String,
    },
}

/// Why a template is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The image matches no `--allow-image` pattern.
    #[error("image {image:?} is not allowed (--allow-image {allowed})")]
    Image {
        /// The template's image.
        image: String,
        /// The patterns, comma-separated.
        allowed: String,
    },
    /// A bind mount's host path is outside every `--allow-mount` directory.
    #[error("host path {path:?} is not allowed (--allow-mount {allowed})")]
    Mount {
        /// The host path.
        path: String,
        /// The directories, comma-separated.
        allowed: String,
    },
    /// `volumes_from` would bring another container's mounts, which the
    /// mount list cannot see.
    #[error("volumes_from {from:?} is not allowed while --allow-mount is set")]
    VolumesFrom {
        /// The container named.
        from: String,
    },
}

/// The allow-lists; the default allows everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allowed {
    /// Image patterns (`*` matches any run of characters, `/` included).
    images: Vec<glob::Pattern>,
    /// Directories whose contents may be bind-mounted.
    mounts: Vec<PathBuf>,
}

impl Allowed {
    /// The lists from the command line; empty lists allow everything.
    pub fn new(images: &[String], mounts: &[String]) -> Result<Self, AllowError> {
        let images = images
            .iter()
            .map(|p| {
                glob::Pattern::new(p).map_err(|e| AllowError::Pattern {
                    pattern: p.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        let mounts = mounts
            .iter()
            .map(|m| normal(m).ok_or_else(|| AllowError::Mount { path: m.clone() }))
            .collect::<Result<_, _>>()?;
        Ok(Allowed { images, mounts })
    }

    /// Whether either list is set.
    pub fn restricts(&self) -> bool {
        !self.images.is_empty() || !self.mounts.is_empty()
    }

    /// Checks a template against the lists.
    pub fn check(&self, spec: &ContainerSpec) -> Result<(), Refused> {
        if !self.images.is_empty() && !self.images.iter().any(|p| p.matches(&spec.image)) {
            return Err(Refused::Image {
                image: spec.image.clone(),
                allowed: join(self.images.iter().map(glob::Pattern::as_str)),
            });
        }
        if self.mounts.is_empty() {
            return Ok(());
        }
        if let Some(from) = spec.volumes_from.first() {
            return Err(Refused::VolumesFrom { from: from.clone() });
        }
        for m in spec.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            let inside = normal(&m.source)
                .is_some_and(|p| self.mounts.iter().any(|allowed| p.starts_with(allowed)));
            if !inside {
                return Err(Refused::Mount {
                    path: m.source.clone(),
                    allowed: join(self.mounts.iter().map(|p| p.to_str().unwrap_or("?"))),
                });
            }
        }
        Ok(())
    }
}

/// `path` as an absolute path without `.` or `..`; `None` if it is
/// relative or climbs (a `..` could leave an allowed directory).
fn normal(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::Normal(_) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Comma-separated, for messages.
fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::spec::Mount;

    fn spec(image: &str, binds: &[&str]) -> ContainerSpec {
        let mut s = ContainerSpec {
            image: image.into(),
            ..ContainerSpec::default()
        };
        for b in binds {
            s.mounts.push(Mount {
                kind: MountKind::Bind,
                source: (*b).into(),
                target: "/data".into(),
                read_only: false,
                options: Vec::new(),
            });
        }
        s
    }

    #[test]
    fn unset_lists_allow_everything() {
        let a = Allowed::default();
        assert!(!a.restricts());
        assert!(a.check(&spec("anything:latest", &["/etc"])).is_ok());
    }

    #[test]
    fn images_must_match_a_pattern() {
        let a = Allowed::new(
            &[
                "registry.example.com/agents/*".into(),
                "jetpool:local".into(),
            ],
            &[],
        )
        .expect("valid");
        assert!(
            a.check(&spec("registry.example.com/agents/summarize:1.2", &[]))
                .is_ok()
        );
        assert!(a.check(&spec("jetpool:local", &[])).is_ok());
        let refused = a.check(&spec("evil/miner:latest", &[]));
        assert!(
            matches!(&refused, Err(Refused::Image { image, .. }) if image == "evil/miner:latest"),
            "{refused:?}"
        );
        // Mounts are not restricted by an image list alone.
        assert!(a.check(&spec("jetpool:local", &["/etc"])).is_ok());
    }

    #[test]
    fn host_paths_must_be_inside_an_allowed_directory() {
        let a = Allowed::new(&[], &["/srv/agents".into()]).expect("valid");
        assert!(a.check(&spec("x", &["/srv/agents/cache"])).is_ok());
        assert!(a.check(&spec("x", &["/srv/agents"])).is_ok());
        for bad in [
            "/srv/agents-other",
            "/srv/agents/../../etc",
            "/",
            "/var/run/docker.sock",
            "relative",
        ] {
            let r = a.check(&spec("x", &[bad]));
            assert!(matches!(r, Err(Refused::Mount { .. })), "{bad}: {r:?}");
        }
        let mut s = spec("x", &[]);
        s.volumes_from.push("other".into());
        assert!(matches!(a.check(&s), Err(Refused::VolumesFrom { .. })));
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(matches!(
            Allowed::new(&["[".into()], &[]),
            Err(AllowError::Pattern { .. })
        ));
        assert!(matches!(
            Allowed::new(&[], &["srv".into()]),
            Err(AllowError::Mount { .. })
        ));
        assert!(matches!(
            Allowed::new(&[], &["/srv/../etc".into()]),
            Err(AllowError::Mount { .. })
        ));
    }
}
