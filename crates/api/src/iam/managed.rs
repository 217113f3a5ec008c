//! Managed policies: customer managed ones in the store, AWS managed ones from the catalogue,
//! and their versions.

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_control::ids::unique_id;
use podpass_policy::catalogue::{self, MANAGED_POLICIES};
use podpass_store::{ManagedPolicy, PolicyVersion, StoreError};

use super::common::{
    DocumentUse, account, check_document, check_max_len, required, response, store_error,
};
use super::pagination::PageRequest;
use super::render::{PolicyDetail, PolicyView, write_policy, write_policy_version};
use super::tags::{check_unique_keys, read_tags};
use crate::AppState;
use crate::call::Call;
use crate::call::authorize;
use crate::errors::internal;

/// Versions IAM keeps per managed policy.
const MAX_VERSIONS: usize = 5;
/// Longest policy description.
const MAX_DESCRIPTION: usize = 1000;
/// When AWS published the managed policies podpass ships (IAM reports such fixed dates).
const AWS_POLICY_CREATED: i64 = 1_423_248_000; // 2015-02-06T18:40:00Z

fn policy_not_found(arn: &str) -> AwsError {
    AwsError::no_such_entity(format!("Policy {arn} was not found."))
}

fn version_not_found(arn: &str, version_id: &str) -> AwsError {
    AwsError::no_such_entity(format!(
        "Policy {arn} version {version_id} does not exist or is not attachable."
    ))
}

/// A store error about one version of a policy, in IAM's words.
fn version_error(error: StoreError, arn: &str, version_id: &str) -> AwsError {
    match error {
        StoreError::NotFound(_) => version_not_found(arn, version_id),
        other => store_error(other),
    }
}

fn policy_arn_member<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "PolicyArn", MemberType::Arn)
}

fn version_id_member<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "VersionId", MemberType::PolicyVersionId)
}

/// A stable `ANPA` id for an AWS managed policy, derived from its name (FNV-1a; not secret).
fn aws_policy_id(name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let fnv = |seed: u64| {
        name.bytes().fold(seed, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let bits =
        (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325_cbf2_9ce4));
    let id: String = (0..17)
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect();
    format!("ANPA{id}")
}

fn aws_view(policy: &catalogue::ManagedPolicy, attachment_count: i64) -> PolicyView {
    PolicyView {
        name: policy.name.to_owned(),
        id: aws_policy_id(policy.name),
        arn: policy.arn(),
        path: policy.path.to_owned(),
        default_version_id: policy.default_version_id.to_owned(),
        attachment_count,
        description: Some(policy.description.to_owned()),
        created_at: AWS_POLICY_CREATED,
        updated_at: AWS_POLICY_CREATED,
        tags: Vec::new(),
    }
}

fn customer_view(policy: ManagedPolicy) -> PolicyView {
    PolicyView {
        name: policy.policy_name,
        id: policy.policy_id,
        arn: policy.arn,
        path: policy.path,
        default_version_id: policy.default_version_id,
        attachment_count: policy.attachment_count,
        description: policy.description,
        created_at: policy.created_at,
        updated_at: policy.updated_at,
        tags: policy.tags,
    }
}

/// A customer managed policy of the store, or `NoSuchEntity`.
async fn customer_policy(state: &AppState, arn: &str) -> Result<ManagedPolicy, AwsError> {
    match state.control.store().policy(arn).await {
        Ok(policy) => Ok(policy),
        Err(StoreError::NotFound(_)) => Err(policy_not_found(arn)),
        Err(e) => Err(internal(e)),
    }
}

/// The number of a `vN` version id (0 for anything else), for ordering.
fn version_number(version_id: &str) -> u64 {
    version_id
        .strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// CreatePolicy.
pub(super) async fn create_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let params = &call.params;
    let mut validation = Validation::new();
    let name = required(call, &mut validation, "PolicyName", MemberType::PolicyName);
    let path = params.get("Path");
    let description = params.get("Description");
    validation.check("Path", path, MemberType::PolicyPath);
    let document = required(
        call,
        &mut validation,
        "PolicyDocument",
        MemberType::PolicyDocument,
    );
    check_max_len(&mut validation, "Description", description, MAX_DESCRIPTION);
    let tags = read_tags(params, &mut validation).unwrap_or_default();
    validation.finish()?;
    let path = path.unwrap_or("/");
    let arn = podpass_arn::policy(account(state), path, name);
    authorize(state, call, "iam:CreatePolicy", &arn).await?;
    check_unique_keys(&tags)?;
    check_document(document, DocumentUse::Managed)?;
    let existing = state
        .control
        .store()
        .list_policies("/")
        .await
        .map_err(store_error)?;
    if existing.iter().any(|p| p.policy_name == name) {
        return Err(AwsError::entity_already_exists(format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        )));
    }
    let now = podpass_control::now();
    let policy = ManagedPolicy {
        arn,
        policy_id: unique_id("ANPA").map_err(internal)?,
        policy_name: name.to_owned(),
        path: path.to_owned(),
        description: description.filter(|d| !d.is_empty()).map(str::to_owned),
        default_version_id: "v1".to_owned(),
        tags,
        created_at: now,
        updated_at: now,
        attachment_count: 0,
    };
    state
        .control
        .store()
        .create_policy(&policy, document)
        .await
        .map_err(store_error)?;
    tracing::info!(request_id = %call.ctx.request_id, policy = %policy.arn, "created policy");
    let view = customer_view(policy);
    Ok(response("CreatePolicy", call).result(|w| {
        w.nest("Policy", |w| write_policy(w, &view, PolicyDetail::Created));
    }))
}

