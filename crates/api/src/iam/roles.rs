//! Role operations: create, read, list, update, delete, tags and permissions boundary.

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_control::ids::unique_id;
use podpass_store::Role;

use super::common::{
    DocumentUse, account, authorized_role, check_document, lint_trust_policy, require_attachable,
    response, role_name, store_error,
};
use super::pagination::PageRequest;
use super::render::{RoleView, write_role, write_tags};
use super::tags::{MAX_TAGS, check_unique_keys, merge_tags, read_tags, remove_tags};
use crate::AppState;
use crate::call::Call;
use crate::call::authorize;
use crate::errors::internal;

/// Default and bounds of `MaxSessionDuration`.
const DEFAULT_MAX_SESSION: i64 = 3600;
const MAX_SESSION_RANGE: (i64, i64) = (3600, 43_200);

/// CreateRole.
pub(super) async fn create_role(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let params = &call.params;
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let path = params.get("Path");
    let document = params.get("AssumeRolePolicyDocument");
    let description = params.get("Description");
    let boundary = params.get("PermissionsBoundary");
    let max_session = params.i64("MaxSessionDuration")?;
    validation
        .check("Path", path, MemberType::Path)
        .require("AssumeRolePolicyDocument", document)
        .check(
            "AssumeRolePolicyDocument",
            document,
            MemberType::PolicyDocument,
        )
        .check("Description", description, MemberType::RoleDescription)
        .check_range(
            "MaxSessionDuration",
            max_session,
            MAX_SESSION_RANGE.0,
            MAX_SESSION_RANGE.1,
        )
        .check("PermissionsBoundary", boundary, MemberType::Arn);
    let tags = read_tags(params, &mut validation).unwrap_or_default();
    validation.finish()?;
    let path = path.unwrap_or("/");
    let arn = podpass_arn::role(account(state), path, name);
    authorize(state, call, "iam:CreateRole", &arn).await?;
    check_unique_keys(&tags)?;
    let document = document.unwrap_or_default();
    let policy = check_document(document, DocumentUse::Trust)?;
    if let Some(boundary) = boundary {
        require_attachable(state, boundary).await?;
    }
    let role = Role {
        role_name: name.to_owned(),
        role_id: unique_id("AROA").map_err(internal)?,
        path: path.to_owned(),
        arn,
        trust_policy: document.to_owned(),
        description: description.filter(|d| !d.is_empty()).map(str::to_owned),
        max_session_duration: max_session.unwrap_or(DEFAULT_MAX_SESSION),
        permissions_boundary: boundary.map(str::to_owned),
        tags,
        created_at: podpass_control::now(),
    };
    state
        .control
        .store()
        .create_role(&role)
        .await
        .map_err(store_error)?;
    lint_trust_policy(&role.role_name, &policy);
    tracing::info!(request_id = %call.ctx.request_id, role = %role.arn, "created role");
    Ok(response("CreateRole", call).result(|w| {
        w.nest("Role", |w| write_role(w, &role, RoleView::Created));
    }))
}

/// GetRole.
pub(super) async fn get_role(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    validation.finish()?;
    let role = authorized_role(state, call, "iam:GetRole", name).await?;
    Ok(response("GetRole", call).result(|w| {
        w.nest("Role", |w| write_role(w, &role, RoleView::Full));
    }))
}

/// ListRoles.
pub(super) async fn list_roles(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let prefix = call.params.get("PathPrefix");
    validation.check("PathPrefix", prefix, MemberType::PathPrefix);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    authorize(state, call, "iam:ListRoles", "*").await?;
    let mut roles = state
        .control
        .store()
        .list_roles(prefix.unwrap_or("/"))
        .await
        .map_err(store_error)?;
    roles.sort_by_key(|r| r.role_name.to_ascii_lowercase());
    let page = page_request.page(roles, |r| r.role_name.to_ascii_lowercase());
    Ok(response("ListRoles", call).result(|w| {
        w.list("Roles", &page.items, |w, role| {
            write_role(w, role, RoleView::Listed)
        });
        page.write_truncation(w);
    }))
}

/// DeleteRole.
pub(super) async fn delete_role(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    validation.finish()?;
    let role = authorized_role(state, call, "iam:DeleteRole", name).await?;
    state
        .control
        .store()
        .delete_role(&role.role_name)
        .await
        .map_err(store_error)?;
    tracing::info!(request_id = %call.ctx.request_id, role = %role.arn, "deleted role");
    Ok(response("DeleteRole", call).empty())
}

/// UpdateRole (description and maximum session duration).
pub(super) async fn update_role(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let description = call.params.get("Description");
    let max_session = call.params.i64("MaxSessionDuration")?;
    validation
        .check("Description", description, MemberType::RoleDescription)
        .check_range(
            "MaxSessionDuration",
            max_session,
            MAX_SESSION_RANGE.0,
            MAX_SESSION_RANGE.1,
        );
    validation.finish()?;
    let mut role = authorized_role(state, call, "iam:UpdateRole", name).await?;
    if let Some(description) = description {
        role.description = Some(description.to_owned()).filter(|d| !d.is_empty());
    }
    if let Some(max_session) = max_session {
        role.max_session_duration = max_session;
    }
    state
        .control
        .store()
        .update_role(&role)
        .await
        .map_err(store_error)?;
    Ok(response("UpdateRole", call).result(|_| {}))
}

