//! Managed policies and their versions.

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_control::iam::{NewPolicy, PolicyInfo, PolicyScope, version_order_key};
use podpass_store::PolicyVersion;

use super::common::{check_max_len, policy_arn, required, response};
use super::pagination::PageRequest;
use super::render::{PolicyDetail, write_policy, write_policy_version};
use super::tags::read_tags;
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

/// Longest policy description.
const MAX_DESCRIPTION: usize = 1000;

fn version_id<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "VersionId", MemberType::PolicyVersionId)
}

/// The `Scope` member of ListPolicies.
fn read_scope(value: Option<&str>, validation: &mut Validation) -> PolicyScope {
    match value {
        None | Some("All") => PolicyScope::All,
        Some("AWS") => PolicyScope::Aws,
        Some("Local") => PolicyScope::Local,
        Some(other) => {
            validation.violation(
                "Scope",
                Some(other),
                "Member must satisfy enum value set: [All, AWS, Local]",
            );
            PolicyScope::All
        }
    }
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
    let new = NewPolicy {
        name,
        path,
        description,
        document,
        tags,
    };
    let policy = state
        .control
        .create_policy(&call.ctx, new)
        .await
        .map_err(query)?;
    Ok(response("CreatePolicy", call).result(|w| {
        w.nest("Policy", |w| {
            write_policy(w, &policy, PolicyDetail::Created)
        });
    }))
}

/// GetPolicy (AWS managed or customer managed).
pub(super) async fn get_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn(call, &mut validation);
    validation.finish()?;
    let policy = state
        .control
        .get_policy(&call.ctx, arn)
        .await
        .map_err(query)?;
    Ok(response("GetPolicy", call).result(|w| {
        w.nest("Policy", |w| write_policy(w, &policy, PolicyDetail::Full));
    }))
}

/// ListPolicies (sorted by name).
pub(super) async fn list_policies(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let params = &call.params;
    let mut validation = Validation::new();
    let scope = read_scope(params.get("Scope"), &mut validation);
    let only_attached = params.bool("OnlyAttached")?.unwrap_or(false);
    let prefix = params.get("PathPrefix");
    validation.check("PathPrefix", prefix, MemberType::PolicyPath);
    let page_request = PageRequest::read(params, &mut validation)?;
    validation.finish()?;
    let policies = state
        .control
        .list_policies(&call.ctx, scope, only_attached, prefix.unwrap_or("/"))
        .await
        .map_err(query)?;
    let page = page_request.page(policies, |p: &PolicyInfo| format!("{} {}", p.name, p.arn));
    Ok(response("ListPolicies", call).result(|w| {
        w.list("Policies", &page.items, |w, policy| {
            write_policy(w, policy, PolicyDetail::Listed);
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
    let arn = policy_arn(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_policy(&call.ctx, arn)
        .await
        .map_err(query)?;
    Ok(response("DeletePolicy", call).empty())
}

/// CreatePolicyVersion.
pub(super) async fn create_policy_version(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn(call, &mut validation);
    let document = required(
        call,
        &mut validation,
        "PolicyDocument",
        MemberType::PolicyDocument,
    );
    let set_default = call.params.bool("SetAsDefault")?.unwrap_or(false);
    validation.finish()?;
    let version = state
        .control
        .create_policy_version(&call.ctx, arn, document, set_default)
        .await
        .map_err(query)?;
    Ok(response("CreatePolicyVersion", call).result(|w| {
        w.nest("PolicyVersion", |w| {
            write_policy_version(w, &version, false, set_default);
        });
    }))
}

/// GetPolicyVersion.
pub(super) async fn get_policy_version(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn(call, &mut validation);
    let version_id = version_id(call, &mut validation);
    validation.finish()?;
    let (version, is_default) = state
        .control
        .get_policy_version(&call.ctx, arn, version_id)
        .await
        .map_err(query)?;
    Ok(response("GetPolicyVersion", call).result(|w| {
        w.nest("PolicyVersion", |w| {
            write_policy_version(w, &version, true, is_default);
        });
    }))
}

/// ListPolicyVersions (oldest first).
pub(super) async fn list_policy_versions(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let (versions, default_id) = state
        .control
        .list_policy_versions(&call.ctx, arn)
        .await
        .map_err(query)?;
    let page = page_request.page(versions, |v: &PolicyVersion| {
        version_order_key(&v.version_id)
    });
    Ok(response("ListPolicyVersions", call).result(|w| {
        w.list("Versions", &page.items, |w, v| {
            write_policy_version(w, v, false, v.version_id == default_id);
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
    let arn = policy_arn(call, &mut validation);
    let version_id = version_id(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_policy_version(&call.ctx, arn, version_id)
        .await
        .map_err(query)?;
    Ok(response("DeletePolicyVersion", call).empty())
}

/// SetDefaultPolicyVersion.
pub(super) async fn set_default_policy_version(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let arn = policy_arn(call, &mut validation);
    let version_id = version_id(call, &mut validation);
    validation.finish()?;
    state
        .control
        .set_default_policy_version(&call.ctx, arn, version_id)
        .await
        .map_err(query)?;
    Ok(response("SetDefaultPolicyVersion", call).empty())
}
