//! The IAM Query API (Version 2010-05-08): one module per action group.

use crate::error::{ApiError, Code};
use crate::http::{Ctx, Reply};
use crate::wire::Params;

/// Runs an IAM action.
pub async fn dispatch(_ctx: &Ctx, action: &str, _p: &mut Params) -> Result<Reply, ApiError> {
    Err(ApiError::new(
        Code::InvalidAction,
        format!("Could not find operation {action} for version 2010-05-08"),
    ))
}
