//! The security headers of every SSO answer: no caching anywhere (the credentials page holds
//! secrets), no framing, no inline script or style, nothing loaded from elsewhere, no referrer.

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The Content-Security-Policy of the SSO pages.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'none'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// Adds the headers to `headers`; `https` adds HSTS.
pub fn apply(headers: &mut HeaderMap, https: bool) {
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::PRAGMA, "no-cache");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        "clipboard-write=(self)",
    );
    if https {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cannot_be_framed_cached_or_run_inline_script() {
        let mut h = HeaderMap::new();
        apply(&mut h, false);
        let csp = h
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(
            h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        apply(&mut h, true);
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_some());
    }
}
