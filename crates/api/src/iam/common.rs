//! Helpers every IAM operation shares: store error mapping, ARNs, policy document checks and
//! loading the entity an action targets.

use podpass_awsproto::{AwsError, MemberType, NS_IAM, Validation, XmlResponse};
use podpass_policy::{Policy, PolicyKind, SizedDocument, catalogue, check_size};
use podpass_store::{Role, StoreError};

use crate::AppState;
use crate::call::Call;
use crate::call::authorize;
use crate::errors::internal;

/// Maps a store error to IAM's: `NotFound` is `NoSuchEntity` (the store's subject plus
/// " cannot be found.", or its message as is when it is a full sentence), `AlreadyExists` is
/// `EntityAlreadyExists`, `Conflict` is `DeleteConflict`; anything else is internal.
pub(super) fn store_error(error: StoreError) -> AwsError {
    match error {
        StoreError::NotFound(what) if what.ends_with('.') => AwsError::no_such_entity(what),
        StoreError::NotFound(what) => AwsError::no_such_entity(format!("{what} cannot be found.")),
        StoreError::AlreadyExists(what) => {
            AwsError::entity_already_exists(format!("{what} already exists."))
        }
        StoreError::Conflict(message) => AwsError::delete_conflict(message),
        other => internal(other),
    }
}

/// A success response of an IAM operation.
pub(super) fn response<'c>(operation: &'c str, call: &'c Call) -> XmlResponse<'c> {
    XmlResponse::new(operation, NS_IAM, &call.ctx.request_id)
}

/// Reads a required member and checks it against `member_type` (empty when absent: the
/// recorded violation fails the request before the value is used).
pub(super) fn required<'c>(
    call: &'c Call,
    validation: &mut Validation,
    member: &str,
    member_type: MemberType,
) -> &'c str {
    let value = call.params.get(member);
    validation
        .require(member, value)
        .check(member, value, member_type);
    value.unwrap_or_default()
}

/// Reads and validates the `RoleName` member of role operations.
pub(super) fn role_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "RoleName", MemberType::RoleName)
}

/// The account podpass acts as.
pub(super) fn account(state: &AppState) -> &str {
    &state.control.settings().account_id
}

/// Path and name of a managed policy ARN (`.../policy/a/b/Name` is `("/a/b/", "Name")`).
pub(super) fn split_policy_arn(arn: &str) -> (&str, &str) {
    let rest = arn.split_once(":policy").map_or(arn, |(_, rest)| rest);
    match rest.rfind('/') {
        Some(slash) => (&rest[..=slash], &rest[slash + 1..]),
        None => ("/", rest),
    }
}

/// Epoch seconds as a timestamp (the epoch itself for out-of-range values).
pub(super) fn timestamp(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).unwrap_or_default()
}

/// What a policy document is written as, which decides its grammar and size quota.
#[derive(Debug, Clone, Copy)]
pub(super) enum DocumentUse<'a> {
    /// A role's trust policy.
    Trust,
    /// An inline policy of the named role, whose other inline policies count with it.
    Inline {
        /// The role.
        role: &'a str,
        /// The documents of its other inline policies.
        others: &'a [&'a str],
    },
    /// A managed policy version.
    Managed,
    /// A document the simulator evaluates (no quota).
    Simulated(PolicyKind),
}

