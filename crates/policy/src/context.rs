//! The request being authorized: who, what action, which resource, and the context keys.

use std::sync::{Arc, OnceLock};

use crate::pattern::VariableSource;

/// The partition podpass serves.
pub use podpass_arn::PARTITION;

/// A role session (temporary credentials from AssumeRole*).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleSession {
    /// 12-digit account id.
    pub account: String,
    /// Role name.
    pub role_name: String,
    /// Role path, `/` or `/a/b/`.
    pub role_path: String,
    /// Role unique id (`AROA...`).
    pub role_id: String,
    /// Session name.
    pub session_name: String,
    /// Role tags already overlaid by session tags (session tags win): `aws:PrincipalTag/*`.
    pub tags: Vec<(String, String)>,
    /// The session's source identity, once set for the whole chain: `aws:SourceIdentity`.
    pub source_identity: Option<String>,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IamUser {
    /// 12-digit account id.
    pub account: String,
    /// User name.
    pub name: String,
    /// User path, `/` or `/a/b/`.
    pub path: String,
    /// User unique id (`AIDA...`).
    pub user_id: String,
    /// User tags: `aws:PrincipalTag/*`.
    pub tags: Vec<(String, String)>,
}

/// Who makes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account root user.
    AccountRoot {
        /// 12-digit account id.
        account: String,
    },
    /// A role session.
    AssumedRole(RoleSession),
    /// An IAM user.
    User(IamUser),
    /// A web-identity caller (AssumeRoleWithWebIdentity), identified by its IAM OIDC provider.
    WebIdentity {
        /// `arn:aws:iam::ACCT:oidc-provider/<host/path>`.
        provider_arn: String,
    },
    /// An AWS service principal such as `pods.eks.amazonaws.com`.
    Service {
        /// The service principal name.
        name: String,
    },
    /// An unauthenticated caller.
    Anonymous,
}

fn path_or_root(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

impl Principal {
    /// The account the principal belongs to, if any.
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::AccountRoot { account } => Some(account),
            Principal::AssumedRole(session) => Some(&session.account),
            Principal::User(user) => Some(&user.account),
            Principal::WebIdentity { .. } | Principal::Service { .. } | Principal::Anonymous => {
                None
            }
        }
    }

    /// The identity ARN of the caller (the session ARN for a role session).
    pub fn arn(&self) -> Option<String> {
        match self {
            Principal::AccountRoot { account } => Some(podpass_arn::account_root(account)),
            Principal::AssumedRole(s) => Some(podpass_arn::assumed_role(
                &s.account,
                &s.role_name,
                &s.session_name,
            )),
            Principal::User(u) => Some(podpass_arn::user(
                &u.account,
                path_or_root(&u.path),
                &u.name,
            )),
            Principal::WebIdentity { provider_arn } => Some(provider_arn.clone()),
            Principal::Service { .. } | Principal::Anonymous => None,
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Principal::AccountRoot { .. } => "Account",
            Principal::AssumedRole(_) => "AssumedRole",
            Principal::User(_) => "User",
            Principal::WebIdentity { .. } => "WebIdentityUser",
            Principal::Service { .. } => "AWSService",
            Principal::Anonymous => "Anonymous",
        }
    }
}

/// `arn:aws:iam::ACCT:role/PATH/NAME` of a session's role.
pub(crate) fn role_arn(session: &RoleSession) -> String {
    podpass_arn::role(
        &session.account,
        path_or_root(&session.role_path),
        &session.role_name,
    )
}

/// A context key's value: single-valued or a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValue {
    /// One value.
    Single(String),
    /// A set of values (e.g. `aws:TagKeys`, `<provider>:amr`); may be empty.
    Multi(Vec<String>),
}

impl ContextValue {
    /// All values as a slice (one element for `Single`).
    pub fn as_slice(&self) -> &[String] {
        match self {
            ContextValue::Single(value) => std::slice::from_ref(value),
            ContextValue::Multi(values) => values,
        }
    }
}

