//! Tags and permissions boundaries of roles and users: one handler per operation, for both
//! kinds of identity (`TagRole`, `TagUser`, ...).

use podpass_awsproto::{AwsError, MemberType, RenderedResponse, Validation};
use podpass_control::iam::Tagged;

use super::common::{required, response};
use super::pagination::PageRequest;
use super::render::write_tags;
use super::tags::{read_tag_keys, read_tags};
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

/// Which kind of identity an operation names, which decides the member that names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IdentityKind {
    Role,
    User,
}

impl IdentityKind {
    /// Reads and validates `RoleName` or `UserName`.
    fn read<'c>(self, call: &'c Call, validation: &mut Validation) -> Tagged<'c> {
        match self {
            IdentityKind::Role => {
                Tagged::Role(required(call, validation, "RoleName", MemberType::RoleName))
            }
            IdentityKind::User => Tagged::User(required(
                call,
                validation,
                "UserName",
                MemberType::ExistingUserName,
            )),
        }
    }
}

/// Tag{Role,User}.
pub(super) async fn tag(
    state: &AppState,
    call: &Call,
    kind: IdentityKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let who = kind.read(call, &mut validation);
    let tags = read_tags(&call.params, &mut validation);
    if tags.is_none() {
        validation.require("Tags", None);
    }
    validation.finish()?;
    state
        .control
        .tag(&call.ctx, who, &tags.unwrap_or_default())
        .await
        .map_err(query)?;
    Ok(response(&who.operation("Tag", ""), call).empty())
}

/// Untag{Role,User}.
pub(super) async fn untag(
    state: &AppState,
    call: &Call,
    kind: IdentityKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let who = kind.read(call, &mut validation);
    let keys = read_tag_keys(&call.params, &mut validation);
    validation.finish()?;
    state
        .control
        .untag(&call.ctx, who, &keys)
        .await
        .map_err(query)?;
    Ok(response(&who.operation("Untag", ""), call).empty())
}

/// List{Role,User}Tags (sorted by key).
pub(super) async fn list_tags(
    state: &AppState,
    call: &Call,
    kind: IdentityKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let who = kind.read(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let tags = state
        .control
        .list_tags(&call.ctx, who)
        .await
        .map_err(query)?;
    let page = page_request.page(tags, |t| t.key.to_ascii_lowercase());
    Ok(response(&who.operation("List", "Tags"), call).result(|w| {
        write_tags(w, &page.items);
        page.write_truncation(w);
    }))
}

/// Put{Role,User}PermissionsBoundary.
pub(super) async fn put_boundary(
    state: &AppState,
    call: &Call,
    kind: IdentityKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let who = kind.read(call, &mut validation);
    let boundary = required(
        call,
        &mut validation,
        "PermissionsBoundary",
        MemberType::Arn,
    );
    validation.finish()?;
    state
        .control
        .set_permissions_boundary(&call.ctx, who, Some(boundary))
        .await
        .map_err(query)?;
    Ok(response(&who.operation("Put", "PermissionsBoundary"), call).empty())
}

/// Delete{Role,User}PermissionsBoundary.
pub(super) async fn delete_boundary(
    state: &AppState,
    call: &Call,
    kind: IdentityKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let who = kind.read(call, &mut validation);
    validation.finish()?;
    state
        .control
        .set_permissions_boundary(&call.ctx, who, None)
        .await
        .map_err(query)?;
    Ok(response(&who.operation("Delete", "PermissionsBoundary"), call).empty())
}
