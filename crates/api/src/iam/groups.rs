//! Group operations: create, read with members, list, update, delete, membership.

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};

use super::common::{required, response};
use super::pagination::PageRequest;
use super::render::{write_group, write_user};
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

fn group_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "GroupName", MemberType::GroupName)
}

fn user_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "UserName", MemberType::ExistingUserName)
}

/// CreateGroup.
pub(super) async fn create_group(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = group_name(call, &mut validation);
    let path = call.params.get("Path");
    validation.check("Path", path, MemberType::Path);
    validation.finish()?;
    let group = state
        .control
        .create_group(&call.ctx, name, path)
        .await
        .map_err(query)?;
    Ok(response("CreateGroup", call).result(|w| {
        w.nest("Group", |w| write_group(w, &group));
    }))
}

/// GetGroup: the group and a page of its members.
pub(super) async fn get_group(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = group_name(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let (group, members) = state
        .control
        .get_group(&call.ctx, name)
        .await
        .map_err(query)?;
    let page = page_request.page(members, |u| u.user_name.to_ascii_lowercase());
    Ok(response("GetGroup", call).result(|w| {
        w.nest("Group", |w| write_group(w, &group));
        w.list("Users", &page.items, |w, user| write_user(w, user, true));
        page.write_truncation(w);
    }))
}

/// ListGroups.
pub(super) async fn list_groups(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let prefix = call.params.get("PathPrefix");
    validation.check("PathPrefix", prefix, MemberType::PathPrefix);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let groups = state
        .control
        .list_groups(&call.ctx, prefix.unwrap_or("/"))
        .await
        .map_err(query)?;
    let page = page_request.page(groups, |g| g.group_name.to_ascii_lowercase());
    Ok(response("ListGroups", call).result(|w| {
        w.list("Groups", &page.items, write_group);
        page.write_truncation(w);
    }))
}

/// ListGroupsForUser.
pub(super) async fn list_groups_for_user(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let user = user_name(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let groups = state
        .control
        .list_groups_for_user(&call.ctx, user)
        .await
        .map_err(query)?;
    let page = page_request.page(groups, |g| g.group_name.to_ascii_lowercase());
    Ok(response("ListGroupsForUser", call).result(|w| {
        w.list("Groups", &page.items, write_group);
        page.write_truncation(w);
    }))
}

/// UpdateGroup: a new name and/or path.
pub(super) async fn update_group(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = group_name(call, &mut validation);
    let new_name = call.params.get("NewGroupName");
    let new_path = call.params.get("NewPath");
    validation
        .check("NewGroupName", new_name, MemberType::GroupName)
        .check("NewPath", new_path, MemberType::Path);
    validation.finish()?;
    state
        .control
        .update_group(&call.ctx, name, new_name, new_path)
        .await
        .map_err(query)?;
    Ok(response("UpdateGroup", call).empty())
}

/// DeleteGroup.
pub(super) async fn delete_group(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = group_name(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_group(&call.ctx, name)
        .await
        .map_err(query)?;
    Ok(response("DeleteGroup", call).empty())
}

/// AddUserToGroup (`member`) or RemoveUserFromGroup.
pub(super) async fn set_member(
    state: &AppState,
    call: &Call,
    member: bool,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let group = group_name(call, &mut validation);
    let user = user_name(call, &mut validation);
    validation.finish()?;
    state
        .control
        .set_group_member(&call.ctx, group, user, member)
        .await
        .map_err(query)?;
    let operation = if member {
        "AddUserToGroup"
    } else {
        "RemoveUserFromGroup"
    };
    Ok(response(operation, call).empty())
}
