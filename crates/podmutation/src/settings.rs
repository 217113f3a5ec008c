//! ServiceAccount annotations as the reference webhook reads them.

use std::collections::HashMap;

use crate::config::clamp_token_expiration;

/// ServiceAccount annotation (after `<prefix>/`) naming the IAM role for IRSA.
pub(crate) const ROLE_ARN_ANNOTATION: &str = "role-arn";
/// ServiceAccount annotation overriding the projected token audience.
pub(crate) const AUDIENCE_ANNOTATION: &str = "audience";
/// ServiceAccount annotation turning `AWS_STS_REGIONAL_ENDPOINTS=regional` on or off.
pub(crate) const REGIONAL_STS_ANNOTATION: &str = "sts-regional-endpoints";
/// ServiceAccount and Pod annotation setting the projected token lifetime in seconds.
pub(crate) const TOKEN_EXPIRATION_ANNOTATION: &str = "token-expiration";
/// Pod annotation listing containers (CSV) the webhook must leave alone.
pub(crate) const SKIP_CONTAINERS_ANNOTATION: &str = "skip-containers";

/// What one ServiceAccount asks of the webhook. `None` means "not set": the flag default applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountSettings {
    /// IAM role for IRSA; a non-empty value triggers IRSA injection.
    pub role_arn: Option<String>,
    /// Projected token audience (`None`: `--token-audience`).
    pub audience: Option<String>,
    /// Regional STS endpoint injection (`None`: `--sts-regional-endpoint`).
    pub regional_sts: Option<bool>,
    /// Token lifetime, already raised to at least 600 s (`None`: `--token-expiration`).
    pub token_expiration: Option<i64>,
}

impl ServiceAccountSettings {
    /// Reads `<prefix>/role-arn`, `audience`, `sts-regional-endpoints` and `token-expiration`.
    ///
    /// Parsing follows the reference: a boolean that Go's `ParseBool` rejects and an expiration
    /// that is not a base-10 64-bit integer are ignored (the flag default applies); an
    /// expiration below 600 is raised to 600. A role ARN is kept as written, even if malformed.
    pub fn from_annotations(prefix: &str, annotations: &HashMap<String, String>) -> Self {
        let get = |name: &str| annotations.get(&format!("{prefix}/{name}"));
        Self {
            role_arn: get(ROLE_ARN_ANNOTATION).cloned(),
            audience: get(AUDIENCE_ANNOTATION).cloned(),
            regional_sts: get(REGIONAL_STS_ANNOTATION).and_then(|v| parse_go_bool(v)),
            token_expiration: get(TOKEN_EXPIRATION_ANNOTATION)
                .and_then(|v| parse_token_expiration(v)),
        }
    }

    /// The role ARN when it is set and non-empty (what makes IRSA apply).
    pub fn irsa_role_arn(&self) -> Option<&str> {
        self.role_arn.as_deref().filter(|arn| !arn.is_empty())
    }
}

/// Go `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
pub fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go `strconv.ParseInt(v, 10, 64)` followed by the 600 s minimum; `None` when unparsable.
pub(crate) fn parse_token_expiration(value: &str) -> Option<i64> {
    // Rust's i64 parser accepts exactly Go's base-10 syntax: optional sign, ASCII digits.
    value.parse::<i64>().ok().map(clamp_token_expiration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_all_annotations_with_prefix() {
        let settings = ServiceAccountSettings::from_annotations(
            "eks.amazonaws.com",
            &annotations(&[
                (
                    "eks.amazonaws.com/role-arn",
                    "arn:aws:iam::111122223333:role/r",
                ),
                ("eks.amazonaws.com/audience", "aud"),
                ("eks.amazonaws.com/sts-regional-endpoints", "True"),
                ("eks.amazonaws.com/token-expiration", "3600"),
            ]),
        );
        assert_eq!(
            settings,
            ServiceAccountSettings {
                role_arn: Some("arn:aws:iam::111122223333:role/r".into()),
                audience: Some("aud".into()),
                regional_sts: Some(true),
                token_expiration: Some(3600),
            }
        );
    }

    #[test]
    fn other_prefix_is_ignored() {
        let settings = ServiceAccountSettings::from_annotations(
            "example.com",
            &annotations(&[("eks.amazonaws.com/role-arn", "arn")]),
        );
        assert_eq!(settings, ServiceAccountSettings::default());
    }

    #[test]
    fn invalid_values_fall_back_to_flags() {
        let settings = ServiceAccountSettings::from_annotations(
            "p",
            &annotations(&[
                ("p/sts-regional-endpoints", "yes"),
                ("p/token-expiration", "1h"),
            ]),
        );
        assert_eq!(settings.regional_sts, None);
        assert_eq!(settings.token_expiration, None);
    }

    #[test]
    fn go_bool_spellings() {
        for v in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(v), Some(true), "{v}");
        }
        for v in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(v), Some(false), "{v}");
        }
        for v in ["", "yes", "tRUE", " true", "2"] {
            assert_eq!(parse_go_bool(v), None, "{v}");
        }
    }

    #[test]
    fn token_expiration_parsing_and_clamp() {
        assert_eq!(parse_token_expiration("0"), Some(600));
        assert_eq!(parse_token_expiration("-5"), Some(600));
        assert_eq!(parse_token_expiration("599"), Some(600));
        assert_eq!(parse_token_expiration("600"), Some(600));
        assert_eq!(parse_token_expiration("+3600"), Some(3600));
        assert_eq!(parse_token_expiration("172800"), Some(172800));
        assert_eq!(parse_token_expiration(""), None);
        assert_eq!(parse_token_expiration(" 3600"), None);
        assert_eq!(parse_token_expiration("3_600"), None);
        assert_eq!(parse_token_expiration("99999999999999999999"), None);
    }

    #[test]
    fn empty_role_arn_does_not_trigger_irsa() {
        let settings = ServiceAccountSettings {
            role_arn: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(settings.irsa_role_arn(), None);
    }
}