/// Who makes requests, with what evaluation derives from them: their ARNs and the
/// principal's global keys (`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:userid`,
/// `aws:username`, `aws:PrincipalType`, `aws:PrincipalTag/*`, `aws:FederatedProvider`, ...).
/// Built once per caller and shared by its requests, since deriving them (ARNs formatted, keys
/// lowercased) costs more than most decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalContext {
    principal: Principal,
    arns: PrincipalArns,
    keys: ContextKeys,
}

/// ARNs computed once for principal matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalArns {
    /// The caller's own ARN (session ARN for a role session).
    pub identity: Option<String>,
    /// The role ARN for a role session.
    pub role: Option<String>,
}

impl PrincipalContext {
    /// `principal` with its ARNs and keys derived.
    pub fn new(principal: Principal) -> Self {
        let arns = PrincipalArns {
            identity: principal.arn(),
            role: match &principal {
                Principal::AssumedRole(session) => Some(role_arn(session)),
                _ => None,
            },
        };
        let keys = principal_keys(&principal, &arns);
        PrincipalContext {
            principal,
            arns,
            keys,
        }
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

impl From<Principal> for Arc<PrincipalContext> {
    fn from(principal: Principal) -> Self {
        Arc::new(PrincipalContext::new(principal))
    }
}

/// The keys derived from `principal` (whose ARNs are `arns`).
fn principal_keys(principal: &Principal, arns: &PrincipalArns) -> ContextKeys {
    let mut keys = ContextKeys::default();
    keys.set("aws:PrincipalType", principal.principal_type());
    // The role's ARN, not the session's, for a role session.
    if let Some(arn) = arns.role.as_ref().or(arns.identity.as_ref()) {
        keys.set("aws:PrincipalArn", arn.as_str());
    }
    if let Some(account) = principal.account() {
        keys.set("aws:PrincipalAccount", account);
    }
    let tags = match principal {
        Principal::AccountRoot { account } => {
            keys.set("aws:userid", account.as_str());
            &[][..]
        }
        Principal::AssumedRole(s) => {
            keys.set("aws:userid", format!("{}:{}", s.role_id, s.session_name));
            if let Some(id) = &s.source_identity {
                keys.set("aws:SourceIdentity", id.as_str());
            }
            &s.tags[..]
        }
        Principal::User(u) => {
            keys.set("aws:userid", u.user_id.as_str());
            keys.set("aws:username", u.name.as_str());
            &u.tags[..]
        }
        Principal::WebIdentity { provider_arn } => {
            keys.set("aws:FederatedProvider", provider_arn.as_str());
            &[][..]
        }
        Principal::Service { name } => {
            keys.set("aws:PrincipalServiceName", name.as_str());
            keys.set("aws:PrincipalIsAWSService", "true");
            &[][..]
        }
        Principal::Anonymous => &[][..],
    };
    for (key, value) in tags {
        keys.set(&format!("aws:PrincipalTag/{key}"), value.as_str());
    }
    keys
}

/// Context keys, lowercased, in the order they were first set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ContextKeys(Vec<(Box<str>, ContextValue)>);

impl ContextKeys {
    fn set(&mut self, key: &str, value: impl Into<String>) {
        self.set_value(key, ContextValue::Single(value.into()));
    }

    fn set_value(&mut self, key: &str, value: ContextValue) {
        let key = key.to_lowercase();
        match self.0.iter_mut().find(|(k, _)| **k == *key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key.into_boxed_str(), value)),
        }
    }

    fn get(&self, key: &str) -> Option<&ContextValue> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, v)| v)
    }

    fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| **k != *key);
    }
}

/// `aws:CurrentTime` and `aws:EpochTime` of one instant, written out only if a policy reads
/// them: most decisions never do, and formatting the time costs more than many of them.
#[derive(Debug, Clone)]
struct RequestTime {
    now: jiff::Timestamp,
    current: OnceLock<ContextValue>,
    epoch: OnceLock<ContextValue>,
}

impl PartialEq for RequestTime {
    fn eq(&self, other: &Self) -> bool {
        self.now == other.now
    }
}

impl Eq for RequestTime {}

