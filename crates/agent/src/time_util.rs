//! Saturating timestamp arithmetic (no panics on absurd expirations from the network).

use std::time::Duration;

use jiff::Timestamp;

/// `ts + by`, saturating at the largest representable timestamp.
pub(crate) fn add_duration(ts: Timestamp, by: Duration) -> Timestamp {
    ts.saturating_add(by).unwrap_or(Timestamp::MAX)
}

/// Time left from `now` until `until`, zero when `until` has passed.
pub(crate) fn remaining(now: Timestamp, until: Timestamp) -> Duration {
    Duration::try_from(until.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_is_zero_after_the_deadline_and_exact_before() {
        let now = Timestamp::from_second(1_000).unwrap();
        let later = Timestamp::from_second(1_090).unwrap();
        assert_eq!(remaining(now, later), Duration::from_secs(90));
        assert_eq!(remaining(later, now), Duration::ZERO);
    }

    #[test]
    fn add_duration_saturates() {
        assert_eq!(
            add_duration(Timestamp::MAX, Duration::from_secs(1)),
            Timestamp::MAX
        );
        let start = Timestamp::from_second(10).unwrap();
        assert_eq!(
            add_duration(start, Duration::from_secs(5)),
            Timestamp::from_second(15).unwrap()
        );
    }
}
