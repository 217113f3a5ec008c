//! A role's inline policies and its managed policy attachments.

use podpass_awsproto::{
    AwsError, MemberType, RenderedResponse, Validation, encode_policy_document,
};
use podpass_control::iam::split_policy_arn;

use super::common::{policy_arn, required, response, role_name};
use super::pagination::PageRequest;
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

fn policy_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "PolicyName", MemberType::PolicyName)
}

/// PutRolePolicy.
pub(super) async fn put_role_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let name = policy_name(call, &mut validation);
    let document = required(
        call,
        &mut validation,
        "PolicyDocument",
        MemberType::PolicyDocument,
    );
    validation.finish()?;
    state
        .control
        .put_role_policy(&call.ctx, role, name, document)
        .await
        .map_err(query)?;
    Ok(response("PutRolePolicy", call).empty())
}

/// GetRolePolicy.
pub(super) async fn get_role_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let name = policy_name(call, &mut validation);
    validation.finish()?;
    let (role, document) = state
        .control
        .get_role_policy(&call.ctx, role, name)
        .await
        .map_err(query)?;
    Ok(response("GetRolePolicy", call).result(|w| {
        w.elem("RoleName", &role)
            .elem("PolicyName", name)
            .elem("PolicyDocument", &encode_policy_document(&document));
    }))
}

/// DeleteRolePolicy.
pub(super) async fn delete_role_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let name = policy_name(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_role_policy(&call.ctx, role, name)
        .await
        .map_err(query)?;
    Ok(response("DeleteRolePolicy", call).empty())
}

/// ListRolePolicies.
pub(super) async fn list_role_policies(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let names = state
        .control
        .list_role_policies(&call.ctx, role)
        .await
        .map_err(query)?;
    let page = page_request.page(names, Clone::clone);
    Ok(response("ListRolePolicies", call).result(|w| {
        w.text_list("PolicyNames", &page.items);
        page.write_truncation(w);
    }))
}

/// AttachRolePolicy (AWS managed or customer managed policies).
pub(super) async fn attach_role_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let arn = policy_arn(call, &mut validation);
    validation.finish()?;
    state
        .control
        .attach_role_policy(&call.ctx, role, arn)
        .await
        .map_err(query)?;
    Ok(response("AttachRolePolicy", call).empty())
}

/// DetachRolePolicy.
pub(super) async fn detach_role_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let arn = policy_arn(call, &mut validation);
    validation.finish()?;
    state
        .control
        .detach_role_policy(&call.ctx, role, arn)
        .await
        .map_err(query)?;
    Ok(response("DetachRolePolicy", call).empty())
}

/// ListAttachedRolePolicies (names and paths come from the ARNs).
pub(super) async fn list_attached_role_policies(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let prefix = call.params.get("PathPrefix");
    validation.check("PathPrefix", prefix, MemberType::PolicyPath);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let arns = state
        .control
        .list_attached_role_policies(&call.ctx, role, prefix.unwrap_or("/"))
        .await
        .map_err(query)?;
    let page = page_request.page(arns, Clone::clone);
    Ok(response("ListAttachedRolePolicies", call).result(|w| {
        w.list("AttachedPolicies", &page.items, |w, arn| {
            w.elem("PolicyName", split_policy_arn(arn).1)
                .elem("PolicyArn", arn);
        });
        page.write_truncation(w);
    }))
}
