//! `GetAccountSummary` and `GetAccountAuthorizationDetails` (both O(entities in the account)).

use std::collections::BTreeSet;

use serde_json::json;

use super::common::{self, Paging, authorize, reply};
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::ApiError;
use crate::iam::model::{Group, ManagedPolicy, MfaDevice, OidcProvider, Role, SamlProvider, User};
use crate::iam::repo::{MAX_ACCESS_KEYS, MAX_ATTACHED, MAX_GROUPS_PER_USER, MAX_POLICY_VERSIONS};
use crate::wire::{Params, XmlWriter};

/// `GetAccountSummary`.
pub async fn summary(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    p.finish()?;
    authorize(ctx, "GetAccountSummary", "*").await?;
    let account = common::account(ctx)?;
    let iam = &ctx.st.iam;
    let users = iam.count::<User>(&account).await?;
    let groups = iam.count::<Group>(&account).await?;
    let roles = iam.count::<Role>(&account).await?;
    let policies: Vec<ManagedPolicy> = iam.customer_policies(&account).await?;
    let versions: usize = policies.iter().map(|p| p.versions.len()).sum();
    let root_keys = !iam.access_keys_of(&account, None).await?.is_empty();
    let mfa_devices = iam.count::<MfaDevice>(&account).await?;
    let (mfa_in_use, root_mfa) = iam.mfa_devices_in_use(&account).await?;
    // Identity providers: SAML and OpenID Connect.
    let providers =
        iam.count::<SamlProvider>(&account).await? + iam.count::<OidcProvider>(&account).await?;
    let entries: Vec<(&str, usize)> = vec![
        ("Users", users),
        ("UsersQuota", 5000),
        ("Groups", groups),
        ("GroupsQuota", 300),
        ("Roles", roles),
        ("RolesQuota", 1000),
        ("Policies", policies.len()),
        ("PoliciesQuota", 1500),
        ("PolicySizeQuota", 6144),
        ("PolicyVersionsInUse", versions),
        ("PolicyVersionsInUseQuota", 10000),
        ("VersionsPerPolicyQuota", MAX_POLICY_VERSIONS),
        ("GroupsPerUserQuota", MAX_GROUPS_PER_USER),
        ("AttachedPoliciesPerUserQuota", MAX_ATTACHED),
        ("AttachedPoliciesPerGroupQuota", MAX_ATTACHED),
        ("AttachedPoliciesPerRoleQuota", MAX_ATTACHED),
        ("AccessKeysPerUserQuota", MAX_ACCESS_KEYS),
        ("UserPolicySizeQuota", 2048),
        ("GroupPolicySizeQuota", 5120),
        ("RolePolicySizeQuota", 10240),
        ("AssumeRolePolicySizeQuota", 2048),
        ("AccountAccessKeysPresent", usize::from(root_keys)),
        ("AccountMFAEnabled", usize::from(root_mfa)),
        ("MFADevices", mfa_devices),
        ("MFADevicesInUse", mfa_in_use),
        ("ServerCertificates", 0),
        ("ServerCertificatesQuota", 20),
        ("InstanceProfiles", 0),
        ("InstanceProfilesQuota", 1000),
        ("Providers", providers),
        ("AccountSigningCertificatesPresent", 0),
        ("SigningCertificatesPerUserQuota", 2),
        ("GlobalEndpointTokenVersion", 2),
    ];
    let mut w = XmlWriter::new();
    w.start("SummaryMap");
    for (k, v) in entries {
        w.start("entry")
            .elem("key", k)
            .elem("value", &v.to_string())
            .end("entry");
    }
    w.end("SummaryMap");
    Ok(reply(w.finish(), json!(null)))
}

enum Item {
    User(Box<User>),
    Group(Box<Group>),
    Role(Box<Role>),
    Policy(Box<ManagedPolicy>, usize),
}

fn inline_list(w: &mut XmlWriter, tag: &str, m: &std::collections::BTreeMap<String, String>) {
    w.start(tag);
    for (n, d) in m {
        w.start("member")
            .elem("PolicyName", n)
            .elem("PolicyDocument", &xml::url_encode(d))
            .end("member");
    }
    w.end(tag);
}

