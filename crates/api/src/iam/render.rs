//! XML shapes IAM responses share: Role, Policy, PolicyVersion, Tags.

use podpass_awsproto::{XmlWriter, encode_policy_document};
use podpass_store::{Role, Tag};

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

/// A managed policy, AWS or customer managed, as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PolicyView {
    /// Policy name.
    pub name: String,
    /// `ANPA...` id.
    pub id: String,
    /// Policy ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// Default version id.
    pub default_version_id: String,
    /// Roles it is attached to.
    pub attachment_count: i64,
    /// Description.
    pub description: Option<String>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
    /// Last default-version change, epoch seconds.
    pub updated_at: i64,
    /// Tags.
    pub tags: Vec<Tag>,
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
pub(super) fn write_policy(w: &mut XmlWriter, policy: &PolicyView, detail: PolicyDetail) {
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

/// Writes the members of a `PolicyVersion` structure; `document` only where IAM returns it.
pub(super) fn write_policy_version(
    w: &mut XmlWriter,
    version_id: &str,
    document: Option<&str>,
    is_default: bool,
    created_at: i64,
) {
    if let Some(document) = document {
        w.elem("Document", &encode_policy_document(document));
    }
    w.elem("VersionId", version_id)
        .bool("IsDefaultVersion", is_default)
        .timestamp("CreateDate", timestamp(created_at));
}
