//! Policy documents as IAM takes them: sized against the quota of what they are written as,
//! then parsed.

use podpass_policy::{Policy, PolicyKind, SizedDocument, check_size};

use super::PolicyHolder;
use crate::{Error, Invalid, Result};

/// What a policy document is written as, which decides its grammar and size quota.
#[derive(Debug, Clone, Copy)]
pub enum DocumentUse<'a> {
    /// A role's trust policy.
    Trust,
    /// An inline policy of the named role, user or group, whose other inline policies count
    /// with it.
    Inline {
        /// The holder.
        holder: PolicyHolder<'a>,
        /// The documents of its other inline policies.
        others: &'a [&'a str],
    },
    /// A managed policy version.
    Managed,
    /// A document the simulator evaluates (no quota).
    Simulated(PolicyKind),
}

/// Checks `text` for `usage`: first IAM's size quota on the raw text (whitespace not counted),
/// as [`Error::LimitExceeded`], so an oversized document is never parsed; then the grammar, as
/// [`Invalid::PolicyDocument`] with the parser's message.
pub fn check_document(text: &str, usage: DocumentUse<'_>) -> Result<Policy> {
    let (kind, sized) = match usage {
        DocumentUse::Trust => (PolicyKind::Trust, Some(SizedDocument::TrustPolicy)),
        DocumentUse::Inline { holder, .. } => (PolicyKind::Identity, Some(holder.inline_quota())),
        DocumentUse::Managed => (PolicyKind::Identity, Some(SizedDocument::ManagedPolicy)),
        DocumentUse::Simulated(kind) => (kind, None),
    };
    if let Some(sized) = sized {
        let others = match usage {
            DocumentUse::Inline { others, .. } => others,
            _ => &[][..],
        };
        if let Err(exceeded) = check_size(sized, others.iter().copied().chain([text])) {
            let max = exceeded.max;
            return Err(Error::limit_exceeded(match usage {
                DocumentUse::Inline { holder, .. } => {
                    let (kind, name) = match holder {
                        PolicyHolder::Role(name) => ("role", name),
                        PolicyHolder::User(name) => ("user", name),
                        PolicyHolder::Group(name) => ("group", name),
                    };
                    format!("Maximum policy size of {max} bytes exceeded for {kind} {name}")
                }
                DocumentUse::Managed => format!("Cannot exceed quota for PolicySize: {max}"),
                _ => format!("Cannot exceed quota for ACLSizePerRole: {max}"),
            }));
        }
    }
    Policy::parse(text, kind).map_err(|e| {
        if let podpass_policy::PolicyError::DuplicateKey(key) = &e {
            tracing::info!(%key, "policy document names a key twice");
        }
        Error::invalid(Invalid::PolicyDocument, e.message())
    })
}

/// Logs the workload-identity lint findings of a trust policy just written.
pub(crate) fn lint_trust_policy(role: &str, policy: &Policy) {
    for finding in podpass_policy::lint::lint(policy, PolicyKind::Trust) {
        tracing::warn!(
            role,
            code = finding.code,
            severity = ?finding.severity,
            statement = finding.statement,
            message = %finding.message,
            fix = %finding.fix,
            "trust policy lint"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: Result<Policy>) -> (String, String) {
        let error = result.unwrap_err();
        let name = match &error {
            Error::LimitExceeded { .. } => "LimitExceeded",
            Error::Invalid {
                kind: Invalid::PolicyDocument,
                ..
            } => "MalformedPolicyDocument",
            other => panic!("unexpected {other:?}"),
        };
        (name.to_owned(), error.to_string())
    }

    #[test]
    fn documents_are_sized_then_parsed() {
        assert_eq!(
            refusal(check_document("{", DocumentUse::Managed)),
            (
                "MalformedPolicyDocument".into(),
                "Syntax errors in policy.".into()
            )
        );
        let actions: Vec<String> = (0..450).map(|i| format!("\"s3:GetObject{i}\"")).collect();
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
            actions.join(",")
        );
        assert_eq!(
            refusal(check_document(&big, DocumentUse::Managed)),
            (
                "LimitExceeded".into(),
                "Cannot exceed quota for PolicySize: 6144".into()
            )
        );
        let alone = DocumentUse::Inline {
            holder: PolicyHolder::Role("r"),
            others: &[],
        };
        assert!(check_document(&big, alone).is_ok());
        // The role's other inline policies count with it.
        let others = [big.as_str()];
        let with_others = DocumentUse::Inline {
            holder: PolicyHolder::Role("r"),
            others: &others,
        };
        assert_eq!(
            refusal(check_document(&big, with_others)),
            (
                "LimitExceeded".into(),
                "Maximum policy size of 10240 bytes exceeded for role r".into()
            )
        );
        // A user's inline policies have a smaller quota, named after the user.
        let user = DocumentUse::Inline {
            holder: PolicyHolder::User("ci"),
            others: &[],
        };
        assert_eq!(
            refusal(check_document(&big, user)),
            (
                "LimitExceeded".into(),
                "Maximum policy size of 2048 bytes exceeded for user ci".into()
            )
        );
        // Too large is said before malformed: the text is not parsed at all.
        let junk = "x".repeat(2049);
        assert_eq!(
            refusal(check_document(&junk, DocumentUse::Trust)),
            (
                "LimitExceeded".into(),
                "Cannot exceed quota for ACLSizePerRole: 2048".into()
            )
        );
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
        assert!(check_document(trust, DocumentUse::Trust).is_ok());
        assert_eq!(
            refusal(check_document(trust, alone)),
            (
                "MalformedPolicyDocument".into(),
                "Policy document should not specify a principal.".into()
            )
        );
    }
}
