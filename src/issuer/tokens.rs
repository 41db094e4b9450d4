//! The claims of the tokens Sekisho issues (pure: inputs and `now` in, a JSON object out).
//!
//! - [`web_identity`]: `GetWebIdentityToken` — about the calling principal: `sub` is its
//!   principal ARN (the role's for a role session), `aud` the requested audiences, and AWS's
//!   `https://sts.amazonaws.com/` claim with the account, the caller's ARN, the region and the
//!   request tags.
//! - [`identity_pool`]: `GetOpenIdToken` — about a pool identity, shaped as Cognito's:
//!   `aud` the pool id, `sub` the identity id, `amr` `authenticated` + the provider or
//!   `unauthenticated`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The namespace claim of `GetWebIdentityToken` tokens (AWS).
pub const STS_CLAIM: &str = "https://sts.amazonaws.com/";

/// How long a `GetOpenIdToken` token lives (Cognito's default, 10 minutes).
pub const OPEN_ID_TOKEN_SECONDS: i64 = 600;

/// Who asks for a `GetWebIdentityToken` token.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The principal ARN (a role's ARN for its sessions, a user's ARN).
    pub principal_arn: &'a str,
    /// The caller's own ARN (the session ARN for a role session).
    pub arn: &'a str,
    /// The account.
    pub account: &'a str,
    /// The region the request was signed for.
    pub region: &'a str,
}

/// The claims of a `GetWebIdentityToken` token.
#[must_use]
pub fn web_identity(
    issuer: &str,
    who: &Subject<'_>,
    audiences: &[String],
    tags: &[(String, String)],
    now: DateTime<Utc>,
    seconds: i64,
) -> Value {
    let iat = now.timestamp();
    let aud = match audiences {
        [one] => Value::String(one.clone()),
        many => json!(many),
    };
    let mut sts = Map::new();
    sts.insert("aws_account".into(), json!(who.account));
    sts.insert("principal_id".into(), json!(who.arn));
    if !who.region.is_empty() {
        sts.insert("source_region".into(), json!(who.region));
    }
    if !tags.is_empty() {
        let t: Map<String, Value> = tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        sts.insert("request_tags".into(), Value::Object(t));
    }
    json!({
        "iss": issuer,
        "sub": who.principal_arn,
        "aud": aud,
        "iat": iat,
        "nbf": iat,
        "exp": iat.saturating_add(seconds),
        "jti": uuid::Uuid::new_v4().to_string(),
        STS_CLAIM: sts,
    })
}

/// The `amr` of a pool identity: `["authenticated", <provider>]` or `["unauthenticated"]`.
#[must_use]
pub fn amr(provider: Option<&str>) -> Vec<String> {
    match provider {
        Some(p) => vec!["authenticated".into(), p.to_owned()],
        None => vec!["unauthenticated".into()],
    }
}

/// The claims of a `GetOpenIdToken` token.
#[must_use]
pub fn identity_pool(
    issuer: &str,
    pool_id: &str,
    identity_id: &str,
    provider: Option<&str>,
    now: DateTime<Utc>,
) -> Value {
    let iat = now.timestamp();
    json!({
        "iss": issuer,
        "sub": identity_id,
        "aud": pool_id,
        "amr": amr(provider),
        "iat": iat,
        "exp": iat.saturating_add(OPEN_ID_TOKEN_SECONDS),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn web_identity_claims_name_the_principal_and_the_audiences() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let who = Subject {
            principal_arn: "arn:aws:iam::111111111111:role/app",
            arn: "arn:aws:sts::111111111111:assumed-role/app/s",
            account: "111111111111",
            region: "us-east-1",
        };
        let one = web_identity("https://i", &who, &["x".into()], &[], now, 300);
        assert_eq!(one["aud"], "x");
        assert_eq!(one["sub"], "arn:aws:iam::111111111111:role/app");
        assert_eq!(one["exp"], 1_800_000_300_i64);
        assert!(one[STS_CLAIM].get("request_tags").is_none());
        let two = web_identity(
            "https://i",
            &who,
            &["x".into(), "y".into()],
            &[("team".into(), "a".into())],
            now,
            60,
        );
        assert_eq!(two["aud"], json!(["x", "y"]));
        assert_eq!(two[STS_CLAIM]["request_tags"]["team"], "a");
        assert_ne!(one["jti"], two["jti"]);
    }

    #[test]
    fn pool_tokens_are_shaped_as_cognitos() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let t = identity_pool("https://i", "us-east-1:p", "us-east-1:i", Some("idp"), now);
        assert_eq!(t["aud"], "us-east-1:p");
        assert_eq!(t["sub"], "us-east-1:i");
        assert_eq!(t["amr"], json!(["authenticated", "idp"]));
        let g = identity_pool("https://i", "us-east-1:p", "us-east-1:i", None, now);
        assert_eq!(g["amr"], json!(["unauthenticated"]));
    }
}
