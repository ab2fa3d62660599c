//! What one simulated run measured.

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Queue wait of every task, seconds (unfinished tasks: until the end).
    pub waits: Vec<f32>,
    /// Tasks still unfinished when the run was cut off.
    pub unfinished: u64,
    /// Σ agent lifetimes, seconds.
    pub agent_seconds: f64,
    /// Containers started.
    pub starts: u64,
    /// Containers stopped.
    pub stops: u64,
    /// Sign changes between consecutive changes of the replica count.
    pub direction_changes: u64,
    /// Tasks lost with a killed agent (each is redelivered).
    pub lost: u64,
    /// Mean agents alive per bucket.
    pub agents: Vec<f32>,
    /// Mean backlog (`num_pending`) per bucket.
    pub backlog: Vec<f32>,
    /// When the run ended, seconds.
    pub end: f64,
}
