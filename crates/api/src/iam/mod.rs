//! IAM (query protocol): roles, inline and managed policies, OIDC providers, simulation.

mod common;
mod context;
mod managed;
mod oidc;
mod pagination;
mod render;
mod role_policies;
mod roles;
mod simulate;
mod tags;

use podpass_awsproto::{AwsError, RenderedResponse};

use crate::AppState;
use crate::call::{Call, IAM, unknown_action};

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
        "TagRole" => roles::tag_role(state, call).await,
        "UntagRole" => roles::untag_role(state, call).await,
        "ListRoleTags" => roles::list_role_tags(state, call).await,
        "PutRolePermissionsBoundary" => roles::put_role_permissions_boundary(state, call).await,
        "DeleteRolePermissionsBoundary" => {
            roles::delete_role_permissions_boundary(state, call).await
        }
        "PutRolePolicy" => role_policies::put_role_policy(state, call).await,
        "GetRolePolicy" => role_policies::get_role_policy(state, call).await,
        "DeleteRolePolicy" => role_policies::delete_role_policy(state, call).await,
        "ListRolePolicies" => role_policies::list_role_policies(state, call).await,
        "AttachRolePolicy" => role_policies::attach_role_policy(state, call).await,
        "DetachRolePolicy" => role_policies::detach_role_policy(state, call).await,
        "ListAttachedRolePolicies" => role_policies::list_attached_role_policies(state, call).await,
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
