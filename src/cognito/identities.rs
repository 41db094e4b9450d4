//! Finding the identity an unsigned call names, and checking that the caller may speak for it:
//! a guest identity without logins (if the pool still allows guests), or the identity of the
//! login the call presents (verified by its provider's verifier).

use super::identity::{check_id, login_identity_id};
use super::logins::{self, Login};
use super::model::{Identity, IdentityPool};
use super::pools::not_found;
use super::wire::Input;
use crate::action::Ctx;
use crate::error::{ApiError, Code};

/// Cognito's answer when guests are not allowed.
#[must_use]
pub fn guests_not_allowed() -> ApiError {
    ApiError::access_denied("Unauthenticated access is not supported for this identity pool.")
}

fn logins_dont_match() -> ApiError {
    ApiError::access_denied(
        "Logins don't match. Please include at least one valid login for this identity or \
         identity pool.",
    )
}

/// The `Logins` of a request: none or one (provider key, token).
///
/// # Errors
/// `InvalidParameterException`.
pub fn read_login(input: &Input) -> Result<Option<(String, String)>, ApiError> {
    logins::one_login(input.str_map("Logins", 10, 128, 1, logins::MAX_TOKEN_CHARS)?)
}

/// The salt of a pool, as bytes.
///
/// # Errors
/// `InternalFailure` if the stored salt is not hex.
pub fn salt(pool: &IdentityPool) -> Result<Vec<u8>, ApiError> {
    hex::decode(&pool.salt).map_err(|_| ApiError::internal(format!("pool {} salt", pool.id)))
}

/// The identity `IdentityId` names, its pool, and the verified login if one was presented.
///
/// # Errors
/// `ResourceNotFoundException` (no such identity or pool), `NotAuthorizedException` (guests
/// not allowed, a login that is not the identity's or does not verify).
pub async fn resolve(
    ctx: &Ctx,
    input: &Input,
) -> Result<(IdentityPool, Identity, Option<Login>), ApiError> {
    let id = input.req_str("IdentityId", 1, 55)?;
    check_id("IdentityId", &id)?;
    let login = read_login(input)?;
    let st = &ctx.st;
    let identity =
        st.iam.pool_identity(&id).await?.ok_or_else(|| {
            ApiError::new(Code::NoSuchEntity, format!("Identity '{id}' not found."))
        })?;
    let pool = st
        .iam
        .identity_pool(&identity.pool_id)
        .await?
        .map(std::sync::Arc::unwrap_or_clone)
        .ok_or_else(|| not_found(&identity.pool_id))?;
    match (login, &identity.login) {
        (None, None) if pool.allow_unauthenticated => Ok((pool, identity, None)),
        (None, None) => Err(guests_not_allowed()),
        (None, Some(_)) => Err(logins_dont_match()),
        (Some((key, token)), linked) => {
            let l = logins::verify(
                st,
                &pool,
                &key,
                &token,
                ctx.env.now.timestamp(),
                logins::Use::Exchange,
            )
            .await?;
            let derived = login_identity_id(&pool.id, &salt(&pool)?, &l.provider, &l.subject);
            let same = linked
                .as_ref()
                .is_some_and(|(p, s)| *p == l.provider && *s == l.subject);
            if !same || derived != identity.id {
                return Err(logins_dont_match()
                    .with_detail(format!("{id} is not the identity of this {key} login")));
            }
            Ok((pool, identity, Some(l)))
        }
    }
}
