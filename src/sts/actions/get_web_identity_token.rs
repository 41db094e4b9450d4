//! `GetWebIdentityToken` (AWS's outbound identity federation): a JWT about the calling
//! principal, signed by Sekisho's issuer (`[issuer]`), for the `Audience`s asked for, so other
//! systems — another Sekisho included, through `AssumeRoleWithWebIdentity` — can trust it.
//! `SigningAlgorithm` `RS256` or `ES384`; `DurationSeconds` 60–3600 (default 300); `Tags`
//! become the `request_tags` of the `https://sts.amazonaws.com/` claim and need
//! `sts:TagGetWebIdentityToken`. Authorized as `sts:GetWebIdentityToken` with the condition
//! keys `sts:IdentityTokenAudience`, `sts:SigningAlgorithm` and `sts:DurationSeconds`.

use crate::action::{Ctx, Reply};
use crate::authz;
use crate::error::{ApiError, Code};
use crate::issuer::{SigningAlg, tokens};
use crate::sts::session_input as si;
use crate::wire::params::{check_len, check_range};
use crate::wire::xml::iso8601;
use crate::wire::{Params, XmlWriter};

/// The default lifetime, seconds.
pub const DEFAULT_SECONDS: i64 = 300;

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let audiences = p.list("Audience")?;
    let alg = p.req("SigningAlgorithm")?;
    let duration = p.opt_i64("DurationSeconds")?;
    let tags = si::read_tags(p)?;
    p.finish()?;
    if audiences.is_empty() {
        return Err(ApiError::new(
            Code::MissingParameter,
            "1 validation error detected: Value null at 'audience' failed to satisfy \
             constraint: Member must not be null",
        ));
    }
    if audiences.len() > 10 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'audience' failed to satisfy constraint: \
             Member must have length less than or equal to 10",
        ));
    }
    for a in &audiences {
        check_len("Audience", a, 1, 1000)?;
    }
    let alg = SigningAlg::parse(&alg).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{}' at 'signingAlgorithm' failed to satisfy \
             constraint: Member must satisfy enum value set: [RS256, ES384]",
            alg.chars().take(16).collect::<String>()
        ))
    })?;
    let secs = duration.unwrap_or(DEFAULT_SECONDS);
    check_range("DurationSeconds", secs, 60, 3600)?;
    let caller = ctx.caller()?;
    let st = &ctx.st;
    let now = ctx.env.now;
    let resource = "*";
    let audience_values = audiences.clone();
    authz::authorize_with(
        st,
        caller,
        &ctx.env,
        "sts:GetWebIdentityToken",
        resource,
        |c| {
            c.set_multi("sts:IdentityTokenAudience", audience_values);
            c.set("sts:SigningAlgorithm", alg.as_str().to_owned());
            c.set("sts:DurationSeconds", secs.to_string());
        },
    )
    .await?;
    if !tags.is_empty() {
        let keys: Vec<String> = tags.iter().map(|(k, _)| k.clone()).collect();
        let request_tags = tags.clone();
        authz::authorize_with(
            st,
            caller,
            &ctx.env,
            "sts:TagGetWebIdentityToken",
            resource,
            |c| {
                for (k, v) in &request_tags {
                    c.set(&format!("aws:RequestTag/{k}"), v.clone());
                }
                c.set_multi("aws:TagKeys", keys);
            },
        )
        .await?;
    }
    let principal = authz::request_principal(caller);
    let who = tokens::Subject {
        principal_arn: &principal.principal_arn,
        arn: &caller.arn,
        account: &caller.account,
        region: &caller.region,
    };
    let claims = tokens::web_identity(&st.issuer_url, &who, &audiences, &tags, now, secs);
    let token = st
        .issuer_keys()
        .sign(alg, &claims)
        .map_err(ApiError::internal)?;
    let expiration = now + chrono::Duration::seconds(secs);
    let mut w = XmlWriter::new();
    w.elem("WebIdentityToken", &token)
        .elem("Expiration", &iso8601(expiration));
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: serde_json::json!({
            "audience": audiences,
            "signingAlgorithm": alg.as_str(),
            "expiration": iso8601(expiration),
            "jti": claims.get("jti"),
        })
        .into(),
    })
}