/// Checks `text` for `usage`: first IAM's size quota on the raw text (whitespace not counted)
/// as `LimitExceeded`, so an oversized document is never parsed; then the grammar, as
/// `MalformedPolicyDocument` with the parser's message.
pub(super) fn check_document(text: &str, usage: DocumentUse<'_>) -> Result<Policy, AwsError> {
    let (kind, sized) = match usage {
        DocumentUse::Trust => (PolicyKind::Trust, Some(SizedDocument::TrustPolicy)),
        DocumentUse::Inline { .. } => (
            PolicyKind::Identity,
            Some(SizedDocument::InlineRolePolicies),
        ),
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
            return Err(AwsError::limit_exceeded(match usage {
                DocumentUse::Inline { role, .. } => {
                    format!("Maximum policy size of {max} bytes exceeded for role {role}")
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
        AwsError::malformed_policy_document(e.message())
    })
}

/// Loads the role an action targets after authorizing the caller on its ARN. A missing role is
/// authorized against its root-path ARN first, so only permitted callers learn it is missing.
pub(super) async fn authorized_role(
    state: &AppState,
    call: &Call,
    action: &str,
    name: &str,
) -> Result<Role, AwsError> {
    let found = state.control.store().role(name).await;
    let arn = match &found {
        Ok(role) => role.arn.clone(),
        Err(_) => podpass_arn::role(account(state), "/", name),
    };
    authorize(state, call, action, &arn).await?;
    found.map_err(store_error)
}

/// Checks that a managed policy (AWS managed or of this account) exists and may be attached.
pub(super) async fn require_attachable(state: &AppState, arn: &str) -> Result<(), AwsError> {
    if catalogue::by_arn(arn).is_some() {
        return Ok(());
    }
    match state.control.store().policy(arn).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound(_)) => Err(AwsError::no_such_entity(format!(
            "Policy {arn} does not exist or is not attachable."
        ))),
        Err(e) => Err(internal(e)),
    }
}

/// Logs the workload-identity lint findings of a trust policy just written.
pub(super) fn lint_trust_policy(role: &str, policy: &Policy) {
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

/// Records a violation when `value` is longer than `max` UTF-16 units (members without a
/// pattern, such as policy descriptions).
pub(super) fn check_max_len(
    validation: &mut Validation,
    member: &str,
    value: Option<&str>,
    max: usize,
) {
    if let Some(value) = value
        && value.encode_utf16().count() > max
    {
        validation.violation(
            member,
            Some(value),
            &format!("Member must have length less than or equal to {max}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_split_into_path_and_name() {
        assert_eq!(
            split_policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
            ("/", "AmazonS3ReadOnlyAccess")
        );
        assert_eq!(
            split_policy_arn("arn:aws:iam::000000000000:policy/team/a/p1"),
            ("/team/a/", "p1")
        );
    }

    #[test]
    fn documents_are_sized_then_parsed() {
        let malformed = check_document("{", DocumentUse::Managed).unwrap_err();
        assert_eq!(
            (malformed.code.as_ref(), malformed.message.as_str()),
            ("MalformedPolicyDocument", "Syntax errors in policy.")
        );
        let actions: Vec<String> = (0..450).map(|i| format!("\"s3:GetObject{i}\"")).collect();
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
            actions.join(",")
        );
        let error = check_document(&big, DocumentUse::Managed).unwrap_err();
        assert_eq!(
            (error.code.as_ref(), error.status, error.message.as_str()),
            (
                "LimitExceeded",
                409,
                "Cannot exceed quota for PolicySize: 6144"
            )
        );
        let alone = DocumentUse::Inline {
            role: "r",
            others: &[],
        };
        assert!(check_document(&big, alone).is_ok());
        // The role's other inline policies count with it.
        let others = [big.as_str()];
        let error = check_document(
            &big,
            DocumentUse::Inline {
                role: "r",
                others: &others,
            },
        )
        .unwrap_err();
        assert_eq!(
            (error.code.as_ref(), error.message.as_str()),
            (
                "LimitExceeded",
                "Maximum policy size of 10240 bytes exceeded for role r"
            )
        );
        // Too large is said before malformed: the text is not parsed at all.
        let junk = "x".repeat(2049);
        let error = check_document(&junk, DocumentUse::Trust).unwrap_err();
        assert_eq!(
            (error.code.as_ref(), error.message.as_str()),
            (
                "LimitExceeded",
                "Cannot exceed quota for ACLSizePerRole: 2048"
            )
        );
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
        assert!(check_document(trust, DocumentUse::Trust).is_ok());
        let error = check_document(trust, alone).unwrap_err();
        assert_eq!(
            (error.code.as_ref(), error.message.as_str()),
            (
                "MalformedPolicyDocument",
                "Policy document should not specify a principal."
            )
        );
    }

    #[test]
    fn store_errors_map_to_iam_codes() {
        let missing = store_error(StoreError::NotFound("The role with name x".into()));
        assert_eq!(
            (
                missing.code.as_ref(),
                missing.status,
                missing.message.as_str()
            ),
            ("NoSuchEntity", 404, "The role with name x cannot be found.")
        );
        let sentence = store_error(StoreError::NotFound("Policy p was not found.".into()));
        assert_eq!(sentence.message, "Policy p was not found.");
        let exists = store_error(StoreError::AlreadyExists("Role with name x".into()));
        assert_eq!(
            (exists.code.as_ref(), exists.status, exists.message.as_str()),
            (
                "EntityAlreadyExists",
                409,
                "Role with name x already exists."
            )
        );
        let conflict = store_error(StoreError::Conflict("busy".into()));
        assert_eq!(
            (conflict.code.as_ref(), conflict.status),
            ("DeleteConflict", 409)
        );
    }
}
