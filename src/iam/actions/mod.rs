//! The IAM Query API (Version 2010-05-08): one module per action group. Every action reads and
//! checks its parameters, authorizes `iam:{Action}` on the entity's ARN in the caller's account
//! (`common::authorize`, with the action's condition keys: `condition_keys`), then calls the
//! repository, which commits before returning; mutations
//! put a before/after summary (no secrets) into `Reply::audit`.

pub mod access_keys;
pub mod account;
pub mod common;
pub mod condition_keys;
pub mod groups;
pub mod inline_policies;
pub mod mfa;
pub mod oidc_providers;
pub mod policies;
pub mod revoke_sessions;
pub mod roles;
pub mod saml_providers;
pub mod simulate;
pub mod tagging;
pub mod users;
pub mod xml;

use crate::action::{Ctx, Reply, Service};
use crate::error::{ApiError, Code};
use crate::iam::repo::EntityKind::{Group, Role, User};
use crate::wire::Params;

/// The IAM actions Sekisho serves (an unknown one is `InvalidAction`, before authentication).
/// Checked against the `match` in [`dispatch`] by a test, so the two cannot drift apart.
pub const ACTIONS: &[&str] = &[
    "AddClientIDToOpenIDConnectProvider",
    "AddUserToGroup",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "CreateAccessKey",
    "CreateGroup",
    "CreateOpenIDConnectProvider",
    "CreatePolicy",
    "CreatePolicyVersion",
    "CreateRole",
    "CreateSAMLProvider",
    "CreateUser",
    "CreateVirtualMFADevice",
    "DeactivateMFADevice",
    "DeleteAccessKey",
    "DeleteGroup",
    "DeleteGroupPolicy",
    "DeleteOpenIDConnectProvider",
    "DeletePolicy",
    "DeletePolicyVersion",
    "DeleteRole",
    "DeleteRolePermissionsBoundary",
    "DeleteRolePolicy",
    "DeleteSAMLProvider",
    "DeleteUser",
    "DeleteUserPermissionsBoundary",
    "DeleteUserPolicy",
    "DeleteVirtualMFADevice",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "EnableMFADevice",
    "GetAccessKeyLastUsed",
    "GetAccountAuthorizationDetails",
    "GetAccountSummary",
    "GetGroup",
    "GetGroupPolicy",
    "GetMFADevice",
    "GetOpenIDConnectProvider",
    "GetPolicy",
    "GetPolicyVersion",
    "GetRole",
    "GetRolePolicy",
    "GetSAMLProvider",
    "GetUser",
    "GetUserPolicy",
    "ListAccessKeys",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "ListAttachedUserPolicies",
    "ListEntitiesForPolicy",
    "ListGroupPolicies",
    "ListGroups",
    "ListGroupsForUser",
    "ListMFADeviceTags",
    "ListMFADevices",
    "ListOpenIDConnectProviderTags",
    "ListOpenIDConnectProviders",
    "ListPolicies",
    "ListPolicyVersions",
    "ListRolePolicies",
    "ListRoleTags",
    "ListRoles",
    "ListSAMLProviderTags",
    "ListSAMLProviders",
    "ListUserPolicies",
    "ListUserTags",
    "ListUsers",
    "ListVirtualMFADevices",
    "PutGroupPolicy",
    "PutRolePermissionsBoundary",
    "PutRolePolicy",
    "PutUserPermissionsBoundary",
    "PutUserPolicy",
    "RemoveClientIDFromOpenIDConnectProvider",
    "RemoveUserFromGroup",
    "ResyncMFADevice",
    "RevokeSessions",
    "SetDefaultPolicyVersion",
    "SimulateCustomPolicy",
    "SimulatePrincipalPolicy",
    "TagMFADevice",
    "TagOpenIDConnectProvider",
    "TagRole",
    "TagSAMLProvider",
    "TagUser",
    "UntagMFADevice",
    "UntagOpenIDConnectProvider",
    "UntagRole",
    "UntagSAMLProvider",
    "UntagUser",
    "UpdateAccessKey",
    "UpdateAssumeRolePolicy",
    "UpdateGroup",
    "UpdateOpenIDConnectProviderThumbprint",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateSAMLProvider",
    "UpdateUser",
];

