//! First start of an instance: the account id, the account root's access key and the node's
//! instance role, each created once and kept (ARNs and keys already handed out name them).

use podpass_store::{AccessKey, Holder, OidcProvider, Role, Store, StoreError};

use crate::{Error, Invalid, Result, ids};

const ACCOUNT_ID_KEY: &str = "account_id";

/// The node role's trust policy: EC2 instances, as an EKS node's role.
const NODE_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
/// The node role may call EKS Auth and nothing else.
const NODE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks-auth:AssumeRoleForPodIdentity","Resource":"*"}]}"#;

/// The account id: `requested` on first start, the stored one afterwards (a different request
/// is logged and ignored).
pub async fn ensure_account_id(store: &Store, requested: &str) -> Result<String> {
    if requested.len() != 12 || !requested.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            Invalid::Parameter,
            format!("--account-id must be 12 digits, got {requested:?}"),
        ));
    }
    match store.meta(ACCOUNT_ID_KEY).await.map_err(Error::internal)? {
        Some(stored) => {
            if stored != requested {
                tracing::warn!(%stored, %requested, "keeping the account id set at first start");
            }
            Ok(stored)
        }
        None => {
            store
                .set_meta(ACCOUNT_ID_KEY, requested)
                .await
                .map_err(Error::internal)?;
            Ok(requested.to_owned())
        }
    }
}

/// An access key chosen by the operator (from a Secret, say) rather than generated.
#[derive(Debug, Clone)]
pub struct GivenKey {
    /// Access key id (`AKIA` and 16 more upper-case letters or digits).
    pub access_key_id: String,
    /// Secret access key (at least 40 characters).
    pub secret_access_key: String,
}

/// The account root's access key (the admin's), created on first start: `given`, or a random
/// one. A given key is added if the store lacks it, so that replicas started together with the
/// same Secret agree; a given id stored with another secret is refused.
pub async fn ensure_admin_key(
    store: &Store,
    account_id: &str,
    given: Option<&GivenKey>,
) -> Result<AccessKey> {
    let root = podpass_arn::account_root(account_id);
    let keys = store.access_keys().await.map_err(Error::internal)?;
    let stored = keys.into_iter().filter(|k| k.principal_arn == root);
    let key = match given {
        Some(given) => {
            check_given_key(given)?;
            if let Some(key) = stored
                .into_iter()
                .find(|k| k.access_key_id == given.access_key_id)
            {
                return same_secret(key, given);
            }
            AccessKey {
                access_key_id: given.access_key_id.clone(),
                secret_access_key: given.secret_access_key.clone(),
                principal_arn: root,
                user_id: None,
                active: true,
                created_at: crate::now(),
            }
        }
        None => {
            if let Some(key) = stored.into_iter().next() {
                return Ok(key);
            }
            AccessKey {
                access_key_id: ids::access_key_id().map_err(Error::internal)?,
                secret_access_key: ids::secret_access_key().map_err(Error::internal)?,
                principal_arn: root,
                user_id: None,
                active: true,
                created_at: crate::now(),
            }
        }
    };
    match store.create_access_key(&key).await {
        Ok(()) => {
            tracing::info!(access_key_id = %key.access_key_id, "created the admin access key");
            Ok(key)
        }
        // Another replica created the same given key first.
        Err(StoreError::AlreadyExists(_)) if given.is_some() => {
            let raced = store
                .access_keys()
                .await
                .map_err(Error::internal)?
                .into_iter()
                .find(|k| k.access_key_id == key.access_key_id);
            match (raced, given) {
                (Some(stored), Some(given)) => same_secret(stored, given),
                _ => Err(Error::internal(
                    "the admin key vanished while it was created",
                )),
            }
        }
        Err(e) => Err(Error::internal(e)),
    }
}

fn check_given_key(given: &GivenKey) -> Result<()> {
    let id_ok = given.access_key_id.len() == 20
        && given.access_key_id.starts_with("AKIA")
        && given
            .access_key_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !id_ok {
        return Err(Error::invalid(
            Invalid::Parameter,
            "the admin access key id must be AKIA and 16 upper-case letters or digits",
        ));
    }
    if given.secret_access_key.len() < 40 {
        return Err(Error::invalid(
            Invalid::Parameter,
            "the admin secret access key must be at least 40 characters",
        ));
    }
    Ok(())
}

fn same_secret(stored: AccessKey, given: &GivenKey) -> Result<AccessKey> {
    if stored.principal_arn.ends_with(":root")
        && stored.secret_access_key == given.secret_access_key
    {
        Ok(stored)
    } else {
        Err(Error::invalid(
            Invalid::Parameter,
            format!(
                "access key {} exists with another secret or owner",
                stored.access_key_id
            ),
        ))
    }
}

