//! Kubernetes RBAC over the roles and bindings applied to the local cluster: whether a user
//! may do a verb on a resource, as the API server's RBAC authorizer decides (rules add up;
//! nothing denies).

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};

/// Who asks: a user and their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    /// A ServiceAccount as the API server authenticates its tokens.
    pub(crate) fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_owned(),
            ],
        }
    }
}

/// What is asked: a verb on a resource, in a namespace or the whole cluster, maybe by name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// The roles and bindings of the cluster.
#[derive(Debug, Default)]
pub(crate) struct Rbac {
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
}

impl Rbac {
    /// Whether some binding of `user` grants `request`.
    pub(crate) fn allows(&self, user: &User, request: &Request<'_>) -> bool {
        let cluster_wide = self
            .cluster_role_bindings
            .iter()
            .filter(|binding| binds(binding.subjects.as_deref(), user, None))
            .filter(|binding| binding.role_ref.kind == "ClusterRole")
            .any(|binding| self.cluster_role_allows(&binding.role_ref.name, request));
        if cluster_wide {
            return true;
        }
        // A RoleBinding grants only in its own namespace.
        let Some(namespace) = request.namespace else {
            return false;
        };
        self.role_bindings
            .iter()
            .filter(|binding| binding.metadata.namespace.as_deref() == Some(namespace))
            .filter(|binding| binds(binding.subjects.as_deref(), user, Some(namespace)))
            .any(|binding| match binding.role_ref.kind.as_str() {
                "ClusterRole" => self.cluster_role_allows(&binding.role_ref.name, request),
                "Role" => self.roles.iter().any(|role| {
                    role.metadata.namespace.as_deref() == Some(namespace)
                        && role.metadata.name.as_deref() == Some(binding.role_ref.name.as_str())
                        && rules_allow(role.rules.as_deref(), request)
                }),
                _ => false,
            })
    }

    fn cluster_role_allows(&self, name: &str, request: &Request<'_>) -> bool {
        self.cluster_roles.iter().any(|role| {
            role.metadata.name.as_deref() == Some(name)
                && rules_allow(role.rules.as_deref(), request)
        })
    }
}

/// Whether `subjects` name `user`; a ServiceAccount subject without a namespace takes the
/// binding's (`binding_namespace`).
fn binds(subjects: Option<&[Subject]>, user: &User, binding_namespace: Option<&str>) -> bool {
    subjects
        .unwrap_or_default()
        .iter()
        .any(|subject| match subject.kind.as_str() {
            "ServiceAccount" => subject
                .namespace
                .as_deref()
                .or(binding_namespace)
                .is_some_and(|namespace| {
                    user.name == format!("system:serviceaccount:{namespace}:{}", subject.name)
                }),
            "User" => user.name == subject.name,
            "Group" => user.groups.contains(&subject.name),
            _ => false,
        })
}

fn rules_allow(rules: Option<&[PolicyRule]>, request: &Request<'_>) -> bool {
    rules
        .unwrap_or_default()
        .iter()
        .any(|rule| rule_allows(rule, request))
}

fn rule_allows(rule: &PolicyRule, request: &Request<'_>) -> bool {
    let has = |list: Option<&Vec<String>>, value: &str| {
        list.is_some_and(|list| list.iter().any(|item| item == "*" || item == value))
    };
    let names_match = match rule.resource_names.as_deref() {
        None | Some([]) => true,
        // Names restrict requests for one object only (a list or watch names none).
        Some(names) => request
            .name
            .is_some_and(|name| names.iter().any(|n| n == name)),
    };
    rule.verbs
        .iter()
        .any(|verb| verb == "*" || verb == request.verb)
        && has(rule.api_groups.as_ref(), request.api_group)
        && has(rule.resources.as_ref(), request.resource)
        && names_match
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    fn rbac() -> Rbac {
        Rbac {
            cluster_roles: vec![
                from(json!({"metadata": {"name": "sa-reader"}, "rules": [
                    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list", "watch"]}]})),
                from(json!({"metadata": {"name": "one-secret"}, "rules": [
                    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["tls"], "verbs": ["get"]}]})),
            ],
            cluster_role_bindings: vec![from(json!({
                "metadata": {"name": "webhook"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "sa-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "webhook", "namespace": "podpass"}]}))],
            roles: vec![from(
                json!({"metadata": {"name": "cm", "namespace": "apps"}, "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]}),
            )],
            role_bindings: vec![
                from(json!({"metadata": {"name": "cm", "namespace": "apps"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm"},
                    "subjects": [{"kind": "ServiceAccount", "name": "app"}]})),
                from(json!({"metadata": {"name": "tls", "namespace": "podpass"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "one-secret"},
                    "subjects": [{"kind": "Group", "name": "system:serviceaccounts:podpass"}]})),
            ],
        }
    }

    fn ask<'a>(
        verb: &'a str,
        resource: &'a str,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Request<'a> {
        Request {
            verb,
            api_group: "",
            resource,
            namespace,
            name,
        }
    }

    #[test]
    fn a_cluster_role_binding_grants_everywhere_and_only_its_verbs() {
        let rbac = rbac();
        let webhook = User::service_account("podpass", "webhook");
        assert!(rbac.allows(&webhook, &ask("list", "serviceaccounts", None, None)));
        assert!(rbac.allows(
            &webhook,
            &ask("get", "serviceaccounts", Some("apps"), Some("x"))
        ));
        assert!(!rbac.allows(
            &webhook,
            &ask("delete", "serviceaccounts", Some("apps"), Some("x"))
        ));
        assert!(!rbac.allows(&webhook, &ask("get", "secrets", Some("apps"), Some("x"))));
        // The same name in another namespace is another ServiceAccount.
        let other = User::service_account("apps", "webhook");
        assert!(!rbac.allows(&other, &ask("list", "serviceaccounts", None, None)));
    }

    #[test]
    fn a_role_binding_grants_in_its_namespace_only() {
        let rbac = rbac();
        let app = User::service_account("apps", "app");
        assert!(rbac.allows(&app, &ask("watch", "configmaps", Some("apps"), None)));
        assert!(!rbac.allows(&app, &ask("watch", "configmaps", Some("other"), None)));
        assert!(!rbac.allows(&app, &ask("watch", "configmaps", None, None)));
    }

    #[test]
    fn resource_names_restrict_to_named_gets_and_groups_bind() {
        let rbac = rbac();
        let anyone = User::service_account("podpass", "job");
        assert!(rbac.allows(
            &anyone,
            &ask("get", "secrets", Some("podpass"), Some("tls"))
        ));
        assert!(!rbac.allows(&anyone, &ask("get", "secrets", Some("podpass"), Some("db"))));
        assert!(!rbac.allows(&anyone, &ask("get", "secrets", Some("podpass"), None)));
        assert!(!rbac.allows(&anyone, &ask("get", "secrets", Some("apps"), Some("tls"))));
    }

    #[test]
    fn nothing_is_granted_without_a_binding() {
        let nobody = User::service_account("apps", "nobody");
        assert!(!rbac().allows(
            &nobody,
            &ask("get", "serviceaccounts", Some("apps"), Some("nobody"))
        ));
        assert!(!Rbac::default().allows(&nobody, &ask("get", "pods", Some("apps"), None)));
    }
}
