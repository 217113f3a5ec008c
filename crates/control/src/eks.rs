//! EKS: clusters (read-only views of podpass's clusters) and Pod Identity associations, with
//! EKS's rules for what an association may name.
//! <https://docs.aws.amazon.com/eks/latest/APIReference/API_CreatePodIdentityAssociation.html>

use std::collections::BTreeMap;

use podpass_arn::Arn;
use podpass_policy::{Policy, PolicyKind, SizedDocument, check_size};
use podpass_store::{Cluster, PodIdentityAssociation, StoreError};
use podpass_token::KeyAlgorithm;

use crate::{Control, Ctx, Error, Invalid, Result, ids};

/// Most tags a resource can have.
const MAX_TAGS: usize = 50;
/// Most associations a page lists.
const MAX_PAGE: i64 = 100;

/// How clusters made through `CreateCluster` are made.
#[derive(Clone, Debug)]
pub struct NewClusters {
    /// podpass serves their issuers under this URL, as `<url>/id/<32-hex id>`.
    pub issuer_base_url: String,
    /// Their ServiceAccount tokens' signing algorithm.
    pub key_algorithm: KeyAlgorithm,
}

/// The longest cluster name EKS takes.
const MAX_CLUSTER_NAME: usize = 100;

/// What `CreatePodIdentityAssociation` asks for (members as sent; required ones checked here).
#[derive(Clone, Debug, Default)]
pub struct NewAssociation {
    /// The ServiceAccount's namespace.
    pub namespace: Option<String>,
    /// The ServiceAccount.
    pub service_account: Option<String>,
    /// The role its pods get.
    pub role_arn: Option<String>,
    /// Tags of the association.
    pub tags: BTreeMap<String, String>,
    /// Leave EKS's session tags out.
    pub disable_session_tags: bool,
    /// A role to chain to from `role_arn`.
    pub target_role_arn: Option<String>,
    /// A session policy for the pods' sessions.
    pub policy: Option<String>,
}

/// What `UpdatePodIdentityAssociation` changes; `None` leaves a member as it is, an empty
/// target role or policy removes it.
#[derive(Clone, Debug, Default)]
pub struct AssociationChange {
    /// A new role.
    pub role_arn: Option<String>,
    /// Whether session tags are left out.
    pub disable_session_tags: Option<bool>,
    /// A new target role (empty: none).
    pub target_role_arn: Option<String>,
    /// A new session policy (empty: none).
    pub policy: Option<String>,
}

/// Which associations a list returns.
#[derive(Clone, Copy, Debug, Default)]
pub struct AssociationFilter<'a> {
    /// Only this namespace.
    pub namespace: Option<&'a str>,
    /// Only this ServiceAccount.
    pub service_account: Option<&'a str>,
    /// Page size, 1 to 100 (100 when not given).
    pub max_results: Option<i64>,
    /// Where the previous page stopped.
    pub next_token: Option<&'a str>,
}

/// One page of associations.
#[derive(Debug)]
pub struct AssociationPage {
    /// The associations, ordered by id.
    pub associations: Vec<PodIdentityAssociation>,
    /// Where the next page starts, if there is one.
    pub next_token: Option<String>,
}

impl Control {
    /// The clusters' names.
    pub async fn list_clusters(&self, ctx: &Ctx) -> Result<Vec<Cluster>> {
        self.authorize(ctx, "eks:ListClusters", "*").await?;
        self.store().list_clusters().await.map_err(Error::internal)
    }

    /// One cluster.
    pub async fn describe_cluster(&self, ctx: &Ctx, name: &str) -> Result<Cluster> {
        self.authorize(ctx, "eks:DescribeCluster", &self.cluster_arn(name))
            .await?;
        self.cluster(name).await
    }

