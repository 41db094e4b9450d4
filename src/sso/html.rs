//! The SSO pages, rendered on the server: plain, accessible HTML with no inline script or style
//! (the CSP forbids both) and no external assets (the stylesheet and the copy-button script are
//! served by Sekisho itself, see [`super::assets`]). Pure functions of their view models; every
//! value is escaped.

use std::fmt::Write;

use chrono::{DateTime, Utc};

/// One role the user may choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChoice {
    /// The role's account id.
    pub account: String,
    /// The account's alias, if it has one.
    pub account_alias: Option<String>,
    /// The role ARN.
    pub role_arn: String,
    /// The value the form posts back for it (an index into the pending choice).
    pub value: String,
}

impl RoleChoice {
    /// The role's name (the last path segment of its ARN).
    #[must_use]
    pub fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or(&self.role_arn)
    }
}

/// What the credentials page shows.
#[derive(Debug, Clone)]
pub struct CredentialsView<'a> {
    /// The role the session is for.
    pub role_arn: &'a str,
    /// The assumed-role ARN of the session.
    pub assumed_role_arn: &'a str,
    /// `ASIA…`.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token.
    pub session_token: &'a str,
    /// When the credentials expire.
    pub expiration: DateTime<Utc>,
    /// Sekisho's public URL (the STS endpoint the credentials work with).
    pub endpoint: &'a str,
}

/// Escapes text for HTML element content and double-quoted attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{t} — Sekisho</title>\n\
         <link rel=\"stylesheet\" href=\"/sso/assets/sso.css\">\n\
         <script src=\"/sso/assets/sso.js\" defer></script>\n</head>\n<body>\n\
         <header><p class=\"brand\">Sekisho</p></header>\n<main>\n<h1>{t}</h1>\n{body}</main>\n\
         </body>\n</html>\n",
        t = escape(title)
    )
}

/// The role chooser: one group per account (alias shown), one radio button per role.
#[must_use]
pub fn chooser(subject: &str, roles: &[RoleChoice], csrf: &str) -> String {
    let mut accounts: Vec<(&str, Option<&str>)> = Vec::new();
    for r in roles {
        if !accounts.iter().any(|(a, _)| *a == r.account) {
            accounts.push((&r.account, r.account_alias.as_deref()));
        }
    }
    accounts.sort_by(|a, b| (a.1.unwrap_or(a.0), a.0).cmp(&(b.1.unwrap_or(b.0), b.0)));
    let mut body = String::with_capacity(1024 + roles.len() * 256);
    let _ = write!(
        body,
        "<p>Signed in as <strong class=\"subject\">{}</strong>. Choose a role.</p>\n\
         <form method=\"post\" action=\"/saml/choose\" class=\"chooser\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n",
        escape(subject),
        escape(csrf)
    );
    for (n, (account, alias)) in accounts.iter().enumerate() {
        let label = match alias {
            Some(a) => format!("{} ({})", escape(a), escape(account)),
            None => escape(account),
        };
        let _ = write!(
            body,
            "<fieldset class=\"account\" id=\"account-{account}\">\n<legend>Account: {label}</legend>\n",
            account = escape(account)
        );
        let mut in_account: Vec<&RoleChoice> =
            roles.iter().filter(|r| r.account == *account).collect();
        in_account.sort_by(|a, b| a.role_name().cmp(b.role_name()));
        for (m, r) in in_account.iter().enumerate() {
            let id = format!("role-{n}-{m}");
            let checked = if roles.len() == 1 { " checked" } else { "" };
            let _ = writeln!(
                body,
                "<div class=\"role\"><input type=\"radio\" name=\"role\" id=\"{id}\" value=\"{v}\" \
                 required{checked}> <label for=\"{id}\">{name}</label> \
                 <span class=\"arn\">{arn}</span></div>",
                v = escape(&r.value),
                name = escape(r.role_name()),
                arn = escape(&r.role_arn),
            );
        }
        body.push_str("</fieldset>\n");
    }
    body.push_str("<button type=\"submit\">Sign in</button>\n</form>\n");
    page("Choose a role", &body)
}

/// A block of text with a copy button (the button works with the served script; without it the
/// text is still selectable).
fn copy_block(out: &mut String, id: &str, label: &str, text: &str) {
    let _ = write!(
        out,
        "<section class=\"block\">\n<h2 id=\"{id}-label\">{label}</h2>\n\
         <pre id=\"{id}\" aria-labelledby=\"{id}-label\" tabindex=\"0\">{text}</pre>\n\
         <button type=\"button\" class=\"copy\" data-copy=\"{id}\">Copy</button>\n</section>\n",
        label = escape(label),
        text = escape(text)
    );
}

/// The profile name suggested for the credentials block: the role's name.
fn profile_name(role_arn: &str) -> String {
    let name = role_arn.rsplit('/').next().unwrap_or("sekisho");
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("sekisho-{clean}")
}

