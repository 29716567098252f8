//! The job kinds Koppel has built in: one file per kind. Feature crates define their own kinds the
//! same way (a type implementing [`crate::JobType`] and [`crate::Job`] in a file of its own) and the
//! binary registers them. The `probe` kind is test code and exists only with the `testing` feature.

pub mod noop;
#[cfg(feature = "testing")]
pub mod probe;
pub mod prune_history;

use crate::job::Registry;

/// What the built-in kinds need from the operator's configuration.
#[derive(Debug, Clone)]
pub struct BuiltinConfig {
    /// How long finished runs are kept.
    pub history_retention: chrono::Duration,
}

/// A registry with every built-in kind.
pub fn builtin(config: &BuiltinConfig) -> Registry {
    let mut registry = Registry::new();
    registry.register(noop::Noop).register(prune_history::PruneHistory {
        retention: config.history_retention,
    });
    // The process tests of the binary run probe jobs on a real `koppel worker`.
    #[cfg(feature = "testing")]
    registry.register(probe::Probe);
    registry
}
