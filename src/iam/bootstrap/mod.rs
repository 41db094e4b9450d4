//! Declarative IAM bootstrap (GitOps style): a TOML file of accounts, users, groups, policies
//! and roles applied at start through the same repository code as the IAM API.
//!
//! Idempotent: an entity the file declares is created if absent and otherwise brought to the
//! declared state for the attributes the file declares (path, policies, groups, trust policy,
//! tags…), writing nothing when it already matches; entities the file does not declare, and
//! attributes it does not mention, are left as the API made them. Access keys given with id and
//! secret are imported once; `generate = true` creates one only when the user has none, and its
//! secret is printed once.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::model::{Group, ManagedPolicy, Origin, PolicyVersion, Role, Tag, User};
use super::names::{check_name, check_path};
use super::repo::{EntityKind, Iam, PolicyHolder};
use crate::error::ApiError;
use crate::secret::SecretString;

mod federation;

use self::federation::{apply_identity_pool, apply_oidc_provider, apply_saml_provider};

/// The file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapFile {
    /// Accounts.
    #[serde(default)]
    pub accounts: Vec<AccountDecl>,
}

/// An account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDecl {
    /// 12 digits.
    pub id: String,
    /// Alias.
    pub alias: Option<String>,
    /// Root access keys (development only).
    #[serde(default)]
    pub root_access_keys: Vec<KeyDecl>,
    /// Customer managed policies.
    #[serde(default)]
    pub policies: Vec<PolicyDecl>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<GroupDecl>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserDecl>,
    /// OpenID Connect providers (applied before roles, whose trust may name them).
    #[serde(default)]
    pub oidc_providers: Vec<OidcProviderDecl>,
    /// SAML providers (applied before roles, whose trust may name them).
    #[serde(default)]
    pub saml_providers: Vec<SamlProviderDecl>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<RoleDecl>,
    /// Identity pools (applied after roles and OIDC providers, which they name).
    #[serde(default)]
    pub identity_pools: Vec<IdentityPoolDecl>,
}

/// An identity pool. Its id is `id` when given, else derived from the account and the name
/// (so the same declaration always names the same pool).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPoolDecl {
    /// `IdentityPoolName`.
    pub name: String,
    /// `region:uuid`; default derived from the region, the account and the name.
    pub id: Option<String>,
    /// The region of a derived id. Default `us-east-1`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Guests may get credentials.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// `GetOpenIdToken` (the classic flow) is allowed.
    #[serde(default)]
    pub allow_classic_flow: bool,
    /// Built-in login providers: name → app ids (comma-separated).
    #[serde(default)]
    pub supported_login_providers: BTreeMap<String, String>,
    /// IAM OIDC provider ARNs.
    #[serde(default)]
    pub open_id_connect_provider_arns: Vec<String>,
    /// IAM SAML provider ARNs.
    #[serde(default)]
    pub saml_provider_arns: Vec<String>,
    /// `authenticated` / `unauthenticated` → role ARN.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// Role mappings by login provider, in the API's shape (`Type`, `AmbiguousRoleResolution`,
    /// `RulesConfiguration.Rules`).
    #[serde(default)]
    pub role_mappings: BTreeMap<String, crate::cognito::model::RoleMapping>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// An OpenID Connect provider. Its ARN is `arn:aws:iam::<id>:oidc-provider/<url without
/// scheme>`. `http://` URLs are declared as they are; fetching from them still needs
/// `[oidc] insecure_http_prefixes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderDecl {
    /// The issuer URL (`https://host[/path]`).
    pub url: String,
    /// Accepted client ids (audiences).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// Thumbprints (40 hex characters each, at most 5).
    #[serde(default)]
    pub thumbprints: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A SAML provider, `arn:aws:iam::<id>:saml-provider/<name>`, with its IdP metadata from a file
