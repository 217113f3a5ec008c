//! Timestamp formats: ISO 8601 for XML, epoch seconds for JSON.

use jiff::Timestamp;

/// `2024-01-01T00:00:00Z` (UTC, whole seconds), as query-protocol responses carry timestamps.
pub fn iso8601(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Serde helpers writing timestamps as JSON epoch seconds (`1700000000` or `1700000000.123`),
/// the rest-json timestamp format. Use with `#[serde(serialize_with = "...")]`.
pub mod epoch_seconds {
    use jiff::Timestamp;
    use serde::Serializer;

    /// Serializes a timestamp as epoch seconds, with milliseconds when not whole.
    pub fn serialize<S: Serializer>(time: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        let millis = time.as_millisecond();
        if millis % 1000 == 0 {
            serializer.serialize_i64(millis / 1000)
        } else {
            // Millisecond precision fits an f64 exactly for any realistic date.
            serializer.serialize_f64(millis as f64 / 1000.0)
        }
    }

    /// As [`serialize`], for optional fields (`None` becomes `null`; pair it with
    /// `skip_serializing_if = "Option::is_none"` to omit the member).
    pub fn serialize_option<S: Serializer>(
        time: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serialize(time, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Sample {
        #[serde(serialize_with = "epoch_seconds::serialize")]
        created_at: Timestamp,
        #[serde(
            serialize_with = "epoch_seconds::serialize_option",
            skip_serializing_if = "Option::is_none"
        )]
        modified_at: Option<Timestamp>,
    }

    #[test]
    fn iso8601_has_whole_seconds_and_z() {
        let time = Timestamp::from_millisecond(1_704_067_200_999).unwrap();
        assert_eq!(iso8601(time), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn epoch_seconds_serializes_numbers() {
        let sample = Sample {
            created_at: Timestamp::from_second(1_700_000_000).unwrap(),
            modified_at: Some(Timestamp::from_millisecond(1_700_000_000_123).unwrap()),
        };
        assert_eq!(
            serde_json::to_string(&sample).unwrap(),
            r#"{"created_at":1700000000,"modified_at":1700000000.123}"#
        );
        let without = Sample {
            created_at: Timestamp::from_second(1).unwrap(),
            modified_at: None,
        };
        assert_eq!(
            serde_json::to_string(&without).unwrap(),
            r#"{"created_at":1}"#
        );
    }
}
