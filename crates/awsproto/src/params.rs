//! Query-protocol parameters (`Action=..&Version=..&Name.member.N=..`).

use std::collections::BTreeMap;

use crate::error::AwsError;
use crate::validate::{Validation, single_violation};

/// Decoded form parameters of a query-protocol request, in arrival order, with lookups by name
/// (the first occurrence of a repeated name wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    index: BTreeMap<String, usize>,
}

impl QueryParams {
    /// Parses an `application/x-www-form-urlencoded` body or a GET query string
    /// (`+` is a space; invalid UTF-8 becomes U+FFFD).
    pub fn parse(input: &[u8]) -> Self {
        let mut params = Self::default();
        for (name, value) in form_urlencoded::parse(input) {
            let position = params.pairs.len();
            params.index.entry(name.to_string()).or_insert(position);
            params.pairs.push((name.into_owned(), value.into_owned()));
        }
        params
    }

    /// All parameters in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `Action`.
    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    /// `Version`.
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.pairs[i].1.as_str())
    }

    /// The value of `name`, or a `ValidationError` (`Value null at 'name' ... must not be null`).
    pub fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| not_null(name))
    }

    /// An integer member; a non-integer is a `ValidationError`.
    pub fn i64(&self, name: &str) -> Result<Option<i64>, AwsError> {
        self.get(name)
            .map(|raw| {
                raw.trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(name, raw, "Member must be an integer"))
            })
            .transpose()
    }

    /// An integer member that must lie in `min..=max`, with AWS's range messages.
    pub fn i64_in_range(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
        let value = self.i64(name)?;
        Validation::new()
            .check_range(name, value, min, max)
            .finish()?;
        Ok(value)
    }

    /// A boolean member (`true`/`false`, any case).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, AwsError> {
        self.get(name)
            .map(|raw| match raw.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(invalid(
                    name,
                    raw,
                    "Member must be a boolean (true or false)",
                )),
            })
            .transpose()
    }

    /// A list of scalars `name.member.N` in N order; `Some(vec![])` for an explicitly empty
    /// list (`name=`), `None` when the list is absent.
    pub fn list(&self, name: &str) -> Option<Vec<&str>> {
        let mut items: Vec<(u32, &str)> = self
            .members_of(name)
            .filter(|(_, rest, _)| rest.is_empty())
            .map(|(n, _, value)| (n, value))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.dedup_by_key(|(n, _)| *n);
        if items.is_empty() {
            return self.get(name).map(|_| Vec::new());
        }
        Some(items.into_iter().map(|(_, value)| value).collect())
    }

    /// A list of structures `name.member.N.<Field>` in N order, each read through a [`Member`];
    /// `Some(vec![])` for an explicitly empty list, `None` when absent.
    pub fn structs(&self, name: &str) -> Option<Vec<Member<'_>>> {
        let mut indexes: Vec<u32> = self
            .members_of(name)
            .filter(|(_, rest, _)| rest.starts_with('.'))
            .map(|(n, _, _)| n)
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        if indexes.is_empty() {
            return self.get(name).map(|_| Vec::new());
        }
        Some(
            indexes
                .into_iter()
                .map(|index| Member {
                    params: self,
                    prefix: format!("{name}.member.{index}"),
                    index,
                })
                .collect(),
        )
    }

    /// `(N, text after N, value)` for every `name.member.N...` key (N a positive integer).
    fn members_of<'s>(&'s self, name: &str) -> impl Iterator<Item = (u32, &'s str, &'s str)> + 's {
        let prefix = format!("{name}.member.");
        let skip = prefix.len();
        self.index
            .range(prefix.clone()..)
            .take_while(move |(key, _)| key.starts_with(&prefix))
            .filter_map(move |(key, &position)| {
                let tail = &key[skip..];
                let digits_end = tail
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(tail.len());
                let index: u32 = tail[..digits_end].parse().ok().filter(|n| *n > 0)?;
                Some((index, &tail[digits_end..], self.pairs[position].1.as_str()))
            })
    }
}

/// One structure of a `name.member.N.<Field>` list.
#[derive(Debug, Clone)]
pub struct Member<'p> {
    params: &'p QueryParams,
    prefix: String,
    index: u32,
}

impl<'p> Member<'p> {
    /// The 1-based position `N`.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The wire prefix, e.g. `Tags.member.1`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The wire name of `field`, e.g. `Tags.member.1.Key`.
    pub fn field_name(&self, field: &str) -> String {
        format!("{}.{field}", self.prefix)
    }

    /// A scalar field.
    pub fn get(&self, field: &str) -> Option<&'p str> {
        self.params.get(&self.field_name(field))
    }

    /// A required scalar field (`Value null at 'tags.1.member.value' ...` when absent).
    pub fn required(&self, field: &str) -> Result<&'p str, AwsError> {
        let name = self.field_name(field);
        self.params.get(&name).ok_or_else(|| not_null(&name))
    }

    /// A nested scalar list `<prefix>.<field>.member.M`.
    pub fn list(&self, field: &str) -> Option<Vec<&'p str>> {
        self.params.list(&self.field_name(field))
    }

    /// A nested structure list `<prefix>.<field>.member.M.<Field>`.
    pub fn structs(&self, field: &str) -> Option<Vec<Member<'p>>> {
        self.params.structs(&self.field_name(field))
    }
}