/// (`metadata_file`, relative to the bootstrap file) or inline (`metadata`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlProviderDecl {
    /// Name (1–128 of `[\w._-]`).
    pub name: String,
    /// Path of the IdP's metadata XML.
    pub metadata_file: Option<std::path::PathBuf>,
    /// The metadata XML itself.
    pub metadata: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An access key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDecl {
    /// `AKIA…` to import.
    pub id: Option<String>,
    /// Its secret.
    pub secret: Option<String>,
    /// Generate one if the owner has no key.
    #[serde(default)]
    pub generate: bool,
}

/// A managed policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDecl {
    /// Name.
    pub name: String,
    /// Path.
    #[serde(default = "root_path")]
    pub path: String,
    /// Description.
    pub description: Option<String>,
    /// JSON document.
    pub document: String,
}

/// A group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDecl {
    /// Name.
    pub name: String,
    /// Path.
    #[serde(default = "root_path")]
    pub path: String,
    /// Attached managed policy ARNs (or names of policies declared in this account).
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Inline policies: name → JSON.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
}

/// A user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDecl {
    /// Name.
    pub name: String,
    /// Path.
    #[serde(default = "root_path")]
    pub path: String,
    /// Group names.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Attached managed policies.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Inline policies.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Access keys.
    #[serde(default)]
    pub access_keys: Vec<KeyDecl>,
}

/// A role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDecl {
    /// Name.
    pub name: String,
    /// Path.
    #[serde(default = "root_path")]
    pub path: String,
    /// Description.
    pub description: Option<String>,
    /// Trust policy JSON.
    pub trust_policy: String,
    /// Seconds (3600–43200). Default 3600.
    #[serde(default = "one_hour")]
    pub max_session_duration: i64,
    /// Attached managed policies.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Inline policies.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn root_path() -> String {
    "/".into()
}

fn one_hour() -> i64 {
    3600
}

/// What applying changed; secrets of generated keys are in `generated_keys` (print once).
#[derive(Debug, Default)]
pub struct Applied {
    /// Entities created or changed (`user arn`, …).
    pub changed: Vec<String>,
    /// Generated keys: (owner ARN, key id, secret).
    pub generated_keys: Vec<(String, String, SecretString)>,
}

/// Appends generated keys (`owner-arn key-id secret`, one a line) to `path`, creating it readable
/// by its owner only (mode 0600; an existing file is tightened to 0600 too), and syncs it.
///
/// # Errors
/// The file cannot be created, written or synced.
pub fn write_generated_keys(
    path: &Path,
    keys: &[(String, String, SecretString)],
) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f =
        crate::private_file::owner_only(std::fs::OpenOptions::new().create(true).append(true))
            .open(path)
            .map_err(fail)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    let mut text = zeroize::Zeroizing::new(String::new());
    for (owner, id, secret) in keys {
        text.push_str(&format!("{owner} {id} {}\n", secret.expose()));
    }
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)
}

/// Reads and applies a bootstrap file.
pub async fn apply_file(iam: &Iam, path: &Path, now: DateTime<Utc>) -> Result<Applied, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut file: BootstrapFile =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    // Metadata files are relative to the bootstrap file.
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for a in &mut file.accounts {
        for s in &mut a.saml_providers {
            if let Some(f) = &s.metadata_file
                && f.is_relative()
            {
                s.metadata_file = Some(base.join(f));
            }
        }
    }
    apply(iam, &file, now)
        .await
        .map_err(|e| format!("{}: {}", path.display(), e.message))
}