/// Who assumes one of podpass's own roles.
#[derive(Debug, Clone, Copy)]
pub enum Trustee<'a> {
    /// The node's instance metadata (podpass's local node, EC2 nodes).
    Instance,
    /// A ServiceAccount of a registered cluster, through an IAM OIDC provider for the cluster's
    /// issuer (the component's SDK reads its projected token: web identity).
    ServiceAccount {
        /// The cluster's issuer URL.
        issuer_url: &'a str,
        /// The ServiceAccount's namespace.
        namespace: &'a str,
        /// The ServiceAccount.
        name: &'a str,
    },
}

/// Audience of the web identity tokens podpass's own components present to STS.
const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// The trust policy for `trustee`, creating the OIDC provider it names.
async fn trust_policy(store: &Store, account_id: &str, trustee: Trustee<'_>) -> Result<String> {
    let Trustee::ServiceAccount {
        issuer_url,
        namespace,
        name,
    } = trustee
    else {
        return Ok(NODE_TRUST_POLICY.to_owned());
    };
    let url = issuer_url
        .split_once("://")
        .map_or(issuer_url, |(_, rest)| rest)
        .trim_end_matches('/');
    let provider = OidcProvider {
        arn: podpass_arn::oidc_provider(account_id, url),
        url: url.to_owned(),
        client_ids: vec![STS_AUDIENCE.to_owned()],
        thumbprints: Vec::new(),
        tags: Vec::new(),
        created_at: crate::now(),
    };
    match store.create_oidc_provider(&provider).await {
        Ok(()) => tracing::info!(provider = %provider.arn, "created the cluster's OIDC provider"),
        Err(StoreError::AlreadyExists(_)) => {}
        Err(e) => return Err(Error::internal(e)),
    }
    Ok(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider.arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{url}:sub"): format!("system:serviceaccount:{namespace}:{name}"),
                format!("{url}:aud"): STS_AUDIENCE,
            }},
        }],
    })
    .to_string())
}

/// One of podpass's own roles.
struct OwnRole<'a> {
    name: &'a str,
    description: String,
    /// Name and document of its inline policy.
    policy: (&'a str, &'a str),
}

/// `role`, trusted by `trustee`. Trust and policy follow the configuration on every start: the
/// role is podpass's to manage.
async fn ensure_own_role(
    store: &Store,
    account_id: &str,
    role: OwnRole<'_>,
    trustee: Trustee<'_>,
) -> Result<()> {
    let OwnRole {
        name,
        description,
        policy: (policy_name, policy),
    } = role;
    let trust_policy = trust_policy(store, account_id, trustee).await?;
    match store.role(name).await {
        Ok(mut role) => {
            if role.trust_policy != trust_policy {
                role.trust_policy = trust_policy;
                store.update_role(&role).await.map_err(Error::internal)?;
                tracing::info!(role = %role.arn, "the role's trust follows the configuration");
            }
        }
        Err(StoreError::NotFound(_)) => {
            let role = Role {
                role_name: name.to_owned(),
                role_id: ids::unique_id("AROA").map_err(Error::internal)?,
                path: "/".to_owned(),
                arn: podpass_arn::role(account_id, "/", name),
                trust_policy,
                description: Some(description),
                max_session_duration: 3600,
                permissions_boundary: None,
                tags: Vec::new(),
                created_at: crate::now(),
            };
            match store.create_role(&role).await {
                // Another replica created it at the same moment, from the same configuration.
                Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
                Err(e) => return Err(Error::internal(e)),
            }
        }
        Err(e) => return Err(Error::internal(e)),
    }
    store
        .put_inline_policy(Holder::Role(name), policy_name, policy)
        .await
        .map_err(Error::internal)
}

/// The instance role of `cluster`'s nodes (EKS Auth, nothing else), trusted by `trustee`;
/// returns its name.
pub async fn ensure_node_role(
    store: &Store,
    account_id: &str,
    cluster: &str,
    trustee: Trustee<'_>,
) -> Result<String> {
    let name = format!("podpass-{cluster}-node");
    let role = OwnRole {
        name: &name,
        description: format!("Instance role of the nodes of cluster {cluster}"),
        policy: ("node", NODE_POLICY),
    };
    ensure_own_role(store, account_id, role, trustee).await?;
    Ok(name)
}

/// The role of the admission webhook of a registered cluster: it lists the cluster's Pod
/// Identity associations (`cluster_arn`), nothing else. Returns its name.
pub async fn ensure_webhook_role(
    store: &Store,
    account_id: &str,
    cluster: &str,
    cluster_arn: &str,
    trustee: Trustee<'_>,
) -> Result<String> {
    let name = format!("podpass-{cluster}-webhook");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "eks:ListPodIdentityAssociations",
            "Resource": cluster_arn,
        }],
    })
    .to_string();
    let role = OwnRole {
        name: &name,
        description: format!("The admission webhook of cluster {cluster}"),
        policy: ("webhook", &policy),
    };
    ensure_own_role(store, account_id, role, trustee).await?;
    Ok(name)
}
