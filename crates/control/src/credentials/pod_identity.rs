//! EKS Auth `AssumeRoleForPodIdentity`: the node agent, on a pod's behalf, trades the pod's
//! projected ServiceAccount token for the session of the role its Pod Identity association
//! names, with EKS's session tags, optionally chained to a target role.
//! <https://docs.aws.amazon.com/eks/latest/APIReference/API_auth_AssumeRoleForPodIdentity.html>,
//! <https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html>

use std::sync::{Arc, LazyLock};

use podpass_policy::{PolicySet, Principal, PrincipalContext, Request};
use podpass_session::{SessionKind, SessionTag};
use podpass_store::{Cluster, PodIdentityAssociation, StoreError};
use podpass_token::{Claims, VerifyError};

use super::{Issued, TrustQuery, role_identity, tag_pairs};
use crate::broker::{ChainTarget, Upstream, UpstreamError, UpstreamRequest, UpstreamSession};
use crate::issuers::VerifyFailure;
use crate::{Asker, Control, Ctx, Decided, Error, Invalid, Result};

/// Audience of Pod Identity tokens.
pub const AUDIENCE: &str = "pods.eks.amazonaws.com";
/// The service principal roles trust for Pod Identity.
pub const SERVICE_PRINCIPAL: &str = "pods.eks.amazonaws.com";

/// EKS Pod Identity's service principal, as every trust decision of an issuance sees it.
fn service_principal() -> Arc<PrincipalContext> {
    static SERVICE: LazyLock<Arc<PrincipalContext>> = LazyLock::new(|| {
        Principal::Service {
            name: SERVICE_PRINCIPAL.to_owned(),
        }
        .into()
    });
    SERVICE.clone()
}

/// Lifetime of Pod Identity credentials (EKS issues six-hour sessions).
const DURATION: i64 = 6 * 3600;
/// Sessions chained to a target role are capped at one hour, as any role chaining.
const CHAINED_DURATION: i64 = 3600;

/// A Pod Identity session and whom it was issued for.
#[derive(Debug)]
pub struct PodIdentitySession {
    /// The session (of the target role when the association chains).
    pub credentials: PodCredentials,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's ServiceAccount.
    pub service_account: String,
    /// The association that decided.
    pub association: Arc<PodIdentityAssociation>,
}

/// Who issued a Pod Identity session.
#[derive(Debug)]
pub enum PodCredentials {
    /// podpass, as the AWS account it stands for.
    Minted(Box<Issued>),
    /// The upstream STS, in broker mode.
    Brokered(UpstreamSession),
}

impl PodCredentials {
    /// What the pod receives.
    pub fn credentials(&self) -> &podpass_session::Credentials {
        match self {
            PodCredentials::Minted(issued) => &issued.credentials,
            PodCredentials::Brokered(session) => &session.credentials,
        }
    }

    /// The session's `assumed-role` ARN.
    pub fn assumed_role_arn(&self) -> String {
        match self {
            PodCredentials::Minted(issued) => issued.session.assumed_role_arn(),
            PodCredentials::Brokered(session) => session.assumed_role_arn.clone(),
        }
    }

    /// The session's `<role id>:<session name>`.
    pub fn assumed_role_id(&self) -> String {
        match self {
            PodCredentials::Minted(issued) => issued.session.assumed_role_id(),
            PodCredentials::Brokered(session) => session.assumed_role_id.clone(),
        }
    }
}