/// `GetAccountAuthorizationDetails` (`Filter`: User, Role, Group, LocalManagedPolicy,
/// AWSManagedPolicy; AWS managed policies only when attached in the account).
pub async fn authorization_details(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let filter: BTreeSet<String> = p.list("Filter")?.into_iter().collect();
    let paging = Paging::read(p)?;
    p.finish()?;
    authorize(ctx, "GetAccountAuthorizationDetails", "*").await?;
    let account = common::account(ctx)?;
    let want = |f: &str| filter.is_empty() || filter.contains(f);
    let iam = &ctx.st.iam;
    let mut items: Vec<(String, Item)> = Vec::new();
    if want("User") {
        for u in iam.all::<User>(&account).await? {
            items.push((
                format!("0{}", u.name.to_lowercase()),
                Item::User(Box::new(u)),
            ));
        }
    }
    if want("Group") {
        for g in iam.all::<Group>(&account).await? {
            items.push((
                format!("1{}", g.name.to_lowercase()),
                Item::Group(Box::new(g)),
            ));
        }
    }
    if want("Role") {
        for r in iam.all::<Role>(&account).await? {
            items.push((
                format!("2{}", r.name.to_lowercase()),
                Item::Role(Box::new(r)),
            ));
        }
    }
    if want("LocalManagedPolicy") {
        for mp in iam.customer_policies(&account).await? {
            let n = usize::try_from(mp.attachment_count).unwrap_or(usize::MAX);
            items.push((
                format!("3{}", mp.name.to_lowercase()),
                Item::Policy(Box::new(mp), n),
            ));
        }
    }
    if want("AWSManagedPolicy") {
        // Only the AWS managed policies attached to something in this account.
        let mut attached: BTreeSet<String> = BTreeSet::new();
        for u in iam.all::<User>(&account).await? {
            attached.extend(u.attached_policies);
        }
        for g in iam.all::<Group>(&account).await? {
            attached.extend(g.attached_policies);
        }
        for r in iam.all::<Role>(&account).await? {
            attached.extend(r.attached_policies);
        }
        for arn in attached {
            if let Some(mp) = iam.aws_managed().get(&arn) {
                let n = iam.attachment_count_in(&arn, &account).await?;
                items.push((format!("4{arn}"), Item::Policy(Box::new(mp.clone()), n)));
            }
        }
    }
    let (items, next) = paging.page(items, |(k, _)| k.clone())?;
    let mut w = XmlWriter::new();
    w.start("UserDetailList");
    for (_, it) in &items {
        if let Item::User(u) = it {
            w.start("member");
            xml::user(&mut w, u, false);
            inline_list(&mut w, "UserPolicyList", &u.inline_policies);
            xml::members(&mut w, "GroupList", &u.groups);
            xml::attached(&mut w, "AttachedManagedPolicies", &u.attached_policies);
            xml::boundary(&mut w, u.permissions_boundary.as_deref());
            xml::tags(&mut w, &u.tags, false);
            w.end("member");
        }
    }
    w.end("UserDetailList").start("GroupDetailList");
    for (_, it) in &items {
        if let Item::Group(g) = it {
            w.start("member");
            xml::group(&mut w, g);
            inline_list(&mut w, "GroupPolicyList", &g.inline_policies);
            xml::attached(&mut w, "AttachedManagedPolicies", &g.attached_policies);
            w.end("member");
        }
    }
    w.end("GroupDetailList").start("RoleDetailList");
    for (_, it) in &items {
        if let Item::Role(r) = it {
            w.start("member");
            w.elem("Path", &r.path)
                .elem("RoleName", &r.name)
                .elem("RoleId", &r.id)
                .elem("Arn", &r.arn)
                .elem("CreateDate", &crate::wire::xml::iso8601(r.create_date))
                .elem(
                    "AssumeRolePolicyDocument",
                    &xml::url_encode(&r.trust_policy),
                );
            w.start("InstanceProfileList").end("InstanceProfileList");
            inline_list(&mut w, "RolePolicyList", &r.inline_policies);
            xml::attached(&mut w, "AttachedManagedPolicies", &r.attached_policies);
            xml::boundary(&mut w, r.permissions_boundary.as_deref());
            xml::tags(&mut w, &r.tags, false);
            w.start("RoleLastUsed");
            if let Some(lu) = &r.last_used {
                w.elem("LastUsedDate", &crate::wire::xml::iso8601(lu.date))
                    .elem("Region", &lu.region);
            }
            w.end("RoleLastUsed");
            w.end("member");
        }
    }
    w.end("RoleDetailList").start("Policies");
    for (_, it) in &items {
        if let Item::Policy(mp, n) = it {
            w.start("member")
                .elem("PolicyName", &mp.name)
                .elem("PolicyId", &mp.id)
                .elem("Arn", &mp.arn)
                .elem("Path", &mp.path)
                .elem("DefaultVersionId", &mp.default_version_id)
                .elem("AttachmentCount", &n.to_string())
                .elem("PermissionsBoundaryUsageCount", "0")
                .elem("IsAttachable", "true")
                .opt("Description", mp.description.as_deref())
                .elem("CreateDate", &crate::wire::xml::iso8601(mp.create_date))
                .elem("UpdateDate", &crate::wire::xml::iso8601(mp.update_date))
                .start("PolicyVersionList");
            for v in &mp.versions {
                w.start("member");
                xml::version(&mut w, v, &mp.default_version_id, true);
                w.end("member");
            }
            w.end("PolicyVersionList").end("member");
        }
    }
    w.end("Policies");
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}