impl RequestTime {
    const CURRENT_TIME: &'static str = "aws:currenttime";
    const EPOCH_TIME: &'static str = "aws:epochtime";
    const KEYS: [&'static str; 2] = [Self::CURRENT_TIME, Self::EPOCH_TIME];

    fn get(&self, key: &str) -> Option<&ContextValue> {
        let (cell, write): (_, fn(jiff::Timestamp) -> String) = match key {
            Self::CURRENT_TIME => (&self.current, |now| now.to_string()),
            Self::EPOCH_TIME => (&self.epoch, |now| now.as_second().to_string()),
            _ => return None,
        };
        Some(cell.get_or_init(|| ContextValue::Single(write(self.now))))
    }
}

/// A request to authorize. Build it once per request; evaluation borrows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    principal: Arc<PrincipalContext>,
    action: String,
    resource: String,
    /// The request's own keys; a key set here hides the time's and the principal's key of
    /// that name.
    keys: ContextKeys,
    time: Option<RequestTime>,
}

impl Request {
    /// A request by `principal` (a [`Principal`], or the [`PrincipalContext`] of a caller
    /// kept across its requests) for `action` on `resource`, with the principal's keys set.
    pub fn new(
        principal: impl Into<Arc<PrincipalContext>>,
        action: &str,
        resource: impl Into<String>,
    ) -> Self {
        Request {
            principal: principal.into(),
            action: action.to_lowercase(),
            resource: resource.into(),
            keys: ContextKeys::default(),
            time: None,
        }
    }

    /// Every context key (lowercased) with its value: the principal's, the time's, then the
    /// request's.
    pub fn context(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        let principal = self
            .principal
            .keys
            .0
            .iter()
            .map(|(key, value)| (&**key, value));
        let time = self.time.iter().flat_map(|time| {
            RequestTime::KEYS
                .into_iter()
                .filter_map(|key| Some((key, time.get(key)?)))
        });
        principal
            .chain(time)
            .filter(|(key, _)| self.keys.get(key).is_none())
            .chain(self.keys.0.iter().map(|(key, value)| (&**key, value)))
    }

    /// Sets a single-valued context key (name case-insensitive), replacing any previous value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.keys.set(key, value);
    }

    /// Sets a context key to a single or multi value, replacing any previous value.
    pub fn set_value(&mut self, key: &str, value: ContextValue) {
        self.keys.set_value(key, value);
    }

    /// Builder form of [`Request::set`].
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Builder form of [`Request::set_value`] with a multivalued key.
    pub fn with_values(mut self, key: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.set_value(key, ContextValue::Multi(values));
        self
    }

    /// Sets `aws:RequestTag/<k>` for each tag and `aws:TagKeys` to their keys.
    pub fn set_request_tags(&mut self, tags: &[(&str, &str)]) {
        for (key, value) in tags {
            self.set(&format!("aws:RequestTag/{key}"), *value);
        }
        let keys = tags.iter().map(|(k, _)| (*k).to_owned()).collect();
        self.set_value("aws:TagKeys", ContextValue::Multi(keys));
    }

    /// Builder form of [`Request::set_request_tags`].
    pub fn with_request_tags(mut self, tags: &[(&str, &str)]) -> Self {
        self.set_request_tags(tags);
        self
    }

    /// Sets the web-identity claim keys of an AssumeRoleWithWebIdentity request:
    /// `<issuer>:sub`, `<issuer>:aud` and, when given, the multivalued `<issuer>:amr`, where
    /// `issuer` is the provider URL without scheme (e.g. `oidc.eks.us-west-2.amazonaws.com/id/X`).
    pub fn with_web_identity_claims(
        mut self,
        issuer: &str,
        sub: &str,
        aud: &str,
        amr: Option<&[&str]>,
    ) -> Self {
        self.set(&format!("{issuer}:sub"), sub);
        self.set(&format!("{issuer}:aud"), aud);
        if let Some(amr) = amr {
            let values = amr.iter().map(|v| (*v).to_owned()).collect();
            self.set_value(&format!("{issuer}:amr"), ContextValue::Multi(values));
        }
        self
    }

    /// Sets `aws:CurrentTime` (ISO 8601) and `aws:EpochTime` from one instant.
    pub fn with_time(mut self, now: jiff::Timestamp) -> Self {
        for key in RequestTime::KEYS {
            self.keys.remove(key);
        }
        self.time = Some(RequestTime {
            now,
            current: OnceLock::new(),
            epoch: OnceLock::new(),
        });
        self
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal.principal
    }

    /// The action, lowercased.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource ARN (or `*`).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// A context key's value (name case-insensitive).
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.get_lowercase(&key.to_lowercase());
        }
        self.get_lowercase(key)
    }

    /// Lookup by an already-lowercased key (compiled policies store keys lowercased).
    pub(crate) fn get_lowercase(&self, key: &str) -> Option<&ContextValue> {
        self.keys
            .get(key)
            .or_else(|| self.time.as_ref()?.get(key))
            .or_else(|| self.principal.keys.get(key))
    }

    pub(crate) fn principal_arns(&self) -> &PrincipalArns {
        &self.principal.arns
    }
}

