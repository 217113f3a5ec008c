//! A token bucket (as Go's `rate.Limiter.Allow`) driven by an explicit clock reading.

use jiff::Timestamp;

/// Allows `rate` events per second on average with bursts of up to `burst`; starts full.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate_per_second: f64,
    burst: f64,
    tokens: f64,
    last: Timestamp,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate_per_second: f64, burst: u32, now: Timestamp) -> Self {
        let burst = f64::from(burst);
        Self {
            rate_per_second,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if available.
    pub(crate) fn try_take(&mut self, now: Timestamp) -> bool {
        if now > self.last {
            let elapsed = now.duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate_per_second).min(self.burst);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::time_util::add_duration;

    #[test]
    fn allows_the_burst_then_refills_at_the_rate() {
        let start = Timestamp::from_second(0).unwrap();
        let mut bucket = TokenBucket::new(2.0, 3, start);
        assert!((0..3).all(|_| bucket.try_take(start)));
        assert!(!bucket.try_take(start));
        let half_second = add_duration(start, Duration::from_millis(500));
        assert!(bucket.try_take(half_second));
        assert!(!bucket.try_take(half_second));
        let much_later = add_duration(start, Duration::from_secs(100));
        assert_eq!((0..10).filter(|_| bucket.try_take(much_later)).count(), 3);
    }

    #[test]
    fn zero_burst_never_allows() {
        let start = Timestamp::from_second(0).unwrap();
        let mut bucket = TokenBucket::new(5.0, 0, start);
        assert!(!bucket.try_take(add_duration(start, Duration::from_secs(10))));
    }
}
