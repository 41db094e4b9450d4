//! Step 4 of the SAML response check ([`super::verify`]): the checks on the assertion its
//! signatures cover — issuer, bearer confirmation (recipient, times), conditions (times,
//! audiences) — against the request's `now`, and what is read from it (NameID, attributes).
//! Every value comes from the reduced document; nothing here is remembered between requests.

use chrono::DateTime;

use super::SAML;
use super::error::Error;
use super::verify::{Attribute, NameId, Rules, Signed, Trust, Verified};
use super::xml::Element;

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Times of SAML are `xs:dateTime` in UTC.
fn time(what: &str, s: &str) -> Result<i64, Error> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp())
        .map_err(|_| Error::Malformed(format!("{what} is not an xs:dateTime in UTC")))
}

fn opt_time(e: &Element, attr: &str) -> Result<Option<i64>, Error> {
    e.attr(attr).map(|v| time(attr, v)).transpose()
}

/// Whether `r` is one of AWS's regional sign-in endpoints.
fn aws_regional(r: &str) -> bool {
    r.strip_prefix("https://")
        .and_then(|x| x.strip_suffix(".signin.aws.amazon.com/saml"))
        .is_some_and(|region| {
            !region.is_empty()
                && region.len() <= 32
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// Step 4: the checks on the verified assertion, and what is read from it.
#[allow(clippy::too_many_lines, reason = "one numbered check after another")]
pub(super) fn read_assertion(
    a: &Element,
    trust: &Trust,
    rules: &Rules,
    now: i64,
    signed: Signed,
    encrypted: bool,
    algorithms: Vec<String>,
) -> Result<Verified, Error> {
    let leeway = rules.leeway_seconds;
    let id = a
        .attr("ID")
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| Error::Malformed("the assertion has no ID".into()))?
        .to_owned();
    // Issuer = the provider's entity id.
    let issuer = a
        .child(SAML, "Issuer")
        .map(Element::text)
        .ok_or_else(|| Error::Malformed("the assertion has no Issuer".into()))?;
    if issuer != trust.entity_id {
        return Err(Error::Issuer {
            got: issuer,
            want: trust.entity_id.clone(),
        });
    }
    // Subject: NameID, and a bearer confirmation with an accepted Recipient, in time.
    let subject = a.child(SAML, "Subject").ok_or(Error::MissingNameId)?;
    let name = subject.child(SAML, "NameID").ok_or(Error::MissingNameId)?;
    let name_id = NameId {
        value: name.text(),
        format: name.attr("Format").map(str::to_owned),
    };
    if name_id.value.is_empty() {
        return Err(Error::MissingNameId);
    }
    let mut seen_recipients = Vec::new();
    let mut accepted = None;
    let mut time_error = None;
    for sc in subject.children_named(SAML, "SubjectConfirmation") {
        if sc.attr("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = sc.child(SAML, "SubjectConfirmationData") else {
            continue;
        };
        let (Some(recipient), Some(noa)) =
            (data.attr("Recipient"), opt_time(data, "NotOnOrAfter")?)
        else {
            continue;
        };
        seen_recipients.push(recipient.to_owned());
        let ok = rules.recipients.iter().any(|r| r == recipient)
            || (rules.aws_regional_recipients && aws_regional(recipient));
        if !ok {
            continue;
        }
        const WHAT: &str = "SubjectConfirmationData@NotOnOrAfter";
        if now >= noa + leeway {
            time_error.get_or_insert(Error::Expired {
                what: WHAT,
                at: noa,
                now,
                leeway,
            });
            continue;
        }
        if let Some(nb) = opt_time(data, "NotBefore")?
            && nb > now + leeway
        {
            time_error.get_or_insert(Error::NotYetValid {
                what: "SubjectConfirmationData@NotBefore",
                at: nb,
                now,
                leeway,
            });
            continue;
        }
        accepted = Some((
            recipient.to_owned(),
            noa,
            data.attr("InResponseTo").map(str::to_owned),
        ));
        break;
    }
    let Some((recipient, confirmation_noa, in_response_to)) = accepted else {
        if let Some(e) = time_error {
            return Err(e);
        }
        if seen_recipients.is_empty() {
            return Err(Error::NoBearer);
        }
        return Err(Error::Recipient {
            got: seen_recipients,
            accepted: rules.recipients.clone(),
        });
    };
    // Conditions: times, and every AudienceRestriction names an accepted audience.
    let conditions = a.child(SAML, "Conditions").ok_or_else(|| Error::Audience {
        got: Vec::new(),
        accepted: rules.audiences.clone(),
    })?;
    if let Some(nb) = opt_time(conditions, "NotBefore")?
        && nb > now + leeway
    {
        return Err(Error::NotYetValid {
            what: "Conditions@NotBefore",
            at: nb,
            now,
            leeway,
        });
    }
    let mut not_on_or_after = confirmation_noa;
    if let Some(noa) = opt_time(conditions, "NotOnOrAfter")? {
        if now >= noa + leeway {
            return Err(Error::Expired {
                what: "Conditions@NotOnOrAfter",
                at: noa,
                now,
                leeway,
            });
        }
        not_on_or_after = not_on_or_after.min(noa);
    }
    let mut audiences = Vec::new();
    let mut restrictions = 0usize;
    let mut all_met = true;
    for r in conditions.children_named(SAML, "AudienceRestriction") {
        restrictions += 1;
        let these: Vec<String> = r
            .children_named(SAML, "Audience")
            .map(Element::text)
            .collect();
        all_met &= these.iter().any(|x| rules.audiences.contains(x));
        audiences.extend(these);
    }
    if restrictions == 0 || !all_met {
        return Err(Error::Audience {
            got: audiences,
            accepted: rules.audiences.clone(),
        });
    }
    let mut session_not_on_or_after = None;
    for s in a.children_named(SAML, "AuthnStatement") {
        if let Some(t) = opt_time(s, "SessionNotOnOrAfter")? {
            session_not_on_or_after = Some(session_not_on_or_after.map_or(t, |x: i64| x.min(t)));
        }
    }
    let attributes = a
        .children_named(SAML, "AttributeStatement")
        .flat_map(|s| s.children_named(SAML, "Attribute"))
        .filter_map(|at| {
            Some(Attribute {
                name: at.attr("Name")?.to_owned(),
                values: at
                    .children_named(SAML, "AttributeValue")
                    .map(Element::text)
                    .collect(),
            })
        })
        .collect();
    Ok(Verified {
        id,
        issuer,
        name_id,
        recipient,
        in_response_to,
        audiences,
        not_on_or_after,
        session_not_on_or_after,
        attributes,
        signed,
        encrypted,
        algorithms,
    })
}
