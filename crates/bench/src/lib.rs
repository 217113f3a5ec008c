//! Shared fixtures of podpass's benchmarks (`benches/`): the policies and requests that the
//! IAM engine and its peer (Cedar) are measured on, and the measurement settings every bench
//! uses. Nothing here is part of podpass itself.

pub mod policy;

use std::time::Duration;

use criterion::Criterion;

/// The measurement settings of every bench: short enough for a 2-core machine to run the whole
/// suite in a few minutes, long enough for stable medians on sub-microsecond operations.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}
