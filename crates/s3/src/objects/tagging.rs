//! Object and bucket tags as S3 takes them: at most 10 on an object and 50 on a bucket, keys of
//! 1 to 128 and values of up to 256 characters, no key twice, none under `aws:`.
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketTagging.html>

use s3s::dto::{Tag, TagSet};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// S3's limit on an object's tags.
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// S3's limit on a bucket's tags.
pub(crate) const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// Tags, in the order they were given.
pub(crate) type Tags = Vec<(String, String)>;

fn too_many(max: usize) -> S3Error {
    let what = if max == MAX_OBJECT_TAGS {
        "Object tags"
    } else {
        "Bucket tag count"
    };
    let mut error = S3Error::with_message(
        S3ErrorCode::Custom("BadRequest".into()),
        format!("{what} cannot be greater than {max}"),
    );
    error.set_status_code(http::StatusCode::BAD_REQUEST);
    error
}

/// What S3 accepts in a tag: letters, digits, spaces and `+ - = . _ : / @`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c)
}

/// `tags` if S3 takes them as at most `max` tags.
fn validated(tags: Tags, max: usize) -> S3Result<Tags> {
    if tags.len() > max {
        return Err(too_many(max));
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_KEY_CHARS || !key.chars().all(tag_char) {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if key
            .get(..4)
            .is_some_and(|head| head.eq_ignore_ascii_case("aws:"))
        {
            return Err(s3_error!(
                InvalidTag,
                "Your TagKey cannot be prefixed with aws:"
            ));
        }
        if value.chars().count() > MAX_VALUE_CHARS || !value.chars().all(tag_char) {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid"
            ));
        }
        if tags[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    Ok(tags)
}

/// The pairs of a `Tagging` body as sent, not yet validated (what authorization sees).
pub(crate) fn pairs(set: &TagSet) -> Tags {
    set.iter()
        .map(|tag| {
            (
                tag.key.clone().unwrap_or_default(),
                tag.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The tags of a `Tagging` body, at most `max` of them.
pub(crate) fn from_tag_set(set: &TagSet, max: usize) -> S3Result<Tags> {
    validated(pairs(set), max)
}

/// The pairs of an `x-amz-tagging` header as sent, not yet validated (what authorization
/// sees): URL-encoded `key=value` pairs joined by `&`.
pub(crate) fn header_pairs(header: &str) -> Tags {
    form_urlencoded::parse(header.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// The tags of an `x-amz-tagging` header, validated.
pub(crate) fn from_header(header: &str) -> S3Result<Tags> {
    let tags = header_pairs(header);
    if tags
        .iter()
        .enumerate()
        .any(|(i, (key, _))| tags[..i].iter().any(|(earlier, _)| earlier == key))
    {
        return Err(s3_error!(
            InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
        ));
    }
    validated(tags, MAX_OBJECT_TAGS)
}

/// The tags as S3's `TagSet`.
pub(crate) fn to_tag_set(tags: &Tags) -> TagSet {
    tags.iter()
        .map(|(key, value)| Tag {
            key: Some(key.clone()),
            value: Some(value.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: S3Result<Tags>) -> String {
        result.unwrap_err().code().as_str().to_owned()
    }

    #[test]
    fn a_header_is_url_encoded_pairs() {
        assert_eq!(
            from_header("team=blue&path=a%2Fb&empty=").unwrap(),
            vec![
                ("team".to_owned(), "blue".to_owned()),
                ("path".to_owned(), "a/b".to_owned()),
                ("empty".to_owned(), String::new()),
            ]
        );
        assert_eq!(code(from_header("a=1&a=2")), "InvalidArgument");
    }

    #[test]
    fn s3s_limits_and_characters_are_enforced() {
        let eleven = (0..11)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(code(from_header(&eleven)), "BadRequest");
        assert_eq!(code(from_header("aws%3Ateam=x")), "InvalidTag");
        assert_eq!(
            code(from_header(&format!("{}=x", "k".repeat(129)))),
            "InvalidTag"
        );
        assert_eq!(
            code(from_header(&format!("k={}", "v".repeat(257)))),
            "InvalidTag"
        );
        assert_eq!(code(from_header("k=%3Cscript%3E")), "InvalidTag");
        assert_eq!(code(from_header("=v")), "InvalidTag");
        let fifty: TagSet = (0..50)
            .map(|i| Tag {
                key: Some(format!("k{i}")),
                value: Some("v".to_owned()),
            })
            .collect();
        assert_eq!(from_tag_set(&fifty, MAX_BUCKET_TAGS).unwrap().len(), 50);
        assert_eq!(code(from_tag_set(&fifty, MAX_OBJECT_TAGS)), "BadRequest");
    }
}
