//! The agent's HTTP servers: credentials (one per bind host), probes and metrics.

mod credentials;
mod host;
mod probe;
mod respond;
mod run;

pub use credentials::{CredentialsEndpoint, RateLimit};
pub use probe::{metrics_router, probe_router};
pub use run::{AgentError, RunningAgent, run, start};

#[cfg(test)]
mod tests;
