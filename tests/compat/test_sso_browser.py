"""Browser single sign-on driven in headless Chromium (selenium), against both stores: a test IdP
(signxml-signed responses, served on 127.0.0.1) posts to Sekisho's ACS; the role chooser groups
roles by account; the credentials page's keys work with boto3; the SP-initiated round trip
(AuthnRequest by HTTP-Redirect, InResponseTo checked once). And the refusals a browser flow adds:
a forged chooser form (CSRF), a replayed response, an answer to a request we never sent."""
import base64
import html
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zlib

import pytest
from lxml import etree

from conftest import ADMIN, free_port
from test_saml import Key, metadata, response

ACCT = "111111111111"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return browser, driver


def require_browser():
    browser, driver = chromium_paths()
    if browser and driver:
        return browser, driver
    if os.environ.get("SEKISHO_REQUIRE_ALL") or os.environ.get("CI"):
        pytest.fail("chromium and chromium-driver are required (make test installs them)")
    pytest.skip("chromium/chromedriver not installed")


@pytest.fixture
def browser():
    """A headless Chromium whose profile and temporary files (the singleton socket directories
    it makes under TMPDIR and does not remove when the driver ends it) live in a directory of
    the test's own, removed afterwards: a test run leaves nothing in /tmp."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    path, driver = require_browser()
    with tempfile.TemporaryDirectory(prefix="sekisho-chromium-", ignore_cleanup_errors=True) as scratch:
        opts = webdriver.ChromeOptions()
        opts.binary_location = path
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  f"--user-data-dir={scratch}/profile"]:
            opts.add_argument(a)
        # chromedriver starts Chromium with its own environment, so TMPDIR reaches both.
        service = Service(driver, env={**os.environ, "TMPDIR": scratch})
        b = webdriver.Chrome(service=service, options=opts)
        try:
            b.set_page_load_timeout(30)
            yield b
        finally:
            b.quit()


class Idp:
    """A test IdP: a page that posts a signed response to Sekisho (IdP-initiated), and an SSO
    endpoint that answers an AuthnRequest (SP-initiated)."""

    def __init__(self, sekisho, key, pairs):
        self.sekisho, self.key, self.pairs = sekisho, key, pairs
        self.port = free_port()
        self.requests = []
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/start":
                    body = idp.post_page(idp.signed())
                elif url.path == "/sso":
                    raw = zlib.decompress(base64.b64decode(q["SAMLRequest"]), -15)
                    req = etree.fromstring(raw)
                    idp.requests.append(req)
                    body = idp.post_page(idp.signed(
                        in_response_to=req.get("ID"),
                        recipient=req.get("AssertionConsumerServiceURL"),
                        audience=req.find(f"{{urn:oasis:names:tc:SAML:2.0:assertion}}Issuer").text))
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def signed(self, **kw):
        role, provider = self.pairs[0].split(",")
        xml = response(role, provider, self.key, roles=self.pairs, **kw)
        return base64.b64encode(xml.encode()).decode()

    def post_page(self, saml_response):
        return (f'<!DOCTYPE html><html><body><form method="post" action="{self.sekisho}/saml">'
                f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">'
                f'<button id="go" type="submit">Continue to Sekisho</button></form></body></html>')

    def close(self):
        self.httpd.shutdown()


def setup(server, key, idp_url, names):
    iam = server.client("iam", ADMIN)
    provider = iam.create_saml_provider(
        Name="BrowserIdP", SAMLMetadataDocument=metadata([key], sso_url=f"{idp_url}/sso"),
    )["SAMLProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"]}]}
    roles = [iam.create_role(RoleName=n, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
             for n in names]
    return provider, [f"{r},{provider}" for r in roles]


def wait_title(b, prefix):
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(b, 15).until(lambda d: d.title.startswith(prefix))
    return True


def credentials_from_page(b):
    from selenium.webdriver.common.by import By
    text = lambda i: b.find_element(By.ID, i).text.strip()
    return text("access-key-id"), text("secret-access-key"), text("session-token")


def test_idp_initiated_sign_in_with_the_role_chooser(server, browser):
    from selenium.webdriver.common.by import By
    key = Key("rsa")
    idp_port_holder = Idp(server.endpoint, key, [])
    provider, pairs = setup(server, key, idp_port_holder.url, ["sso-admin", "sso-reader"])
    idp_port_holder.pairs = pairs
    try:
        browser.get(f"{idp_port_holder.url}/start")
        browser.find_element(By.ID, "go").click()
        assert wait_title(browser, "Choose a role")
        legends = [e.text for e in browser.find_elements(By.TAG_NAME, "legend")]
        assert any(ACCT in t for t in legends), legends
        labels = sorted(e.text for e in browser.find_elements(By.CSS_SELECTOR, ".role label"))
        assert labels == ["sso-admin", "sso-reader"]
        # The session cookie is HttpOnly: page script cannot read it.
        assert "sekisho_sso" not in browser.execute_script("return document.cookie")
        browser.find_element(By.CSS_SELECTOR, "label[for]").click()
        chosen = browser.find_element(By.CSS_SELECTOR, "input[type=radio]:checked").get_attribute("value")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        assert wait_title(browser, "Your credentials")
        exports = browser.find_element(By.ID, "exports").text
        assert "export AWS_ACCESS_KEY_ID=ASIA" in exports
        assert f"export AWS_ENDPOINT_URL_STS={server.endpoint}" in exports
        assert "[sekisho-sso-" in browser.find_element(By.ID, "credentials-file").text
        akid, secret, token = credentials_from_page(browser)
        who = server.client("sts", (akid, secret), token).get_caller_identity()
        role_name = pairs[int(chosen)].split(",")[0].rsplit("/", 1)[1]
        assert who["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/{role_name}/alice"
        # The audit recorded the browser sign-in, without the assertion or the secret.
        lines = [l for l in server.audit_lines() if '"via":"browser"' in l.replace(" ", "")]
        assert any('"SAMLUser"' in l for l in lines)
        assert not any(secret in l or "SAMLResponse" in l for l in server.audit_lines())
    finally:
        idp_port_holder.close()


def test_one_role_goes_straight_to_the_credentials(server, browser):
    from selenium.webdriver.common.by import By
    key = Key("ec")
    idp = Idp(server.endpoint, key, [])
    _, idp.pairs = setup(server, key, idp.url, ["only-role"])
    try:
        browser.get(f"{idp.url}/start")
        browser.find_element(By.ID, "go").click()
        assert wait_title(browser, "Your credentials")
        assert "only-role" in browser.find_element(By.CLASS_NAME, "role-arn").text
    finally:
        idp.close()


def test_sp_initiated_round_trip(server, browser):
    from selenium.webdriver.common.by import By
    key = Key("rsa")
    idp = Idp(server.endpoint, key, [])
    provider, idp.pairs = setup(server, key, idp.url, ["sp-role"])
    try:
        browser.get(f"{server.endpoint}/saml/login?provider={urllib.parse.quote(provider)}")
        # At the IdP now, holding our AuthnRequest.
        assert browser.current_url.startswith(f"{idp.url}/sso?SAMLRequest=")
        req = idp.requests[-1]
        assert req.get("AssertionConsumerServiceURL") == f"{server.endpoint}/saml"
        browser.find_element(By.ID, "go").click()
        assert wait_title(browser, "Your credentials")
        # The same answer again: the request id was single-use (and the assertion id too).
        browser.back()
        browser.find_element(By.ID, "go").click()
        assert wait_title(browser, "Sign-in failed")
    finally:
        idp.close()


def post(url, fields, cookie=None):
    data = urllib.parse.urlencode(fields).encode()
    r = urllib.request.Request(url, data=data, method="POST")
    if cookie:
        r.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def test_refusals_and_headers_without_a_browser(server):
    key = Key("rsa")
    idp = Idp(server.endpoint, key, [])
    _, idp.pairs = setup(server, key, idp.url, ["r-one", "r-two"])
    try:
        # Several roles: the chooser, with strict headers and an HttpOnly SameSite cookie.
        first = idp.signed()
        status, headers, body = post(f"{server.endpoint}/saml", {"SAMLResponse": first})
        assert status == 200 and "Choose a role" in body
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Frame-Options"] == "DENY"
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = cookie.split(";")[0]
        # A forged form (wrong CSRF token) is refused, and burns the pending choice.
        status, _, body = post(f"{server.endpoint}/saml/choose", {"csrf": "forged", "role": "0"}, jar)
        assert status == 403 and "Access denied" in body
        # A genuine choice works once; the same form again finds nothing.
        status, headers, body = post(f"{server.endpoint}/saml", {"SAMLResponse": idp.signed()})
        jar = headers["Set-Cookie"].split(";")[0]
        csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
        status, _, body = post(f"{server.endpoint}/saml/choose", {"csrf": csrf, "role": "1"}, jar)
        assert status == 200 and "export AWS_ACCESS_KEY_ID=ASIA" in body
        status, _, body = post(f"{server.endpoint}/saml/choose", {"csrf": csrf, "role": "1"}, jar)
        assert status == 400 and "Sign-in expired" in body
        # No cookie at all.
        assert post(f"{server.endpoint}/saml/choose", {"csrf": csrf, "role": "0"})[0] == 400
        # The first response again: replay.
        status, _, body = post(f"{server.endpoint}/saml", {"SAMLResponse": first})
        assert status == 400 and "Sign-in failed" in body
        # An answer to an AuthnRequest Sekisho never sent.
        status, _, body = post(f"{server.endpoint}/saml",
                               {"SAMLResponse": idp.signed(in_response_to="_neverSent123")})
        assert status == 400 and "Sign-in failed" in body
        # Not a response at all; and no response.
        assert post(f"{server.endpoint}/saml", {"SAMLResponse": "bm90IHhtbA=="})[0] == 400
        assert post(f"{server.endpoint}/saml", {})[0] == 400
        # SP metadata.
        with urllib.request.urlopen(f"{server.endpoint}/saml/metadata") as r:
            md = etree.fromstring(r.read())
        assert md.get("entityID") == f"{server.endpoint}/saml/metadata"
    finally:
        idp.close()