impl Control {
    /// Checks that the caller (the node) may call EKS Auth for `cluster`, verifies the pod's
    /// token against the cluster's issuer for the `pods.eks.amazonaws.com` audience, finds the
    /// association of its ServiceAccount and issues the associated role's session.
    pub async fn assume_role_for_pod_identity(
        &self,
        ctx: &Ctx,
        cluster: &str,
        token: Option<&str>,
    ) -> Result<PodIdentitySession> {
        self.authorize(
            ctx,
            "eks-auth:AssumeRoleForPodIdentity",
            &self.cluster_arn(cluster),
        )
        .await?;
        let token = token
            .filter(|t| is_jwt_shaped(t))
            .ok_or_else(|| Error::invalid(Invalid::Parameter, "The token is not a valid JWT."))?;
        let cluster = self
            .iam_cache()
            .cluster(self.store(), cluster)
            .await?
            .ok_or_else(|| Error::not_found(format!("No cluster found for name: {cluster}.")))?;
        let claims = self.verify_pod_token(&cluster, token).await?;
        let Some((kube, pod)) = claims
            .kubernetes
            .as_ref()
            .and_then(|k| k.pod.as_ref().map(|pod| (k, pod)))
        else {
            return Err(Error::invalid(
                Invalid::Token,
                "The token is not bound to a pod: Pod Identity needs a projected pod token.",
            ));
        };
        let (namespace, service_account) = (&kube.namespace, &kube.serviceaccount.name);
        let association = self
            .iam_cache()
            .association(self.store(), &cluster.name, namespace, service_account)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "No Pod Identity Association found for service account {service_account} in namespace {namespace} of cluster {}",
                    cluster.name
                ))
            })?;
        let tags = self.session_tags(&cluster, &association, &pod.name, &pod.uid);
        let session_name = session_name(&cluster.name, &pod.name)?;
        let pod_ref = format!(
            "system:serviceaccount:{namespace}:{service_account} (pod {})",
            pod.name
        );
        let asker = Asker {
            source: "eks-auth.amazonaws.com",
            operation: "AssumeRoleForPodIdentity",
            principal: &pod_ref,
        };
        let credentials = match &self.settings().upstream {
            Some(upstream) => {
                let request = UpstreamRequest {
                    role_arn: association.role_arn.clone(),
                    target: association
                        .target_role_arn
                        .as_ref()
                        .map(|role_arn| ChainTarget {
                            role_arn: role_arn.clone(),
                            external_id: association.external_id.clone(),
                        }),
                    session_name,
                    tags,
                    policy: association.session_policy.clone(),
                    namespace: namespace.clone(),
                    service_account: service_account.clone(),
                    pod_uid: pod.uid.clone(),
                };
                PodCredentials::Brokered(
                    self.broker(ctx, asker, upstream.as_ref(), &request).await?,
                )
            }
            None => {
                let (credentials, session) = self
                    .assume_associated(ctx, asker, &association, &tags, &session_name)
                    .await?;
                PodCredentials::Minted(Box::new(Issued {
                    credentials,
                    session,
                    packed_policy_size: None,
                }))
            }
        };
        tracing::info!(
            request_id = %ctx.request_id,
            cluster = %cluster.name,
            %namespace,
            %service_account,
            pod = %pod.name,
            session = %credentials.assumed_role_arn(),
            brokered = matches!(credentials, PodCredentials::Brokered(_)),
            "issued pod identity credentials"
        );
        Ok(PodIdentitySession {
            credentials,
            namespace: namespace.clone(),
            service_account: service_account.clone(),
            association,
        })
    }

    /// The cluster, or EKS's not-found error.
    pub async fn cluster(&self, name: &str) -> Result<Cluster> {
        self.store().cluster(name).await.map_err(|e| match e {
            StoreError::NotFound(_) => {
                Error::not_found(format!("No cluster found for name: {name}."))
            }
            other => Error::internal(other),
        })
    }

    async fn verify_pod_token(&self, cluster: &Cluster, token: &str) -> Result<Claims> {
        let audiences = [AUDIENCE.to_owned()];
        let verified = self
            .issuer_keys()
            .verify(&cluster.issuer_url, &audiences, token, crate::now())
            .await;
        verified.map_err(|failure| match failure {
            VerifyFailure::Keys(e) => {
                tracing::error!(issuer = %cluster.issuer_url, error = %e, "cannot read the cluster's issuer keys");
                Error::Unavailable {
                    why: "The cluster's token issuer is unavailable.".to_owned(),
                }
            }
            VerifyFailure::Refused(why) => {
                tracing::info!(cluster = %cluster.name, %why, "pod identity token refused by its cluster");
                Error::invalid(Invalid::Token, "The token is invalid: the cluster no longer authenticates it.".to_owned())
            }
            VerifyFailure::Token(e) => {
                tracing::info!(cluster = %cluster.name, error = %e, "pod identity token rejected");
                match e {
                    VerifyError::Expired { .. } => Error::TokenExpired {
                        why: "The token has expired.".to_owned(),
                    },
                    other => Error::invalid(Invalid::Token, format!("The token is invalid: {other}")),
                }
            }
        })
    }

    /// EKS's session tags, unless the association disables them.
    fn session_tags(
        &self,
        cluster: &Cluster,
        association: &PodIdentityAssociation,
        pod_name: &str,
        pod_uid: &str,
    ) -> Vec<SessionTag> {
        if association.disable_session_tags {
            return Vec::new();
        }
        [
            ("eks-cluster-arn", self.cluster_arn(&cluster.name)),
            ("eks-cluster-name", cluster.name.clone()),
            ("kubernetes-namespace", association.namespace.clone()),
            (
                "kubernetes-service-account",
                association.service_account.clone(),
            ),
            ("kubernetes-pod-name", pod_name.to_owned()),
            ("kubernetes-pod-uid", pod_uid.to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| SessionTag {
            key: key.to_owned(),
            value,
        })
        .collect()
    }

    /// Assumes the associated role for the service principal, then chains to the target role
    /// with the association's external id when one is set, as EKS does server-side.
    async fn assume_associated(
        &self,
        ctx: &Ctx,
        asker: Asker<'_>,
        association: &PodIdentityAssociation,
        tags: &[SessionTag],
        session_name: &str,
    ) -> Result<(podpass_session::Credentials, podpass_session::SessionClaims)> {
        let first = self
            .find_role(&association.role_arn)
            .await?
            .ok_or_else(|| denied(&association.role_arn))?;
        let pairs = tag_pairs(tags);
        let needed: &[&str] = if tags.is_empty() {
            &["sts:AssumeRole"]
        } else {
            &["sts:AssumeRole", "sts:TagSession"]
        };
        let context = |external_id: Option<&str>| {
            let pairs = &pairs;
            let external_id = external_id.map(str::to_owned);
            move |mut r: Request| {
                r = r.with("sts:RoleSessionName", session_name);
                if !pairs.is_empty() {
                    r = r.with_request_tags(pairs);
                }
                if let Some(id) = &external_id {
                    r = r.with("sts:ExternalId", id.clone());
                }
                r
            }
        };
        let no_policies = PolicySet::default();
        let first_context = context(None);
        let query = TrustQuery {
            principal: service_principal(),
            policies: &no_policies,
            context: &first_context,
        };
        for action in needed {
            if !self.trusts(ctx, asker, &first, &query, action) {
                return Err(denied(&first.role.arn));
            }
        }
        let pod_session = |role| {
            let mut identity = role_identity(
                role,
                self.account_id(),
                session_name,
                SessionKind::PodIdentity,
            );
            identity.tags = tags.to_vec();
            identity.transitive_tag_keys = tags.iter().map(|t| t.key.clone()).collect();
            identity.session_policy = association.session_policy.clone();
            identity
        };
        let action = "eks-auth:AssumeRoleForPodIdentity";
        let Some(target_arn) = &association.target_role_arn else {
            return self.mint(ctx, asker, action, pod_session(&first.role), DURATION);
        };

        // Chaining: the first role's session assumes the target role.
        let (_, first_session) = self
            .key_ring()
            .sealer()
            .mint(
                pod_session(&first.role),
                CHAINED_DURATION as u32,
                crate::now(),
            )
            .map_err(Error::internal)?;
        let target = self
            .find_role(target_arn)
            .await?
            .ok_or_else(|| denied(target_arn))?;
        let (principal, session_policies) = self.session_context(&first_session).await?;
        let target_context = context(association.external_id.as_deref());
        let query = TrustQuery {
            principal: principal.into(),
            policies: &session_policies,
            context: &target_context,
        };
        for action in needed {
            if !self.trusts(ctx, asker, &target, &query, action) {
                return Err(Error::denied(format!(
                    "Role {} is not authorized to assume the target role {target_arn}",
                    first.role.arn
                )));
            }
        }
        let mut chained = pod_session(&target.role);
        chained.chained = true;
        self.mint(ctx, asker, action, chained, CHAINED_DURATION)
    }
}

