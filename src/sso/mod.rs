//! Browser single sign-on with SAML 2.0 (issue #18 part 3): IdP-initiated `POST /saml` → one role:
//! the credentials page; several: a role chooser grouped by account → the credentials page; SP-
//! initiated `GET /saml/login?provider=…` (an AuthnRequest by HTTP-Redirect, its id checked
//! against `InResponseTo` once); SP metadata at `/saml/metadata`.
//!
//! | file | owns |
//! |---|---|
//! | [`flow`] | the handlers: forms, cookies, CSRF, audit, around `AssumeRoleWithSAML`'s steps |
//! | [`html`] | the pages (pure; escaped; no inline script or style) |
//! | [`headers`] | CSP, no-store, no framing, no referrer |
//! | [`pending`] | short-lived single-use state in the shared store (`sso/…` keys) |
//! | [`sp`] | SP metadata, the AuthnRequest, the IdP's sign-in URL |

pub mod flow;
pub mod headers;
pub mod html;
pub mod limit;
pub mod pending;
pub mod sp;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::state::AppState;

/// The stylesheet of the pages.
const CSS: &str = include_str!("assets/sso.css");
/// The copy buttons of the credentials page.
const JS: &str = include_str!("assets/sso.js");

/// The SSO routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/saml", post(flow::acs))
        .route("/saml/choose", post(flow::choose))
        .route("/saml/login", get(flow::login))
        .route("/saml/metadata", get(flow::metadata))
        .route(
            "/sso/assets/sso.css",
            get(|| asset("text/css; charset=utf-8", CSS)),
        )
        .route(
            "/sso/assets/sso.js",
            get(|| asset("text/javascript; charset=utf-8", JS)),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Purges expired SSO state every minute, for as long as the state lives.
pub fn spawn_purger(st: &Arc<AppState>) {
    let weak = Arc::downgrade(st);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let Some(st) = weak.upgrade() else { break };
            st.sso_sign_in_budget.purge(st.clock.now().timestamp());
            if let Err(e) = pending::purge(&**st.iam.kv(), st.clock.now()).await {
                tracing::warn!(error = %e, "purging expired SSO state failed; will retry");
            }
        }
    });
}
