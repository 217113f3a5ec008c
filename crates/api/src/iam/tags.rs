//! IAM tags: request parsing with AWS's member checks, and merging into an entity's tags
//! (keys are unique case-insensitively, at most 50 per entity).

use podpass_awsproto::{AwsError, MemberType, QueryParams, Validation};
use podpass_store::Tag;

/// Most tags an IAM entity (or one request) may carry.
pub(super) const MAX_TAGS: usize = 50;

/// Reads `Tags.member.N.{Key,Value}`, recording violations; `None` when absent.
pub(super) fn read_tags(params: &QueryParams, validation: &mut Validation) -> Option<Vec<Tag>> {
    let members = params.structs("Tags")?;
    validation.check_list_len("Tags", Some(&members), MAX_TAGS);
    let tags = members
        .iter()
        .map(|member| {
            let key = member.get("Key");
            let value = member.get("Value");
            validation
                .require(&member.field_name("Key"), key)
                .check(&member.field_name("Key"), key, MemberType::TagKey)
                .require(&member.field_name("Value"), value)
                .check(&member.field_name("Value"), value, MemberType::TagValue);
            Tag {
                key: key.unwrap_or_default().to_owned(),
                value: value.unwrap_or_default().to_owned(),
            }
        })
        .collect();
    Some(tags)
}

/// Rejects a request naming the same key twice (case-insensitively), as IAM.
pub(super) fn check_unique_keys(tags: &[Tag]) -> Result<(), AwsError> {
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i]
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            return Err(AwsError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// `existing` with `added` applied: a key already present (any case) gets the new value and
/// keeps its position and spelling; new keys are appended. More than [`MAX_TAGS`] is
/// `LimitExceeded`.
pub(super) fn merge_tags(existing: &[Tag], added: &[Tag]) -> Result<Vec<Tag>, AwsError> {
    let mut merged = existing.to_vec();
    for tag in added {
        match merged
            .iter_mut()
            .find(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            Some(slot) => slot.value.clone_from(&tag.value),
            None => merged.push(tag.clone()),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(AwsError::limit_exceeded(
            "The number of tags has reached the maximum limit.",
        ));
    }
    Ok(merged)
}

/// `existing` without the tags whose key matches one of `keys` case-insensitively.
pub(super) fn remove_tags(existing: &[Tag], keys: &[&str]) -> Vec<Tag> {
    existing
        .iter()
        .filter(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn merge_replaces_case_insensitively_and_appends() {
        let existing = [tag("Team", "a"), tag("env", "dev")];
        let merged = merge_tags(&existing, &[tag("team", "b"), tag("owner", "me")]).unwrap();
        assert_eq!(
            merged,
            [tag("Team", "b"), tag("env", "dev"), tag("owner", "me")]
        );
    }

    #[test]
    fn merge_enforces_the_limit() {
        let existing: Vec<Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert_eq!(
            merge_tags(&existing, &[tag("K0", "x"), tag("new", "v")])
                .unwrap()
                .len(),
            50
        );
        let error = merge_tags(&existing, &[tag("a", "1"), tag("b", "2")]).unwrap_err();
        assert_eq!((error.code.as_ref(), error.status), ("LimitExceeded", 409));
    }

    #[test]
    fn remove_ignores_case_and_unknown_keys() {
        let existing = [tag("Team", "a"), tag("env", "dev")];
        assert_eq!(
            remove_tags(&existing, &["TEAM", "nope"]),
            [tag("env", "dev")]
        );
    }

    #[test]
    fn duplicate_keys_are_invalid_input() {
        assert!(check_unique_keys(&[tag("a", "1"), tag("b", "2")]).is_ok());
        let error = check_unique_keys(&[tag("a", "1"), tag("A", "2")]).unwrap_err();
        assert_eq!(error.code, "InvalidInput");
    }

    #[test]
    fn reads_and_validates_request_tags() {
        let params = QueryParams::parse(b"Tags.member.1.Key=team&Tags.member.1.Value=x&Tags.member.2.Key=a*b&Tags.member.2.Value=y");
        let mut validation = Validation::new();
        let tags = read_tags(&params, &mut validation).unwrap();
        assert_eq!(tags, [tag("team", "x"), tag("a*b", "y")]);
        assert_eq!(
            validation.finish().unwrap_err().message,
            r"1 validation error detected: Value 'a*b' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+"
        );
        let mut validation = Validation::new();
        assert_eq!(
            read_tags(&QueryParams::parse(b"X=1"), &mut validation),
            None
        );
        let missing = QueryParams::parse(b"Tags.member.1.Key=k");
        read_tags(&missing, &mut validation);
        assert!(
            validation
                .finish()
                .unwrap_err()
                .message
                .contains("Value null at 'tags.1.member.value'")
        );
    }
}
