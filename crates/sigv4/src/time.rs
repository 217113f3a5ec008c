//! The SigV4 timestamp format `YYYYMMDDTHHMMSSZ`.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Formats a timestamp as an `X-Amz-Date` value (`20150830T123600Z`).
pub fn format_amz_date(time: Timestamp) -> String {
    time.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Parses an `X-Amz-Date` value; `None` unless it is exactly `YYYYMMDDTHHMMSSZ` and a real UTC time.
pub fn parse_amz_date(value: &str) -> Option<Timestamp> {
    let bytes = value.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i16> {
        let digits = &bytes[range];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')),
        )
    };
    let year = number(0..4)?;
    let month = i8::try_from(number(4..6)?).ok()?;
    let day = i8::try_from(number(6..8)?).ok()?;
    let hour = i8::try_from(number(9..11)?).ok()?;
    let minute = i8::try_from(number(11..13)?).ok()?;
    let second = i8::try_from(number(13..15)?).ok()?;
    let civil = DateTime::new(year, month, day, hour, minute, second, 0).ok()?;
    civil.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_suite_date() {
        let ts = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(ts.as_second(), 1_440_938_160);
        assert_eq!(format_amz_date(ts), "20150830T123600Z");
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T253600Z",
            "+0150830T123600Z",
            "20150830T123600Z0",
            "2015-08-30T12:36:00Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
