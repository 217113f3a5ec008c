//! podpass-policy: the IAM policy engine. Parse and validate policy documents once into a
//! compiled form, then evaluate requests against them quickly, explain decisions and lint
//! workload-identity mistakes. Pure logic: no I/O, no async.

mod arn;
pub mod catalogue;
mod condition;
mod context;
mod document;
mod error;
mod eval;
mod explain;
pub mod lint;
mod pattern;
mod principal;
mod span;
mod unique;

pub use condition::{Clause, Operator, SetQualifier};
pub use context::{ContextValue, IamUser, PARTITION, Principal, Request, RoleSession};
pub use document::{
    Effect, INLINE_ROLE_POLICY_MAX_CHARS, MANAGED_POLICY_MAX_CHARS, Matcher, Policy, PolicyKind,
    SESSION_POLICY_MAX_CHARS, Statement, TRUST_POLICY_MAX_CHARS, VERSION_2012,
    non_whitespace_chars,
};
pub use error::PolicyError;
pub use eval::{Decision, NamedPolicy, PolicySet, PolicyType, evaluate, evaluate_trust};
pub use explain::{
    ConditionTrace, Explanation, MatchedStatement, evaluate_explained, evaluate_trust_explained,
};
pub use principal::{PrincipalEntry, PrincipalMatch};
pub use span::{Position, Span};
