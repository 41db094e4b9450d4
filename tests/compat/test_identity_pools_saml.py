"""Identity pools whose logins are SAML responses (`Logins` keyed by the SAML provider's ARN, as
AWS keys them): GetId then GetCredentialsForIdentity with one signxml-signed response, role
mapping by a SAML attribute, and the refusals (another key, a provider the pool does not list,
the same response exchanged twice)."""
import base64
import json

import botocore.exceptions
import pytest

from conftest import ADMIN
from test_identity_pools import P, err, make_role, pool_trust, unsigned, whoami
from test_saml import ATTR, Key, metadata, response


def setup(server, key):
    iam = server.client("iam", ADMIN)
    ci = server.client("cognito-identity", ADMIN)
    provider = iam.create_saml_provider(Name="PoolIdP", SAMLMetadataDocument=metadata([key]))[
        "SAMLProviderArn"]
    pid = ci.create_identity_pool(IdentityPoolName="saml app", AllowUnauthenticatedIdentities=False,
                                  SamlProviderARNs=[provider])["IdentityPoolId"]
    user = make_role(iam, "saml-user", pool_trust(pid, "authenticated"))
    admin = make_role(iam, "saml-admin", pool_trust(pid, "authenticated"))
    ci.set_identity_pool_roles(
        IdentityPoolId=pid, Roles={"authenticated": user},
        RoleMappings={provider: {
            "Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
            "RulesConfiguration": {"Rules": [{"Claim": f"{ATTR}RoleSessionName",
                                              "MatchType": "Equals", "Value": "alice",
                                              "RoleARN": admin}]}}})
    return provider, pid


def login(provider, key, subject="alice@example.com"):
    # The Role attribute is not needed by a pool; the response is any signed SAML response.
    role = "arn:aws:iam::111111111111:role/unused"
    xml = response(role, provider, key, subject=subject)
    return {provider: base64.b64encode(xml.encode()).decode()}


def test_saml_logins_get_an_identity_and_credentials(server):
    key = Key("rsa")
    provider, pid = setup(server, key)
    app = unsigned(server)
    logins = login(provider, key)
    identity = app.get_id(IdentityPoolId=pid, Logins=logins)["IdentityId"]
    # The same subject in another response finds the same identity.
    again = app.get_id(IdentityPoolId=pid, Logins=login(provider, key))["IdentityId"]
    assert again == identity
    other = app.get_id(IdentityPoolId=pid, Logins=login(provider, key, "bob@example.com"))
    assert other["IdentityId"] != identity
    out = app.get_credentials_for_identity(IdentityId=identity, Logins=logins)
    # Mapped by the RoleSessionName attribute to the admin role.
    assert whoami(server, out["Credentials"]).startswith(
        "arn:aws:sts::111111111111:assumed-role/saml-admin/")
    # The same response exchanged twice: refused (the replay cache of AssumeRoleWithSAML).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.get_credentials_for_identity(IdentityId=identity, Logins=logins)
    assert err(e) == "NotAuthorizedException"
    # Signed by a key the provider does not trust; a provider the pool does not list; no login.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.get_credentials_for_identity(IdentityId=identity, Logins=login(provider, Key("rsa")))
    assert err(e) == "NotAuthorizedException"
    stranger = "arn:aws:iam::111111111111:saml-provider/Other"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.get_id(IdentityPoolId=pid, Logins={stranger: logins[provider]})
    assert err(e) == "NotAuthorizedException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.get_credentials_for_identity(IdentityId=identity)
    assert err(e) == "NotAuthorizedException"
    # No SAML response in the audit.
    assert not any(logins[provider][:40] in line for line in server.audit_lines())
