//! `GetCallerIdentity`: who signed this request. Needs no permission; even an explicit Deny is
//! ignored (AWS). Answers JSON when asked (`Accept: application/json`, EKS tokens).

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::error::ApiError;
use crate::wire::{Params, XmlWriter};

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    p.finish()?;
    let c = ctx.caller()?;
    if ctx.wants_json {
        return Ok(Reply {
            result_xml: None,
            result_json: Some(json!({ "UserId": c.user_id, "Account": c.account, "Arn": c.arn })),
            audit: serde_json::Value::Null.into(),
        });
    }
    let mut w = XmlWriter::new();
    w.elem("UserId", &c.user_id)
        .elem("Account", &c.account)
        .elem("Arn", &c.arn);
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: serde_json::Value::Null.into(),
    })
}
