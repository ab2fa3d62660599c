//! [`PoolNames`]: who runs each pool name. A name is the identity of a
//! pool everywhere (container names and labels, metrics, `/status`), so
//! the policy files and compose discovery claim names here before they
//! start a pool, and a clash is an error naming both owners.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The pool names in use and their owners (`policy file /etc/x.toml`,
/// `compose service proj/agent`). Cloned handles share one set. A std
/// Mutex: it is never held across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct PoolNames {
    /// Name -> owner.
    owners: Arc<Mutex<BTreeMap<String, String>>>,
}

impl PoolNames {
    /// Claims `name` for `owner`; a name already held by another owner is
    /// refused with that owner.
    pub fn claim(&self, name: &str, owner: &str) -> Result<(), String> {
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        match owners.get(name) {
            Some(held) if held != owner => Err(held.clone()),
            _ => {
                owners.insert(name.to_string(), owner.to_string());
                Ok(())
            }
        }
    }

    /// Gives up `name`, if `owner` holds it.
    pub fn release(&self, name: &str, owner: &str) {
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        if owners.get(name).is_some_and(|held| held == owner) {
            owners.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_owner_at_a_time() {
        let names = PoolNames::default();
        assert!(names.claim("work", "file a").is_ok());
        assert!(
            names.claim("work", "file a").is_ok(),
            "claiming again is fine"
        );
        assert_eq!(names.claim("work", "compose p/s"), Err("file a".into()));
        names.release("work", "compose p/s");
        assert!(
            names.claim("work", "compose p/s").is_err(),
            "only the owner releases"
        );
        names.release("work", "file a");
        assert!(names.claim("work", "compose p/s").is_ok());
    }
}
