//! Size limits of policy documents: one table, one check, applied to the raw text before it is
//! parsed, so that an oversized document costs a scan and never a parse.
//!
//! Sources: IAM User Guide, "IAM and AWS STS quotas" (role trust policy 2,048 characters,
//! managed policy 6,144, aggregate inline policies of a role 10,240, "IAM does not count white
//! space when calculating the size of a policy against these quotas"); STS `AssumeRole*`
//! `Policy` ("the plaintext ... of inline and managed session policies can't exceed 2,048
//! characters"); Amazon S3 User Guide, "Bucket policies are limited to 20 KB in size" (counted
//! here as bytes of the document as sent, whitespace included: S3 documents no exemption).

/// How a limit measures a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Characters other than whitespace (IAM and STS quotas).
    NonWhitespaceChars,
    /// UTF-8 bytes of the document as sent (S3).
    Bytes,
}

impl Measure {
    /// The size of `text`, counting no further than `stop` (enough to know it is exceeded).
    fn size(self, text: &str, stop: usize) -> usize {
        match self {
            Measure::NonWhitespaceChars => text
                .chars()
                .filter(|c| !c.is_whitespace())
                .take(stop)
                .count(),
            Measure::Bytes => text.len(),
        }
    }
}

/// A policy document as its size limit sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizedDocument {
    /// A role's trust policy (IAM `LimitExceeded`, quota `ACLSizePerRole`).
    TrustPolicy,
    /// All inline policies of one role together (IAM `LimitExceeded`).
    InlineRolePolicies,
    /// All inline policies of one user together (IAM `LimitExceeded`).
    InlineUserPolicies,
    /// All inline policies of one group together (IAM `LimitExceeded`).
    InlineGroupPolicies,
    /// One version of a customer managed policy (IAM `LimitExceeded`, quota `PolicySize`).
    ManagedPolicy,
    /// A session policy passed to `AssumeRole*` (STS `PackedPolicyTooLarge`).
    SessionPolicy,
    /// An S3 bucket policy (S3 `PolicyTooLarge`).
    BucketPolicy,
}

/// The most a document of one kind may measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimit {
    /// The largest accepted size.
    pub max: usize,
    /// What is counted.
    pub measure: Measure,
}

impl SizedDocument {
    /// The limit of this kind of document: the one table every caller goes through.
    pub const fn limit(self) -> SizeLimit {
        let (max, measure) = match self {
            SizedDocument::TrustPolicy => (2048, Measure::NonWhitespaceChars),
            SizedDocument::InlineRolePolicies => (10_240, Measure::NonWhitespaceChars),
            SizedDocument::InlineUserPolicies => (2048, Measure::NonWhitespaceChars),
            SizedDocument::InlineGroupPolicies => (5120, Measure::NonWhitespaceChars),
            SizedDocument::ManagedPolicy => (6144, Measure::NonWhitespaceChars),
            SizedDocument::SessionPolicy => (2048, Measure::NonWhitespaceChars),
            SizedDocument::BucketPolicy => (20 * 1024, Measure::Bytes),
        };
        SizeLimit { max, measure }
    }
}

/// A document (or set of documents) over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{document:?} exceeds its size limit of {max}")]
pub struct SizeExceeded {
    /// What was checked.
    pub document: SizedDocument,
    /// The limit.
    pub max: usize,
}

/// Checks the documents that count together against the limit of `document` (one document,
/// or all inline policies of a role) and returns their size. Runs on the raw text: call it
/// before parsing.
pub fn check_size<'a>(
    document: SizedDocument,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<usize, SizeExceeded> {
    let limit = document.limit();
    let exceeded = SizeExceeded {
        document,
        max: limit.max,
    };
    let mut total = 0usize;
    for text in texts {
        let stop = limit.max - total + 1;
        total += limit.measure.size(text, stop);
        if total > limit.max {
            return Err(exceeded);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_iam_sts_and_s3_quotas() {
        let table = [
            (SizedDocument::TrustPolicy, 2048),
            (SizedDocument::InlineRolePolicies, 10_240),
            (SizedDocument::InlineUserPolicies, 2048),
            (SizedDocument::InlineGroupPolicies, 5120),
            (SizedDocument::ManagedPolicy, 6144),
            (SizedDocument::SessionPolicy, 2048),
            (SizedDocument::BucketPolicy, 20_480),
        ];
        for (document, max) in table {
            assert_eq!(document.limit().max, max, "{document:?}");
        }
    }

    #[test]
    fn whitespace_is_free_for_iam_and_counts_for_s3() {
        let spaced = format!("{}{}", " \n\t".repeat(5000), "x".repeat(2048));
        assert_eq!(check_size(SizedDocument::TrustPolicy, [&*spaced]), Ok(2048));
        let over = format!("{spaced}y");
        assert!(check_size(SizedDocument::TrustPolicy, [&*over]).is_err());
        let bytes = " ".repeat(20_480);
        assert_eq!(
            check_size(SizedDocument::BucketPolicy, [&*bytes]),
            Ok(20_480)
        );
        let over = " ".repeat(20_481);
        assert_eq!(
            check_size(SizedDocument::BucketPolicy, [&*over]),
            Err(SizeExceeded {
                document: SizedDocument::BucketPolicy,
                max: 20_480
            })
        );
    }

    #[test]
    fn inline_policies_of_a_role_count_together() {
        let half = "a".repeat(5120);
        assert_eq!(
            check_size(SizedDocument::InlineRolePolicies, [&*half, &*half]),
            Ok(10_240)
        );
        assert!(check_size(SizedDocument::InlineRolePolicies, [&*half, &*half, "b"]).is_err());
    }

    #[test]
    fn a_huge_document_is_refused_without_counting_it_all() {
        let huge = "x".repeat(1 << 20);
        assert!(check_size(SizedDocument::ManagedPolicy, [&*huge]).is_err());
        // The count stops one past the limit.
        assert_eq!(Measure::NonWhitespaceChars.size(&huge, 6145), 6145);
    }
}
