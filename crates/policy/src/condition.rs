//! Condition operators: compiled at parse time, evaluated against a [`Request`].

use std::net::IpAddr;

use crate::arn::ArnPattern;
use crate::context::{ContextValue, Request};
use crate::error::PolicyError;
use crate::pattern::{Pattern, Syntax};

/// A condition operator without its `ForAnyValue:`/`ForAllValues:` prefix or `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPERATORS: [(&str, Operator); 27] = [
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        Operator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        Operator::NumericGreaterThanEquals,
    ),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    /// Looks an operator up by its exact IAM name.
    pub fn from_name(name: &str) -> Option<Self> {
        OPERATORS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, op)| *op)
    }

    /// The IAM name.
    pub fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("Null", |(n, _)| n)
    }

    /// Negated operators hold when the request value matches none of the policy values.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NumericNotEquals
                | Operator::DateNotEquals
                | Operator::NotIpAddress
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        )
    }
}

/// `ForAnyValue:` / `ForAllValues:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// No prefix.
    Single,
    /// `ForAnyValue:`: some request value satisfies the operator; false when absent.
    ForAnyValue,
    /// `ForAllValues:`: every request value satisfies the operator; true when absent.
    ForAllValues,
}

/// How numbers and dates compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ordering {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Ordering {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Ordering::Equal => request == policy,
            Ordering::Less => request < policy,
            Ordering::LessOrEqual => request <= policy,
            Ordering::Greater => request > policy,
            Ordering::GreaterOrEqual => request >= policy,
        }
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            let host_bits = width - u32::from(prefix);
            if host_bits >= 128 {
                0
            } else {
                bits >> host_bits
            }
        }
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), 128, self.prefix) == masked(ip.into(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Parses an IAM date: ISO 8601 (with or without offset, or date only, read as UTC) or epoch seconds.
pub(crate) fn parse_date(text: &str) -> Option<jiff::Timestamp> {
    use jiff::tz::TimeZone;
    if let Ok(seconds) = text.parse::<i64>() {
        return jiff::Timestamp::from_second(seconds).ok();
    }
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(timestamp);
    }
    if let Ok(datetime) = text.parse::<jiff::civil::DateTime>() {
        return datetime.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    text.parse::<jiff::civil::Date>()
        .ok()?
        .to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The compiled policy values of one condition clause.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Strings {
        patterns: Box<[Pattern]>,
        ignore_case: bool,
    },
    Numbers {
        values: Box<[f64]>,
        ordering: Ordering,
    },
    Dates {
        values: Box<[jiff::Timestamp]>,
        ordering: Ordering,
    },
    Bools(Box<[bool]>),
    Binary(Box<[Box<str>]>),
    Networks(Box<[Cidr]>),
    Arns(Box<[ArnPattern]>),
    Null(Box<[bool]>),
}

/// One `operator: {key: values}` entry of a `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    operator: Operator,
    qualifier: SetQualifier,
    if_exists: bool,
    /// Operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    operator_text: Box<str>,
    /// Key as written.
    key: Box<str>,
    /// Key lowercased for lookup.
    folded_key: Box<str>,
    /// Values as written.
    raw_values: Box<[Box<str>]>,
    values: Values,
}

impl Clause {
    /// Compiles one clause; `variables` is true for Version 2012-10-17 documents.
    pub(crate) fn compile(
        operator_text: &str,
        key_text: &str,
        raw_values: Vec<String>,
        variables: bool,
    ) -> Result<Self, PolicyError> {
        let type_error = || PolicyError::ConditionType(operator_text.to_owned());
        let (qualifier, rest) = if let Some(rest) = operator_text.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, rest)
        } else if let Some(rest) = operator_text.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, rest)
        } else {
            (SetQualifier::Single, operator_text)
        };
        let (name, if_exists) = match rest.strip_suffix("IfExists") {
            Some(name) => (name, true),
            None => (rest, false),
        };
        let operator = Operator::from_name(name).ok_or_else(type_error)?;
        if operator == Operator::Null && if_exists {
            return Err(type_error());
        }
        if !key_text.contains(':') {
            return Err(PolicyError::Vendor);
        }
        let values = compile_values(operator, operator_text, &raw_values, variables)?;
        Ok(Clause {
            operator,
            qualifier,
            if_exists,
            operator_text: operator_text.into(),
            key: key_text.into(),
            folded_key: key_text.to_lowercase().into_boxed_str(),
            raw_values: raw_values.into_iter().map(String::into_boxed_str).collect(),
            values,
        })
    }

    /// The base operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The `ForAnyValue:`/`ForAllValues:` qualifier.
    pub fn qualifier(&self) -> SetQualifier {
        self.qualifier
    }

    /// The operator as written in the policy.
    pub fn operator_text(&self) -> &str {
        &self.operator_text
    }

    /// The context key as written in the policy.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The lowercased context key used for lookup.
    pub(crate) fn lookup_key(&self) -> &str {
        &self.folded_key
    }

    /// The policy values as written.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.raw_values.iter().map(|v| &**v)
    }

    /// Lowercased keys of the policy variables used in the values.
    pub(crate) fn variable_keys(&self) -> Vec<&str> {
        match &self.values {
            Values::Strings { patterns, .. } => {
                patterns.iter().flat_map(Pattern::variable_keys).collect()
            }
            Values::Arns(patterns) => patterns
                .iter()
                .flat_map(ArnPattern::variable_keys)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Evaluates the clause against the request.
    pub fn holds(&self, request: &Request) -> bool {
        let values: &[String] = request
            .get_lowercase(&self.folded_key)
            .map_or(&[], ContextValue::as_slice);
        let absent = values.is_empty();
        if let Values::Null(expect_absent) = &self.values {
            return expect_absent.contains(&absent);
        }
        if absent {
            return match self.qualifier {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => false,
                SetQualifier::Single => self.if_exists || self.operator.is_negated(),
            };
        }
        let negated = self.operator.is_negated();
        let satisfied = |value: &String| -> Option<bool> {
            self.matches_any(value, request).map(|hit| hit != negated)
        };
        match self.qualifier {
            SetQualifier::Single => {
                let mut any_hit = false;
                for value in values {
                    match self.matches_any(value, request) {
                        Some(hit) => any_hit |= hit,
                        None => return false,
                    }
                }
                any_hit != negated
            }
            SetQualifier::ForAnyValue => values.iter().any(|v| satisfied(v) == Some(true)),
            SetQualifier::ForAllValues => values.iter().all(|v| satisfied(v) == Some(true)),
        }
    }

    /// Whether one request value matches any policy value under the positive form of the
    /// operator; `None` when the request value cannot be read as the operator's type.
    fn matches_any(&self, value: &str, request: &Request) -> Option<bool> {
        Some(match &self.values {
            Values::Strings {
                patterns,
                ignore_case,
            } => patterns
                .iter()
                .any(|p| p.matches(value, request, *ignore_case)),
            Values::Numbers { values, ordering } => {
                let number: f64 = value.trim().parse().ok()?;
                values.iter().any(|policy| ordering.holds(number, *policy))
            }
            Values::Dates { values, ordering } => {
                let date = parse_date(value.trim())?;
                values.iter().any(|policy| ordering.holds(date, *policy))
            }
            Values::Bools(bools) => {
                let flag = parse_bool(value)?;
                bools.contains(&flag)
            }
            Values::Binary(encoded) => encoded.iter().any(|policy| **policy == *value),
            Values::Networks(networks) => {
                let ip: IpAddr = value.trim().parse().ok()?;
                networks.iter().any(|network| network.contains(ip))
            }
            Values::Arns(patterns) => patterns.iter().any(|p| p.matches(value, request)),
            Values::Null(_) => false,
        })
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn compile_values(
    operator: Operator,
    operator_text: &str,
    raw: &[String],
    variables: bool,
) -> Result<Values, PolicyError> {
    use Operator as O;
    fn each<T>(
        raw: &[String],
        operator_text: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Box<[T]>, PolicyError> {
        raw.iter()
            .map(|value| {
                parse(value).ok_or_else(|| PolicyError::ConditionValue {
                    operator: operator_text.to_owned(),
                    value: value.clone(),
                })
            })
            .collect()
    }
    let strings = |wildcards: bool, ignore_case: bool| {
        let syntax = Syntax {
            wildcards,
            variables,
        };
        Values::Strings {
            patterns: raw
                .iter()
                .map(|v| Pattern::compile(v, syntax, false))
                .collect(),
            ignore_case,
        }
    };
    let ordering = match operator {
        O::NumericLessThan | O::DateLessThan => Ordering::Less,
        O::NumericLessThanEquals | O::DateLessThanEquals => Ordering::LessOrEqual,
        O::NumericGreaterThan | O::DateGreaterThan => Ordering::Greater,
        O::NumericGreaterThanEquals | O::DateGreaterThanEquals => Ordering::GreaterOrEqual,
        _ => Ordering::Equal,
    };
    Ok(match operator {
        O::StringEquals | O::StringNotEquals => strings(false, false),
        O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase => strings(false, true),
        O::StringLike | O::StringNotLike => strings(true, false),
        O::NumericEquals
        | O::NumericNotEquals
        | O::NumericLessThan
        | O::NumericLessThanEquals
        | O::NumericGreaterThan
        | O::NumericGreaterThanEquals => Values::Numbers {
            values: each(raw, operator_text, |v| v.trim().parse::<f64>().ok())?,
            ordering,
        },
        O::DateEquals
        | O::DateNotEquals
        | O::DateLessThan
        | O::DateLessThanEquals
        | O::DateGreaterThan
        | O::DateGreaterThanEquals => Values::Dates {
            values: each(raw, operator_text, |v| parse_date(v.trim()))?,
            ordering,
        },
        O::Bool => Values::Bools(each(raw, operator_text, parse_bool)?),
        O::BinaryEquals => Values::Binary(raw.iter().map(|v| v.as_str().into()).collect()),
        O::IpAddress | O::NotIpAddress => Values::Networks(each(raw, operator_text, Cidr::parse)?),
        O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike => Values::Arns(
            raw.iter()
                .map(|v| ArnPattern::compile(v, variables, true))
                .collect(),
        ),
        O::Null => Values::Null(each(raw, operator_text, parse_bool)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Principal;

    #[test]
    fn cidr_contains() {
        let net = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(net.contains("203.0.113.9".parse().unwrap()));
        assert!(!net.contains("203.0.114.9".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.1/33"), None);
        assert_eq!(Cidr::parse("10.0.0.1").unwrap().prefix, 32);
    }

    #[test]
    fn dates() {
        let a = parse_date("2020-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_date("1577836800"), Some(a));
        assert_eq!(parse_date("2020-01-01"), Some(a));
        assert_eq!(parse_date("2020-01-01T00:00:00"), Some(a));
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn operator_names_round_trip() {
        for (name, op) in OPERATORS {
            assert_eq!(Operator::from_name(name), Some(op));
            assert_eq!(op.name(), name);
        }
        assert_eq!(Operator::from_name("stringequals"), None);
    }

    #[test]
    fn unparseable_request_value_fails_even_negated() {
        let clause =
            Clause::compile("NumericNotEquals", "s3:max-keys", vec!["10".into()], true).unwrap();
        let request = Request::new(Principal::Anonymous, "s3:ListBucket", "*");
        assert!(clause.holds(&request.clone().with("s3:max-keys", "11")));
        assert!(!clause.holds(&request.clone().with("s3:max-keys", "10")));
        assert!(!clause.holds(&request.with("s3:max-keys", "ten")));
    }
}
