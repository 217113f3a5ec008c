//! Policy documents: parse, validate per [`PolicyKind`], and compile for fast evaluation.

use serde_json::{Map, Value};

use crate::arn::ArnPattern;
use crate::condition::Clause;
use crate::context::Request;
use crate::error::PolicyError;
use crate::pattern::{Pattern, Syntax, VariableSource};
use crate::principal::{PrincipalEntry, PrincipalMatch};
use crate::span::{Span, statement_spans};

/// Counts characters the way IAM sizes managed policies (whitespace excluded).
pub fn non_whitespace_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// The version that enables policy variables.
pub const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";

/// What the document is used as; decides which elements are required or forbidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Inline or managed policy attached to a role/user.
    Identity,
    /// Session policy passed to AssumeRole*.
    Session,
    /// Permissions boundary.
    Boundary,
    /// Resource-based policy (e.g. S3 bucket policy).
    Resource,
    /// Role trust policy.
    Trust,
}

impl PolicyKind {
    fn forbids_principal(self) -> bool {
        matches!(
            self,
            PolicyKind::Identity | PolicyKind::Session | PolicyKind::Boundary
        )
    }

    fn requires_resource(self) -> bool {
        self != PolicyKind::Trust
    }

    /// IAM-managed kinds restrict `Sid` to alphanumerics; resource policies (S3) do not.
    fn alphanumeric_sid(self) -> bool {
        self != PolicyKind::Resource
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies explicitly.
    Deny,
}

/// A list of patterns, possibly negated (`NotAction`, `NotResource`, `NotPrincipal`).
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher<T> {
    /// True for the `Not...` element.
    pub negated: bool,
    /// The listed entries.
    pub entries: Box<[T]>,
}

/// A validated, compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// 0-based index in the policy.
    pub index: usize,
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    pub(crate) actions: Matcher<Pattern>,
    pub(crate) action_texts: Box<[Box<str>]>,
    pub(crate) resources: Option<Matcher<ArnPattern>>,
    /// `Principal`/`NotPrincipal`, if present.
    pub principals: Option<Matcher<PrincipalEntry>>,
    /// `Condition` clauses (all must hold).
    pub conditions: Box<[Clause]>,
    /// Location of the statement object in the source.
    pub span: Option<Span>,
}

impl Statement {
    /// Whether the action is covered (`Action`) or not excluded (`NotAction`); `action` is lowercased.
    pub(crate) fn covers_action(&self, action: &str) -> bool {
        let hit = self
            .actions
            .entries
            .iter()
            .any(|p| p.matches(action, &crate::pattern::NoVariables, false));
        hit != self.actions.negated
    }

    /// Whether the resource is covered; statements without a resource element cover all.
    pub(crate) fn covers_resource(&self, resource: &str, vars: &impl VariableSource) -> bool {
        match &self.resources {
            None => true,
            Some(matcher) => {
                let hit = matcher.entries.iter().any(|p| p.matches(resource, vars));
                hit != matcher.negated
            }
        }
    }

    /// How the principal element names the caller; statements without one apply to the caller.
    pub(crate) fn principal_match(&self, request: &Request) -> Option<PrincipalMatch> {
        let Some(matcher) = &self.principals else {
            return Some(PrincipalMatch::Direct);
        };
        let best = matcher
            .entries
            .iter()
            .filter_map(|e| e.matches(request))
            .max();
        match (matcher.negated, best) {
            (false, found) => found,
            (true, Some(_)) => None,
            (true, None) => PrincipalEntry::Everyone.matches(request),
        }
    }

    /// Whether every condition clause holds.
    pub(crate) fn conditions_hold(&self, request: &Request) -> bool {
        self.conditions.iter().all(|c| c.holds(request))
    }

    /// The actions as written (`Action` or `NotAction`).
    pub fn action_texts(&self) -> impl Iterator<Item = &str> {
        self.action_texts.iter().map(|a| &**a)
    }

    /// True for `NotAction`.
    pub fn is_not_action(&self) -> bool {
        self.actions.negated
    }

    /// True when the statement covers every resource (`Resource: "*"` or no resource element).
    pub fn covers_all_resources(&self) -> bool {
        match &self.resources {
            None => true,
            Some(m) => !m.negated && m.entries.contains(&ArnPattern::Any),
        }
    }