/// GetPolicy (AWS managed or customer managed).
pub(super) async fn get_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn_member(call, &mut validation);
    validation.finish()?;
    authorize(state, call, "iam:GetPolicy", arn).await?;
    let view = match catalogue::by_arn(arn) {
        Some(aws) => {
            let attached = state
                .control
                .store()
                .attachment_count(arn)
                .await
                .map_err(internal)?;
            aws_view(aws, attached)
        }
        None => customer_view(customer_policy(state, arn).await?),
    };
    Ok(response("GetPolicy", call).result(|w| {
        w.nest("Policy", |w| write_policy(w, &view, PolicyDetail::Full));
    }))
}

/// Which policies ListPolicies returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Aws,
    Local,
}

impl Scope {
    fn read(value: Option<&str>, validation: &mut Validation) -> Self {
        match value {
            None | Some("All") => Scope::All,
            Some("AWS") => Scope::Aws,
            Some("Local") => Scope::Local,
            Some(other) => {
                validation.violation(
                    "Scope",
                    Some(other),
                    "Member must satisfy enum value set: [All, AWS, Local]",
                );
                Scope::All
            }
        }
    }
}

/// ListPolicies (sorted by name).
pub(super) async fn list_policies(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let params = &call.params;
    let mut validation = Validation::new();
    let scope = Scope::read(params.get("Scope"), &mut validation);
    let only_attached = params.bool("OnlyAttached")?.unwrap_or(false);
    let prefix = params.get("PathPrefix");
    validation.check("PathPrefix", prefix, MemberType::PolicyPath);
    let page_request = PageRequest::read(params, &mut validation)?;
    validation.finish()?;
    authorize(state, call, "iam:ListPolicies", "*").await?;
    let prefix = prefix.unwrap_or("/");
    let mut views: Vec<PolicyView> = Vec::new();
    if scope != Scope::Local {
        for aws in MANAGED_POLICIES
            .iter()
            .filter(|p| p.path.starts_with(prefix))
        {
            let attached = state
                .control
                .store()
                .attachment_count(&aws.arn())
                .await
                .map_err(internal)?;
            views.push(aws_view(aws, attached));
        }
    }
    if scope != Scope::Aws {
        let local = state
            .control
            .store()
            .list_policies(prefix)
            .await
            .map_err(store_error)?;
        views.extend(local.into_iter().map(customer_view));
    }
    views.retain(|v| !only_attached || v.attachment_count > 0);
    let key = |v: &PolicyView| format!("{} {}", v.name, v.arn);
    views.sort_by_key(key);
    let page = page_request.page(views, key);
    Ok(response("ListPolicies", call).result(|w| {
        w.list("Policies", &page.items, |w, view| {
            write_policy(w, view, PolicyDetail::Listed);
        });
        page.write_truncation(w);
    }))
}

/// DeletePolicy.
pub(super) async fn delete_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn_member(call, &mut validation);
    validation.finish()?;
    authorize(state, call, "iam:DeletePolicy", arn).await?;
    customer_policy(state, arn).await?;
    state
        .control
        .store()
        .delete_policy(arn)
        .await
        .map_err(store_error)?;
    tracing::info!(request_id = %call.ctx.request_id, policy = %arn, "deleted policy");
    Ok(response("DeletePolicy", call).empty())
}

/// CreatePolicyVersion.
pub(super) async fn create_policy_version(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn_member(call, &mut validation);
    let document = required(
        call,
        &mut validation,
        "PolicyDocument",
        MemberType::PolicyDocument,
    );
    let set_default = call.params.bool("SetAsDefault")?.unwrap_or(false);
    validation.finish()?;
    authorize(state, call, "iam:CreatePolicyVersion", arn).await?;
    customer_policy(state, arn).await?;
    check_document(document, DocumentUse::Managed)?;
    let versions = state
        .control
        .store()
        .policy_versions(arn)
        .await
        .map_err(internal)?;
    if versions.len() >= MAX_VERSIONS {
        return Err(AwsError::limit_exceeded(format!(
            "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
        )));
    }
    let version = PolicyVersion {
        version_id: state
            .control
            .store()
            .next_policy_version_id(arn)
            .await
            .map_err(store_error)?,
        document: document.to_owned(),
        created_at: podpass_control::now(),
    };
    state
        .control
        .store()
        .create_policy_version(arn, &version, set_default)
        .await
        .map_err(store_error)?;
    Ok(response("CreatePolicyVersion", call).result(|w| {
        w.nest("PolicyVersion", |w| {
            write_policy_version(
                w,
                &version.version_id,
                None,
                set_default,
                version.created_at,
            );
        });
    }))
}

