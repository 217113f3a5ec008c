//! IAM tags in a request, read with AWS's member checks (their rules on an entity are the
//! domain's: `podpass_control::iam::tags`).

use podpass_awsproto::{MemberType, QueryParams, Validation};
use podpass_control::iam::tags::MAX_TAGS;
use podpass_store::Tag;

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

/// Reads the required `TagKeys.member.N` of an untag operation, recording violations.
pub(super) fn read_tag_keys<'p>(
    params: &'p QueryParams,
    validation: &mut Validation,
) -> Vec<&'p str> {
    let Some(keys) = params.list("TagKeys") else {
        validation.require("TagKeys", None);
        return Vec::new();
    };
    validation.check_list_len("TagKeys", Some(&keys), MAX_TAGS);
    for (i, key) in keys.iter().enumerate() {
        validation.check(
            &format!("TagKeys.member.{}", i + 1),
            Some(key),
            MemberType::TagKey,
        );
    }
    keys
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