    /// Creates a cluster whose ServiceAccount tokens podpass signs and whose OIDC issuer it
    /// serves, as EKS's `CreateCluster` makes one: `role_arn` is the cluster's role, which must
    /// exist and which the caller must be allowed to pass. Networking, logging and add-ons
    /// have no meaning here and are not asked for.
    /// <https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html>
    pub async fn create_cluster(&self, ctx: &Ctx, name: &str, role_arn: &str) -> Result<Cluster> {
        let valid_name = (1..=MAX_CLUSTER_NAME).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(Error::invalid(
                Invalid::Parameter,
                format!(
                    "The cluster name {name:?} must be 1 to {MAX_CLUSTER_NAME} characters of \
                     [A-Za-z0-9_-], starting with a letter or digit"
                ),
            ));
        }
        self.authorize(ctx, "eks:CreateCluster", &self.cluster_arn(name))
            .await?;
        self.authorize(ctx, "iam:PassRole", role_arn).await?;
        if self.find_role(role_arn).await?.is_none() {
            return Err(Error::invalid(
                Invalid::Parameter,
                format!(
                    "Role with arn: {role_arn}, could not be assumed because it does not exist or the trusted entities is not correct"
                ),
            ));
        }
        let Some(new) = &self.settings().new_clusters else {
            return Err(Error::invalid(
                Invalid::Parameter,
                "This podpass has no public URL to serve a new cluster's issuer at",
            ));
        };
        let created = self
            .clusters()
            .create_under(name, &new.issuer_base_url, new.key_algorithm, crate::now())
            .await;
        match created {
            Ok(cluster) => {
                tracing::info!(request_id = %ctx.request_id, cluster = %name, issuer = %cluster.issuer_url, "cluster created");
                Ok(cluster)
            }
            Err(crate::clusters::ClusterError::Store(StoreError::AlreadyExists(_))) => {
                Err(Error::AlreadyExists {
                    why: format!("Cluster already exists with name: {name}"),
                })
            }
            Err(other) => Err(Error::internal(other)),
        }
    }

    /// Deletes a cluster with its ServiceAccounts, signing keys and Pod Identity associations;
    /// its tokens stop verifying. The cluster this process runs a node of is refused, as EKS
    /// refuses a cluster with node groups.
    pub async fn delete_cluster(&self, ctx: &Ctx, name: &str) -> Result<Cluster> {
        self.authorize(ctx, "eks:DeleteCluster", &self.cluster_arn(name))
            .await?;
        let cluster = self.cluster(name).await?;
        if self.settings().node_cluster.as_deref() == Some(name) {
            return Err(Error::InUse {
                why: format!(
                    "Cluster has a node attached: the podpass up serving {name} runs its pods"
                ),
            });
        }
        self.store()
            .delete_cluster(name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => {
                    Error::not_found(format!("No cluster found for name: {name}."))
                }
                other => Error::internal(other),
            })?;
        self.issuer_keys().forget(&cluster.issuer_url);
        self.iam_written();
        tracing::info!(request_id = %ctx.request_id, cluster = %name, "cluster deleted");
        Ok(cluster)
    }

    /// Associates a ServiceAccount of `cluster` with a role; one association per
    /// ServiceAccount ([`Error::AlreadyExists`] names the existing one).
    pub async fn create_association(
        &self,
        ctx: &Ctx,
        cluster: &str,
        input: NewAssociation,
    ) -> Result<PodIdentityAssociation> {
        self.authorize(
            ctx,
            "eks:CreatePodIdentityAssociation",
            &self.cluster_arn(cluster),
        )
        .await?;
        let cluster = self.cluster(cluster).await?;
        let namespace = required("namespace", input.namespace)?;
        let service_account = required("serviceAccount", input.service_account)?;
        let role_arn = required("roleArn", input.role_arn)?;
        self.check_role_arn("roleArn", &role_arn)?;
        if let Some(target) = &input.target_role_arn {
            self.check_role_arn("targetRoleArn", target)?;
        }
        check_policy(input.policy.as_deref())?;
        if input.tags.len() > MAX_TAGS {
            return Err(invalid("A resource can have at most 50 tags"));
        }
        let now = crate::now();
        let id = association_id()?;
        let association = PodIdentityAssociation {
            association_arn: self.association_arn(&cluster.name, &id),
            association_id: id,
            cluster_name: cluster.name.clone(),
            namespace,
            service_account,
            role_arn,
            tags: input.tags,
            owner_arn: None,
            disable_session_tags: input.disable_session_tags,
            external_id: input.target_role_arn.as_ref().map(|_| ids::uid()),
            target_role_arn: input.target_role_arn,
            session_policy: input.policy,
            created_at: now,
            modified_at: now,
        };
        match self.store().create_association(&association).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                let existing = self
                    .store()
                    .association_for(
                        &cluster.name,
                        &association.namespace,
                        &association.service_account,
                    )
                    .await
                    .map_err(Error::internal)?
                    .map(|a| a.association_id)
                    .unwrap_or_default();
                return Err(Error::AlreadyExists {
                    why: format!("Association already exists: {existing}"),
                });
            }
            Err(e) => return Err(Error::internal(e)),
        }
        tracing::info!(
            request_id = %ctx.request_id,
            association = %association.association_id,
            namespace = %association.namespace,
            service_account = %association.service_account,
            role = %association.role_arn,
            "created pod identity association"
        );
        Ok(association)
    }

    /// One association.
    pub async fn describe_association(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
    ) -> Result<PodIdentityAssociation> {
        self.authorized_association(ctx, "eks:DescribePodIdentityAssociation", cluster, id)
            .await
    }

    /// A page of `cluster`'s associations, ordered by id.
    pub async fn list_associations(
        &self,
        ctx: &Ctx,
        cluster: &str,
        filter: AssociationFilter<'_>,
    ) -> Result<AssociationPage> {
        self.authorize(
            ctx,
            "eks:ListPodIdentityAssociations",
            &self.cluster_arn(cluster),
        )
        .await?;
        self.cluster(cluster).await?;
        let max = filter.max_results.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&max) {
            return Err(invalid("maxResults must be between 1 and 100"));
        }
        let max = max as usize;
        let all = self
            .store()
            .list_associations(cluster, filter.namespace, filter.service_account)
            .await
            .map_err(Error::internal)?;
        // The next token is the id to resume from: ids are the sort key.
        let start = filter.next_token.unwrap_or_default();
        let mut associations: Vec<PodIdentityAssociation> = all
            .into_iter()
            .filter(|a| a.association_id.as_str() >= start)
            .take(max + 1)
            .collect();
        let next_token = (associations.len() > max)
            .then(|| associations.pop().map(|a| a.association_id))
            .flatten();
        Ok(AssociationPage {
            associations,
            next_token,
        })
    }

    /// Changes an association; a new target role gets an external id if it had none.
    pub async fn update_association(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
        change: AssociationChange,
    ) -> Result<PodIdentityAssociation> {
        let mut association = self
            .authorized_association(ctx, "eks:UpdatePodIdentityAssociation", cluster, id)
            .await?;
        if let Some(role_arn) = change.role_arn {
            self.check_role_arn("roleArn", &role_arn)?;
            association.role_arn = role_arn;
        }
        if let Some(disable) = change.disable_session_tags {
            association.disable_session_tags = disable;
        }
        if let Some(target) = change.target_role_arn {
            // An empty string removes the target role, as EKS.
            if target.is_empty() {
                association.target_role_arn = None;
                association.external_id = None;
            } else {
                self.check_role_arn("targetRoleArn", &target)?;
                if association.external_id.is_none() {
                    association.external_id = Some(ids::uid());
                }
                association.target_role_arn = Some(target);
            }
        }
        if let Some(policy) = change.policy {
            let policy = Some(policy).filter(|p| !p.is_empty());
            check_policy(policy.as_deref())?;
            association.session_policy = policy;
        }
        association.modified_at = crate::now();
        self.store()
            .update_association(&association)
            .await
            .map_err(Error::internal)?;
        self.iam_written();
        Ok(association)
    }

    /// Deletes an association and returns what it was.
    pub async fn delete_association(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
    ) -> Result<PodIdentityAssociation> {
        let association = self
            .authorized_association(ctx, "eks:DeletePodIdentityAssociation", cluster, id)
            .await?;
        self.store()
            .delete_association(cluster, id)
            .await
            .map_err(Error::internal)?;
        self.iam_written();
        Ok(association)
    }

    /// `arn:aws:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID` of this instance.
    fn association_arn(&self, cluster: &str, id: &str) -> String {
        let settings = self.settings();
        podpass_arn::pod_identity_association(&settings.region, &settings.account_id, cluster, id)
    }

    /// The association `action` targets, once the caller is allowed `action` on it.
    async fn authorized_association(
        &self,
        ctx: &Ctx,
        action: &str,
        cluster: &str,
        id: &str,
    ) -> Result<PodIdentityAssociation> {
        self.authorize(ctx, action, &self.association_arn(cluster, id))
            .await?;
        self.cluster(cluster).await?;
        self.store()
            .association(cluster, id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => {
                    Error::not_found(format!("No pod identity association found for id: {id}"))
                }
                other => Error::internal(other),
            })
    }

    /// An association may name only roles of this account.
    fn check_role_arn(&self, member: &str, arn: &str) -> Result<()> {
        let account = self.account_id();
        let is_role = Arn::parse(arn).is_some_and(|a| {
            a.partition == podpass_arn::PARTITION
                && a.service == "iam"
                && a.region.is_empty()
                && a.account == account
                && a.resource
                    .strip_prefix("role/")
                    .is_some_and(|name| !name.is_empty())
        });
        if is_role {
            Ok(())
        } else {
            Err(invalid(format!(
                "{member} {arn} is not a role ARN of account {account}"
            )))
        }
    }
}

fn invalid(why: impl Into<String>) -> Error {
    Error::invalid(Invalid::Parameter, why)
}

fn required(member: &str, value: Option<String>) -> Result<String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid(format!("{member} is required")))
}

/// `a-` + 17 lower-case alphanumerics, as EKS's ids.
fn association_id() -> Result<String> {
    let id = ids::unique_id("").map_err(Error::internal)?;
    Ok(format!("a-{}", id.to_ascii_lowercase()))
}

/// The association's session policy: STS's session policy limit on the raw text, then the
/// grammar.
fn check_policy(policy: Option<&str>) -> Result<()> {
    if let Some(text) = policy {
        check_size(SizedDocument::SessionPolicy, [text]).map_err(|e| {
            invalid(format!(
                "Invalid policy: the policy exceeds {} characters",
                e.max
            ))
        })?;
        Policy::parse(text, PolicyKind::Session)
            .map_err(|e| invalid(format!("Invalid policy: {}", e.message())))?;
    }
    Ok(())
}
