//! IdP metadata (`SAMLMetadataDocument`): the entity id and the signing certificates, read by
//! the strict reader. A provider whose metadata has no signing certificate is refused — samael's
//! service-provider path would skip verification for it (crates.md §samael).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use super::xml::{self, Element};
use super::{DS, MD};

/// Metadata length bounds, in characters (AWS: 1000–10000000).
pub const METADATA_CHARS: (usize, usize) = (1000, 10_000_000);
/// Most signing certificates kept per provider (AWS: 10 keys per provider).
pub const MAX_CERTS: usize = 10;

/// What Sekisho keeps of a metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `entityID`.
    pub entity_id: String,
    /// Signing certificates, DER.
    pub signing_certs: Vec<Vec<u8>>,
    /// `validUntil`, if given.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Why metadata was refused (AWS answers `InvalidInput` "Unable to parse metadata").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not acceptable XML.
    #[error("metadata XML: {0}")]
    Xml(#[from] xml::XmlError),
    /// Not one `EntityDescriptor` with an `IDPSSODescriptor`.
    #[error(
        "metadata must describe exactly one identity provider (EntityDescriptor with IDPSSODescriptor)"
    )]
    NoIdp,
    /// No `entityID`.
    #[error("metadata has no entityID")]
    NoEntityId,
    /// No signing certificate.
    #[error(
        "metadata has no signing certificate (KeyDescriptor use=\"signing\" with an X509Certificate)"
    )]
    NoCertificate,
    /// A certificate that does not parse, or an RSA key under 1024 bits.
    #[error("certificate {index}: {reason}")]
    Certificate {
        /// Its position among the signing certificates (1-based).
        index: usize,
        /// Why.
        reason: String,
    },
    /// More than [`MAX_CERTS`] signing certificates.
    #[error("metadata has more than {MAX_CERTS} signing certificates")]
    TooManyCertificates,
    /// `validUntil` is not a date.
    #[error("validUntil is not an xs:dateTime")]
    ValidUntil,
}

fn idp_descriptor(root: &Element) -> Result<&Element, MetadataError> {
    let entities: Vec<&Element> = if root.is(MD, "EntityDescriptor") {
        vec![root]
    } else if root.is(MD, "EntitiesDescriptor") {
        root.children_named(MD, "EntityDescriptor").collect()
    } else {
        return Err(MetadataError::NoIdp);
    };
    let mut idps = entities
        .into_iter()
        .filter(|e| e.child(MD, "IDPSSODescriptor").is_some());
    match (idps.next(), idps.next()) {
        (Some(one), None) => Ok(one),
        _ => Err(MetadataError::NoIdp),
    }
}

/// Parses metadata into its entity id and signing certificates (checked: DER X.509, RSA keys of
/// at least 1024 bits).
///
/// # Errors
/// [`MetadataError`].
pub fn parse(text: &str) -> Result<IdpMetadata, MetadataError> {
    let root = xml::parse(text)?;
    let entity = idp_descriptor(&root)?;
    let entity_id = entity
        .attr("entityID")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(MetadataError::NoEntityId)?
        .to_owned();
    let valid_until = entity
        .attr("validUntil")
        .or_else(|| root.attr("validUntil"))
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| MetadataError::ValidUntil)
        })
        .transpose()?;
    let mut signing = Vec::new();
    let mut unspecified = Vec::new();
    for d in entity.children_named(MD, "IDPSSODescriptor") {
        for k in d.children_named(MD, "KeyDescriptor") {
            let certs = k
                .children_named(DS, "KeyInfo")
                .flat_map(|i| i.children_named(DS, "X509Data"))
                .flat_map(|x| x.children_named(DS, "X509Certificate"))
                .map(Element::text);
            match k.attr("use").map(str::trim) {
                Some("signing") => signing.extend(certs),
                None | Some("") => unspecified.extend(certs),
                Some(_) => {}
            }
        }
    }
    // Keys without a `use` serve both purposes, signing included.
    signing.extend(unspecified);
    let mut ders: Vec<Vec<u8>> = Vec::new();
    for (i, b64) in signing.iter().enumerate() {
        let index = i + 1;
        let compact: String = b64.split_whitespace().collect();
        let der = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| MetadataError::Certificate {
                index,
                reason: "not base64".into(),
            })?;
        check_certificate(&der).map_err(|reason| MetadataError::Certificate { index, reason })?;
        if !ders.contains(&der) {
            ders.push(der);
        }
    }
    if ders.is_empty() {
        return Err(MetadataError::NoCertificate);
    }
    if ders.len() > MAX_CERTS {
        return Err(MetadataError::TooManyCertificates);
    }
    Ok(IdpMetadata {
        entity_id,
        signing_certs: ders,
        valid_until,
    })
}

/// A DER X.509 certificate whose public key is EC, or RSA of at least 1024 bits.
fn check_certificate(der: &[u8]) -> Result<(), String> {
    let cert =
        openssl::x509::X509::from_der(der).map_err(|_| "not an X.509 certificate".to_owned())?;
    let key = cert
        .public_key()
        .map_err(|_| "unreadable public key".to_owned())?;
    match key.id() {
        openssl::pkey::Id::RSA if key.bits() < 1024 => {
            Err(format!("RSA key of {} bits (at least 1024)", key.bits()))
        }
        openssl::pkey::Id::RSA | openssl::pkey::Id::EC => Ok(()),
        _ => Err("only RSA and EC keys are accepted".to_owned()),
    }
}
