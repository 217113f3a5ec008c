//! The simulator's typed `ContextEntries`: each `ContextKeyType` checks its values, and list
//! types become multivalued context keys.

use podpass_awsproto::{AwsError, QueryParams, Validation};
use podpass_policy::ContextValue;

use super::common::check_max_len;

const KEY_TYPES: &str = "[string, stringList, numeric, numericList, boolean, booleanList, ip, ipList, binary, binaryList, date, dateList]";

/// The value grammar of a context key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    String,
    Numeric,
    Boolean,
    Ip,
    Binary,
    Date,
}

impl ValueKind {
    /// The kind and whether the type is a list type.
    fn parse(key_type: &str) -> Option<(Self, bool)> {
        let (base, list) = match key_type.strip_suffix("List") {
            Some(base) => (base, true),
            None => (key_type, false),
        };
        let kind = match base {
            "string" => ValueKind::String,
            "numeric" => ValueKind::Numeric,
            "boolean" => ValueKind::Boolean,
            "ip" => ValueKind::Ip,
            "binary" => ValueKind::Binary,
            "date" => ValueKind::Date,
            _ => return None,
        };
        Some((kind, list))
    }

    /// The value as the engine should see it, or `None` when it is not of this kind.
    fn normalize(self, value: &str) -> Option<String> {
        let valid = match self {
            ValueKind::String | ValueKind::Binary => true,
            ValueKind::Numeric => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            ValueKind::Boolean => {
                return match value.trim().to_ascii_lowercase().as_str() {
                    b @ ("true" | "false") => Some(b.to_owned()),
                    _ => None,
                };
            }
            ValueKind::Ip => is_ip_or_cidr(value.trim()),
            ValueKind::Date => is_date(value.trim()),
        };
        valid.then(|| value.to_owned())
    }
}

fn is_ip_or_cidr(value: &str) -> bool {
    let (address, prefix) = value.split_once('/').unwrap_or((value, ""));
    let Ok(ip) = address.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_empty() || prefix.parse::<u8>().is_ok_and(|p| p <= max)
}

