//! Runtime controls an operator sets on a pool (`jetpool pause`, `jetpool
//! pin`): plain values folded into the [`Policy`] before
//! [`decide`](super::decide) runs, so the decision core stays pure and an
//! override is one more input, never a side channel.

use std::borrow::Cow;

use jiff::Timestamp;

use super::Policy;

/// Who set a control, when and why: shown on the status page and by
/// `jetpool explain`, so whoever finds a paused pool knows whom to ask.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    /// When the control was set.
    pub at: Timestamp,
    /// `user@host` of whoever set it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The operator's note (`--reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A pin: the pool runs exactly this many agents (within its bounds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    /// The fixed count.
    pub replicas: u32,
    /// Who pinned it.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// The runtime controls in force on one pool. Both may be set at once;
/// a pin wins, as `pinned` wins over `paused` in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Override {
    /// Set by `jetpool pause`, cleared by `jetpool resume`.
    pub paused: Option<Stamp>,
    /// Set by `jetpool pin`, cleared by `jetpool unpin`.
    pub pinned: Option<Pin>,
}

/// The kinds of control, as the `kind` label of `jetpool_pool_override`.
pub const OVERRIDE_KINDS: [&str; 2] = ["paused", "pinned"];

impl Override {
    /// True when no control is set.
    pub fn is_empty(&self) -> bool {
        self.paused.is_none() && self.pinned.is_none()
    }

    /// The policy `decide` should use: `policy` with these controls laid
    /// over it. A runtime pin replaces the file's; a runtime pause adds to
    /// it (a file's `paused = true` cannot be resumed at runtime: the file
    /// is the operator's standing word).
    pub fn apply<'a>(&self, policy: &'a Policy) -> Cow<'a, Policy> {
        if self.is_empty() {
            return Cow::Borrowed(policy);
        }
        let mut p = policy.clone();
        if self.paused.is_some() {
            p.paused = true;
        }
        if let Some(pin) = &self.pinned {
            p.pinned = Some(pin.replicas);
        }
        Cow::Owned(p)
    }

    /// A short label for tables: `paused`, `pinned 3`, both, or `-`.
    pub fn label(&self) -> String {
        match (&self.paused, &self.pinned) {
            (None, None) => "-".into(),
            (Some(_), None) => "paused".into(),
            (None, Some(p)) => format!("pinned {}", p.replicas),
            (Some(_), Some(p)) => format!("pinned {},paused", p.replicas),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            at: Timestamp::UNIX_EPOCH,
            by: None,
            reason: Some("incident".into()),
        }
    }

    #[test]
    fn no_override_borrows_the_policy_unchanged() {
        let p = Policy::default();
        assert!(matches!(Override::default().apply(&p), Cow::Borrowed(_)));
        assert_eq!(Override::default().label(), "-");
    }

    #[test]
    fn a_runtime_pin_replaces_the_files_and_a_pause_adds_to_it() {
        let file = Policy {
            pinned: Some(2),
            ..Default::default()
        };
        let o = Override {
            paused: Some(stamp()),
            pinned: Some(Pin {
                replicas: 5,
                stamp: stamp(),
            }),
        };
        let p = o.apply(&file);
        assert_eq!((p.paused, p.pinned), (true, Some(5)));
        assert_eq!(o.label(), "pinned 5,paused");
        let paused_file = Policy {
            paused: true,
            ..Default::default()
        };
        assert!(Override::default().apply(&paused_file).paused);
    }

    #[test]
    fn the_stored_shape_round_trips() {
        let pin = Pin {
            replicas: 3,
            stamp: stamp(),
        };
        let json = serde_json::to_string(&pin).unwrap();
        assert_eq!(
            json,
            r#"{"replicas":3,"at":"1970-01-01T00:00:00Z","reason":"incident"}"#
        );
        assert_eq!(serde_json::from_str::<Pin>(&json).unwrap(), pin);
    }
}
