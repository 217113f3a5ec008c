//! Randomised Pod Identity token lifetime, injectable so tests can pin it.

use rand::Rng;

/// Lowest jittered Pod Identity token lifetime (the reference's `DefaultMinTokenExpiration`).
pub const MIN_JITTERED_EXPIRATION: i64 = 79200;
/// Highest jittered Pod Identity token lifetime (the default expiration).
pub const MAX_JITTERED_EXPIRATION: i64 = crate::config::DEFAULT_TOKEN_EXPIRATION;

/// Picks the Pod Identity token lifetime that replaces the default 86400 s, so that kubelets do
/// not refresh every pod's token at the same moment.
pub trait Jitter: Send + Sync {
    /// A value in `[MIN_JITTERED_EXPIRATION, MAX_JITTERED_EXPIRATION]`.
    fn jittered_expiration(&self) -> i64;
}

/// Uniformly random jitter from the thread-local RNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn jittered_expiration(&self) -> i64 {
        rand::rng().random_range(MIN_JITTERED_EXPIRATION..=MAX_JITTERED_EXPIRATION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_jitter_stays_in_range() {
        for _ in 0..1000 {
            let value = RandomJitter.jittered_expiration();
            assert!((MIN_JITTERED_EXPIRATION..=MAX_JITTERED_EXPIRATION).contains(&value));
        }
    }
}