    /// True when `Action` is `*` (all actions).
    pub fn covers_all_actions(&self) -> bool {
        !self.actions.negated && self.actions.entries.iter().any(Pattern::is_match_all)
    }
}

/// A validated, compiled policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    version: Option<String>,
    id: Option<String>,
    statements: Box<[Statement]>,
}

impl Policy {
    /// Parses and validates `source` as a policy of `kind`.
    pub fn parse(source: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let value = crate::unique::parse(source)?;
        let Value::Object(top) = value else {
            return Err(PolicyError::Syntax);
        };
        for key in top.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(PolicyError::UnknownField(key.clone()));
            }
        }
        let version = match top.get("Version") {
            None => None,
            Some(Value::String(v)) if v == VERSION_2012 || v == VERSION_2008 => Some(v.clone()),
            Some(Value::String(_)) => return Err(PolicyError::Version),
            Some(_) => return Err(PolicyError::Syntax),
        };
        let id = optional_string(&top, "Id")?;
        let variables = version.as_deref() == Some(VERSION_2012);
        let raw_statements = match top.get("Statement") {
            Some(Value::Object(statement)) => vec![statement],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|item| item.as_object().ok_or(PolicyError::Syntax))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(PolicyError::Syntax),
            None => return Err(PolicyError::MissingField("Statement")),
        };
        let spans = statement_spans(source);
        let spans_usable = spans.len() == raw_statements.len();
        let mut statements = Vec::with_capacity(raw_statements.len());
        for (index, raw) in raw_statements.into_iter().enumerate() {
            let mut statement = compile_statement(index, raw, kind, variables)?;
            statement.span = spans_usable.then(|| spans[index]);
            statements.push(statement);
        }
        check_sids(&statements, kind)?;
        Ok(Policy {
            kind,
            version,
            id,
            statements: statements.into_boxed_slice(),
        })
    }

    /// The kind the policy was validated as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// `Version`, if present.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// `Id`, if present.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The compiled statements in source order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Whether a condition tests a key starting with `prefix` (case-insensitive, as keys are):
    /// what tells a caller that a costly key (an object's tags) must be read for this policy.
    pub fn tests_keys_starting(&self, prefix: &str) -> bool {
        self.statements
            .iter()
            .flat_map(|statement| statement.conditions.iter())
            .any(|clause| {
                clause
                    .key()
                    .get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            })
    }
}

fn check_sids(statements: &[Statement], kind: PolicyKind) -> Result<(), PolicyError> {
    for (i, statement) in statements.iter().enumerate() {
        let Some(sid) = statement.sid.as_deref() else {
            continue;
        };
        if kind.alphanumeric_sid() && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(PolicyError::SidFormat);
        }
        if !sid.is_empty()
            && statements[..i]
                .iter()
                .any(|s| s.sid.as_deref() == Some(sid))
        {
            return Err(PolicyError::DuplicateSid);
        }
    }
    Ok(())
}

fn optional_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, PolicyError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PolicyError::Syntax),
    }
}

/// A string or a list of strings.
fn string_list(value: &Value) -> Result<Vec<&str>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().ok_or(PolicyError::Syntax))
            .collect(),
        _ => Err(PolicyError::Syntax),
    }
}

/// Exactly one of `name`/`not_name`, as a string list.
fn either<'a>(
    raw: &'a Map<String, Value>,
    name: &str,
    not_name: &str,
) -> Result<Option<(bool, Vec<&'a str>)>, PolicyError> {
    match (raw.get(name), raw.get(not_name)) {
        (Some(_), Some(_)) => Err(PolicyError::Syntax),
        (Some(v), None) => Ok(Some((false, string_list(v)?))),
        (None, Some(v)) => Ok(Some((true, string_list(v)?))),
        (None, None) => Ok(None),
    }
}

const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

