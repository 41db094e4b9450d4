"""AssumeRoleWithSAML and the SAML provider IAM calls through boto3, against both stores, with
responses signed by signxml + lxml (an XML-signature implementation independent of Sekisho's
samael/xmlsec): RSA and ECDSA keys, signed Response or signed Assertion; and the refusals an
attacker would try first (unsigned, another key, tampered, a wrapped evil assertion)."""
import base64
import copy
import datetime
import json
import uuid

import botocore.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods

from conftest import ADMIN

ACCT = "111111111111"
ISSUER = "https://idp.example.com/saml/metadata"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
ATTR = "https://aws.amazon.com/SAML/Attributes/"


class Key:
    def __init__(self, kind):
        self.kind = kind
        self.key = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                    if kind == "rsa" else ec.generate_private_key(ec.SECP256R1()))
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "py-idp")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .sign(self.key, hashes.SHA256()))

    def key_pem(self):
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_b64(self):
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()

    def algorithm(self):
        return "rsa-sha256" if self.kind == "rsa" else "ecdsa-sha256"


def metadata(keys, sso_url=None):
    kds = "".join(
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f'{k.cert_b64()}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
        for k in keys)
    pad = "Python test IdP for Sekisho's SAML compatibility suite " * 12
    redirect = (f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:'
                f'HTTP-Redirect" Location="{sso_url}"/>' if sso_url else "")
    return (f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{ISSUER}">'
            f'<md:IDPSSODescriptor protocolSupportEnumeration="{SAMLP}">{kds}'
            f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="https://idp.example.com/sso"/>{redirect}</md:IDPSSODescriptor>'
            f'<md:Organization><md:OrganizationName xml:lang="en">{pad}</md:OrganizationName>'
            f'<md:OrganizationDisplayName xml:lang="en">Py IdP</md:OrganizationDisplayName>'
            f'<md:OrganizationURL xml:lang="en">https://idp.example.com/</md:OrganizationURL>'
            f'</md:Organization></md:EntityDescriptor>')


