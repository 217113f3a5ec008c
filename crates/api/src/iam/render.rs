//! XML shapes IAM responses share: Role, Policy, PolicyVersion, Tags.

use podpass_awsproto::{XmlWriter, encode_policy_document};
use podpass_control::iam::PolicyInfo;
use podpass_store::{PolicyVersion, Role, Tag};

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
    if let Some(boundary) = &role.permissions_boundary {
        w.nest("PermissionsBoundary", |w| {
            w.elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .elem("PermissionsBoundaryArn", boundary);
        });
    }
    if !role.tags.is_empty() {
        write_tags(w, &role.tags);
    }
    if view == RoleView::Full {
        w.nest("RoleLastUsed", |_| {});
    }
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
