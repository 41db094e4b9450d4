//! `DecodeAuthorizationMessage`: decodes the encoded reason that a denial carried (from the
//! verification endpoint). Needs `sts:DecodeAuthorizationMessage`, and a message decodes only
//! for callers of the account it is about (the denied principal's): another account gets the
//! answer an invalid message gets.

use crate::action::{Ctx, Reply};
use crate::authz;
use crate::error::{ApiError, Code};
use crate::wire::params::check_len;
use crate::wire::{Params, XmlWriter};

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let msg = p.req("EncodedMessage")?;
    p.finish()?;
    check_len("EncodedMessage", &msg, 1, 10240)?;
    let caller = ctx.caller()?;
    authz::authorize(
        &ctx.st,
        caller,
        &ctx.env,
        "sts:DecodeAuthorizationMessage",
        "*",
    )
    .await?;
    let decoded =
        crate::verify::decode_message(&ctx.st, &caller.account, &msg).ok_or_else(|| {
            ApiError::new(
                Code::InvalidAuthorizationMessageException,
                "The message is invalid.",
            )
        })?;
    let mut w = XmlWriter::new();
    w.elem("DecodedMessage", &decoded);
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: serde_json::Value::Null.into(),
    })
}
