//! IAM (query protocol): roles, users and groups, access keys, inline and managed policies,
//! OIDC providers, simulation.

mod common;
mod context;
mod groups;
mod holder_policies;
mod identity_attributes;
mod managed;
mod oidc;
mod pagination;
mod render;
mod roles;
mod simulate;
mod tags;
mod users;

use podpass_awsproto::{AwsError, RenderedResponse};

use crate::AppState;
use crate::call::{Call, IAM, unknown_action};
use holder_policies::HolderKind;
use identity_attributes::IdentityKind;

/// Runs one IAM action.
pub(crate) async fn dispatch(
    state: &AppState,
    action: &str,
    call: &Call,
) -> Result<RenderedResponse, AwsError> {
    match action {
        "CreateRole" => roles::create_role(state, call).await,
        "GetRole" => roles::get_role(state, call).await,
        "ListRoles" => roles::list_roles(state, call).await,
        "DeleteRole" => roles::delete_role(state, call).await,
        "UpdateRole" => roles::update_role(state, call).await,
        "UpdateRoleDescription" => roles::update_role_description(state, call).await,
        "UpdateAssumeRolePolicy" => roles::update_assume_role_policy(state, call).await,
        "TagRole" => identity_attributes::tag(state, call, IdentityKind::Role).await,
        "UntagRole" => identity_attributes::untag(state, call, IdentityKind::Role).await,
        "ListRoleTags" => identity_attributes::list_tags(state, call, IdentityKind::Role).await,
        "PutRolePermissionsBoundary" => {
            identity_attributes::put_boundary(state, call, IdentityKind::Role).await
        }
        "DeleteRolePermissionsBoundary" => {
            identity_attributes::delete_boundary(state, call, IdentityKind::Role).await
        }
        "TagUser" => identity_attributes::tag(state, call, IdentityKind::User).await,
        "UntagUser" => identity_attributes::untag(state, call, IdentityKind::User).await,
        "ListUserTags" => identity_attributes::list_tags(state, call, IdentityKind::User).await,
        "PutUserPermissionsBoundary" => {
            identity_attributes::put_boundary(state, call, IdentityKind::User).await
        }
        "DeleteUserPermissionsBoundary" => {
            identity_attributes::delete_boundary(state, call, IdentityKind::User).await
        }
        "CreateUser" => users::create_user(state, call).await,
        "GetUser" => users::get_user(state, call).await,
        "ListUsers" => users::list_users(state, call).await,
        "UpdateUser" => users::update_user(state, call).await,
        "DeleteUser" => users::delete_user(state, call).await,
        "CreateAccessKey" => users::create_access_key(state, call).await,
        "ListAccessKeys" => users::list_access_keys(state, call).await,
        "UpdateAccessKey" => users::update_access_key(state, call).await,
        "DeleteAccessKey" => users::delete_access_key(state, call).await,
        "CreateGroup" => groups::create_group(state, call).await,
        "GetGroup" => groups::get_group(state, call).await,
        "ListGroups" => groups::list_groups(state, call).await,
        "ListGroupsForUser" => groups::list_groups_for_user(state, call).await,
        "UpdateGroup" => groups::update_group(state, call).await,
        "DeleteGroup" => groups::delete_group(state, call).await,
        "AddUserToGroup" => groups::set_member(state, call, true).await,
        "RemoveUserFromGroup" => groups::set_member(state, call, false).await,
        "PutRolePolicy" => holder_policies::put_policy(state, call, HolderKind::Role).await,
        "GetRolePolicy" => holder_policies::get_policy(state, call, HolderKind::Role).await,
        "DeleteRolePolicy" => holder_policies::delete_policy(state, call, HolderKind::Role).await,
        "ListRolePolicies" => holder_policies::list_policies(state, call, HolderKind::Role).await,
        "AttachRolePolicy" => holder_policies::attach_policy(state, call, HolderKind::Role).await,
        "DetachRolePolicy" => holder_policies::detach_policy(state, call, HolderKind::Role).await,
        "ListAttachedRolePolicies" => {
            holder_policies::list_attached_policies(state, call, HolderKind::Role).await
        }
        "PutUserPolicy" => holder_policies::put_policy(state, call, HolderKind::User).await,
        "GetUserPolicy" => holder_policies::get_policy(state, call, HolderKind::User).await,
        "DeleteUserPolicy" => holder_policies::delete_policy(state, call, HolderKind::User).await,
        "ListUserPolicies" => holder_policies::list_policies(state, call, HolderKind::User).await,
        "AttachUserPolicy" => holder_policies::attach_policy(state, call, HolderKind::User).await,
        "DetachUserPolicy" => holder_policies::detach_policy(state, call, HolderKind::User).await,
        "ListAttachedUserPolicies" => {
            holder_policies::list_attached_policies(state, call, HolderKind::User).await
        }
        "PutGroupPolicy" => holder_policies::put_policy(state, call, HolderKind::Group).await,
        "GetGroupPolicy" => holder_policies::get_policy(state, call, HolderKind::Group).await,
        "DeleteGroupPolicy" => holder_policies::delete_policy(state, call, HolderKind::Group).await,
        "ListGroupPolicies" => holder_policies::list_policies(state, call, HolderKind::Group).await,
        "AttachGroupPolicy" => holder_policies::attach_policy(state, call, HolderKind::Group).await,
        "DetachGroupPolicy" => holder_policies::detach_policy(state, call, HolderKind::Group).await,
        "ListAttachedGroupPolicies" => {
            holder_policies::list_attached_policies(state, call, HolderKind::Group).await
        }
        "CreatePolicy" => managed::create_policy(state, call).await,
        "GetPolicy" => managed::get_policy(state, call).await,
        "ListPolicies" => managed::list_policies(state, call).await,
        "DeletePolicy" => managed::delete_policy(state, call).await,
        "CreatePolicyVersion" => managed::create_policy_version(state, call).await,
        "GetPolicyVersion" => managed::get_policy_version(state, call).await,
        "ListPolicyVersions" => managed::list_policy_versions(state, call).await,
        "DeletePolicyVersion" => managed::delete_policy_version(state, call).await,
        "SetDefaultPolicyVersion" => managed::set_default_policy_version(state, call).await,
        "CreateOpenIDConnectProvider" => oidc::create_provider(state, call).await,
        "GetOpenIDConnectProvider" => oidc::get_provider(state, call).await,
        "ListOpenIDConnectProviders" => oidc::list_providers(state, call).await,
        "DeleteOpenIDConnectProvider" => oidc::delete_provider(state, call).await,
        "AddClientIDToOpenIDConnectProvider" => oidc::add_client_id(state, call).await,
        "RemoveClientIDFromOpenIDConnectProvider" => oidc::remove_client_id(state, call).await,
        "UpdateOpenIDConnectProviderThumbprint" => oidc::update_thumbprints(state, call).await,
        "SimulateCustomPolicy" => simulate::simulate_custom_policy(state, call).await,
        "SimulatePrincipalPolicy" => simulate::simulate_principal_policy(state, call).await,
        _ => Err(unknown_action(action, IAM)),
    }
}