/// UpdateRoleDescription: returns the updated role.
pub(super) async fn update_role_description(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let description = call.params.get("Description");
    validation.require("Description", description).check(
        "Description",
        description,
        MemberType::RoleDescription,
    );
    validation.finish()?;
    let mut role = authorized_role(state, call, "iam:UpdateRoleDescription", name).await?;
    role.description = description.filter(|d| !d.is_empty()).map(str::to_owned);
    state
        .control
        .store()
        .update_role(&role)
        .await
        .map_err(store_error)?;
    Ok(response("UpdateRoleDescription", call).result(|w| {
        w.nest("Role", |w| write_role(w, &role, RoleView::Full));
    }))
}

/// UpdateAssumeRolePolicy.
pub(super) async fn update_assume_role_policy(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let document = call.params.get("PolicyDocument");
    validation.require("PolicyDocument", document).check(
        "PolicyDocument",
        document,
        MemberType::PolicyDocument,
    );
    validation.finish()?;
    let mut role = authorized_role(state, call, "iam:UpdateAssumeRolePolicy", name).await?;
    let document = document.unwrap_or_default();
    let policy = check_document(document, DocumentUse::Trust)?;
    role.trust_policy = document.to_owned();
    state
        .control
        .store()
        .update_role(&role)
        .await
        .map_err(store_error)?;
    lint_trust_policy(&role.role_name, &policy);
    Ok(response("UpdateAssumeRolePolicy", call).empty())
}

/// TagRole.
pub(super) async fn tag_role(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let tags = read_tags(&call.params, &mut validation);
    if tags.is_none() {
        validation.require("Tags", None);
    }
    validation.finish()?;
    let tags = tags.unwrap_or_default();
    let mut role = authorized_role(state, call, "iam:TagRole", name).await?;
    check_unique_keys(&tags)?;
    role.tags = merge_tags(&role.tags, &tags)?;
    state
        .control
        .store()
        .update_role(&role)
        .await
        .map_err(store_error)?;
    Ok(response("TagRole", call).empty())
}

/// UntagRole.
pub(super) async fn untag_role(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let keys = call.params.list("TagKeys");
    match &keys {
        None => {
            validation.require("TagKeys", None);
        }
        Some(keys) => {
            validation.check_list_len("TagKeys", Some(keys), MAX_TAGS);
            for (i, key) in keys.iter().enumerate() {
                validation.check(
                    &format!("TagKeys.member.{}", i + 1),
                    Some(key),
                    MemberType::TagKey,
                );
            }
        }
    }
    validation.finish()?;
    let mut role = authorized_role(state, call, "iam:UntagRole", name).await?;
    role.tags = remove_tags(&role.tags, &keys.unwrap_or_default());
    state
        .control
        .store()
        .update_role(&role)
        .await
        .map_err(store_error)?;
    Ok(response("UntagRole", call).empty())
}

/// ListRoleTags (sorted by key).
pub(super) async fn list_role_tags(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let mut role = authorized_role(state, call, "iam:ListRoleTags", name).await?;
    role.tags.sort_by_key(|t| t.key.to_ascii_lowercase());
    let page = page_request.page(role.tags, |t| t.key.to_ascii_lowercase());
    Ok(response("ListRoleTags", call).result(|w| {
        write_tags(w, &page.items);
        page.write_truncation(w);
    }))
}

/// PutRolePermissionsBoundary.
pub(super) async fn put_role_permissions_boundary(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    let boundary = call.params.get("PermissionsBoundary");
    validation.require("PermissionsBoundary", boundary).check(
        "PermissionsBoundary",
        boundary,
        MemberType::Arn,
    );
    validation.finish()?;
    let boundary = boundary.unwrap_or_default();
    let mut role = authorized_role(state, call, "iam:PutRolePermissionsBoundary", name).await?;
    require_attachable(state, boundary).await?;
    role.permissions_boundary = Some(boundary.to_owned());
    state
        .control
        .store()
        .update_role(&role)
        .await
        .map_err(store_error)?;
    Ok(response("PutRolePermissionsBoundary", call).empty())
}

/// DeleteRolePermissionsBoundary.
pub(super) async fn delete_role_permissions_boundary(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    validation.finish()?;
    let mut role = authorized_role(state, call, "iam:DeleteRolePermissionsBoundary", name).await?;
    role.permissions_boundary = None;
    state
        .control
        .store()
        .update_role(&role)
        .await
        .map_err(store_error)?;
    Ok(response("DeleteRolePermissionsBoundary", call).empty())
}
