//! What a verified web identity token brings to the trust evaluation and to the session: the
//! condition keys `<provider>:aud`, `:sub`, `:amr`, `:azp`, `:oaud` and the provider-specific
//! keys AWS documents (GitHub, GitLab, Buildkite, CircleCI, OCI, Google), the few keys that stay
//! visible in later calls, and session tags from the `https://aws.amazon.com/tags` claim. Pure.

use serde_json::Value;

use super::error::Error;
use super::verify::Verified;
use crate::policy::Context;

/// The claim carrying session tags (AWS).
pub const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// Longest claim value copied into a condition key, bytes.
const MAX_VALUE: usize = 1024;

const GITHUB: &[&str] = &[
    "actor",
    "actor_id",
    "enterprise_id",
    "environment",
    "job_workflow_ref",
    "ref",
    "repository",
    "repository_id",
    "repository_owner_id",
    "workflow",
];
const GITLAB: &[&str] = &[
    "namespace_id",
    "pipeline_source",
    "project_id",
    "ref_protected",
    "runner_environment",
    "user_access_level",
    "user_email",
    "user_id",
    "user_login",
];
const BUILDKITE: &[&str] = &[
    "build_branch",
    "cluster_id",
    "cluster_name",
    "organization_id",
    "organization_slug",
    "pipeline_id",
    "pipeline_slug",
];

/// The provider-specific claims AWS turns into `<provider>:<claim>` keys (Service Authorization
/// Reference, `unassociatedConditions` of sts), by provider name (URL without scheme).
#[must_use]
pub fn specific_claims(provider: &str) -> &'static [&'static str] {
    let host = provider.split('/').next().unwrap_or(provider);
    if provider == "token.actions.githubusercontent.com"
        || provider.starts_with("token.actions.githubusercontent.com/")
        || (host.starts_with("token.actions.") && host.ends_with(".ghe.com"))
        || provider.starts_with("github.com/enterprises/")
    {
        GITHUB
    } else if provider == "gitlab.com" {
        GITLAB
    } else if provider == "agent.buildkite.com"
        || (host.starts_with("agent.")
            && (host.ends_with(".buildkite.dev") || host.ends_with(".buildkite.site")))
    {
        BUILDKITE
    } else if provider.starts_with("oidc.circleci.com/org/") {
        &["oidc.circleci.com/project-id"]
    } else if host.starts_with("idcs-") && host.ends_with(".identity.oraclecloud.com") {
        &["rpst_id"]
    } else if provider == "accounts.google.com" {
        &["google/organization_number"]
    } else {
        &[]
    }
}

/// Whether AWS treats `azp` as the audience for this provider (Google).
#[must_use]
pub fn azp_is_audience(provider: &str) -> bool {
    provider == "accounts.google.com"
}

/// A claim as a condition-key value: strings as they are, numbers and booleans as text; a
/// `a/b` name also looks inside the object `a` (Google's `google/organization_number`).
fn claim_text(v: &Verified, name: &str) -> Option<String> {
    let value = v.claims.get(name).or_else(|| {
        let (outer, inner) = name.split_once('/')?;
        v.claims.get(outer)?.get(inner)
    })?;
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (text.len() <= MAX_VALUE).then_some(text)
}

/// The `:aud` value: the matched client id, or `azp` for Google (whose `aud` becomes `:oaud`).
fn aud_value(provider: &str, v: &Verified) -> String {
    match (&v.azp, azp_is_audience(provider)) {
        (Some(azp), true) => azp.clone(),
        _ => v.audience.clone(),
    }
}

/// Adds the token's condition keys for `provider` (the provider name, `host/path`) to `ctx`.
pub fn fill(ctx: &mut Context, provider: &str, v: &Verified) {
    ctx.set(&format!("{provider}:aud"), aud_value(provider, v));
    ctx.set(&format!("{provider}:sub"), v.sub.clone());
    if !v.amr.is_empty() {
        ctx.set_multi(&format!("{provider}:amr"), v.amr.clone());
    }
    if let Some(azp) = &v.azp {
        ctx.set(&format!("{provider}:azp"), azp.clone());
        if azp_is_audience(provider) {
            ctx.set_multi(&format!("{provider}:oaud"), v.aud.clone());
        }
    }
    for claim in specific_claims(provider) {
        if let Some(text) = claim_text(v, claim) {
            ctx.set(&format!("{provider}:{claim}"), text);
        }
    }
}

/// The keys that stay visible to the session's later calls (sts-spec §5: `aud`, `sub`, and
/// `amr` when single-valued), within the token's bounds on federation claims.
#[must_use]
pub fn lasting_claims(provider: &str, v: &Verified) -> Vec<(String, String)> {
    let mut out = vec![
        (format!("{provider}:aud"), aud_value(provider, v)),
        (format!("{provider}:sub"), v.sub.clone()),
    ];
    if let [one] = v.amr.as_slice() {
        out.push((format!("{provider}:amr"), one.clone()));
    }
    out.retain(|(k, val)| {
        k.len() <= crate::token::claims::MAX_FEDERATION_CLAIM_LEN
            && val.len() <= crate::token::claims::MAX_FEDERATION_CLAIM_LEN
    });
    out
}

/// Session tags from a token: the tags (key, value) and the transitive keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionTags {
    /// The tags, case preserved.
    pub tags: Vec<(String, String)>,
    /// The keys that are transitive.
    pub transitive: Vec<String>,
}

