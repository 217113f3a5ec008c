//! Inline policies and managed policy attachments of roles, users and groups: one handler per
//! operation, for the three kinds of holder (`PutRolePolicy`, `PutUserPolicy`, ...).

use podpass_awsproto::{
    AwsError, MemberType, RenderedResponse, Validation, encode_policy_document,
};
use podpass_control::iam::{PolicyHolder, split_policy_arn};

use super::common::{policy_arn, required, response};
use super::pagination::PageRequest;
use crate::AppState;
use crate::call::Call;
use crate::errors::query;

/// Which kind of entity an operation's holder is, which decides the member that names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HolderKind {
    Role,
    User,
    Group,
}

impl HolderKind {
    /// Reads and validates `RoleName`, `UserName` or `GroupName`.
    fn read<'c>(self, call: &'c Call, validation: &mut Validation) -> PolicyHolder<'c> {
        match self {
            HolderKind::Role => {
                PolicyHolder::Role(required(call, validation, "RoleName", MemberType::RoleName))
            }
            HolderKind::User => PolicyHolder::User(required(
                call,
                validation,
                "UserName",
                MemberType::ExistingUserName,
            )),
            HolderKind::Group => PolicyHolder::Group(required(
                call,
                validation,
                "GroupName",
                MemberType::GroupName,
            )),
        }
    }
}

fn policy_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "PolicyName", MemberType::PolicyName)
}

/// Put{Role,User,Group}Policy.
pub(super) async fn put_policy(
    state: &AppState,
    call: &Call,
    kind: HolderKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let holder = kind.read(call, &mut validation);
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
        .put_inline_policy(&call.ctx, holder, name, document)
        .await
        .map_err(query)?;
    Ok(response(&holder.operation("Put", "Policy"), call).empty())
}

/// Get{Role,User,Group}Policy.
pub(super) async fn get_policy(
    state: &AppState,
    call: &Call,
    kind: HolderKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let holder = kind.read(call, &mut validation);
    let name = policy_name(call, &mut validation);
    validation.finish()?;
    let (holder_name, document) = state
        .control
        .get_inline_policy(&call.ctx, holder, name)
        .await
        .map_err(query)?;
    let name_member = format!("{}Name", holder.kind());
    Ok(
        response(&holder.operation("Get", "Policy"), call).result(|w| {
            w.elem(&name_member, &holder_name)
                .elem("PolicyName", name)
                .elem("PolicyDocument", &encode_policy_document(&document));
        }),
    )
}

/// Delete{Role,User,Group}Policy.
pub(super) async fn delete_policy(
    state: &AppState,
    call: &Call,
    kind: HolderKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let holder = kind.read(call, &mut validation);
    let name = policy_name(call, &mut validation);
    validation.finish()?;
    state
        .control
        .delete_inline_policy(&call.ctx, holder, name)
        .await
        .map_err(query)?;
    Ok(response(&holder.operation("Delete", "Policy"), call).empty())
}

/// List{Role,User,Group}Policies.
pub(super) async fn list_policies(
    state: &AppState,
    call: &Call,
    kind: HolderKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let holder = kind.read(call, &mut validation);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let names = state
        .control
        .list_inline_policies(&call.ctx, holder)
        .await
        .map_err(query)?;
    let page = page_request.page(names, Clone::clone);
    Ok(
        response(&holder.operation("List", "Policies"), call).result(|w| {
            w.text_list("PolicyNames", &page.items);
            page.write_truncation(w);
        }),
    )
}

/// Attach{Role,User,Group}Policy (AWS managed or customer managed policies).
pub(super) async fn attach_policy(
    state: &AppState,
    call: &Call,
    kind: HolderKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let holder = kind.read(call, &mut validation);
    let arn = policy_arn(call, &mut validation);
    validation.finish()?;
    state
        .control
        .attach_policy(&call.ctx, holder, arn)
        .await
        .map_err(query)?;
    Ok(response(&holder.operation("Attach", "Policy"), call).empty())
}

/// Detach{Role,User,Group}Policy.
pub(super) async fn detach_policy(
    state: &AppState,
    call: &Call,
    kind: HolderKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let holder = kind.read(call, &mut validation);
    let arn = policy_arn(call, &mut validation);
    validation.finish()?;
    state
        .control
        .detach_policy(&call.ctx, holder, arn)
        .await
        .map_err(query)?;
    Ok(response(&holder.operation("Detach", "Policy"), call).empty())
}

/// ListAttached{Role,User,Group}Policies (names and paths come from the ARNs).
pub(super) async fn list_attached_policies(
    state: &AppState,
    call: &Call,
    kind: HolderKind,
) -> Result<RenderedResponse, AwsError> {
    let mut validation = Validation::new();
    let holder = kind.read(call, &mut validation);
    let prefix = call.params.get("PathPrefix");
    validation.check("PathPrefix", prefix, MemberType::PolicyPath);
    let page_request = PageRequest::read(&call.params, &mut validation)?;
    validation.finish()?;
    let arns = state
        .control
        .list_attached_policies(&call.ctx, holder, prefix.unwrap_or("/"))
        .await
        .map_err(query)?;
    let page = page_request.page(arns, Clone::clone);
    Ok(
        response(&holder.operation("ListAttached", "Policies"), call).result(|w| {
            w.list("AttachedPolicies", &page.items, |w, arn| {
                w.elem("PolicyName", split_policy_arn(arn).1)
                    .elem("PolicyArn", arn);
            });
            page.write_truncation(w);
        }),
    )
}