fn tags(m: &BTreeMap<String, String>) -> Vec<Tag> {
    m.iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn policy_ref(iam: &Iam, account: &str, declared: &[PolicyDecl], r: &str) -> String {
    if r.starts_with("arn:") {
        return r.to_owned();
    }
    declared.iter().find(|p| p.name == r).map_or_else(
        || format!("arn:{}:iam::{account}:policy/{r}", iam.partition),
        |p| {
            format!(
                "arn:{}:iam::{account}:policy{}{}",
                iam.partition, p.path, p.name
            )
        },
    )
}

/// Applies a parsed bootstrap file.
pub async fn apply(
    iam: &Iam,
    file: &BootstrapFile,
    now: DateTime<Utc>,
) -> Result<Applied, ApiError> {
    let mut out = Applied::default();
    for a in &file.accounts {
        if !crate::ids::is_valid_account_id(&a.id) {
            return Err(ApiError::validation(format!(
                "account id '{}' must be 12 digits",
                a.id
            )));
        }
        let before = iam.account(&a.id).await?;
        let acct = iam.ensure_account(&a.id, a.alias.as_deref(), now).await?;
        if before.as_ref() != Some(&acct) {
            out.changed.push(format!("account {}", a.id));
        }
        apply_keys(
            iam,
            &a.id,
            None,
            &format!("arn:{}:iam::{}:root", iam.partition, a.id),
            &a.root_access_keys,
            now,
            &mut out,
        )
        .await?;
        for p in &a.policies {
            apply_policy(iam, &a.id, p, now, &mut out).await?;
        }
        for g in &a.groups {
            apply_group(iam, &a.id, g, &a.policies, now, &mut out).await?;
        }
        for u in &a.users {
            apply_user(iam, &a.id, u, &a.policies, now, &mut out).await?;
        }
        for o in &a.oidc_providers {
            apply_oidc_provider(iam, &a.id, o, now, &mut out).await?;
        }
        for s in &a.saml_providers {
            apply_saml_provider(iam, &a.id, s, now, &mut out).await?;
        }
        for r in &a.roles {
            apply_role(iam, &a.id, r, &a.policies, now, &mut out).await?;
        }
        for p in &a.identity_pools {
            apply_identity_pool(iam, &a.id, p, now, &mut out).await?;
        }
    }
    Ok(out)
}

async fn apply_keys(
    iam: &Iam,
    account: &str,
    user: Option<&str>,
    owner_arn: &str,
    keys: &[KeyDecl],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    for k in keys {
        match (&k.id, &k.secret) {
            (Some(id), Some(secret)) => {
                if iam.access_key(id).await?.is_none() {
                    iam.create_access_key(
                        account,
                        user,
                        Some((id.clone(), SecretString::from(secret.as_str()))),
                        now,
                    )
                    .await?;
                    out.changed.push(format!("access key {id}"));
                }
            }
            (None, None) if k.generate => {
                if iam.access_keys_of(account, user).await?.is_empty() {
                    let (key, secret) = iam.create_access_key(account, user, None, now).await?;
                    out.changed.push(format!("access key {}", key.id));
                    out.generated_keys
                        .push((owner_arn.to_owned(), key.id, secret));
                }
            }
            _ => {
                return Err(ApiError::validation(format!(
                    "access key of {owner_arn}: give both id and secret, or generate = true"
                )));
            }
        }
    }
    Ok(())
}

async fn apply_policy(
    iam: &Iam,
    account: &str,
    p: &PolicyDecl,
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    check_name("PolicyName", &p.name, 128)?;
    check_path("Path", &p.path)?;
    match iam.customer_policy_named(account, &p.name).await? {
        None => {
            let mp = ManagedPolicy {
                account: account.to_owned(),
                name: p.name.clone(),
                path: p.path.clone(),
                id: crate::ids::new_unique_id("ANPA", account),
                arn: String::new(),
                description: p.description.clone(),
                create_date: now,
                update_date: now,
                default_version_id: "v1".into(),
                versions: vec![PolicyVersion {
                    version_id: "v1".into(),
                    document: p.document.clone(),
                    create_date: now,
                }],
                next_version: 2,
                attachment_count: 0,
                tags: Vec::new(),
                origin: Origin::Bootstrap,
            };
            let mp = iam.create_policy(mp).await?;
            out.changed.push(mp.arn);
        }
        Some(existing) => {
            if existing.default_document() != Some(p.document.as_str()) {
                iam.policies
                    .get_or_parse(&p.document, crate::policy::PolicyKind::Managed)
                    .map_err(ApiError::from)?;
                let doc = p.document.clone();
                let mp = iam
                    .update_policy(account, &p.name, |mp: &mut ManagedPolicy, _| {
                        let vid = format!("v{}", mp.next_version);
                        mp.next_version += 1;
                        mp.versions.push(PolicyVersion {
                            version_id: vid.clone(),
                            document: doc.clone(),
                            create_date: now,
                        });
                        mp.default_version_id = vid;
                        while mp.versions.len() > super::repo::MAX_POLICY_VERSIONS {
                            mp.versions.remove(0);
                        }
                        mp.update_date = now;
                        Ok(())
                    })
                    .await?;
                out.changed.push(mp.arn);
            }
        }
    }
    Ok(())
}

/// The policies a bootstrap entry declares for a user, group or role.
#[derive(Clone, Copy)]
struct Policies<'a> {
    /// Inline policies: name → document.
    inline: &'a BTreeMap<String, String>,
    /// Managed policies, by ARN or by the name of a policy the file declares.
    attached: &'a [String],
}

