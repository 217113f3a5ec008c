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
mod limits;
pub mod lint;
mod pattern;
mod principal;
mod span;
mod unique;

pub use condition::{Clause, Operator, SetQualifier};
pub use context::{
    ContextValue, IamUser, PARTITION, Principal, PrincipalContext, Request, RoleSession,
};
pub use document::{
    Effect, Matcher, Policy, PolicyKind, Statement, VERSION_2012, non_whitespace_chars,
};
pub use error::PolicyError;
pub use eval::{Decision, NamedPolicy, PolicySet, PolicyType, evaluate, evaluate_trust};
pub use explain::{
    ConditionTrace, Explanation, MatchedStatement, evaluate_explained, evaluate_trust_explained,
};
pub use limits::{Measure, SizeExceeded, SizeLimit, SizedDocument, check_size};
pub use principal::{PrincipalEntry, PrincipalMatch};
pub use span::{Position, Span};