fn compile_statement(
    index: usize,
    raw: &Map<String, Value>,
    kind: PolicyKind,
    variables: bool,
) -> Result<Statement, PolicyError> {
    if let Some(unknown) = raw.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
        return Err(PolicyError::UnknownField(unknown.clone()));
    }
    let sid = optional_string(raw, "Sid")?;
    let effect = match raw.get("Effect") {
        None => return Err(PolicyError::MissingField("Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => return Err(PolicyError::Effect(e.clone())),
        Some(_) => return Err(PolicyError::Syntax),
    };
    let principals = compile_principals(raw, kind)?;
    let (actions, action_texts) = compile_actions(raw)?;
    let resources = compile_resources(raw, kind, variables)?;
    let conditions = match raw.get("Condition") {
        None => Box::default(),
        Some(value) => compile_conditions(value, variables)?,
    };
    Ok(Statement {
        index,
        sid,
        effect,
        actions,
        action_texts,
        resources,
        principals,
        conditions,
        span: None,
    })
}

/// Compiled action patterns and the actions as written.
type CompiledActions = (Matcher<Pattern>, Box<[Box<str>]>);

fn compile_actions(raw: &Map<String, Value>) -> Result<CompiledActions, PolicyError> {
    let Some((negated, actions)) = either(raw, "Action", "NotAction")? else {
        return Err(PolicyError::NoActions);
    };
    if actions.is_empty() {
        return Err(PolicyError::NoActions);
    }
    let syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    let mut entries = Vec::with_capacity(actions.len());
    for action in &actions {
        let has_vendor = action
            .split_once(':')
            .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty());
        if *action != "*" && !has_vendor {
            return Err(PolicyError::Vendor);
        }
        entries.push(Pattern::compile(action, syntax, true));
    }
    let texts = actions.iter().map(|a| (*a).into()).collect();
    Ok((
        Matcher {
            negated,
            entries: entries.into_boxed_slice(),
        },
        texts,
    ))
}

fn compile_resources(
    raw: &Map<String, Value>,
    kind: PolicyKind,
    variables: bool,
) -> Result<Option<Matcher<ArnPattern>>, PolicyError> {
    let Some((negated, resources)) = either(raw, "Resource", "NotResource")? else {
        return if kind.requires_resource() {
            Err(PolicyError::NoResources)
        } else {
            Ok(None)
        };
    };
    if resources.is_empty() {
        return Err(PolicyError::NoResources);
    }
    let entries = resources
        .iter()
        .map(|resource| {
            if ArnPattern::is_valid_resource(resource) {
                Ok(ArnPattern::compile(resource, variables, false))
            } else {
                Err(PolicyError::Resource((*resource).to_owned()))
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Matcher { negated, entries }))
}

fn compile_principals(
    raw: &Map<String, Value>,
    kind: PolicyKind,
) -> Result<Option<Matcher<PrincipalEntry>>, PolicyError> {
    let (negated, value) = match (raw.get("Principal"), raw.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(PolicyError::Syntax),
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (None, None) if kind.forbids_principal() => return Ok(None),
        (None, None) => return Err(PolicyError::MissingField("Principal")),
    };
    if kind.forbids_principal() {
        return Err(PolicyError::PrincipalForbidden);
    }
    let entries = match value {
        Value::String(s) if s == "*" => vec![PrincipalEntry::Everyone],
        Value::String(s) => return Err(PolicyError::Principal(format!("\"{s}\""))),
        Value::Object(map) if !map.is_empty() => {
            let mut entries = Vec::new();
            for (principal_kind, values) in map {
                let values = string_list(values)?;
                if values.is_empty() {
                    return Err(PolicyError::Principal(format!("\"{principal_kind}\":[]")));
                }
                for v in values {
                    entries.push(PrincipalEntry::parse(principal_kind, v)?);
                }
            }
            entries
        }
        _ => return Err(PolicyError::Syntax),
    };
    Ok(Some(Matcher {
        negated,
        entries: entries.into_boxed_slice(),
    }))
}

/// A condition value: string, number or boolean, or a list of them.
fn condition_values(value: &Value) -> Result<Vec<String>, PolicyError> {
    fn scalar(value: &Value) -> Result<String, PolicyError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(PolicyError::Syntax),
        }
    }
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

fn compile_conditions(value: &Value, variables: bool) -> Result<Box<[Clause]>, PolicyError> {
    let Value::Object(operators) = value else {
        return Err(PolicyError::Syntax);
    };
    let mut clauses = Vec::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            return Err(PolicyError::Syntax);
        };
        for (key, values) in keys {
            clauses.push(Clause::compile(
                operator,
                key,
                condition_values(values)?,
                variables,
            )?);
        }
    }
    Ok(clauses.into_boxed_slice())
}