def ts(delta=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def assertion(role, provider, subject="alice@example.com", roles=None, placeholder=False,
              recipient="https://signin.aws.amazon.com/saml", audience="urn:amazon:webservices",
              in_response_to=None):
    aid = "_a" + uuid.uuid4().hex
    roles = roles or [f"{role},{provider}"]
    values = "".join(f"<saml:AttributeValue>{r}</saml:AttributeValue>" for r in roles)
    irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    sig = f'<ds:Signature xmlns:ds="{DS}" Id="placeholder"></ds:Signature>' if placeholder else ""
    return aid, (
        f'<saml:Assertion xmlns:saml="{SAML}" ID="{aid}" Version="2.0" IssueInstant="{ts()}">'
        f'<saml:Issuer>{ISSUER}</saml:Issuer>{sig}<saml:Subject>'
        f'<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{subject}'
        f'</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{ts(300)}"{irt} '
        f'Recipient="{recipient}"/></saml:SubjectConfirmation>'
        f'</saml:Subject><saml:Conditions NotBefore="{ts(-60)}" NotOnOrAfter="{ts(300)}">'
        f'<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>'
        f'</saml:AudienceRestriction></saml:Conditions>'
        f'<saml:AuthnStatement AuthnInstant="{ts()}"><saml:AuthnContext><saml:AuthnContextClassRef>'
        f'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'
        f'</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
        f'<saml:AttributeStatement><saml:Attribute Name="{ATTR}Role">{values}</saml:Attribute>'
        f'<saml:Attribute Name="{ATTR}RoleSessionName"><saml:AttributeValue>alice'
        f'</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>')


def sign(element, key, ref):
    signer = XMLSigner(method=methods.enveloped, signature_algorithm=key.algorithm(),
                       digest_algorithm="sha256",
                       c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    return signer.sign(element, key=key.key_pem(), cert=key.cert_pem(), reference_uri=ref,
                       id_attribute="ID")


def response(role, provider, key, what="assertion", **kw):
    """A response whose assertion (what="assertion") or whole (what="response") is signed."""
    aid, a = assertion(role, provider, placeholder=(what == "assertion"), **kw)
    if what == "assertion":
        a = etree.tostring(sign(etree.fromstring(a), key, aid)).decode()
    rid = "_r" + uuid.uuid4().hex
    sig = f'<ds:Signature xmlns:ds="{DS}" Id="placeholder"></ds:Signature>' if what == "response" else ""
    r = (f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}" Version="2.0" '
         f'IssueInstant="{ts()}" Destination="https://signin.aws.amazon.com/saml">'
         f'<saml:Issuer>{ISSUER}</saml:Issuer>{sig}<samlp:Status><samlp:StatusCode '
         f'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{a}</samlp:Response>')
    if what == "response":
        return etree.tostring(sign(etree.fromstring(r), key, rid)).decode()
    return r


def setup(server, keys, name="PyIdP"):
    iam = server.client("iam", ADMIN)
    arn = iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata(keys))["SAMLProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]}
    role = iam.create_role(RoleName=f"{name}-role",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return iam, arn, role


def assume(server, role, provider, xml):
    sts = server.client("sts", ("AKIAUNUSED0000000000", "unused"))
    return sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider,
                                     SAMLAssertion=base64.b64encode(xml.encode()).decode())


def refused(server, role, provider, xml):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(server, role, provider, xml)
    return e.value.response["Error"]["Code"]


@pytest.mark.parametrize("what", ["assertion", "response"])
def test_signxml_signed_responses_are_accepted_rsa_and_ecdsa(server, what):
    keys = [Key("rsa"), Key("ec")]
    iam, provider, role = setup(server, keys)
    for key in keys:
        out = assume(server, role, provider, response(role, provider, key, what))
        assert out["Subject"] == "alice@example.com"
        assert out["SubjectType"] == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        assert out["Issuer"] == ISSUER
        assert out["Audience"] == "https://signin.aws.amazon.com/saml"
        assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/PyIdP-role/alice"
        c = out["Credentials"]
        who = server.client("sts", (c["AccessKeyId"], c["SecretAccessKey"]),
                            c["SessionToken"]).get_caller_identity()
        assert who["Arn"] == out["AssumedRoleUser"]["Arn"]
    # The audit names the SAML user and never holds the assertion.
    assert any('"SAMLUser"' in line for line in server.audit_lines())


def test_refusals_through_boto3(server):
    good, other = Key("rsa"), Key("rsa")
    iam, provider, role = setup(server, [good])
    # Unsigned, signed by a key the provider does not trust, tampered after signing.
    aid, a = assertion(role, provider)
    unsigned = response(role, provider, good, what="none")
    assert refused(server, role, provider, unsigned) == "InvalidIdentityToken"
    assert refused(server, role, provider, response(role, provider, other)) == "InvalidIdentityToken"
    signed = response(role, provider, good)
    assert refused(server, role, provider,
                   signed.replace("alice@example.com", "admin@example.com")) == "InvalidIdentityToken"
    # XSW: an evil, unsigned assertion next to the signed one.
    root = etree.fromstring(signed.encode())
    signed_assertion = root.find(f"{{{SAML}}}Assertion")
    evil = copy.deepcopy(signed_assertion)
    for s in evil.findall(f"{{{DS}}}Signature"):
        evil.remove(s)
    evil.set("ID", "_evil")
    root.insert(list(root).index(signed_assertion), evil)
    assert refused(server, role, provider, etree.tostring(root).decode()) == "InvalidIdentityToken"
    # Wrong audience / pair not in the assertion.
    other_role = f"arn:aws:iam::{ACCT}:role/nope"
    assert refused(server, other_role, provider, response(role, provider, good)) == "IDPRejectedClaim"
    # Replay of an accepted response.
    fresh = response(role, provider, good)
    assume(server, role, provider, fresh)
    assert refused(server, role, provider, fresh) == "InvalidIdentityToken"


def test_saml_provider_iam_calls(server):
    k = Key("rsa")
    iam = server.client("iam", ADMIN)
    meta = metadata([k])
    arn = iam.create_saml_provider(Name="Corp", SAMLMetadataDocument=meta,
                                   Tags=[{"Key": "team", "Value": "id"}])["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCT}:saml-provider/Corp"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == meta
    assert got["AssertionEncryptionMode"] == "Allowed"
    assert "SAMLProviderUUID" in got
    assert [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]] == [arn]
    # The account summary counts identity providers (SAML and OIDC).
    providers = lambda: iam.get_account_summary()["SummaryMap"]["Providers"]
    before = providers()
    assert before >= 1
    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["team"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_saml_provider(Name="Bad", SAMLMetadataDocument=meta.replace('use="signing"', 'use="encryption"'))
    assert e.value.response["Error"]["Code"] == "InvalidInput"
    iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=metadata([k, Key("ec")]))
    iam.delete_saml_provider(SAMLProviderArn=arn)
    assert providers() == before - 1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