/// Session tags from the `https://aws.amazon.com/tags` claim:
/// `{"principal_tags": {"K": ["v"]}, "transitive_tag_keys": ["K"]}`, one value per tag, at
/// most 50; transitive keys must be among the tags.
///
/// # Errors
/// [`Error::ClaimType`] for any other shape.
pub fn session_tags(v: &Verified) -> Result<SessionTags, Error> {
    let bad = || Error::ClaimType(TAGS_CLAIM);
    let Some(claim) = v.claims.get(TAGS_CLAIM) else {
        return Ok(SessionTags::default());
    };
    let obj = claim.as_object().ok_or_else(bad)?;
    let mut tags: Vec<(String, String)> = Vec::new();
    if let Some(p) = obj.get("principal_tags") {
        for (k, vals) in p.as_object().ok_or_else(bad)? {
            let value = match vals {
                Value::Array(a) if a.len() == 1 => a.first().and_then(Value::as_str),
                Value::String(s) => Some(s.as_str()),
                _ => None,
            }
            .ok_or_else(bad)?;
            if k.is_empty() || k.len() > 128 || value.len() > 256 {
                return Err(bad());
            }
            if tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
                return Err(bad());
            }
            tags.push((k.clone(), value.to_owned()));
        }
    }
    if tags.len() > 50 {
        return Err(bad());
    }
    let mut transitive = Vec::new();
    if let Some(t) = obj.get("transitive_tag_keys") {
        for k in t.as_array().ok_or_else(bad)? {
            let k = k.as_str().ok_or_else(bad)?;
            if !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
                return Err(bad());
            }
            transitive.push(k.to_owned());
        }
    }
    Ok(SessionTags { tags, transitive })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use serde_json::json;

    use super::super::verify::{Verified, tests as v};
    use super::*;
    use crate::policy::ContextValue;

    fn verified(extra: serde_json::Value) -> Verified {
        let mut c = v::claims();
        for (k, val) in extra.as_object().unwrap() {
            c.as_object_mut().unwrap().insert(k.clone(), val.clone());
        }
        Verified {
            iss: v::ISS.into(),
            sub: c["sub"].as_str().unwrap().into(),
            aud: vec!["sts.amazonaws.com".into()],
            audience: "sts.amazonaws.com".into(),
            azp: c.get("azp").and_then(|a| a.as_str()).map(str::to_owned),
            amr: vec![],
            iat: 0,
            exp: 0,
            kid: "k".into(),
            alg: jsonwebtoken::Algorithm::RS256,
            claims: c.as_object().unwrap().clone().into(),
        }
    }

    fn single(ctx: &Context, k: &str) -> Option<String> {
        match ctx.get(k) {
            Some(ContextValue::Single(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    #[test]
    fn github_tokens_bring_their_documented_keys() {
        let p = "token.actions.githubusercontent.com";
        let t = verified(json!({"repository": "org/repo", "ref": "refs/heads/main",
            "job_workflow_ref": "org/repo/.github/workflows/d.yml@refs/heads/main",
            "environment": "prod", "repository_id": 123, "not_a_key": "x"}));
        let mut ctx = Context::new();
        fill(&mut ctx, p, &t);
        assert_eq!(
            single(&ctx, &format!("{p}:sub")).unwrap(),
            "repo:org/repo:ref:refs/heads/main"
        );
        assert_eq!(
            single(&ctx, &format!("{p}:aud")).unwrap(),
            "sts.amazonaws.com"
        );
        assert_eq!(
            single(&ctx, &format!("{p}:repository")).unwrap(),
            "org/repo"
        );
        assert_eq!(single(&ctx, &format!("{p}:environment")).unwrap(), "prod");
        assert_eq!(single(&ctx, &format!("{p}:repository_id")).unwrap(), "123");
        assert!(single(&ctx, &format!("{p}:job_workflow_ref")).is_some());
        assert!(ctx.get(&format!("{p}:not_a_key")).is_none());
        assert!(specific_claims("token.actions.acme.ghe.com").contains(&"ref"));
        assert!(specific_claims("gitlab.com").contains(&"project_id"));
        assert!(specific_claims("127.0.0.1:8080/x").is_empty());
    }

    #[test]
    fn google_azp_is_the_aud_key_and_aud_the_oaud() {
        let p = "accounts.google.com";
        let t = verified(json!({"azp": "client-1", "google": {"organization_number": 42}}));
        let mut ctx = Context::new();
        fill(&mut ctx, p, &t);
        assert_eq!(single(&ctx, "accounts.google.com:aud").unwrap(), "client-1");
        assert_eq!(
            ctx.get("accounts.google.com:oaud"),
            Some(&ContextValue::Multi(vec!["sts.amazonaws.com".into()]))
        );
        assert_eq!(
            single(&ctx, "accounts.google.com:google/organization_number").unwrap(),
            "42"
        );
    }

    #[test]
    fn session_tags_come_from_the_aws_claim() {
        let t = verified(
            json!({TAGS_CLAIM: {"principal_tags": {"team": ["a"], "env": ["p"]},
            "transitive_tag_keys": ["team"]}}),
        );
        let st = session_tags(&t).unwrap();
        assert_eq!(st.tags.len(), 2);
        assert_eq!(st.transitive, vec!["team".to_owned()]);
        for bad in [
            json!({TAGS_CLAIM: "x"}),
            json!({TAGS_CLAIM: {"principal_tags": {"k": ["a", "b"]}}}),
            json!({TAGS_CLAIM: {"principal_tags": {"k": ["a"]}, "transitive_tag_keys": ["z"]}}),
        ] {
            assert!(session_tags(&verified(bad)).is_err());
        }
        assert!(session_tags(&verified(json!({}))).unwrap().tags.is_empty());
    }
}
