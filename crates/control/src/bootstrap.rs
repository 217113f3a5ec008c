//! First start of an instance: the account id, the account root's access key and the node's
//! instance role, each created once and kept (ARNs and keys already handed out name them).

use podpass_store::{AccessKey, Role, Store, StoreError};

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

/// The account root's access key (the admin's), created on first start.
pub async fn ensure_admin_key(store: &Store, account_id: &str) -> Result<AccessKey> {
    let root = podpass_arn::account_root(account_id);
    let keys = store.access_keys().await.map_err(Error::internal)?;
    if let Some(key) = keys.into_iter().find(|k| k.principal_arn == root) {
        return Ok(key);
    }
    let key = AccessKey {
        access_key_id: ids::access_key_id().map_err(Error::internal)?,
        secret_access_key: ids::secret_access_key().map_err(Error::internal)?,
        principal_arn: root,
        created_at: crate::now(),
    };
    store
        .create_access_key(&key)
        .await
        .map_err(Error::internal)?;
    tracing::info!(access_key_id = %key.access_key_id, "created the admin access key");
    Ok(key)
}

/// The instance role of `cluster`'s nodes, served by the node's metadata endpoint; returns its
/// name.
pub async fn ensure_node_role(store: &Store, account_id: &str, cluster: &str) -> Result<String> {
    let name = format!("podpass-{cluster}-node");
    match store.role(&name).await {
        Ok(_) => return Ok(name),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(Error::internal(e)),
    }
    let role = Role {
        role_name: name.clone(),
        role_id: ids::unique_id("AROA").map_err(Error::internal)?,
        path: "/".to_owned(),
        arn: podpass_arn::role(account_id, "/", &name),
        trust_policy: NODE_TRUST_POLICY.to_owned(),
        description: Some(format!("Instance role of the nodes of cluster {cluster}")),
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: Vec::new(),
        created_at: crate::now(),
    };
    store.create_role(&role).await.map_err(Error::internal)?;
    store
        .put_role_policy(&name, "node", NODE_POLICY)
        .await
        .map_err(Error::internal)?;
    Ok(name)
}
