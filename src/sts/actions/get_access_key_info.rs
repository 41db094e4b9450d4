//! `GetAccessKeyInfo`: the account an access key id belongs to. For a long-term key Sekisho
//! holds, its owner's account (an imported key's id need not encode it); for any other
//! well-formed id, the account decoded from the id itself (sts-spec §3.2). Needs
//! `sts:GetAccessKeyInfo`.

use crate::action::{Ctx, Reply};
use crate::authz;
use crate::error::{ApiError, Code};
use crate::wire::params::check_len;
use crate::wire::{Params, XmlWriter};

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let key = p.req("AccessKeyId")?;
    p.finish()?;
    check_len("AccessKeyId", &key, 16, 128)?;
    crate::wire::params::check_chars("AccessKeyId", &key, "[\\w]*", |c| {
        c.is_ascii_alphanumeric() || c == '_'
    })?;
    let c = ctx.caller()?;
    authz::authorize(&ctx.st, c, &ctx.env, "sts:GetAccessKeyInfo", "*").await?;
    let held = if key.starts_with("AKIA") {
        ctx.st
            .iam
            .access_key(&key)
            .await?
            .map(|k| k.key.account.clone())
    } else {
        None
    };
    let account = held
        .or_else(|| crate::ids::account_from_access_key_id(&key))
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameterValue,
                "The access key ID is not valid",
            )
        })?;
    let mut w = XmlWriter::new();
    w.elem("Account", &account);
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: Some(serde_json::json!({ "Account": account })),
        audit: serde_json::json!({ "account": account }).into(),
    })
}
