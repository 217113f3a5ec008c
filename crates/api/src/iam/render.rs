//! XML shapes IAM responses share: Role, User, Group, AccessKey, Policy, PolicyVersion, Tags.

use podpass_awsproto::{XmlWriter, encode_policy_document};
use podpass_control::iam::{PolicyInfo, UserAccessKey};
use podpass_store::{Group, PolicyVersion, Role, Tag, User};

use super::common::timestamp;

/// Which members of a role an operation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RoleView {
    /// CreateRole: everything set, no `RoleLastUsed`.
    Created,
    /// GetRole, UpdateRoleDescription: everything, with an empty `RoleLastUsed`.
    Full,
    /// ListRoles items: no tags, boundary or `RoleLastUsed`.
    Listed,
}

/// Writes the members of a `Role` structure.
pub(super) fn write_role(w: &mut XmlWriter, role: &Role, view: RoleView) {
    w.elem("Path", &role.path)
        .elem("RoleName", &role.role_name)
        .elem("RoleId", &role.role_id)
        .elem("Arn", &role.arn)
        .timestamp("CreateDate", timestamp(role.created_at))
        .elem(
            "AssumeRolePolicyDocument",
            &encode_policy_document(&role.trust_policy),
        )
        .opt_elem("Description", role.description.as_deref())
        .int("MaxSessionDuration", role.max_session_duration);
    if view == RoleView::Listed {
        return;
    }
    write_boundary_and_tags(w, role.permissions_boundary.as_deref(), &role.tags);
    if view == RoleView::Full {
        w.nest("RoleLastUsed", |_| {});
    }
}

fn write_boundary_and_tags(w: &mut XmlWriter, boundary: Option<&str>, tags: &[Tag]) {
    if let Some(boundary) = boundary {
        w.nest("PermissionsBoundary", |w| {
            w.elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .elem("PermissionsBoundaryArn", boundary);
        });
    }
    if !tags.is_empty() {
        write_tags(w, tags);
    }
}

/// Writes the members of a `User` structure; ListUsers items (`listed`) carry neither
/// boundary nor tags.
pub(super) fn write_user(w: &mut XmlWriter, user: &User, listed: bool) {
    w.elem("Path", &user.path)
        .elem("UserName", &user.user_name)
        .elem("UserId", &user.user_id)
        .elem("Arn", &user.arn)
        .timestamp("CreateDate", timestamp(user.created_at));
    if !listed {
        write_boundary_and_tags(w, user.permissions_boundary.as_deref(), &user.tags);
    }
}

/// Writes the members of a `Group` structure.
pub(super) fn write_group(w: &mut XmlWriter, group: &Group) {
    w.elem("Path", &group.path)
        .elem("GroupName", &group.group_name)
        .elem("GroupId", &group.group_id)
        .elem("Arn", &group.arn)
        .timestamp("CreateDate", timestamp(group.created_at));
}

/// Writes an `AccessKey` (with its secret: CreateAccessKey) or `AccessKeyMetadata` structure.
pub(super) fn write_access_key(w: &mut XmlWriter, key: &UserAccessKey, with_secret: bool) {
    w.elem("UserName", &key.user_name)
        .elem("AccessKeyId", &key.key.access_key_id)
        .elem("Status", if key.key.active { "Active" } else { "Inactive" });
    if with_secret {
        w.elem("SecretAccessKey", &key.key.secret_access_key);
    }
    w.timestamp("CreateDate", timestamp(key.key.created_at));
}

/// Writes `<Tags>` with one member per tag.
pub(super) fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    w.list("Tags", tags, |w, tag| {
        w.elem("Key", &tag.key).elem("Value", &tag.value);
    });
}

/// Which members of a policy an operation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PolicyDetail {
    /// CreatePolicy: tags but, as IAM, no description.
    Created,
    /// GetPolicy: description and tags.
    Full,
    /// ListPolicies items: neither.
    Listed,
}

/// Writes the members of a `Policy` structure.
pub(super) fn write_policy(w: &mut XmlWriter, policy: &PolicyInfo, detail: PolicyDetail) {
    w.elem("PolicyName", &policy.name)
        .elem("PolicyId", &policy.id)
        .elem("Arn", &policy.arn)
        .elem("Path", &policy.path)
        .elem("DefaultVersionId", &policy.default_version_id)
        .int("AttachmentCount", policy.attachment_count)
        .int("PermissionsBoundaryUsageCount", 0)
        .bool("IsAttachable", true);
    if detail == PolicyDetail::Full {
        w.opt_elem("Description", policy.description.as_deref());
    }
    w.timestamp("CreateDate", timestamp(policy.created_at))
        .timestamp("UpdateDate", timestamp(policy.updated_at));
    if detail != PolicyDetail::Listed && !policy.tags.is_empty() {
        write_tags(w, &policy.tags);
    }
}

/// Writes the members of a `PolicyVersion` structure, with its document where IAM returns it.
pub(super) fn write_policy_version(
    w: &mut XmlWriter,
    version: &PolicyVersion,
    with_document: bool,
    is_default: bool,
) {
    if with_document {
        w.elem("Document", &encode_policy_document(&version.document));
    }
    w.elem("VersionId", &version.version_id)
        .bool("IsDefaultVersion", is_default)
        .timestamp("CreateDate", timestamp(version.created_at));
}