/// GetPolicyVersion (AWS managed policies have only their default version).
pub(super) async fn get_policy_version(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn_member(call, &mut validation);
    let version_id = version_id_member(call, &mut validation);
    validation.finish()?;
    authorize(state, call, "iam:GetPolicyVersion", arn).await?;
    let (version, is_default) = match catalogue::by_arn(arn) {
        Some(aws) if aws.default_version_id == version_id => (
            PolicyVersion {
                version_id: version_id.to_owned(),
                document: aws.document.to_owned(),
                created_at: AWS_POLICY_CREATED,
            },
            true,
        ),
        Some(_) => return Err(version_not_found(arn, version_id)),
        None => {
            let policy = customer_policy(state, arn).await?;
            let versions = state
                .control
                .store()
                .policy_versions(arn)
                .await
                .map_err(internal)?;
            let version = versions
                .into_iter()
                .find(|v| v.version_id == version_id)
                .ok_or_else(|| version_not_found(arn, version_id))?;
            (version, policy.default_version_id == version_id)
        }
    };
    Ok(response("GetPolicyVersion", call).result(|w| {
        w.nest("PolicyVersion", |w| {
            write_policy_version(
                w,
                &version.version_id,
                Some(&version.document),
                is_default,
                version.created_at,
            );
        });
    }))
}

/// ListPolicyVersions (oldest first).
pub(super) async fn list_policy_versions(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn_member(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    authorize(state, call, "iam:ListPolicyVersions", arn).await?;
    let (versions, default_id) = match catalogue::by_arn(arn) {
        Some(aws) => (
            vec![PolicyVersion {
                version_id: aws.default_version_id.to_owned(),
                document: String::new(),
                created_at: AWS_POLICY_CREATED,
            }],
            aws.default_version_id.to_owned(),
        ),
        None => {
            let policy = customer_policy(state, arn).await?;
            let versions = state
                .control
                .store()
                .policy_versions(arn)
                .await
                .map_err(internal)?;
            (versions, policy.default_version_id)
        }
    };
    let key = |v: &PolicyVersion| format!("{:020}", version_number(&v.version_id));
    let mut versions = versions;
    versions.sort_by_key(key);
    let page = page_request.page(versions, key);
    Ok(response("ListPolicyVersions", call).result(|w| {
        w.list("Versions", &page.items, |w, v| {
            write_policy_version(
                w,
                &v.version_id,
                None,
                v.version_id == default_id,
                v.created_at,
            );
        });
        page.write_truncation(w);
    }))
}

/// DeletePolicyVersion (never the default one).
pub(super) async fn delete_policy_version(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn_member(call, &mut validation);
    let version_id = version_id_member(call, &mut validation);
    validation.finish()?;
    authorize(state, call, "iam:DeletePolicyVersion", arn).await?;
    customer_policy(state, arn).await?;
    state
        .control
        .store()
        .delete_policy_version(arn, version_id)
        .await
        .map_err(|e| version_error(e, arn, version_id))?;
    Ok(response("DeletePolicyVersion", call).empty())
}

/// SetDefaultPolicyVersion.
pub(super) async fn set_default_policy_version(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn_member(call, &mut validation);
    let version_id = version_id_member(call, &mut validation);
    validation.finish()?;
    authorize(state, call, "iam:SetDefaultPolicyVersion", arn).await?;
    customer_policy(state, arn).await?;
    state
        .control
        .store()
        .set_default_policy_version(arn, version_id, podpass_control::now())
        .await
        .map_err(|e| version_error(e, arn, version_id))?;
    Ok(response("SetDefaultPolicyVersion", call).empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_policy_ids_are_stable_and_distinct() {
        let a = aws_policy_id("AmazonS3ReadOnlyAccess");
        assert_eq!(a, aws_policy_id("AmazonS3ReadOnlyAccess"));
        assert_eq!(a.len(), 21);
        assert!(a.starts_with("ANPA"));
        let ids: std::collections::HashSet<String> = MANAGED_POLICIES
            .iter()
            .map(|p| aws_policy_id(p.name))
            .collect();
        assert_eq!(ids.len(), MANAGED_POLICIES.len());
    }

    #[test]
    fn version_numbers_order_versions() {
        assert_eq!(version_number("v12"), 12);
        assert_eq!(version_number("v2.beta"), 0);
        assert_eq!(version_number("x"), 0);
    }
}