/// ISO 8601 timestamp, date-time or date, or epoch seconds (what IAM's date operators read).
fn is_date(value: &str) -> bool {
    value.parse::<jiff::Timestamp>().is_ok()
        || value.parse::<jiff::civil::DateTime>().is_ok()
        || value.parse::<jiff::civil::Date>().is_ok()
        || (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads `ContextEntries.member.N.{ContextKeyName,ContextKeyValues,ContextKeyType}`: member
/// violations go to `validation`; values that do not fit their type are `InvalidInput`.
pub(super) fn read_context_entries(
    params: &QueryParams,
    validation: &mut Validation,
) -> Result<Vec<(String, ContextValue)>, AwsError> {
    let mut entries = Vec::new();
    for member in params.structs("ContextEntries").unwrap_or_default() {
        let name_member = member.field_name("ContextKeyName");
        let name = member.get("ContextKeyName");
        validation.require(&name_member, name);
        if let Some(name) = name
            && name.encode_utf16().count() < 5
        {
            validation.violation(
                &name_member,
                Some(name),
                "Member must have length greater than or equal to 5",
            );
        }
        check_max_len(validation, &name_member, name, 256);
        let key_type = member.get("ContextKeyType").unwrap_or("string");
        let Some((kind, is_list)) = ValueKind::parse(key_type) else {
            validation.violation(
                &member.field_name("ContextKeyType"),
                Some(key_type),
                &format!("Member must satisfy enum value set: {KEY_TYPES}"),
            );
            continue;
        };
        let name = name.unwrap_or_default();
        let raw = member.list("ContextKeyValues").unwrap_or_default();
        let values = raw
            .iter()
            .map(|value| {
                kind.normalize(value).ok_or_else(|| {
                    AwsError::invalid_input(format!(
                        "Invalid value '{value}' for context key {name} of type {key_type}."
                    ))
                })
            })
            .collect::<Result<Vec<String>, AwsError>>()?;
        let value = match (is_list, values.len()) {
            (true, _) => ContextValue::Multi(values),
            (false, 1) => ContextValue::Single(values.into_iter().next().unwrap_or_default()),
            (false, _) => {
                return Err(AwsError::invalid_input(format!(
                    "Context key {name} of type {key_type} takes exactly one value."
                )));
            }
        };
        entries.push((name.to_owned(), value));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(query: &str) -> Result<Vec<(String, ContextValue)>, AwsError> {
        let params = QueryParams::parse(query.as_bytes());
        let mut validation = Validation::new();
        let entries = read_context_entries(&params, &mut validation)?;
        validation.finish()?;
        Ok(entries)
    }

    fn single(key: &str, value: &str) -> (String, ContextValue) {
        (key.to_owned(), ContextValue::Single(value.to_owned()))
    }

    #[test]
    fn typed_values_are_checked_and_lists_are_multivalued() {
        let entries = read(
            "ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.1.ContextKeyType=ip\
&ContextEntries.member.2.ContextKeyName=aws%3ATagKeys&ContextEntries.member.2.ContextKeyValues.member.1=a&ContextEntries.member.2.ContextKeyValues.member.2=b&ContextEntries.member.2.ContextKeyType=stringList\
&ContextEntries.member.3.ContextKeyName=aws%3ASecureTransport&ContextEntries.member.3.ContextKeyValues.member.1=TRUE&ContextEntries.member.3.ContextKeyType=boolean\
&ContextEntries.member.4.ContextKeyName=aws%3AEpochTime&ContextEntries.member.4.ContextKeyValues.member.1=1700000000&ContextEntries.member.4.ContextKeyType=numeric\
&ContextEntries.member.5.ContextKeyName=aws%3ACurrentTime&ContextEntries.member.5.ContextKeyValues.member.1=2024-01-01T00%3A00%3A00Z&ContextEntries.member.5.ContextKeyType=date\
&ContextEntries.member.6.ContextKeyName=team%3Aname&ContextEntries.member.6.ContextKeyValues.member.1=x",
        )
        .unwrap();
        assert_eq!(
            entries,
            vec![
                single("aws:SourceIp", "10.0.0.1"),
                (
                    "aws:TagKeys".to_owned(),
                    ContextValue::Multi(vec!["a".into(), "b".into()])
                ),
                single("aws:SecureTransport", "true"),
                single("aws:EpochTime", "1700000000"),
                single("aws:CurrentTime", "2024-01-01T00:00:00Z"),
                single("team:name", "x"),
            ]
        );
        assert_eq!(read("").unwrap(), vec![]);
    }

    #[test]
    fn values_of_the_wrong_type_are_invalid_input() {
        for (key_type, value) in [
            ("ip", "10.0.0.999"),
            ("ipList", "10.0.0.0%2F40"),
            ("numeric", "ten"),
            ("boolean", "yes"),
            ("date", "yesterday"),
        ] {
            let error = read(&format!(
                "ContextEntries.member.1.ContextKeyName=aws%3Akey&ContextEntries.member.1.ContextKeyValues.member.1={value}&ContextEntries.member.1.ContextKeyType={key_type}"
            ))
            .unwrap_err();
            assert_eq!(error.code, "InvalidInput", "{key_type} {value}");
        }
        let two = read(
            "ContextEntries.member.1.ContextKeyName=aws%3Akey&ContextEntries.member.1.ContextKeyValues.member.1=a&ContextEntries.member.1.ContextKeyValues.member.2=b&ContextEntries.member.1.ContextKeyType=string",
        );
        assert_eq!(two.unwrap_err().code, "InvalidInput");
    }

    #[test]
    fn bad_members_are_validation_errors() {
        let error = read("ContextEntries.member.1.ContextKeyName=a%3Ab&ContextEntries.member.1.ContextKeyType=text").unwrap_err();
        assert_eq!(error.code, "ValidationError");
        assert_eq!(
            error.message,
            format!(
                "2 validation errors detected: Value 'a:b' at 'contextEntries.1.member.contextKeyName' failed to satisfy constraint: Member must have length greater than or equal to 5; Value 'text' at 'contextEntries.1.member.contextKeyType' failed to satisfy constraint: Member must satisfy enum value set: {KEY_TYPES}"
            )
        );
    }
}
