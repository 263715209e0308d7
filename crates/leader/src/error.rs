use thiserror::Error;

#[derive(Debug, Error)]
pub enum LeaderError {
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
    /// Leadership ended without the work or the caller asking for it; the
    /// work was cancelled. Upstream components exit on this
    /// ("leaderelection lost").
    #[error("leaderelection lost: lease {namespace}/{name}: {reason}")]
    Lost {
        namespace: String,
        name: String,
        reason: String,
    },
}
