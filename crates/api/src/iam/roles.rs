//! Role operations: create, read, list, update, delete (tags and boundary:
//! `identity_attributes`).

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_control::iam::{MAX_SESSION_RANGE, NewRole};

use super::common::{response, role_name};
use super::pagination::PageRequest;
use super::render::{RoleView, write_role};
use super::tags::read_tags;
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

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
    let new = NewRole {
        name,
        path,
        trust_policy: document.unwrap_or_default(),
        description,
        max_session_duration: max_session,
        permissions_boundary: boundary,
        tags,
    };
    let role = state
        .control
        .create_role(&call.ctx, new)
        .await
        .map_err(query)?;
    Ok(response("CreateRole", call).result(|w| {
        w.nest("Role", |w| write_role(w, &role, RoleView::Created));
    }))
}

/// GetRole.
pub(super) async fn get_role(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = role_name(call, &mut validation);
    validation.finish()?;
    let role = state
        .control
        .get_role(&call.ctx, name)
        .await
        .map_err(query)?;
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
    let roles = state
        .control
        .list_roles(&call.ctx, prefix.unwrap_or("/"))
        .await
        .map_err(query)?;
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
    state
        .control
        .delete_role(&call.ctx, name)
        .await
        .map_err(query)?;
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
    state
        .control
        .update_role(&call.ctx, name, description, max_session)
        .await
        .map_err(query)?;
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
    let role = state
        .control
        .update_role_description(&call.ctx, name, description.unwrap_or_default())
        .await
        .map_err(query)?;
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
    state
        .control
        .update_assume_role_policy(&call.ctx, name, document.unwrap_or_default())
        .await
        .map_err(query)?;
    Ok(response("UpdateAssumeRolePolicy", call).empty())
}