/// Puts the declared inline policies an entity (`kind`, declared `name`, its `arn`, as stored:
/// `have`) lacks or holds with another document, and attaches the declared managed policies it
/// lacks (nothing undeclared is taken away).
async fn apply_policies<E: PolicyHolder>(
    iam: &Iam,
    account: &str,
    (kind, name, arn): (EntityKind, &str, &str),
    have: &E,
    want: Policies<'_>,
    declared: &[PolicyDecl],
    out: &mut Applied,
) -> Result<(), ApiError> {
    for (policy, doc) in want.inline {
        if have.inline_policies().get(policy) != Some(doc) {
            iam.put_inline_policy(kind, account, name, policy, doc)
                .await?;
            out.changed.push(format!("{arn} inline {policy}"));
        }
    }
    for r in want.attached {
        let policy = policy_ref(iam, account, declared, r);
        if !have.attached_policies().contains(&policy) {
            iam.attach_policy(kind, account, name, &policy).await?;
            out.changed.push(format!("{arn} attach {policy}"));
        }
    }
    Ok(())
}

async fn apply_group(
    iam: &Iam,
    account: &str,
    g: &GroupDecl,
    declared: &[PolicyDecl],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    check_name("GroupName", &g.name, 128)?;
    check_path("Path", &g.path)?;
    if iam.group(account, &g.name).await?.is_none() {
        let grp = Group {
            account: account.to_owned(),
            name: g.name.clone(),
            path: g.path.clone(),
            id: crate::ids::new_unique_id("AGPA", account),
            arn: String::new(),
            create_date: now,
            inline_policies: BTreeMap::new(),
            attached_policies: Vec::new(),
            origin: Origin::Bootstrap,
        };
        out.changed.push(iam.create_group(grp).await?.arn);
    }
    let grp = iam
        .group(account, &g.name)
        .await?
        .ok_or_else(|| super::names::no_such("group", &g.name))?;
    let want = Policies {
        inline: &g.inline_policies,
        attached: &g.attached_policies,
    };
    apply_policies(
        iam,
        account,
        (EntityKind::Group, &g.name, &grp.arn),
        &grp,
        want,
        declared,
        out,
    )
    .await
}

