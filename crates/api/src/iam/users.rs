//! User operations: create, read, list, update, delete, and the user's access keys (tags and
//! boundary: `identity_attributes`).

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_control::iam::{NewUser, UserView};

use super::common::{required, response, timestamp};
use super::pagination::PageRequest;
use super::render::{write_access_key, write_user};
use super::tags::read_tags;
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

fn user_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "UserName", MemberType::ExistingUserName)
}

/// The optional `UserName` of operations that default to the calling user.
fn optional_user_name<'c>(call: &'c Call, validation: &mut Validation) -> Option<&'c str> {
    let name = call.params.get("UserName");
    validation.check("UserName", name, MemberType::ExistingUserName);
    name
}

/// CreateUser.
pub(super) async fn create_user(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let params = &call.params;
    let mut validation = Validation::new();
    let name = required(call, &mut validation, "UserName", MemberType::UserName);
    let path = params.get("Path");
    let boundary = params.get("PermissionsBoundary");
    validation.check("Path", path, MemberType::Path).check(
        "PermissionsBoundary",
        boundary,
        MemberType::Arn,
    );
    let tags = read_tags(params, &mut validation).unwrap_or_default();
    validation.finish()?;
    let new = NewUser {
        name,
        path,
        permissions_boundary: boundary,
        tags,
    };
    let user = state
        .control
        .create_user(&call.ctx, new)
        .await
        .map_err(query)?;
    Ok(response("CreateUser", call).result(|w| {
        w.nest("User", |w| write_user(w, &user, false));
    }))
}

/// GetUser: the user named, or the caller itself.
pub(super) async fn get_user(state: &AppState, call: &Call) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = optional_user_name(call, &mut validation);
    validation.finish()?;
    let view = state
        .control
        .get_user(&call.ctx, name)
        .await
        .map_err(query)?;
    Ok(response("GetUser", call).result(|w| {
        w.nest("User", |w| match &view {
            UserView::User(user) => write_user(w, user, false),
            // The account root has no name or path.
            UserView::Root {
                account,
                arn,
                created_at,
            } => {
                w.elem("UserId", account)
                    .elem("Arn", arn)
                    .timestamp("CreateDate", timestamp(*created_at));
            }
        });
    }))
}

/// ListUsers.
pub(super) async fn list_users(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let prefix = call.params.get("PathPrefix");
    validation.check("PathPrefix", prefix, MemberType::PathPrefix);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let users = state
        .control
        .list_users(&call.ctx, prefix.unwrap_or("/"))
        .await
        .map_err(query)?;
    let page = page_request.page(users, |u| u.user_name.to_ascii_lowercase());
    Ok(response("ListUsers", call).result(|w| {
        w.list("Users", &page.items, |w, user| write_user(w, user, true));
        page.write_truncation(w);
    }))
}

/// UpdateUser: a new name and/or path.
pub(super) async fn update_user(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = user_name(call, &mut validation);
    let new_name = call.params.get("NewUserName");
    let new_path = call.params.get("NewPath");
    validation
        .check("NewUserName", new_name, MemberType::UserName)
        .check("NewPath", new_path, MemberType::Path);
    validation.finish()?;
    state
        .control
        .update_user(&call.ctx, name, new_name, new_path)
        .await
        .map_err(query)?;
    Ok(response("UpdateUser", call).empty())
}

/// DeleteUser.
pub(super) async fn delete_user(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = user_name(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_user(&call.ctx, name)
        .await
        .map_err(query)?;
    Ok(response("DeleteUser", call).empty())
}

/// CreateAccessKey: the only answer that carries the secret.
pub(super) async fn create_access_key(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = optional_user_name(call, &mut validation);
    validation.finish()?;
    let key = state
        .control
        .create_access_key(&call.ctx, name)
        .await
        .map_err(query)?;
    Ok(response("CreateAccessKey", call).result(|w| {
        w.nest("AccessKey", |w| write_access_key(w, &key, true));
    }))
}

/// ListAccessKeys.
pub(super) async fn list_access_keys(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = optional_user_name(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let keys = state
        .control
        .list_access_keys(&call.ctx, name)
        .await
        .map_err(query)?;
    let page = page_request.page(keys, |k| k.key.access_key_id.clone());
    Ok(response("ListAccessKeys", call).result(|w| {
        w.list("AccessKeyMetadata", &page.items, |w, key| {
            write_access_key(w, key, false);
        });
        page.write_truncation(w);
    }))
}

/// The required `AccessKeyId` member.
fn access_key_id<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "AccessKeyId", MemberType::AccessKeyId)
}

/// UpdateAccessKey: `Status` is `Active` or `Inactive`.
pub(super) async fn update_access_key(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = optional_user_name(call, &mut validation);
    let key_id = access_key_id(call, &mut validation);
    let status = call.params.get("Status");
    validation.require("Status", status);
    let active = match status {
        Some("Active") => true,
        Some("Inactive") | None => false,
        Some(other) => {
            validation.violation(
                "Status",
                Some(other),
                "Member must satisfy enum value set: [Active, Inactive, Expired]",
            );
            false
        }
    };
    validation.finish()?;
    state
        .control
        .update_access_key(&call.ctx, name, key_id, active)
        .await
        .map_err(query)?;
    Ok(response("UpdateAccessKey", call).empty())
}

/// DeleteAccessKey.
pub(super) async fn delete_access_key(
    state: &AppState,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let name = optional_user_name(call, &mut validation);
    let key_id = access_key_id(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_access_key(&call.ctx, name, key_id)
        .await
        .map_err(query)?;
    Ok(response("DeleteAccessKey", call).empty())
}
