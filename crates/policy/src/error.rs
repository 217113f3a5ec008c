//! Validation errors, worded as IAM's `MalformedPolicyDocument` messages.

use thiserror::Error;

/// Why a policy document was rejected; `message()` is the text IAM returns.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The text is not JSON, or its structure is not a policy document.
    #[error("Syntax errors in policy.")]
    Syntax,
    /// `Version` is neither `2012-10-17` nor `2008-10-17`.
    #[error("The policy failed legacy parsing")]
    Version,
    /// An element name IAM does not know (top level or statement).
    #[error("Unknown field {0}")]
    UnknownField(String),
    /// A required element is absent.
    #[error("Missing required field {0}")]
    MissingField(&'static str),
    /// An object names the same member twice (IAM refuses what JSON parsers resolve as
    /// last-wins); the message is IAM's generic one, the key is for logs.
    #[error("Syntax errors in policy.")]
    DuplicateKey(String),
    /// The document is over the size limit of its kind (checked before parsing, with
    /// [`crate::check_size`]); worded as S3's `PolicyTooLarge`, IAM and STS word their own.
    #[error("Policy exceeds the maximum allowed document size.")]
    TooLarge(#[from] crate::limits::SizeExceeded),
    /// `Effect` is not `Allow`/`Deny`.
    #[error("Invalid effect: {0}")]
    Effect(String),
    /// A statement has no `Action`/`NotAction` (or an empty list).
    #[error("Policy statement must contain actions.")]
    NoActions,
    /// A statement has no `Resource`/`NotResource` where the policy kind needs one.
    #[error("Policy document must contain resources.")]
    NoResources,
    /// An action or condition key without a `vendor:` prefix.
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    Vendor,
    /// A resource that is neither `*` nor an ARN.
    #[error("Resource {0} must be in ARN format or \"*\".")]
    Resource(String),
    /// A principal in a policy kind that forbids it (identity, session, boundary).
    #[error("Policy document should not specify a principal.")]
    PrincipalForbidden,
    /// A malformed principal value, rendered as `"Kind":"value"`.
    #[error("Invalid principal in policy: {0}")]
    Principal(String),
    /// A condition operator IAM does not know.
    #[error("Invalid Condition type : {0}")]
    ConditionType(String),
    /// A condition value the operator cannot interpret.
    #[error("Invalid value for condition operator {operator}: \"{value}\"")]
    ConditionValue {
        /// The operator as written.
        operator: String,
        /// The offending value.
        value: String,
    },
    /// Two statements share a `Sid`.
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid,
    /// A `Sid` with characters IAM rejects.
    #[error(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
    )]
    SidFormat,
}

impl PolicyError {
    /// The exact message the API layer returns in `MalformedPolicyDocument`.
    pub fn message(&self) -> String {
        self.to_string()
    }
}
