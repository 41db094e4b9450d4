//! XML shapes of IAM entities, as the AWS IAM API reference names and orders their members.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::iam::model::{AccessKey, Group, ManagedPolicy, PolicyVersion, Role, Tag, User};
use crate::wire::XmlWriter;
use crate::wire::xml::iso8601;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (how IAM returns
/// policy documents).
const DOC: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A policy document URL-encoded as IAM returns it.
#[must_use]
pub fn url_encode(doc: &str) -> String {
    utf8_percent_encode(doc, DOC).to_string()
}

/// `<IsTruncated>` and, when truncated, `<Marker>`.
pub fn page_end(w: &mut XmlWriter, next: Option<&str>) {
    w.elem("IsTruncated", if next.is_some() { "true" } else { "false" });
    w.opt("Marker", next);
}

/// `<Tags><member><Key/><Value/></member>…</Tags>` (nothing when empty unless `always`).
pub fn tags(w: &mut XmlWriter, tags: &[Tag], always: bool) {
    if tags.is_empty() && !always {
        return;
    }
    w.start("Tags");
    for t in tags {
        w.start("member")
            .elem("Key", &t.key)
            .elem("Value", &t.value)
            .end("member");
    }
    w.end("Tags");
}

/// `<PermissionsBoundary>` when set.
pub fn boundary(w: &mut XmlWriter, arn: Option<&str>) {
    if let Some(arn) = arn {
        w.start("PermissionsBoundary")
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", arn)
            .end("PermissionsBoundary");
    }
}

/// The members of a `User` (GetUser/CreateUser give boundary and tags, listings do not).
pub fn user(w: &mut XmlWriter, u: &User, full: bool) {
    w.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.id)
        .elem("Arn", &u.arn)
        .elem("CreateDate", &iso8601(u.create_date));
    if full {
        boundary(w, u.permissions_boundary.as_deref());
        tags(w, &u.tags, false);
    }
}

/// `<tag>` wrapping [`user`].
pub fn user_elem(w: &mut XmlWriter, tag: &str, u: &User, full: bool) {
    w.start(tag);
    user(w, u, full);
    w.end(tag);
}

/// The members of a `Group`.
pub fn group(w: &mut XmlWriter, g: &Group) {
    w.elem("Path", &g.path)
        .elem("GroupName", &g.name)
        .elem("GroupId", &g.id)
        .elem("Arn", &g.arn)
        .elem("CreateDate", &iso8601(g.create_date));
}

/// `<tag>` wrapping [`group`].
pub fn group_elem(w: &mut XmlWriter, tag: &str, g: &Group) {
    w.start(tag);
    group(w, g);
    w.end(tag);
}

/// The members of a `Role` (`full`: GetRole/CreateRole add boundary, tags and last use).
pub fn role(w: &mut XmlWriter, r: &Role, full: bool) {
    w.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.id)
        .elem("Arn", &r.arn)
        .elem("CreateDate", &iso8601(r.create_date))
        .elem("AssumeRolePolicyDocument", &url_encode(&r.trust_policy))
        .opt("Description", r.description.as_deref())
        .elem("MaxSessionDuration", &r.max_session_duration.to_string());
    if full {
        boundary(w, r.permissions_boundary.as_deref());
        tags(w, &r.tags, false);
        w.start("RoleLastUsed");
        if let Some(lu) = &r.last_used {
            w.elem("LastUsedDate", &iso8601(lu.date))
                .elem("Region", &lu.region);
        }
        w.end("RoleLastUsed");
    }
}

/// `<tag>` wrapping [`role`].
pub fn role_elem(w: &mut XmlWriter, tag: &str, r: &Role, full: bool) {
    w.start(tag);
    role(w, r, full);
    w.end(tag);
}

/// The members of a `Policy`; `attachments` is the count in the caller's account.
pub fn policy(w: &mut XmlWriter, p: &ManagedPolicy, attachments: usize, full: bool) {
    w.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.id)
        .elem("Arn", &p.arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", &p.default_version_id)
        .elem("AttachmentCount", &attachments.to_string())
        .elem("PermissionsBoundaryUsageCount", "0")
        .elem("IsAttachable", "true");
    if full {
        w.opt("Description", p.description.as_deref());
    }
    w.elem("CreateDate", &iso8601(p.create_date))
        .elem("UpdateDate", &iso8601(p.update_date));
    if full {
        tags(w, &p.tags, false);
    }
}

/// `<tag>` wrapping [`policy`].
pub fn policy_elem(
    w: &mut XmlWriter,
    tag: &str,
    p: &ManagedPolicy,
    attachments: usize,
    full: bool,
) {
    w.start(tag);
    policy(w, p, attachments, full);
    w.end(tag);
}

/// The members of a `PolicyVersion`.
pub fn version(w: &mut XmlWriter, v: &PolicyVersion, default_id: &str, with_document: bool) {
    if with_document {
        w.elem("Document", &url_encode(&v.document));
    }
    w.elem("VersionId", &v.version_id)
        .elem(
            "IsDefaultVersion",
            if v.version_id == default_id {
                "true"
            } else {
                "false"
            },
        )
        .elem("CreateDate", &iso8601(v.create_date));
}

/// An `AccessKeyMetadata` member (no secret).
pub fn key_metadata(w: &mut XmlWriter, k: &AccessKey) {
    w.start("member")
        .opt("UserName", k.user.as_deref())
        .elem("AccessKeyId", &k.id)
        .elem("Status", k.status.as_str())
        .elem("CreateDate", &iso8601(k.create_date))
        .end("member");
}

/// `<AttachedPolicies>` members from policy ARNs.
pub fn attached(w: &mut XmlWriter, tag: &str, arns: &[String]) {
    w.start(tag);
    for arn in arns {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        w.start("member")
            .elem("PolicyName", name)
            .elem("PolicyArn", arn)
            .end("member");
    }
    w.end(tag);
}

/// A list of strings as `<tag><member>…</member></tag>`.
pub fn members(w: &mut XmlWriter, tag: &str, items: &[String]) {
    w.start(tag);
    for i in items {
        w.elem("member", i);
    }
    w.end(tag);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_url_encoded_like_iam() {
        assert_eq!(
            url_encode(r#"{"Version":"2012-10-17", "A":"b/c"}"#),
            "%7B%22Version%22%3A%222012-10-17%22%2C%20%22A%22%3A%22b%2Fc%22%7D"
        );
    }

    #[test]
    fn page_end_marks_truncation() {
        let mut w = XmlWriter::new();
        page_end(&mut w, Some("m"));
        page_end(&mut w, None);
        assert_eq!(
            w.finish(),
            "<IsTruncated>true</IsTruncated><Marker>m</Marker><IsTruncated>false</IsTruncated>"
        );
    }
}
