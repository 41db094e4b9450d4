//! Sekisho as a SAML service provider: its metadata (`GET /saml/metadata`), the AuthnRequest of
//! SP-initiated sign-in (HTTP-Redirect binding), and the IdP's sign-in URL read from the
//! provider's metadata. Pure functions of their inputs and `now`; samael's schema types write
//! the XML.

use chrono::{DateTime, Utc};
use samael::metadata::{EntityDescriptor, IndexedEndpoint, SpSsoDescriptor};
use samael::schema::{AuthnRequest, Issuer};
use samael::traits::ToXml;

use crate::idp::saml::{MD, xml};

/// The HTTP-POST binding (where IdPs send responses).
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// The HTTP-Redirect binding (how we send AuthnRequests).
pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Sekisho's SP metadata: entity id, the ACS (HTTP-POST), signed assertions wanted.
///
/// # Errors
/// When samael cannot write the document (not expected for these inputs).
pub fn metadata(entity_id: &str, acs_url: &str, now: DateTime<Utc>) -> Result<String, String> {
    let valid_until = Some(now + chrono::Duration::days(7));
    let sp = SpSsoDescriptor {
        protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
        valid_until,
        authn_requests_signed: Some(false),
        want_assertions_signed: Some(true),
        assertion_consumer_services: vec![IndexedEndpoint {
            binding: HTTP_POST.into(),
            location: acs_url.into(),
            response_location: None,
            index: 0,
            is_default: Some(true),
        }],
        ..SpSsoDescriptor::default()
    };
    let ed = EntityDescriptor {
        entity_id: Some(entity_id.into()),
        valid_until,
        sp_sso_descriptors: Some(vec![sp]),
        ..EntityDescriptor::default()
    };
    ed.to_string().map_err(|e| e.to_string())
}

/// The IdP's `SingleSignOnService` location for the HTTP-Redirect binding, from its metadata.
#[must_use]
pub fn idp_sign_in_url(metadata: &str) -> Option<String> {
    let root = xml::parse(metadata).ok()?;
    let entities: Vec<&xml::Element> = if root.is(MD, "EntityDescriptor") {
        vec![&root]
    } else {
        root.children_named(MD, "EntityDescriptor").collect()
    };
    entities
        .into_iter()
        .filter_map(|e| e.child(MD, "IDPSSODescriptor"))
        .flat_map(|d| d.children_named(MD, "SingleSignOnService"))
        .find(|s| s.attr("Binding") == Some(HTTP_REDIRECT))
        .and_then(|s| s.attr("Location"))
        .map(|l| l.trim().to_owned())
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
}

/// The URL that carries an AuthnRequest with id `id` to the IdP (HTTP-Redirect binding:
/// deflated, base64, in the `SAMLRequest` query parameter).
///
/// # Errors
/// When the IdP's URL does not parse or the request cannot be written.
pub fn authn_request_url(
    idp_url: &str,
    sp_entity_id: &str,
    acs_url: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let req = AuthnRequest {
        id: id.into(),
        version: "2.0".into(),
        issue_instant: now,
        destination: Some(idp_url.into()),
        issuer: Some(Issuer {
            value: Some(sp_entity_id.into()),
            ..Issuer::default()
        }),
        assertion_consumer_service_url: Some(acs_url.into()),
        protocol_binding: Some(HTTP_POST.into()),
        ..AuthnRequest::default()
    };
    req.redirect("")
        .map_err(|e| e.to_string())?
        .map(|u| u.to_string())
        .ok_or_else(|| "the AuthnRequest has no destination".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::io::Read;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn metadata_names_the_entity_and_the_post_acs() {
        let m = metadata(
            "https://sso.example/saml/metadata",
            "https://sso.example/saml",
            now(),
        )
        .unwrap();
        let root = xml::parse(&m).unwrap();
        assert!(root.is(MD, "EntityDescriptor"));
        assert_eq!(
            root.attr("entityID"),
            Some("https://sso.example/saml/metadata")
        );
        let acs = root
            .child(MD, "SPSSODescriptor")
            .and_then(|d| d.child(MD, "AssertionConsumerService"))
            .unwrap();
        assert_eq!(acs.attr("Location"), Some("https://sso.example/saml"));
        assert_eq!(acs.attr("Binding"), Some(HTTP_POST));
    }

    #[test]
    fn the_redirect_carries_a_deflated_request_with_our_id() {
        let url = authn_request_url(
            "https://idp.example/sso?tenant=a",
            "https://sso.example/saml/metadata",
            "https://sso.example/saml",
            "_abc123",
            now(),
        )
        .unwrap();
        assert!(url.starts_with("https://idp.example/sso?tenant=a&SAMLRequest="));
        let q = url.split_once('?').unwrap().1;
        let enc = form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "SAMLRequest")
            .unwrap()
            .1;
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(enc.as_bytes())
            .unwrap();
        let mut xml_text = String::new();
        flate2::read::DeflateDecoder::new(&raw[..])
            .read_to_string(&mut xml_text)
            .unwrap();
        let root = xml::parse(&xml_text).unwrap();
        assert_eq!(root.attr("ID"), Some("_abc123"));
        assert_eq!(
            root.attr("AssertionConsumerServiceURL"),
            Some("https://sso.example/saml")
        );
        assert_eq!(
            root.attr("Destination"),
            Some("https://idp.example/sso?tenant=a")
        );
    }

    #[test]
    fn the_sign_in_url_is_the_redirect_binding_of_the_idp() {
        let md = format!(
            "<md:EntityDescriptor xmlns:md=\"{MD}\" entityID=\"https://idp.example\">\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
             <md:SingleSignOnService Binding=\"{HTTP_POST}\" Location=\"https://idp.example/post\"/>\
             <md:SingleSignOnService Binding=\"{HTTP_REDIRECT}\" Location=\"https://idp.example/redirect\"/>\
             </md:IDPSSODescriptor></md:EntityDescriptor>"
        );
        assert_eq!(
            idp_sign_in_url(&md).as_deref(),
            Some("https://idp.example/redirect")
        );
        let no_redirect = md.replace(HTTP_REDIRECT, HTTP_POST);
        assert_eq!(idp_sign_in_url(&no_redirect), None);
        let script = md.replace("https://idp.example/redirect", "javascript:alert(1)");
        assert_eq!(idp_sign_in_url(&script), None);
    }
}