impl VariableSource for Request {
    fn variable(&self, key: &str) -> Option<&str> {
        match self.get_lowercase(key)? {
            ContextValue::Single(value) => Some(value),
            ContextValue::Multi(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Principal {
        Principal::AssumedRole(RoleSession {
            account: "111122223333".into(),
            role_name: "app".into(),
            role_path: "/team/".into(),
            role_id: "AROAEXAMPLE".into(),
            session_name: "pod-1".into(),
            tags: vec![("team".into(), "blue".into())],
            source_identity: Some("alice".into()),
        })
    }

    fn single(request: &Request, key: &str) -> Option<String> {
        request.get(key).map(|v| v.as_slice().join(","))
    }

    #[test]
    fn derives_role_session_keys() {
        let r = Request::new(session(), "S3:GetObject", "*");
        assert_eq!(r.action(), "s3:getobject");
        assert_eq!(
            single(&r, "AWS:PrincipalArn").as_deref(),
            Some("arn:aws:iam::111122223333:role/team/app")
        );
        assert_eq!(
            single(&r, "aws:userid").as_deref(),
            Some("AROAEXAMPLE:pod-1")
        );
        assert_eq!(
            single(&r, "aws:PrincipalType").as_deref(),
            Some("AssumedRole")
        );
        assert_eq!(single(&r, "aws:PrincipalTag/team").as_deref(), Some("blue"));
        assert_eq!(single(&r, "aws:SourceIdentity").as_deref(), Some("alice"));
        assert_eq!(single(&r, "aws:username"), None);
        assert_eq!(
            r.principal().arn().as_deref(),
            Some("arn:aws:sts::111122223333:assumed-role/app/pod-1")
        );
    }

    #[test]
    fn a_shared_principal_context_serves_many_requests_and_request_keys_win() {
        let caller: Arc<PrincipalContext> = session().into();
        let first = Request::new(caller.clone(), "s3:GetObject", "*");
        let second = Request::new(caller.clone(), "s3:PutObject", "*")
            .with("aws:SourceIdentity", "bob")
            .with("aws:SourceIp", "10.0.0.1");
        assert_eq!(Arc::strong_count(&caller), 3);
        assert_eq!(first, Request::new(session(), "s3:GetObject", "*"));
        assert_eq!(
            single(&first, "aws:SourceIdentity").as_deref(),
            Some("alice")
        );
        assert_eq!(
            single(&second, "aws:SourceIdentity").as_deref(),
            Some("bob")
        );
        let keys: Vec<&str> = second.context().map(|(key, _)| key).collect();
        assert_eq!(
            keys.iter()
                .filter(|key| **key == "aws:sourceidentity")
                .count(),
            1
        );
        assert_eq!(keys.first(), Some(&"aws:principaltype"));
        assert_eq!(keys.last(), Some(&"aws:sourceip"));
        assert_eq!(
            second
                .context()
                .find(|(key, _)| *key == "aws:sourceidentity"),
            Some((
                "aws:sourceidentity",
                &ContextValue::Single("bob".to_owned())
            ))
        );
    }

    #[test]
    fn set_replaces_case_insensitively() {
        let r = Request::new(Principal::Anonymous, "s3:ListBucket", "*")
            .with("aws:SourceIp", "10.0.0.1")
            .with("AWS:SOURCEIP", "10.0.0.2");
        assert_eq!(single(&r, "aws:sourceip").as_deref(), Some("10.0.0.2"));
        let r = r.with_request_tags(&[("a", "1"), ("b", "2")]);
        assert_eq!(single(&r, "aws:TagKeys").as_deref(), Some("a,b"));
        assert_eq!(single(&r, "aws:RequestTag/b").as_deref(), Some("2"));
    }

    #[test]
    fn web_identity_and_time_keys() {
        let provider = "arn:aws:iam::111122223333:oidc-provider/issuer.example/id/1";
        let r = Request::new(
            Principal::WebIdentity {
                provider_arn: provider.into(),
            },
            "sts:AssumeRoleWithWebIdentity",
            "arn:aws:iam::111122223333:role/r",
        )
        .with_web_identity_claims(
            "issuer.example/id/1",
            "system:serviceaccount:a:b",
            "sts.amazonaws.com",
            Some(&["pwd", "mfa"]),
        )
        .with_time(jiff::Timestamp::from_second(1_577_836_800).unwrap());
        assert_eq!(
            single(&r, "aws:FederatedProvider").as_deref(),
            Some(provider)
        );
        assert_eq!(
            single(&r, "aws:PrincipalType").as_deref(),
            Some("WebIdentityUser")
        );
        assert_eq!(
            single(&r, "ISSUER.example/id/1:SUB").as_deref(),
            Some("system:serviceaccount:a:b")
        );
        assert_eq!(
            r.get("issuer.example/id/1:amr"),
            Some(&ContextValue::Multi(vec!["pwd".into(), "mfa".into()]))
        );
        assert_eq!(
            single(&r, "aws:CurrentTime").as_deref(),
            Some("2020-01-01T00:00:00Z")
        );
        assert_eq!(single(&r, "aws:EpochTime").as_deref(), Some("1577836800"));
        // Set after the time, a key replaces it; the time replaces keys set before it.
        let keys = |r: &Request| {
            r.context()
                .filter(|(key, _)| key.ends_with("time"))
                .map(|(key, value)| format!("{key}={}", value.as_slice().join(",")))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(&r),
            [
                "aws:currenttime=2020-01-01T00:00:00Z",
                "aws:epochtime=1577836800"
            ]
        );
        let r = r.with("AWS:EpochTime", "1");
        assert_eq!(single(&r, "aws:EpochTime").as_deref(), Some("1"));
        assert_eq!(
            keys(&r),
            ["aws:currenttime=2020-01-01T00:00:00Z", "aws:epochtime=1"]
        );
        let later = r.with_time(jiff::Timestamp::from_second(1_577_836_801).unwrap());
        assert_eq!(
            single(&later, "aws:EpochTime").as_deref(),
            Some("1577836801")
        );
        assert_eq!(keys(&later).len(), 2);
    }

    #[test]
    fn user_and_service_keys() {
        let user = Request::new(
            Principal::User(IamUser {
                account: "111122223333".into(),
                name: "alice".into(),
                path: "/ops/".into(),
                user_id: "AIDAEXAMPLE".into(),
                tags: vec![],
            }),
            "s3:GetObject",
            "*",
        );
        assert_eq!(single(&user, "aws:username").as_deref(), Some("alice"));
        assert_eq!(single(&user, "aws:userid").as_deref(), Some("AIDAEXAMPLE"));
        assert_eq!(
            single(&user, "aws:PrincipalArn").as_deref(),
            Some("arn:aws:iam::111122223333:user/ops/alice")
        );
        let service = Request::new(
            Principal::Service {
                name: "pods.eks.amazonaws.com".into(),
            },
            "sts:AssumeRole",
            "*",
        );
        assert_eq!(
            single(&service, "aws:PrincipalServiceName").as_deref(),
            Some("pods.eks.amazonaws.com")
        );
        assert_eq!(single(&service, "aws:PrincipalArn"), None);
        let root = Request::new(
            Principal::AccountRoot {
                account: "111122223333".into(),
            },
            "s3:GetObject",
            "*",
        );
        assert_eq!(
            single(&root, "aws:PrincipalArn").as_deref(),
            Some("arn:aws:iam::111122223333:root")
        );
        assert_eq!(
            single(&root, "aws:PrincipalType").as_deref(),
            Some("Account")
        );
    }
}