/// Runs an IAM action.
pub async fn dispatch(ctx: &Ctx, action: &str, p: &mut Params) -> Result<Reply, ApiError> {
    if let Some(c) = ctx.caller.as_ref().and_then(|c| c.session()) {
        crate::action::session_may_call(Service::Iam, action, c)?;
    }
    match action {
        "RevokeSessions" => revoke_sessions::run(ctx, p).await,
        // users
        "CreateUser" => users::create(ctx, p).await,
        "GetUser" => users::get(ctx, p).await,
        "ListUsers" => users::list(ctx, p).await,
        "UpdateUser" => users::update(ctx, p).await,
        "DeleteUser" => users::delete(ctx, p).await,
        "TagUser" => tagging::tag::<crate::iam::model::User>(ctx, p).await,
        "UntagUser" => tagging::untag::<crate::iam::model::User>(ctx, p).await,
        "ListUserTags" => tagging::list_tags::<crate::iam::model::User>(ctx, p).await,
        "PutUserPermissionsBoundary" => roles::user_boundary(ctx, p, true).await,
        "DeleteUserPermissionsBoundary" => roles::user_boundary(ctx, p, false).await,
        // groups
        "CreateGroup" => groups::create(ctx, p).await,
        "GetGroup" => groups::get(ctx, p).await,
        "ListGroups" => groups::list(ctx, p).await,
        "UpdateGroup" => groups::update(ctx, p).await,
        "DeleteGroup" => groups::delete(ctx, p).await,
        "AddUserToGroup" => groups::add_user(ctx, p).await,
        "RemoveUserFromGroup" => groups::remove_user(ctx, p).await,
        "ListGroupsForUser" => groups::list_for_user(ctx, p).await,
        // access keys
        "CreateAccessKey" => access_keys::create(ctx, p).await,
        "ListAccessKeys" => access_keys::list(ctx, p).await,
        "UpdateAccessKey" => access_keys::update(ctx, p).await,
        "DeleteAccessKey" => access_keys::delete(ctx, p).await,
        "GetAccessKeyLastUsed" => access_keys::last_used(ctx, p).await,
        // roles
        "CreateRole" => roles::create(ctx, p).await,
        "GetRole" => roles::get(ctx, p).await,
        "ListRoles" => roles::list(ctx, p).await,
        "UpdateRole" => roles::update(ctx, p).await,
        "UpdateRoleDescription" => roles::update_description(ctx, p).await,
        "DeleteRole" => roles::delete(ctx, p).await,
        "UpdateAssumeRolePolicy" => roles::update_trust(ctx, p).await,
        "PutRolePermissionsBoundary" => roles::role_boundary(ctx, p, true).await,
        "DeleteRolePermissionsBoundary" => roles::role_boundary(ctx, p, false).await,
        "TagRole" => tagging::tag::<crate::iam::model::Role>(ctx, p).await,
        "UntagRole" => tagging::untag::<crate::iam::model::Role>(ctx, p).await,
        "ListRoleTags" => tagging::list_tags::<crate::iam::model::Role>(ctx, p).await,
        // managed policies
        "CreatePolicy" => policies::create(ctx, p).await,
        "GetPolicy" => policies::get(ctx, p).await,
        "ListPolicies" => policies::list(ctx, p).await,
        "DeletePolicy" => policies::delete(ctx, p).await,
        "CreatePolicyVersion" => policies::create_version(ctx, p).await,
        "GetPolicyVersion" => policies::get_version(ctx, p).await,
        "ListPolicyVersions" => policies::list_versions(ctx, p).await,
        "SetDefaultPolicyVersion" => policies::set_default(ctx, p).await,
        "DeletePolicyVersion" => policies::delete_version(ctx, p).await,
        "AttachUserPolicy" => policies::attach(ctx, p, User, true).await,
        "AttachGroupPolicy" => policies::attach(ctx, p, Group, true).await,
        "AttachRolePolicy" => policies::attach(ctx, p, Role, true).await,
        "DetachUserPolicy" => policies::attach(ctx, p, User, false).await,
        "DetachGroupPolicy" => policies::attach(ctx, p, Group, false).await,
        "DetachRolePolicy" => policies::attach(ctx, p, Role, false).await,
        "ListAttachedUserPolicies" => policies::list_attached(ctx, p, User).await,
        "ListAttachedGroupPolicies" => policies::list_attached(ctx, p, Group).await,
        "ListAttachedRolePolicies" => policies::list_attached(ctx, p, Role).await,
        "ListEntitiesForPolicy" => policies::list_entities(ctx, p).await,
        // inline policies
        "PutUserPolicy" => inline_policies::put(ctx, p, User).await,
        "PutGroupPolicy" => inline_policies::put(ctx, p, Group).await,
        "PutRolePolicy" => inline_policies::put(ctx, p, Role).await,
        "GetUserPolicy" => inline_policies::get(ctx, p, User).await,
        "GetGroupPolicy" => inline_policies::get(ctx, p, Group).await,
        "GetRolePolicy" => inline_policies::get(ctx, p, Role).await,
        "DeleteUserPolicy" => inline_policies::delete(ctx, p, User).await,
        "DeleteGroupPolicy" => inline_policies::delete(ctx, p, Group).await,
        "DeleteRolePolicy" => inline_policies::delete(ctx, p, Role).await,
        "ListUserPolicies" => inline_policies::list(ctx, p, User).await,
        "ListGroupPolicies" => inline_policies::list(ctx, p, Group).await,
        "ListRolePolicies" => inline_policies::list(ctx, p, Role).await,
        // OpenID Connect providers
        "CreateOpenIDConnectProvider" => oidc_providers::create(ctx, p).await,
        "GetOpenIDConnectProvider" => oidc_providers::get(ctx, p).await,
        "ListOpenIDConnectProviders" => oidc_providers::list(ctx, p).await,
        "DeleteOpenIDConnectProvider" => oidc_providers::delete(ctx, p).await,
        "AddClientIDToOpenIDConnectProvider" => oidc_providers::add_client_id(ctx, p).await,
        "RemoveClientIDFromOpenIDConnectProvider" => oidc_providers::remove_client_id(ctx, p).await,
        "UpdateOpenIDConnectProviderThumbprint" => oidc_providers::update_thumbprint(ctx, p).await,
        "TagOpenIDConnectProvider" => tagging::tag::<crate::iam::model::OidcProvider>(ctx, p).await,
        "UntagOpenIDConnectProvider" => {
            tagging::untag::<crate::iam::model::OidcProvider>(ctx, p).await
        }
        "ListOpenIDConnectProviderTags" => {
            tagging::list_tags::<crate::iam::model::OidcProvider>(ctx, p).await
        }
        // SAML providers
        "CreateSAMLProvider" => saml_providers::create(ctx, p).await,
        "UpdateSAMLProvider" => saml_providers::update(ctx, p).await,
        "GetSAMLProvider" => saml_providers::get(ctx, p).await,
        "ListSAMLProviders" => saml_providers::list(ctx, p).await,
        "DeleteSAMLProvider" => saml_providers::delete(ctx, p).await,
        "TagSAMLProvider" => tagging::tag::<crate::iam::model::SamlProvider>(ctx, p).await,
        "UntagSAMLProvider" => tagging::untag::<crate::iam::model::SamlProvider>(ctx, p).await,
        "ListSAMLProviderTags" => {
            tagging::list_tags::<crate::iam::model::SamlProvider>(ctx, p).await
        }
        // virtual MFA devices
        "CreateVirtualMFADevice" => mfa::create(ctx, p).await,
        "EnableMFADevice" => mfa::enable(ctx, p).await,
        "ResyncMFADevice" => mfa::resync(ctx, p).await,
        "DeactivateMFADevice" => mfa::deactivate(ctx, p).await,
        "DeleteVirtualMFADevice" => mfa::delete(ctx, p).await,
        "ListMFADevices" => mfa::list(ctx, p).await,
        "ListVirtualMFADevices" => mfa::list_virtual(ctx, p).await,
        "GetMFADevice" => mfa::get(ctx, p).await,
        "TagMFADevice" => tagging::tag::<crate::iam::model::MfaDevice>(ctx, p).await,
        "UntagMFADevice" => tagging::untag::<crate::iam::model::MfaDevice>(ctx, p).await,
        "ListMFADeviceTags" => tagging::list_tags::<crate::iam::model::MfaDevice>(ctx, p).await,
        // account
        "GetAccountSummary" => account::summary(ctx, p).await,
        "GetAccountAuthorizationDetails" => account::authorization_details(ctx, p).await,
        // simulation
        "SimulatePrincipalPolicy" => simulate::principal(ctx, p).await,
        "SimulateCustomPolicy" => simulate::custom(ctx, p).await,
        _ => Err(ApiError::new(
            Code::InvalidAction,
            format!("Could not find operation {action} for version 2010-05-08"),
        )),
    }
}

#[cfg(test)]
mod dispatch_tests {
    /// Every action [`super::ACTIONS`] names has an arm in `dispatch`, and every arm is listed.
    #[test]
    fn the_action_list_is_the_dispatch_table() {
        let mut listed = super::ACTIONS.to_vec();
        listed.sort_unstable();
        assert_eq!(crate::action::dispatch_arms(include_str!("mod.rs")), listed);
    }
}
