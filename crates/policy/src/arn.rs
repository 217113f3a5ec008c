//! ARN patterns: the first five colon-separated segments are matched one by one (a `*`
//! never crosses a `:` there); the sixth (resource) segment may span `:` and `/`.

use crate::pattern::{Pattern, Syntax, VariableSource};

/// The number of colon-separated segments in an ARN (`arn:partition:service:region:account:resource`).
const SEGMENTS: usize = 6;

/// A compiled ARN pattern, as used by `Resource`, `NotResource` and the `Arn*` operators.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArnPattern {
    /// `*`: every resource.
    Any,
    /// Per-segment patterns (fewer than six only for malformed input, which then matches
    /// only ARNs with the same segment count).
    Segments(Box<[Pattern]>),
}

impl ArnPattern {
    /// Compiles `text`; `variables_anywhere` allows `${...}` in every segment (condition
    /// values), otherwise `variables` applies to the resource segment only (`Resource`).
    pub(crate) fn compile(text: &str, variables: bool, variables_anywhere: bool) -> Self {
        if text == "*" {
            return ArnPattern::Any;
        }
        let segments = split_segments(text, variables && variables_anywhere)
            .into_iter()
            .enumerate()
            .map(|(index, segment)| {
                let syntax = Syntax {
                    wildcards: true,
                    variables: variables && (variables_anywhere || index == SEGMENTS - 1),
                };
                Pattern::compile(segment, syntax, false)
            })
            .collect();
        ArnPattern::Segments(segments)
    }

    /// True when `text` is `*` or in ARN format (`arn:` and a partition); IAM accepts
    /// short wildcard forms such as `arn:aws:iam::*`, which then match nothing longer.
    pub(crate) fn is_valid_resource(text: &str) -> bool {
        text == "*"
            || text
                .strip_prefix("arn:")
                .is_some_and(|rest| rest.split(':').count() >= 2)
    }

    /// Matches an ARN against this pattern.
    pub(crate) fn matches(&self, arn: &str, vars: &impl VariableSource) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Segments(patterns) => {
                let mut subject = arn.splitn(SEGMENTS, ':');
                let all_match = patterns.iter().all(|pattern| {
                    subject
                        .next()
                        .is_some_and(|segment| pattern.matches(segment, vars, false))
                });
                all_match && subject.next().is_none()
            }
        }
    }

    /// Keys of the policy variables the pattern references.
    pub(crate) fn variable_keys(&self) -> impl Iterator<Item = &str> {
        let patterns: &[Pattern] = match self {
            ArnPattern::Any => &[],
            ArnPattern::Segments(patterns) => patterns,
        };
        patterns.iter().flat_map(Pattern::variable_keys)
    }
}

/// Splits into at most six segments at `:`, never inside a `${...}` variable when `variables`.
fn split_segments(text: &str, variables: bool) -> Vec<&str> {
    let mut segments = Vec::with_capacity(SEGMENTS);
    let mut start = 0;
    let mut in_variable = false;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'$' if variables && bytes.get(i + 1) == Some(&b'{') => in_variable = true,
            b'}' => in_variable = false,
            b':' if !in_variable && segments.len() < SEGMENTS - 1 => {
                segments.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    segments.push(&text[start..]);
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::NoVariables;

    fn m(pattern: &str, arn: &str) -> bool {
        ArnPattern::compile(pattern, true, false).matches(arn, &NoVariables)
    }

    #[test]
    fn per_segment_matching() {
        assert!(m("*", "anything"));
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"));
        assert!(!m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket"));
        assert!(m(
            "arn:aws:iam::*:role/*",
            "arn:aws:iam::123456789012:role/x"
        ));
        // `*` cannot swallow a colon in the first five segments.
        assert!(!m("arn:aws:*:role/x", "arn:aws:iam::1:role/x"));
        assert!(m(
            "arn:aws:ec2:*:*:instance/*",
            "arn:aws:ec2:us-east-1:1:instance/i-1"
        ));
        assert!(!m("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket"));
        assert!(!m("arn:aws:s3:::bucket", "not-an-arn"));
    }

    #[test]
    fn variables_keep_their_colons() {
        assert_eq!(
            split_segments("arn:aws:iam::${aws:PrincipalAccount}:role/x", true),
            ["arn", "aws", "iam", "", "${aws:PrincipalAccount}", "role/x"]
        );
        assert_eq!(
            split_segments("a:b:c:d:e:f:g", false),
            ["a", "b", "c", "d", "e", "f:g"]
        );
    }

    #[test]
    fn resource_validation() {
        assert!(ArnPattern::is_valid_resource("*"));
        assert!(ArnPattern::is_valid_resource("arn:aws:s3:::b"));
        assert!(!ArnPattern::is_valid_resource("bucket"));
        assert!(ArnPattern::is_valid_resource("arn:aws:iam::*"));
        assert!(!ArnPattern::is_valid_resource("arn:aws"));
    }
}
