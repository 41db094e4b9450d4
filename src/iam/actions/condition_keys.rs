//! The condition keys of IAM actions: the one place that says which request and resource keys
//! each IAM action carries into its authorization, as the AWS Service Authorization Reference
//! documents them (`shared/corpora/iam-actions/iam-data.json`; a test checks [`ACTIONS`]
//! against it when the corpus is present).
//!
//! - `aws:ResourceTag/K` (and `iam:ResourceTag/K` for users and roles): the tags of the user,
//!   role, managed policy or virtual MFA device the request's resource ARN names, as stored now;
//! - `aws:RequestTag/K` and `aws:TagKeys`: the tags a create or tag request carries (an untag
//!   request carries only `aws:TagKeys`);
//! - `iam:PermissionsBoundary`: the boundary the request sets, else the target's current one;
//! - `iam:PolicyARN`: the managed policy being attached or detached.
//!
//! [`fill`] is pure; `common::authorize_with` loads the target and calls it.

use crate::iam::model::Tag;
use crate::policy::Context;

/// `aws:RequestTag/K` and `aws:TagKeys` from the request's tags.
const REQUEST_TAGS: u8 = 1;
/// `aws:TagKeys` from the request's `TagKeys` (untag).
const TAG_KEYS: u8 = 2;
/// `iam:PermissionsBoundary`.
const BOUNDARY: u8 = 4;
/// `iam:PolicyARN`.
const POLICY_ARN: u8 = 8;

/// The request keys each implemented IAM action supports (resource tags follow from the
/// resource the action names, see [`ResourceFacts`]). Actions absent here support none.
pub const ACTIONS: &[(&str, u8)] = &[
    ("AttachGroupPolicy", POLICY_ARN),
    ("AttachRolePolicy", BOUNDARY | POLICY_ARN),
    ("AttachUserPolicy", BOUNDARY | POLICY_ARN),
    ("CreateOpenIDConnectProvider", REQUEST_TAGS),
    ("CreatePolicy", REQUEST_TAGS),
    ("CreateRole", REQUEST_TAGS | BOUNDARY),
    ("CreateSAMLProvider", REQUEST_TAGS),
    ("CreateUser", REQUEST_TAGS | BOUNDARY),
    ("CreateVirtualMFADevice", REQUEST_TAGS),
    ("DeleteRole", BOUNDARY),
    ("DeleteRolePermissionsBoundary", BOUNDARY),
    ("DeleteRolePolicy", BOUNDARY),
    ("DeleteUserPermissionsBoundary", BOUNDARY),
    ("DeleteUserPolicy", BOUNDARY),
    ("DetachGroupPolicy", POLICY_ARN),
    ("DetachRolePolicy", BOUNDARY | POLICY_ARN),
    ("DetachUserPolicy", BOUNDARY | POLICY_ARN),
    ("GetRole", BOUNDARY),
    ("PutRolePermissionsBoundary", BOUNDARY),
    ("PutRolePolicy", BOUNDARY),
    ("PutUserPermissionsBoundary", BOUNDARY),
    ("PutUserPolicy", BOUNDARY),
    ("TagMFADevice", REQUEST_TAGS),
    ("TagOpenIDConnectProvider", REQUEST_TAGS),
    ("TagRole", REQUEST_TAGS),
    ("TagSAMLProvider", REQUEST_TAGS),
    ("TagUser", REQUEST_TAGS),
    ("UntagMFADevice", TAG_KEYS),
    ("UntagOpenIDConnectProvider", TAG_KEYS),
    ("UntagRole", TAG_KEYS),
    ("UntagSAMLProvider", TAG_KEYS),
    ("UntagUser", TAG_KEYS),
    ("UpdateAssumeRolePolicy", BOUNDARY),
    ("UpdateRole", BOUNDARY),
    ("UpdateRoleDescription", BOUNDARY),
];

/// What the request itself says, for the keys of [`ACTIONS`]. Actions fill what they parsed;
/// [`fill`] keeps only what the action supports.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// `Tags.member.N` of a create or tag request.
    pub tags: &'a [Tag],
    /// `TagKeys.member.N` of an untag request.
    pub tag_keys: &'a [String],
    /// `PermissionsBoundary` of the request.
    pub boundary: Option<&'a str>,
    /// `PolicyArn` of an attach or detach request.
    pub policy_arn: Option<&'a str>,
}

/// Which namespaces carry a resource's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKeys {
    /// `aws:ResourceTag/K` and `iam:ResourceTag/K` (users and roles).
    AwsAndIam,
    /// `aws:ResourceTag/K` only (managed policies).
    Aws,
}

/// The stored state of the entity the resource ARN names, if it exists.
#[derive(Debug, Clone, Default)]
pub struct ResourceFacts {
    /// Its tags and the namespaces they appear in.
    pub tags: Option<(TagKeys, Vec<Tag>)>,
    /// Its current permissions boundary (users and roles).
    pub boundary: Option<String>,
}