fn not_null(name: &str) -> AwsError {
    single_violation(name, None, "Member must not be null")
}

fn invalid(name: &str, raw: &str, constraint: &str) -> AwsError {
    single_violation(name, Some(raw), constraint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_keeps_order() {
        let params =
            QueryParams::parse(b"Action=AssumeRole&Version=2011-06-15&A=x+y%2Bz&A=second&Flag");
        assert_eq!(params.action(), Some("AssumeRole"));
        assert_eq!(params.version(), Some("2011-06-15"));
        assert_eq!(params.get("A"), Some("x y+z"));
        assert_eq!(params.get("Flag"), Some(""));
        assert_eq!(params.get("Missing"), None);
        assert_eq!(params.len(), 5);
        assert!(!params.is_empty());
        let names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["Action", "Version", "A", "A", "Flag"]);
        assert!(QueryParams::parse(b"").is_empty());
    }

    #[test]
    fn required_reports_aws_validation_error() {
        let params = QueryParams::parse(b"Action=AssumeRole");
        let error = params.required("RoleArn").unwrap_err();
        assert_eq!(error.code, "ValidationError");
        assert_eq!(error.status, 400);
        assert_eq!(
            error.message,
            "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(params.required("Action"), Ok("AssumeRole"));
    }

    #[test]
    fn typed_getters() {
        let params = QueryParams::parse(b"D=3600&Low=5&Bad=12a&T=true&F=FALSE&B=yes");
        assert_eq!(params.i64("D"), Ok(Some(3600)));
        assert_eq!(params.i64("Nope"), Ok(None));
        assert_eq!(
            params.i64("Bad").unwrap_err().message,
            "1 validation error detected: Value '12a' at 'bad' failed to satisfy constraint: Member must be an integer"
        );
        assert_eq!(params.i64_in_range("D", 900, 43_200), Ok(Some(3600)));
        assert_eq!(
            params.i64_in_range("Low", 900, 43_200).unwrap_err().message,
            "1 validation error detected: Value '5' at 'low' failed to satisfy constraint: Member must have value greater than or equal to 900"
        );
        assert_eq!(params.bool("T"), Ok(Some(true)));
        assert_eq!(params.bool("F"), Ok(Some(false)));
        assert_eq!(params.bool("Nope"), Ok(None));
        assert_eq!(params.bool("B").unwrap_err().code, "ValidationError");
    }

    #[test]
    fn lists_in_index_order() {
        let params = QueryParams::parse(
            b"L.member.10=ten&L.member.2=two&L.member.1=one&L.member.x=bad&L.member.0=zero&L.member.2=dup&Other.member.1=o",
        );
        assert_eq!(params.list("L"), Some(vec!["one", "two", "ten"]));
        assert_eq!(params.list("Absent"), None);
        let empty = QueryParams::parse(b"ClientIDList=&Action=X");
        assert_eq!(empty.list("ClientIDList"), Some(vec![]));
        assert!(empty.structs("ClientIDList").unwrap().is_empty());
        assert!(params.structs("L").is_none());
    }

    #[test]
    fn structs_and_nested_lists() {
        let params = QueryParams::parse(
            b"Tags.member.2.Key=k2&Tags.member.2.Value=v2&Tags.member.1.Key=k1&Tags.member.1.Value=v1&Tags.member.3.Key=k3\
&ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyValues.member.2=10.0.0.2\
&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.1.ContextKeyType=ipList",
        );
        let tags = params.structs("Tags").unwrap();
        let pairs: Vec<(u32, Option<&str>, Option<&str>)> = tags
            .iter()
            .map(|t| (t.index(), t.get("Key"), t.get("Value")))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (1, Some("k1"), Some("v1")),
                (2, Some("k2"), Some("v2")),
                (3, Some("k3"), None)
            ]
        );
        assert_eq!(tags[0].prefix(), "Tags.member.1");
        assert_eq!(
            tags[2].required("Value").unwrap_err().message,
            "1 validation error detected: Value null at 'tags.3.member.value' failed to satisfy constraint: Member must not be null"
        );
        let entries = params.structs("ContextEntries").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].required("ContextKeyName"), Ok("aws:SourceIp"));
        assert_eq!(entries[0].get("ContextKeyType"), Some("ipList"));
        assert_eq!(
            entries[0].list("ContextKeyValues"),
            Some(vec!["10.0.0.1", "10.0.0.2"])
        );
        assert!(entries[0].structs("ContextKeyValues").is_none());
    }

    #[test]
    fn similar_prefixes_do_not_mix() {
        let params = QueryParams::parse(b"Tag.member.1=a&Tags.member.1=b&TagsX.member.1=c");
        assert_eq!(params.list("Tags"), Some(vec!["b"]));
        assert_eq!(params.list("Tag"), Some(vec!["a"]));
    }
}