impl Control {
    /// Has the upstream issue the session, auditing either outcome with the upstream's reason;
    /// the pod gets EKS Auth's error without it.
    async fn broker(
        &self,
        ctx: &Ctx,
        asker: Asker<'_>,
        upstream: &dyn Upstream,
        request: &UpstreamRequest,
    ) -> Result<UpstreamSession> {
        let resource = request
            .target
            .as_ref()
            .map_or(&request.role_arn, |target| &target.role_arn);
        let outcome = upstream.assume_role(request).await;
        let (allowed, reason, access_key_id) = match &outcome {
            Ok(session) => (
                true,
                format!(
                    "brokered {} until {}",
                    session.assumed_role_arn,
                    jiff::Timestamp::from_second(session.credentials.expiration)
                        .unwrap_or_default()
                ),
                Some(session.credentials.access_key_id.as_str()),
            ),
            Err(error) => (false, error.to_string(), None),
        };
        self.audit_decision(
            ctx,
            Decided {
                asker,
                access_key_id,
                action: "eks-auth:AssumeRoleForPodIdentity",
                resource,
                allowed,
                reason,
            },
        );
        outcome.map_err(|error| {
            tracing::warn!(request_id = %ctx.request_id, role = %resource, %error, "upstream did not issue the pod's session");
            match error {
                // The upstream's reason (which names the broker's identity) stays in the log.
                UpstreamError::Denied(_) => Error::denied(format!(
                    "EKS Pod Identity is not authorized to assume the role {resource}"
                )),
                UpstreamError::Throttled(_) => Error::Throttled {
                    why: "Rate exceeded".to_owned(),
                },
                UpstreamError::Unavailable(_) => Error::Unavailable {
                    why: "The service is unavailable. Please try again.".to_owned(),
                },
            }
        })
    }
}

/// EKS Auth's refusal when the associated role does not trust Pod Identity.
fn denied(role: &str) -> Error {
    Error::denied(format!(
        "EKS Pod Identity is not authorized to assume the role {role}: its trust policy must allow the service principal {SERVICE_PRINCIPAL} to perform sts:AssumeRole and sts:TagSession"
    ))
}

/// The model's token pattern: three base64url segments.
fn is_jwt_shaped(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b))
        })
}

/// `eks-<cluster>-<pod>-<random>`, within STS's 64 characters and `[\w+=,.@-]`.
fn session_name(cluster: &str, pod: &str) -> Result<String> {
    let suffix = crate::ids::unique_id("")
        .map_err(Error::internal)?
        .to_ascii_lowercase();
    let mut name: String = format!("eks-{cluster}-{pod}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(64 - 1 - 8);
    Ok(format!("{name}-{}", &suffix[..8]))
}
