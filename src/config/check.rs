//! The checks a configuration's values pass before Sekisho starts: ranges, names, and what
//! the sections must agree on. Each refusal names its key.

use std::path::Path;

use super::{Config, ConfigError, is_valid_region};

impl Config {
    /// Refuses the first value out of its range, naming its key.
    pub(super) fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key, message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message: message.to_owned(),
        };
        if !(0..=900).contains(&self.auth.clock_skew_seconds) {
            return Err(bad("auth.clock_skew_seconds", "must be between 0 and 900"));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.server.max_body_bytes) {
            return Err(bad(
                "server.max_body_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if self.server.max_concurrent_requests == 0 {
            return Err(bad("server.max_concurrent_requests", "must be at least 1"));
        }
        if !(1..=600).contains(&self.server.request_timeout_seconds) {
            return Err(bad(
                "server.request_timeout_seconds",
                "must be between 1 and 600",
            ));
        }
        if !(1..=300).contains(&self.server.header_read_timeout_seconds) {
            return Err(bad(
                "server.header_read_timeout_seconds",
                "must be between 1 and 300",
            ));
        }
        if !(1..=3600).contains(&self.server.idle_timeout_seconds) {
            return Err(bad(
                "server.idle_timeout_seconds",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return Err(bad(
                "server.max_connections",
                "must be between 1 and 1000000",
            ));
        }
        if self.server.workers > 1024 {
            return Err(bad(
                "server.workers",
                "must be between 0 (one per core) and 1024",
            ));
        }
        if !(1..=self.server.max_connections).contains(&self.server.max_connections_per_ip) {
            return Err(bad(
                "server.max_connections_per_ip",
                "must be between 1 and server.max_connections",
            ));
        }
        if self.audit.max_file_bytes != 0 && self.audit.max_file_bytes < 65536 {
            return Err(bad(
                "audit.max_file_bytes",
                "must be 0 (no size rotation) or at least 65536",
            ));
        }
        if !(1..=1000).contains(&self.audit.max_files) {
            return Err(bad("audit.max_files", "must be between 1 and 1000"));
        }
        if !["aws", "aws-cn", "aws-us-gov"].contains(&self.server.partition.as_str()) {
            return Err(bad("server.partition", "must be aws, aws-cn or aws-us-gov"));
        }
        if !self.server.public_url.starts_with("http://")
            && !self.server.public_url.starts_with("https://")
        {
            return Err(bad(
                "server.public_url",
                "must start with http:// or https://",
            ));
        }
        for r in &self.server.regions {
            if !is_valid_region(r) {
                return Err(bad(
                    "server.regions",
                    &format!("'{r}' is not a valid region name"),
                ));
            }
        }
        if !(2048..=65536).contains(&self.sessions.max_token_bytes) {
            return Err(bad(
                "sessions.max_token_bytes",
                "must be between 2048 and 65536",
            ));
        }
        if !(900..=129_600).contains(&self.sessions.get_session_token_default_seconds) {
            return Err(bad(
                "sessions.get_session_token_default_seconds",
                "must be 900..=129600",
            ));
        }
        if !(900..=43_200).contains(&self.sessions.assume_role_default_seconds) {
            return Err(bad(
                "sessions.assume_role_default_seconds",
                "must be 900..=43200",
            ));
        }
        if !(1..=168).contains(&self.keys.retain_hours) {
            return Err(bad("keys.retain_hours", "must be between 1 and 168"));
        }
        if self.revocation.refresh_seconds == 0 || self.revocation.refresh_seconds > 3600 {
            return Err(bad(
                "revocation.refresh_seconds",
                "must be between 1 and 3600",
            ));
        }
        if self.revocation.max_staleness_seconds < self.revocation.refresh_seconds {
            return Err(bad(
                "revocation.max_staleness_seconds",
                "must be at least revocation.refresh_seconds",
            ));
        }
        if let Some(bad_arn) = self.revocation.operators.iter().find(|a| {
            !(a.starts_with("arn:")
                && (a.ends_with(":root") || a.contains(":user/") || a.contains(":role/")))
        }) {
            return Err(bad(
                "revocation.operators",
                &format!("'{bad_arn}' is not a user, role or root ARN"),
            ));
        }
        if !(1..=1_000_000).contains(&self.revocation.max_session_revocations_per_account) {
            return Err(bad(
                "revocation.max_session_revocations_per_account",
                "must be between 1 and 1000000",
            ));
        }
        let o = &self.oidc;
        if !(60..=86_400).contains(&o.jwks_ttl_seconds) {
            return Err(bad("oidc.jwks_ttl_seconds", "must be between 60 and 86400"));
        }
        if !(1..=3600).contains(&o.refetch_interval_seconds) {
            return Err(bad(
                "oidc.refetch_interval_seconds",
                "must be between 1 and 3600",
            ));
        }
        if !(0..=900).contains(&o.leeway_seconds) {
            return Err(bad("oidc.leeway_seconds", "must be between 0 and 900"));
        }
        if !(60..=604_800).contains(&o.max_token_age_seconds) {
            return Err(bad(
                "oidc.max_token_age_seconds",
                "must be between 60 and 604800",
            ));
        }
        if !(1..=60).contains(&o.fetch_timeout_seconds) {
            return Err(bad(
                "oidc.fetch_timeout_seconds",
                "must be between 1 and 60",
            ));
        }
        if let Some(p) = o
            .insecure_http_prefixes
            .iter()
            .find(|p| !p.starts_with("http://") || p.len() <= "http://".len())
        {
            return Err(bad(
                "oidc.insecure_http_prefixes",
                &format!("'{p}' must start with http:// and name a host"),
            ));
        }
        if !(1..=720).contains(&self.issuer.overlap_hours) {
            return Err(bad("issuer.overlap_hours", "must be between 1 and 720"));
        }
        let issuer = self.issuer_url();
        if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
            || crate::issuer::discovery_json(&issuer).is_err()
        {
            return Err(bad(
                "issuer.url",
                "must be an http(s) URL (or leave it empty to use server.public_url)",
            ));
        }
        if !(900..=43200).contains(&self.identity_pools.credentials_seconds) {
            return Err(bad(
                "identity_pools.credentials_seconds",
                "must be between 900 and 43200",
            ));
        }
        if !(0..=900).contains(&self.saml.leeway_seconds) {
            return Err(bad("saml.leeway_seconds", "must be between 0 and 900"));
        }
        if self.saml.verification_memo_entries > 1_000_000 {
            return Err(bad(
                "saml.verification_memo_entries",
                "must be between 0 and 1000000",
            ));
        }
        if self.store.namespace.is_empty() || self.store.namespace.contains(char::is_whitespace) {
            return Err(bad("store.namespace", "must be a non-empty word"));
        }
        if !["json", "text"].contains(&self.log.format.as_str()) {
            return Err(bad("log.format", "must be json or text"));
        }
        Ok(())
    }
}
