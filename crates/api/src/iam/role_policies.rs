//! A role's inline policies and its managed policy attachments.

use podpass_awsproto::{
    AwsError, MemberType, RenderedResponse, Validation, encode_policy_document,
};

use super::common::{
    DocumentUse, authorized_role, check_document, require_attachable, required, response,
    role_name, split_policy_arn, store_error,
};
use super::pagination::PageRequest;
use crate::AppState;
use crate::call::Call;

/// Most managed policies one role may have attached (IAM's default quota).
const MAX_ATTACHED_POLICIES: usize = 10;

fn policy_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "PolicyName", MemberType::PolicyName)
}

fn policy_arn_member<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "PolicyArn", MemberType::Arn)
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
    let role = authorized_role(state, call, "iam:PutRolePolicy", role).await?;
    // The quota is on all inline policies of the role together; the one replaced does not count.
    let existing = state
        .control
        .store()
        .role_policies(&role.role_name)
        .await
        .map_err(store_error)?;
    let others: Vec<&str> = existing
        .iter()
        .filter(|(existing_name, _)| existing_name != name)
        .map(|(_, document)| document.as_str())
        .collect();
    check_document(
        document,
        DocumentUse::Inline {
            role: &role.role_name,
            others: &others,
        },
    )?;
    state
        .control
        .store()
        .put_role_policy(&role.role_name, name, document)
        .await
        .map_err(store_error)?;
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
    let role = authorized_role(state, call, "iam:GetRolePolicy", role).await?;
    let document = state
        .control
        .store()
        .role_policy(&role.role_name, name)
        .await
        .map_err(store_error)?;
    Ok(response("GetRolePolicy", call).result(|w| {
        w.elem("RoleName", &role.role_name)
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
    let role = authorized_role(state, call, "iam:DeleteRolePolicy", role).await?;
    state
        .control
        .store()
        .delete_role_policy(&role.role_name, name)
        .await
        .map_err(store_error)?;
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
    let role = authorized_role(state, call, "iam:ListRolePolicies", role).await?;
    let mut names: Vec<String> = state
        .control
        .store()
        .role_policies(&role.role_name)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    names.sort();
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
    let arn = policy_arn_member(call, &mut validation);
    validation.finish()?;
    let role = authorized_role(state, call, "iam:AttachRolePolicy", role).await?;
    require_attachable(state, arn).await?;
    let attached = state
        .control
        .store()
        .attached_role_policies(&role.role_name)
        .await
        .map_err(store_error)?;
    if !attached.iter().any(|a| a == arn) && attached.len() >= MAX_ATTACHED_POLICIES {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED_POLICIES}"
        )));
    }
    state
        .control
        .store()
        .attach_role_policy(&role.role_name, arn)
        .await
        .map_err(store_error)?;
    Ok(response("AttachRolePolicy", call).empty())
}

/// DetachRolePolicy.
pub(super) async fn detach_role_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let role = role_name(call, &mut validation);
    let arn = policy_arn_member(call, &mut validation);
    validation.finish()?;
    let role = authorized_role(state, call, "iam:DetachRolePolicy", role).await?;
    state
        .control
        .store()
        .detach_role_policy(&role.role_name, arn)
        .await
        .map_err(store_error)?;
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
    let role = authorized_role(state, call, "iam:ListAttachedRolePolicies", role).await?;
    let mut arns: Vec<String> = state
        .control
        .store()
        .attached_role_policies(&role.role_name)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|arn| split_policy_arn(arn).0.starts_with(prefix.unwrap_or("/")))
        .collect();
    arns.sort();
    let page = page_request.page(arns, Clone::clone);
    Ok(response("ListAttachedRolePolicies", call).result(|w| {
        w.list("AttachedPolicies", &page.items, |w, arn| {
            w.elem("PolicyName", split_policy_arn(arn).1)
                .elem("PolicyArn", arn);
        });
        page.write_truncation(w);
    }))
}
