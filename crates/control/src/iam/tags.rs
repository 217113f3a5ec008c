//! IAM tags on an entity: keys are unique case-insensitively, at most [`MAX_TAGS`] of them.

use podpass_store::Tag;

use crate::{Error, Invalid, Result};

/// Most tags an IAM entity (or one request) may carry.
pub const MAX_TAGS: usize = 50;

/// Rejects a request naming the same key twice (case-insensitively), as IAM.
pub(crate) fn check_unique_keys(tags: &[Tag]) -> Result<()> {
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i]
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            return Err(Error::invalid(
                Invalid::Input,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// `existing` with `added` applied: a key already present (any case) gets the new value and
/// keeps its position and spelling; new keys are appended. More than [`MAX_TAGS`] is
/// [`Error::LimitExceeded`].
pub(crate) fn merge_tags(existing: &[Tag], added: &[Tag]) -> Result<Vec<Tag>> {
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
        return Err(Error::limit_exceeded(
            "The number of tags has reached the maximum limit.",
        ));
    }
    Ok(merged)
}

/// `existing` without the tags whose key matches one of `keys` case-insensitively.
pub(crate) fn remove_tags(existing: &[Tag], keys: &[&str]) -> Vec<Tag> {
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
        assert!(matches!(error, Error::LimitExceeded { .. }));
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
        assert!(matches!(
            error,
            Error::Invalid {
                kind: Invalid::Input,
                ..
            }
        ));
    }
}
