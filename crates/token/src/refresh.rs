//! The kubelet's token refresh rule (`pkg/kubelet/token/token_manager.go`).

/// A token is rewritten at the latest this long after it was issued.
pub const MAX_TOKEN_AGE_SECONDS: i64 = 24 * 60 * 60;

/// The time after which the kubelet refreshes a token issued at `iat` expiring at `exp`:
/// 80% of its lifetime, or 24 h after issue, whichever is first.
pub fn refresh_at(iat: i64, exp: i64) -> i64 {
    let lifetime = exp.saturating_sub(iat);
    // Integer arithmetic as the kubelet: expirationSeconds*20/100.
    let at_eighty_percent = exp.saturating_sub(lifetime.saturating_mul(20) / 100);
    at_eighty_percent.min(iat.saturating_add(MAX_TOKEN_AGE_SECONDS))
}

/// Whether the kubelet would refresh the token now: past [`refresh_at`], or the clock went
/// backwards (`now < iat`). The kubelet's jitter (up to 10 s) is the caller's: pass
/// `now + jitter`.
pub fn requires_refresh(iat: i64, exp: i64, now: i64) -> bool {
    now > refresh_at(iat, exp) || now < iat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hour_token_refreshes_after_48_minutes() {
        assert_eq!(refresh_at(1000, 1000 + 3600), 1000 + 2880);
        assert!(!requires_refresh(1000, 4600, 1000 + 2880));
        assert!(requires_refresh(1000, 4600, 1000 + 2881));
    }

    #[test]
    fn day_long_token_refreshes_at_80_percent() {
        // 86400 * 0.8 = 69120 s (19.2 h) comes before the 24 h cap.
        assert_eq!(refresh_at(0, 86400), 69120);
    }

    #[test]
    fn long_tokens_refresh_after_24_hours() {
        let week = 7 * 86400;
        assert_eq!(refresh_at(0, week), 86400);
        assert!(!requires_refresh(0, week, 86400));
        assert!(requires_refresh(0, week, 86401));
    }

    #[test]
    fn clock_going_backwards_forces_refresh() {
        assert!(requires_refresh(1000, 4600, 999));
        assert!(!requires_refresh(1000, 4600, 1000));
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        assert!(requires_refresh(i64::MIN, i64::MAX, 0));
        assert!(!requires_refresh(i64::MAX - 10, i64::MAX, i64::MAX - 10));
    }
}