/// Adds the keys `action` supports to `ctx`.
pub fn fill(ctx: &mut Context, action: &str, target: &ResourceFacts, req: &RequestFacts<'_>) {
    if let Some((ns, tags)) = &target.tags {
        for t in tags {
            ctx.set(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
            if *ns == TagKeys::AwsAndIam {
                ctx.set(&format!("iam:ResourceTag/{}", t.key), t.value.clone());
            }
        }
    }
    let flags = ACTIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(0, |(_, f)| *f);
    if flags & REQUEST_TAGS != 0 && !req.tags.is_empty() {
        for t in req.tags {
            ctx.set(&format!("aws:RequestTag/{}", t.key), t.value.clone());
        }
        ctx.set_multi(
            "aws:TagKeys",
            req.tags.iter().map(|t| t.key.clone()).collect(),
        );
    }
    if flags & TAG_KEYS != 0 && !req.tag_keys.is_empty() {
        ctx.set_multi("aws:TagKeys", req.tag_keys.to_vec());
    }
    if flags & BOUNDARY != 0
        && let Some(b) = req.boundary.or(target.boundary.as_deref())
    {
        ctx.set("iam:PermissionsBoundary", b.to_owned());
    }
    if flags & POLICY_ARN != 0
        && let Some(p) = req.policy_arn
    {
        ctx.set("iam:PolicyARN", p.to_owned());
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "tests"
    )]
    use super::*;
    use crate::policy::ContextValue;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn fills_only_what_the_action_supports() {
        let target = ResourceFacts {
            tags: Some((TagKeys::AwsAndIam, vec![tag("protected", "true")])),
            boundary: Some("arn:aws:iam::111111111111:policy/b".into()),
        };
        let req_tags = [tag("team", "red")];
        let req = RequestFacts {
            tags: &req_tags,
            tag_keys: &[],
            boundary: None,
            policy_arn: Some("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        };
        let mut ctx = Context::new();
        fill(&mut ctx, "AttachRolePolicy", &target, &req);
        let one = |c: &Context, k: &str| match c.get(k) {
            Some(ContextValue::Single(v)) => Some(v.to_string()),
            _ => None,
        };
        assert_eq!(
            one(&ctx, "aws:ResourceTag/protected").as_deref(),
            Some("true")
        );
        assert_eq!(
            one(&ctx, "iam:ResourceTag/Protected").as_deref(),
            Some("true")
        );
        assert_eq!(
            one(&ctx, "iam:PermissionsBoundary").as_deref(),
            Some("arn:aws:iam::111111111111:policy/b")
        );
        assert_eq!(
            one(&ctx, "iam:PolicyARN").as_deref(),
            Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
        );
        // AttachRolePolicy has no request tags.
        assert!(ctx.get("aws:RequestTag/team").is_none());
        assert!(ctx.get("aws:TagKeys").is_none());

        let mut ctx = Context::new();
        fill(&mut ctx, "TagRole", &ResourceFacts::default(), &req);
        assert_eq!(one(&ctx, "aws:RequestTag/team").as_deref(), Some("red"));
        assert_eq!(
            ctx.get("aws:TagKeys"),
            Some(&ContextValue::Multi(vec!["team".into()]))
        );
        assert!(ctx.get("iam:PolicyARN").is_none());

        // Managed policies carry aws:ResourceTag only.
        let mut ctx = Context::new();
        let policy = ResourceFacts {
            tags: Some((TagKeys::Aws, vec![tag("protected", "true")])),
            boundary: None,
        };
        fill(&mut ctx, "DeletePolicy", &policy, &RequestFacts::default());
        assert!(ctx.get("aws:ResourceTag/protected").is_some());
        assert!(ctx.get("iam:ResourceTag/protected").is_none());
    }

    /// [`ACTIONS`] says what the Service Authorization Reference says, for every action Sekisho
    /// implements (skipped without the corpus).
    #[test]
    fn table_matches_the_service_authorization_reference() {
        let dir = std::env::var_os("SEKISHO_CORPORA").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"),
            std::path::PathBuf::from,
        );
        let Ok(text) = std::fs::read_to_string(dir.join("iam-actions/iam-data.json")) else {
            eprintln!("skipping: iam-data.json not found");
            return;
        };
        let data: serde_json::Value = serde_json::from_str(&text).unwrap();
        let actions = &data["services"]["iam"]["actions"];
        let dispatch = include_str!("mod.rs");
        let mut checked = 0;
        for line in dispatch.lines() {
            let Some(name) = line
                .trim()
                .strip_prefix('"')
                .and_then(|l| l.split_once("\" =>"))
                .map(|(n, _)| n)
            else {
                continue;
            };
            let Some(a) = actions.get(name.to_ascii_lowercase()) else {
                continue; // Sekisho's own actions (RevokeSessions)
            };
            let keys: Vec<&str> = a["conditionKeys"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|k| k.as_str())
                .collect();
            let want = (if keys.contains(&"aws:RequestTag/${TagKey}") {
                REQUEST_TAGS
            } else if keys.contains(&"aws:TagKeys") {
                TAG_KEYS
            } else {
                0
            }) | (if keys.contains(&"iam:PermissionsBoundary") {
                BOUNDARY
            } else {
                0
            }) | (if keys.contains(&"iam:PolicyARN") {
                POLICY_ARN
            } else {
                0
            });
            let have = ACTIONS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, f)| *f);
            assert_eq!(have, want, "{name}: table {have:#b}, reference {want:#b}");
            checked += 1;
        }
        assert!(checked > 60, "only {checked} actions checked");
    }
}