/// The credentials page: expiry, `export` lines, a `~/.aws/credentials` block.
#[must_use]
pub fn credentials(c: &CredentialsView<'_>, now: DateTime<Utc>) -> String {
    let expires = c.expiration.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let minutes = (c.expiration - now).num_minutes().max(0);
    let mut body = String::with_capacity(4096 + 3 * c.session_token.len());
    let _ = write!(
        body,
        "<dl class=\"summary\">\n<dt>Role</dt><dd class=\"role-arn\">{role}</dd>\n\
         <dt>Session</dt><dd class=\"assumed-role\">{assumed}</dd>\n\
         <dt>Expires</dt><dd><time class=\"expiration\" datetime=\"{expires}\">{expires}</time> \
         (in {minutes} minutes)</dd>\n</dl>\n\
         <p class=\"warning\">These credentials are secret: paste them only into your own \
         terminal. They are shown once; this page is not stored by your browser.</p>\n",
        role = escape(c.role_arn),
        assumed = escape(c.assumed_role_arn),
    );
    let exports = format!(
        "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\n\
         export AWS_ENDPOINT_URL_STS={}\n",
        c.access_key_id, c.secret_access_key, c.session_token, c.endpoint
    );
    copy_block(&mut body, "exports", "Shell (bash, zsh)", &exports);
    let profile = profile_name(c.role_arn);
    let file = format!(
        "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
        c.access_key_id, c.secret_access_key, c.session_token
    );
    copy_block(&mut body, "credentials-file", "~/.aws/credentials", &file);
    let _ = writeln!(
        body,
        "<p>Then, for example: <code>aws sts get-caller-identity --profile {} --endpoint-url {}</code></p>",
        escape(&profile),
        escape(c.endpoint)
    );
    copy_block(&mut body, "access-key-id", "Access key id", c.access_key_id);
    copy_block(
        &mut body,
        "secret-access-key",
        "Secret access key",
        c.secret_access_key,
    );
    copy_block(&mut body, "session-token", "Session token", c.session_token);
    page("Your credentials", &body)
}

/// An error page: a title and one sentence, nothing from the assertion.
#[must_use]
pub fn error(title: &str, message: &str) -> String {
    page(
        title,
        &format!(
            "<p class=\"error\" role=\"alert\">{}</p>\n<p><a href=\"/saml/metadata\">Service provider metadata</a></p>\n",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn role(account: &str, alias: Option<&str>, name: &str, value: &str) -> RoleChoice {
        RoleChoice {
            account: account.into(),
            account_alias: alias.map(str::to_owned),
            role_arn: format!("arn:aws:iam::{account}:role/{name}"),
            value: value.into(),
        }
    }

    #[test]
    fn values_are_escaped_everywhere() {
        let roles = [role("111111111111", Some("<b>prod</b>"), "a\"b", "0\"x")];
        let html = chooser("<script>alert(1)</script>", &roles, "t\"<");
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;prod&lt;/b&gt;"));
        assert!(html.contains("value=\"t&quot;&lt;\""));
        assert!(html.contains("value=\"0&quot;x\""));
        assert!(!html.contains("<style"), "no inline style");
        assert_eq!(html.matches("<script").count(), 1, "only the served script");
    }

    #[test]
    fn roles_are_grouped_by_account_with_the_alias() {
        let roles = [
            role("222222222222", None, "Dev", "2"),
            role("111111111111", Some("prod"), "Admin", "0"),
            role("111111111111", Some("prod"), "Auditor", "1"),
        ];
        let html = chooser("alice", &roles, "csrf");
        assert_eq!(html.matches("<fieldset").count(), 2);
        // Accounts in order of their label (alias, else id): "222…" before "prod".
        let dev = html.find("Account: 222222222222").unwrap_or(usize::MAX);
        let prod = html.find("Account: prod (111111111111)").unwrap_or(0);
        assert!(dev < prod);
        let admin = html.find(">Admin<").unwrap_or(0);
        let auditor = html.find(">Auditor<").unwrap_or(0);
        assert!(
            prod < admin && admin < auditor,
            "roles under their account, by name"
        );
        assert_eq!(html.matches("type=\"radio\"").count(), 3);
        assert!(!html.contains(" checked"), "no default among several");
    }

    #[test]
    fn the_credentials_page_has_exports_and_a_profile_block() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 6, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let view = CredentialsView {
            role_arn: "arn:aws:iam::111111111111:role/team/Admin",
            assumed_role_arn: "arn:aws:sts::111111111111:assumed-role/Admin/alice",
            access_key_id: "ASIAEXAMPLE",
            secret_access_key: "s3cr3t",
            session_token: "tok&en",
            expiration: now + chrono::Duration::hours(1),
            endpoint: "https://sts.example.com",
        };
        let html = credentials(&view, now);
        assert!(html.contains("export AWS_ACCESS_KEY_ID=ASIAEXAMPLE\n"));
        assert!(html.contains("export AWS_SESSION_TOKEN=tok&amp;en\n"));
        assert!(html.contains("[sekisho-Admin]\naws_access_key_id = ASIAEXAMPLE"));
        assert!(html.contains("datetime=\"2026-12-06T13:00:00Z\""));
        assert!(html.contains("(in 60 minutes)"));
    }
}
