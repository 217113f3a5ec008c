//! Go's `time.ParseDuration`, which the reference's duration flags rely on.

/// A non-negative Go `time.ParseDuration` string ("0", "100ms", "1m30s", "1.5h", "250us").
pub(crate) fn parse_duration(input: &str) -> Result<std::time::Duration, String> {
    let invalid = || format!("time: invalid duration {input:?}");
    let text = input.strip_prefix('+').unwrap_or(input);
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if text.is_empty() || text.starts_with('-') {
        return Err(invalid());
    }
    let mut total_nanos: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, remaining) = after.split_at(unit_len);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {input:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {input:?}")),
        };
        total_nanos += value * nanos_per_unit;
        rest = remaining;
    }
    // Go's limit: the largest int64 nanosecond count (about 292 years).
    if total_nanos > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(std::time::Duration::from_nanos(total_nanos.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        use std::time::Duration;
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("+2s").unwrap(), Duration::from_secs(2));
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_duration("3d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"3d\""
        );
        for bad in ["", "-1s", "s", ".s", "1..2s", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