async fn apply_user(
    iam: &Iam,
    account: &str,
    u: &UserDecl,
    declared: &[PolicyDecl],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    check_name("UserName", &u.name, 64)?;
    check_path("Path", &u.path)?;
    if iam.user(account, &u.name).await?.is_none() {
        let user = User {
            account: account.to_owned(),
            name: u.name.clone(),
            path: u.path.clone(),
            id: crate::ids::new_unique_id("AIDA", account),
            arn: String::new(),
            create_date: now,
            tags: tags(&u.tags),
            permissions_boundary: u.permissions_boundary.clone(),
            inline_policies: BTreeMap::new(),
            attached_policies: Vec::new(),
            groups: Vec::new(),
            origin: Origin::Bootstrap,
        };
        out.changed.push(iam.create_user(user).await?.arn);
    }
    let user = iam.user_required(account, &u.name).await?;
    let want_tags = tags(&u.tags);
    if user.tags != want_tags
        || user.permissions_boundary != u.permissions_boundary
        || user.path != u.path
    {
        let path_arn = super::names::entity_arn(&iam.partition, account, "user", &u.path, &u.name);
        iam.update(account, &u.name, |x: &mut User, _| {
            x.tags.clone_from(&want_tags);
            x.permissions_boundary.clone_from(&u.permissions_boundary);
            x.path.clone_from(&u.path);
            x.arn.clone_from(&path_arn);
            Ok(())
        })
        .await?;
        out.changed.push(format!("{} attributes", user.arn));
    }
    let want = Policies {
        inline: &u.inline_policies,
        attached: &u.attached_policies,
    };
    apply_policies(
        iam,
        account,
        (EntityKind::User, &u.name, &user.arn),
        &user,
        want,
        declared,
        out,
    )
    .await?;
    for g in &u.groups {
        if !user.groups.iter().any(|x| x.eq_ignore_ascii_case(g)) {
            iam.add_user_to_group(account, g, &u.name).await?;
            out.changed.push(format!("{} group {g}", user.arn));
        }
    }
    apply_keys(
        iam,
        account,
        Some(&u.name),
        &user.arn,
        &u.access_keys,
        now,
        out,
    )
    .await
}

async fn apply_role(
    iam: &Iam,
    account: &str,
    r: &RoleDecl,
    declared: &[PolicyDecl],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    check_name("RoleName", &r.name, 64)?;
    check_path("Path", &r.path)?;
    crate::wire::params::check_range("MaxSessionDuration", r.max_session_duration, 3600, 43200)?;
    let (_, ids) = iam.check_trust_policy(&r.trust_policy).await?;
    if iam.role(account, &r.name).await?.is_none() {
        let role = Role {
            account: account.to_owned(),
            name: r.name.clone(),
            path: r.path.clone(),
            id: crate::ids::new_unique_id("AROA", account),
            arn: String::new(),
            create_date: now,
            trust_policy: r.trust_policy.clone(),
            trust_principal_ids: ids.clone(),
            description: r.description.clone(),
            max_session_duration: r.max_session_duration,
            permissions_boundary: r.permissions_boundary.clone(),
            tags: tags(&r.tags),
            inline_policies: BTreeMap::new(),
            attached_policies: Vec::new(),
            last_used: None,
            origin: Origin::Bootstrap,
        };
        out.changed.push(iam.create_role(role).await?.arn);
    }
    let role = iam
        .role(account, &r.name)
        .await?
        .ok_or_else(|| super::names::no_such("role", &r.name))?;
    let want_tags = tags(&r.tags);
    if role.trust_policy != r.trust_policy
        || role.description != r.description
        || role.max_session_duration != r.max_session_duration
        || role.permissions_boundary != r.permissions_boundary
        || role.tags != want_tags
    {
        iam.update(account, &r.name, |x: &mut Role, _| {
            x.trust_policy.clone_from(&r.trust_policy);
            x.trust_principal_ids.clone_from(&ids);
            x.description.clone_from(&r.description);
            x.max_session_duration = r.max_session_duration;
            x.permissions_boundary.clone_from(&r.permissions_boundary);
            x.tags.clone_from(&want_tags);
            Ok(())
        })
        .await?;
        out.changed.push(format!("{} attributes", role.arn));
    }
    let want = Policies {
        inline: &r.inline_policies,
        attached: &r.attached_policies,
    };
    apply_policies(
        iam,
        account,
        (EntityKind::Role, &r.name, &role.arn),
        &role,
        want,
        declared,
        out,
    )
    .await
}
