"""ACME (RFC 8555) through nginx, driven by the test client: the resources,
the status machine, and one test per error type of acme.md."""

import base64
import concurrent.futures
import json
import os
import socket
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme_client import Client, Key, b64u, issued_by, jws, load_chain, make_csr
from conftest import finish_stack, make_stack
from stack import ChallTestSrv, challtestsrv_post, free_port
from acme_flow import (Http01Responder, acme_world, err, finalize, issue, ready_order,
                       wait_status)

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with acme_world(tmp_path_factory, "acme", {"UPKI_RA_ALLOWED_NAMES": "example.test"}) as w:
        yield w


@pytest.fixture
def client(env):
    stack = env[0]
    c = Client(stack.base_url, stack.ca_cert)
    assert c.new_account(["mailto:test@example.test"]).status == 201
    return c


# -- directory and nonces ---------------------------------------------------

def test_directory(env):
    stack = env[0]
    c = Client(stack.base_url, stack.ca_cert)
    d = c.directory
    for k in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
        assert d[k].startswith(stack.base_url + "/acme/")
    assert d["meta"]["externalAccountRequired"] is False
    assert "website" in d["meta"]  # caaIdentities: test_operator.py
    r = c.get("/acme/directory")
    assert r.header("replay-nonce") and 'rel="index"' in r.header("link")


def test_new_nonce_head_and_get(env):
    stack = env[0]
    c = Client(stack.base_url, stack.ca_cert)
    h = c.request("HEAD", "/acme/new-nonce")
    g = c.request("GET", "/acme/new-nonce")
    assert h.status == 200 and g.status == 204
    for r in (h, g):
        assert r.header("cache-control") == "no-store"
        assert r.header("replay-nonce")
    assert h.header("replay-nonce") != g.header("replay-nonce")


def test_bad_nonce_replayed_and_unknown(client):
    n = client.nonce()
    assert client.post(client.kid, None, nonce=n).status == 200
    r = client.post(client.kid, None, nonce=n)
    assert r.status == 400 and r.problem["type"] == err("badNonce")
    assert r.header("replay-nonce")
    r = client.post(client.kid, None, nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert r.status == 400 and r.problem["type"] == err("badNonce")


def test_get_on_resources_is_405_malformed(client):
    r = client.new_order(["get.example.test"])
    for url in (r.header("location"), client.kid, r.json()["authorizations"][0]):
        g = client.get(url)
        assert g.status == 405 and g.problem["type"] == err("malformed")


def test_wrong_content_type_is_415(client):
    r = client.post(client.kid, None, content_type="application/json")
    assert r.status == 415 and r.problem["type"] == err("malformed")


# -- JWS -------------------------------------------------------------------------

def test_bad_signature_algorithm(client):
    r = client.post(client.kid, None, alg="HS256")
    assert r.status == 400 and r.problem["type"] == err("badSignatureAlgorithm")
    assert "ES256" in r.problem["algorithms"] and "RS256" in r.problem["algorithms"]


def test_bad_public_key_short_rsa(env):
    stack = env[0]
    c = Client(stack.base_url, stack.ca_cert, key=Key("RSA", bits=1024))
    r = c.new_account()
    assert r.status == 400 and r.problem["type"] == err("badPublicKey")


def test_url_mismatch_is_unauthorized(client):
    r = client.post(client.kid, None, jws_url=client.base + "/acme/somewhere-else")
    assert r.status == 401 and r.problem["type"] == err("unauthorized")


def test_tampered_signature_is_refused(client):
    body = jws(client.key, client.kid, None, nonce=client.nonce(), kid=client.kid)
    sig = bytearray(base64.urlsafe_b64decode(body["signature"] + "=="))
    sig[0] ^= 1
    body["signature"] = b64u(bytes(sig))
    r = client.request("POST", client.kid, json.dumps(body),
                       {"Content-Type": "application/jose+json"})
    assert r.status == 400 and r.problem["type"] == err("malformed")


@pytest.mark.parametrize("kind", ["RSA", "P-256", "P-384", "P-521", "Ed25519"])
def test_every_supported_key_type_can_make_an_account(env, kind):
    stack = env[0]
    c = Client(stack.base_url, stack.ca_cert, key=Key(kind))
    assert c.new_account().status == 201
    assert c.post(c.kid, None).json()["status"] == "valid"


# -- accounts ----------------------------------------------------------------------

def test_account_create_find_and_only_return_existing(env):
    stack = env[0]
    c = Client(stack.base_url, stack.ca_cert)
    r = c.post(c.directory["newAccount"], {"onlyReturnExisting": True}, kid=None)
    assert r.status == 400 and r.problem["type"] == err("accountDoesNotExist")
    r1 = c.new_account(["mailto:a@example.test"])
    assert r1.status == 201 and r1.header("location")
    assert r1.json()["status"] == "valid" and r1.json()["orders"]
    r2 = c.new_account()
    assert r2.status == 200 and r2.header("location") == r1.header("location")
    r3 = c.post(c.directory["newAccount"], {"onlyReturnExisting": True}, kid=None)
    assert r3.status == 200 and r3.header("location") == r1.header("location")


@pytest.mark.parametrize("contact,problem", [
    (["mailto:a@example.test,b@example.test"], "invalidContact"),
    (["mailto:a@example.test?subject=x"], "invalidContact"),
    (["mailto:not-an-address"], "invalidContact"),
    (["tel:+1555"], "unsupportedContact"),
    ([42], "invalidContact"),
])
def test_invalid_contacts(env, contact, problem):
    stack = env[0]
    c = Client(stack.base_url, stack.ca_cert)
    r = c.new_account(contact)
    assert r.status == 400 and r.problem["type"] == err(problem)


def test_account_update_and_deactivate(client):
    r = client.post(client.kid, {"contact": ["mailto:new@example.test"]})
    assert r.status == 200 and r.json()["contact"] == ["mailto:new@example.test"]
    r = client.post(client.kid, {"status": "deactivated"})
    assert r.status == 200 and r.json()["status"] == "deactivated"
    r = client.post(client.kid, None)
    assert r.status == 401 and r.problem["type"] == err("unauthorized")
    r = client.new_order(["after.example.test"])
    assert r.status == 401 and r.problem["type"] == err("unauthorized")


def test_unknown_kid_is_account_does_not_exist(client):
    r = client.post(client.kid, None, kid=client.base + "/acme/account/nope")
    assert r.status == 400 and r.problem["type"] == err("accountDoesNotExist")


def test_orders_list(client):
    urls = [client.new_order([f"list{i}.example.test"]).header("location") for i in range(3)]
    r = client.post(client.kid + "/orders", None)
    assert r.status == 200
    assert set(urls) <= set(r.json()["orders"])


def test_order_and_authz_ids_begin_with_their_creation_time(client):
    """Ids of orders and authorizations are the creation time in ms (6
    bytes) and 10 random bytes, so that the rows of one moment share index
    pages (fcgi/acme.c, acme_row_id); 22 base64url characters like before."""
    before = int(time.time() * 1000)
    r = client.new_order(["timed.example.test"])
    after = int(time.time() * 1000)
    assert r.status == 201
    ids = [r.header("location").rsplit("/", 1)[1],
           r.json()["authorizations"][0].rsplit("/", 1)[1]]
    for i in ids:
        assert len(i) == 22 and set(i) <= set(B64URL), i
        raw = base64.urlsafe_b64decode(i + "==")
        assert len(raw) == 16
        assert before <= int.from_bytes(raw[:6], "big") <= after, (i, before, after)
    assert ids[0] != ids[1]


def test_key_change(env, client):
    stack = env[0]
    new = Key("P-256")      # same type: the old key's signature fails as such
    inner = jws(new, client.directory["keyChange"],
                {"account": client.kid, "oldKey": client.key.jwk()})
    r = client.post(client.directory["keyChange"], inner)
    assert r.status == 200, r
    old = client.key
    client.key = new
    assert client.post(client.kid, None).status == 200
    client.key = old
    r = client.post(client.kid, None)
    assert r.status == 400 and r.problem["type"] == err("malformed")
    # A key that another account already has: 409 with that account's URL.
    other = Client(stack.base_url, stack.ca_cert)
    other.new_account()
    client.key = new
    inner = jws(other.key, client.directory["keyChange"],
                {"account": client.kid, "oldKey": new.jwk()})
    r = client.post(client.directory["keyChange"], inner)
    assert r.status == 409 and r.header("location") == other.kid


# -- orders, authorizations, challenges ---------------------------------------------

def test_order_status_machine_and_certificate(env, client):
    names = ["one.example.test", "two.example.test"]
    order, order_url = ready_order(env, client, names)
    assert order["status"] == "ready"
    r, key = finalize(client, order, names)
    assert r.status == 200, r
    order = r.json()
    assert order["status"] == "valid" and order["certificate"]
    r = client.post(order["certificate"], None)
    assert r.status == 200
    assert r.header("content-type") == "application/pem-certificate-chain"
    certs = load_chain(r.body)
    assert len(certs) == 2
    leaf, ca = certs
    assert ca.public_bytes(serialization.Encoding.PEM) == open(env[0].ca_cert, "rb").read()
    assert issued_by(leaf, ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)
    assert leaf.public_key().public_numbers() == key.priv.public_key().public_numbers()


def test_authorization_reuse(env, client):
    ready_order(env, client, ["reuse.example.test"])
    r = client.new_order(["reuse.example.test"])
    assert r.status == 201 and r.json()["status"] == "ready"


def test_wildcard_gets_only_dns01(client):
    r = client.new_order(["*.wild.example.test"])
    assert r.status == 201
    authz = client.post(r.json()["authorizations"][0], None).json()
    assert authz["wildcard"] is True
    assert authz["identifier"] == {"type": "dns", "value": "wild.example.test"}
    assert [c["type"] for c in authz["challenges"]] == ["dns-01"]


def test_dns01_wildcard_order(env, client):
    _, dns, _ = env
    r = client.new_order(["*.dns.example.test"])
    authz_url = r.json()["authorizations"][0]
    ch = client.post(authz_url, None).json()["challenges"][0]
    import hashlib
    digest = b64u(hashlib.sha256(client.key_authorization(ch["token"]).encode()).digest())
    dns.set_txt("_acme-challenge.dns.example.test.", digest)
    client.post(ch["url"], {})
    wait_status(client, authz_url, ("valid",))
    order = wait_status(client, r.header("location"), ("ready",))
    r, _ = finalize(client, order, ["*.dns.example.test"])
    assert r.status == 200 and r.json()["status"] == "valid"


# -- where validation may connect ----------------------------------------------

@pytest.fixture(scope="module")
def policy_env(tmp_path_factory):
    """A stack whose validation may reach 127.0.0.1 only, and that issues for
    any name or address (no UPKI_RA_ALLOWED_NAMES)."""
    with acme_world(tmp_path_factory, "policy",
                    {"UPKI_RA_VALIDATION_ALLOW": "127.0.0.1/32"}) as w:
        yield w


class CountingListener:
    """Counts the connections accepted on host:port."""

    def __init__(self, host, port):
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


def http01_result(env, client, name, answer):
    """The failed http-01 challenge of a new order for name, whose responder
    gives answer for the token."""
    _, _, http01 = env
    r = client.new_order([name])
    assert r.status == 201, r
    authz_url = r.json()["authorizations"][0]
    ch = next(c for c in client.post(authz_url, None).json()["challenges"]
              if c["type"] == "http-01")
    http01.answers[ch["token"]] = answer
    assert client.post(ch["url"], {}).status == 200
    authz = wait_status(client, authz_url, ("invalid", "valid"), timeout=40)
    return next(c for c in authz["challenges"] if c["type"] == "http-01")


@pytest.mark.parametrize("target", ["127.0.0.2", "169.254.169.254", "[::1]", "0.0.0.0",
                                    "[::ffff:127.0.0.2]"])
def test_http01_redirect_to_a_refused_address_is_not_followed(policy_env, target):
    stack, _, http01 = policy_env
    c = Client(stack.base_url, stack.ca_cert)
    c.new_account()
    listener = CountingListener("127.0.0.2", http01.port) if target == "127.0.0.2" else None
    try:
        ch = http01_result(policy_env, c, "redirect.example.test", (
            "redirect", f"http://{target}:{http01.port}/latest/meta-data/"))
    finally:
        if listener:
            listener.close()
    assert ch["status"] == "invalid", ch
    assert "address policy" in ch["error"]["detail"], ch["error"]
    if listener:
        assert listener.accepted == 0


def test_http01_name_resolving_to_a_refused_address(policy_env):
    stack, dns, _ = policy_env
    c = Client(stack.base_url, stack.ca_cert)
    c.new_account()
    challtestsrv_post(dns.mgmt_port, "add-a", {"host": "meta.example.test.",
                                               "addresses": ["169.254.169.254"]})
    ch = http01_result(policy_env, c, "meta.example.test", "unused")
    assert ch["status"] == "invalid" and "address policy" in ch["error"]["detail"], ch


def test_http01_redirect_to_an_allowed_address_still_works(policy_env):
    stack, _, http01 = policy_env
    c = Client(stack.base_url, stack.ca_cert)
    c.new_account()
    r = c.new_order(["hop.example.test"])
    authz_url = r.json()["authorizations"][0]
    ch = next(x for x in c.post(authz_url, None).json()["challenges"]
              if x["type"] == "http-01")
    http01.answers["hop-" + ch["token"]] = c.key_authorization(ch["token"])
    http01.answers[ch["token"]] = ("redirect", f"http://127.0.0.1:{http01.port}/"
                                   f".well-known/acme-challenge/hop-{ch['token']}")
    assert c.post(ch["url"], {}).status == 200
    assert wait_status(c, authz_url, ("valid", "invalid"))["status"] == "valid"


REFUSED_IPS = ["0.0.0.0", "0.1.2.3", "127.0.0.2", "169.254.169.254", "100.64.0.1",
               "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9",
               "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
               "::", "::1", "::ffff:127.0.0.2", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
               "100::1", "2001::1", "2001:db8::1", "2002:7f00:1::1", "3fff::1", "fe80::1",
               "fec0::1", "ff02::1"]


@pytest.mark.parametrize("ip", REFUSED_IPS)
def test_ip_identifier_in_a_refused_range_is_rejected(policy_env, ip):
    stack = policy_env[0]
    c = Client(stack.base_url, stack.ca_cert)
    c.new_account()
    r = c.new_order([ip])
    assert r.status == 400 and r.problem["type"] == err("rejectedIdentifier"), (ip, r)
    assert "address policy" in json.dumps(r.problem), r.problem


def test_ip_identifiers_private_and_allowed_are_accepted(policy_env):
    stack = policy_env[0]
    c = Client(stack.base_url, stack.ca_cert)
    c.new_account()
    for ip in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fd00::1", "8.8.8.8",
               "2606:4700::1"):
        r = c.new_order([ip])
        assert r.status == 201, (ip, r)


def test_ip_identifier_outside_the_name_policy_is_rejected(client):
    r = client.new_order(["127.0.0.1"])
    assert r.status == 400 and r.problem["type"] == err("rejectedIdentifier")


def test_failed_challenge_invalidates_authz_and_order(env, client):
    r = client.new_order(["fail.example.test"])
    authz_url = r.json()["authorizations"][0]
    ch = next(c for c in client.post(authz_url, None).json()["challenges"]
              if c["type"] == "http-01")
    client.post(ch["url"], {})       # nobody answers this token: 404
    authz = wait_status(client, authz_url, ("invalid",))
    failed = next(c for c in authz["challenges"] if c["type"] == "http-01")
    assert failed["error"]["type"] == err("incorrectResponse")
    order = client.post(r.header("location"), None).json()
    assert order["status"] == "invalid"


def test_authorization_deactivation(client):
    r = client.new_order(["deact.example.test"])
    authz_url = r.json()["authorizations"][0]
    d = client.post(authz_url, {"status": "deactivated"})
    assert d.status == 200 and d.json()["status"] == "deactivated"
    assert client.post(r.header("location"), None).json()["status"] == "invalid"


def test_rejected_identifier_with_subproblems(client):
    r = client.new_order(["ok.example.test", "elsewhere.org", "bad_name.example.test"])
    assert r.status == 400
    p = r.problem
    assert p["type"] == err("rejectedIdentifier")
    values = sorted(s["identifier"]["value"] for s in p["subproblems"])
    assert values == ["bad_name.example.test", "elsewhere.org"]
    assert all(s["type"] == err("rejectedIdentifier") for s in p["subproblems"])


def test_not_before_refused(client):
    r = client.new_order(["nb.example.test"], notBefore="2030-01-01T00:00:00Z")
    assert r.status == 400 and r.problem["type"] == err("malformed")


def test_another_accounts_order_is_unauthorized(env, client):
    stack = env[0]
    r = client.new_order(["mine.example.test"])
    other = Client(stack.base_url, stack.ca_cert)
    other.new_account()
    g = other.post(r.header("location"), None)
    assert g.status == 403 and g.problem["type"] == err("unauthorized")


# -- finalize -----------------------------------------------------------------------

def test_order_not_ready(client):
    r = client.new_order(["notready.example.test"])
    f, _ = finalize(client, r.json(), ["notready.example.test"])
    assert f.status == 403 and f.problem["type"] == err("orderNotReady")


def test_bad_csr_names_differ(env, client):
    order, _ = ready_order(env, client, ["csr.example.test"])
    for names in (["csr.example.test", "extra.example.test"], ["other.example.test"]):
        r, _ = finalize(client, order, names)
        assert r.status == 400 and r.problem["type"] == err("badCSR"), r
    der, _ = make_csr(["csr.example.test"], key=client.key)
    r = client.post(order["finalize"], {"csr": b64u(der)})
    assert r.status == 400 and r.problem["type"] == err("badCSR")
    # Still ready: a bad CSR does not spoil the order.
    r, _ = finalize(client, order, ["csr.example.test"])
    assert r.status == 200


# -- the RA's own CSR policy ---------------------------------------------------

PLACEHOLDER_OID = "2.5.29.99"   # same DER length as the 2.5.29.x it stands for


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def policy_csr(name, extensions=(), cns=None, patch=None):
    """A DER CSR for name with extra (extension, critical) pairs and the
    given CNs; patch=(x) rewrites the placeholder extension OID to 2.5.29.x
    and re-signs, to make what the builder refuses (a duplicate)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = Key("P-256")
    cns = [name] if cns is None else cns
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, c) for c in cns]))
    b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    csr = b.sign(key.priv, hashes.SHA256())
    der = csr.public_bytes(serialization.Encoding.DER)
    if patch is None:
        return der
    tbs = csr.tbs_certrequest_bytes
    old = bytes([0x06, 0x03, 0x55, 0x1d, 0x63])
    assert tbs.count(old) == 1
    tbs = tbs.replace(old, bytes([0x06, 0x03, 0x55, 0x1d, patch]))
    sig = key.priv.sign(tbs, ec.ECDSA(hashes.SHA256()))
    alg = bytes.fromhex("300a06082a8648ce3d040302")     # ecdsa-with-SHA256
    bits = b"\x03" + der_len(len(sig) + 1) + b"\x00" + sig
    body = tbs + alg + bits
    return b"\x30" + der_len(len(body)) + body


def unknown(oid, value=b"\x05\x00"):
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value)


def san_der(name):
    enc = name.encode()
    inner = b"\x82" + der_len(len(enc)) + enc
    return b"\x30" + der_len(len(inner)) + inner


def test_csr_policy_refusals_never_reach_the_ca(env, client):
    from mtls_helpers import ca_task_count
    stack = env[0]
    name = "policy.example.test"
    cases = {
        "a second subjectAltName": policy_csr(name, [(unknown(PLACEHOLDER_OID,
            san_der("evil.example.test")), False)], patch=0x11),
        "a malformed subjectAltName": policy_csr(name, [(unknown(PLACEHOLDER_OID,
            b"\x04\x01\x00"), False)], patch=0x11),
        "a duplicate extension": policy_csr(name, [
            (x509.KeyUsage(True, False, False, False, False, False, False, False, False),
             False),
            (unknown(PLACEHOLDER_OID, bytes.fromhex("03020780")), False)], patch=0x0f),
        "two Common Names": policy_csr(name, cns=[name, "admin"]),
        "a Common Name outside the order": policy_csr(name, cns=["other.example.test"]),
        "CA:TRUE": policy_csr(name, [(x509.BasicConstraints(ca=True, path_length=None),
                                      True)]),
        "name constraints": policy_csr(name, [(x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("example.test")], excluded_subtrees=None),
            True)]),
        "an unknown critical extension": policy_csr(name, [(unknown("1.2.3.4.5"), True)]),
    }
    order, _ = ready_order(env, client, [name])
    signs = ca_task_count(stack, ("sign",))
    for what, der in cases.items():
        r = client.post(order["finalize"], {"csr": b64u(der)})
        assert r.status == 400 and r.problem["type"] == err("badCSR"), (what, r)
        assert "CSR policy" in r.problem["detail"], (what, r.problem)
    assert ca_task_count(stack, ("sign",)) == signs
    # Still ready: a CSR within the policy is signed.
    r = client.post(order["finalize"], {"csr": b64u(policy_csr(name, [
        (x509.BasicConstraints(ca=False, path_length=None), True)]))})
    assert r.status == 200, r


def test_bad_csr_without_cn_when_the_ca_refuses_it(tmp_path_factory):
    http01 = Http01Responder()
    dns = ChallTestSrv(str(tmp_path_factory.mktemp("cnless-dns")))
    s = make_stack(tmp_path_factory, "cnless", devca_args=["--refuse-cnless"], env={
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{dns.dns_port}",
        "UPKI_RA_HTTP01_PORT": str(http01.port)})
    try:
        s.start()
        c = Client(s.base_url, s.ca_cert)
        c.new_account()
        order, _ = ready_order((s, dns, http01), c, ["nocn.example.test"])
        r, _ = finalize(c, order, ["nocn.example.test"], cn=False)
        assert r.status == 400 and r.problem["type"] == err("badCSR")
        assert "Common Name" in r.problem["detail"]
        assert c.post(order["finalize"].rsplit("/", 1)[0], None).json()["status"] == "ready"
        r, _ = finalize(c, order, ["nocn.example.test"])
        assert r.status == 200 and r.json()["status"] == "valid"
    finally:
        http01.stop()
        dns.stop()
        finish_stack(s)


def test_concurrent_finalize_signs_once(env, client):
    stack = env[0]
    order, order_url = ready_order(env, client, ["race.example.test"])
    der, _ = make_csr(["race.example.test"])
    bodies = [json.dumps(jws(client.key, order["finalize"], {"csr": b64u(der)},
                             nonce=client.nonce(), kid=client.kid)) for _ in range(20)]
    log = os.path.join(stack.devca_dir, "tasks.log")
    before = sum(1 for line in open(log) if "task=sign " in line)

    def send(body):
        return client.request("POST", order["finalize"], body,
                              {"Content-Type": "application/jose+json"}).status

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(send, bodies))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(403) == 19, statuses
    after = sum(1 for line in open(log) if "task=sign " in line)
    assert after - before == 1


def test_nonces_are_single_use_across_workers(env, client):
    nonces = []
    for _ in range(500):
        client.request("HEAD", client.directory["newNonce"])
        nonces.append(client._nonce)
    bodies = [json.dumps(jws(client.key, client.kid, None, nonce=n, kid=client.kid))
              for n in nonces]

    def send(body):
        return client.request("POST", client.kid, body,
                              {"Content-Type": "application/jose+json"}).status

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        first = list(pool.map(send, bodies))
        second = list(pool.map(send, bodies))
    assert first.count(200) == 500
    assert second.count(400) == 500


# -- revocation -------------------------------------------------------------------

def crl_serials(stack):
    from conftest import get
    crl = x509.load_pem_x509_crl(get(stack, "/api/v1/public/crl").body)
    return {rc.serial_number for rc in crl}


def test_revoke_by_account_then_already_revoked(env, client):
    crt, _ = issue(env, client, ["revoke1.example.test"])
    der = b64u(crt.public_bytes(serialization.Encoding.DER))
    r = client.post(client.directory["revokeCert"], {"certificate": der, "reason": 4})
    assert r.status == 200, r
    assert crt.serial_number in crl_serials(env[0])
    r = client.post(client.directory["revokeCert"], {"certificate": der})
    assert r.status == 400 and r.problem["type"] == err("alreadyRevoked")


def test_revoke_by_certificate_key(env, client):
    crt, key = issue(env, client, ["revoke2.example.test"])
    der = b64u(crt.public_bytes(serialization.Encoding.DER))
    r = client.post(client.directory["revokeCert"], {"certificate": der}, key=key, kid=None)
    assert r.status == 200, r
    assert crt.serial_number in crl_serials(env[0])


@pytest.mark.parametrize("reason", [7, 11, -1, "1"])
def test_bad_revocation_reason(env, client, reason):
    crt, _ = issue(env, client, [f"reason{abs(hash(str(reason))) % 1000}.example.test"])
    der = b64u(crt.public_bytes(serialization.Encoding.DER))
    r = client.post(client.directory["revokeCert"], {"certificate": der, "reason": reason})
    assert r.status == 400 and r.problem["type"] == err("badRevocationReason")


def test_revoke_by_another_account_is_unauthorized(env, client):
    stack = env[0]
    crt, _ = issue(env, client, ["revoke3.example.test"])
    other = Client(stack.base_url, stack.ca_cert)
    other.new_account()
    der = b64u(crt.public_bytes(serialization.Encoding.DER))
    r = other.post(other.directory["revokeCert"], {"certificate": der})
    assert r.status == 403 and r.problem["type"] == err("unauthorized")


# -- validation off the request path ----------------------------------------------

class Blackhole:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()


def test_silent_target_fails_after_the_timeout_without_slowing_anyone(tmp_path_factory):
    hole = Blackhole()
    dns = ChallTestSrv(str(tmp_path_factory.mktemp("silent-dns")))
    s = make_stack(tmp_path_factory, "silent", env={
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{dns.dns_port}",
        "UPKI_RA_HTTP01_PORT": str(hole.port)})
    try:
        s.start()
        c = Client(s.base_url, s.ca_cert)
        c.new_account()
        r = c.new_order(["silent.example.test"])
        authz_url = r.json()["authorizations"][0]
        ch = next(x for x in c.post(authz_url, None).json()["challenges"]
                  if x["type"] == "http-01")
        started = time.monotonic()
        answer = c.post(ch["url"], {})
        assert answer.status == 200 and answer.json()["status"] == "processing"
        assert time.monotonic() - started < 2

        # While the validator waits on the silent target, the RA serves.
        other = Client(s.base_url, s.ca_cert)
        other.new_account()
        slowest = 0.0
        for i in range(100):
            t0 = time.monotonic()
            if i % 2:
                ok = other.get("/acme/directory").status == 200
            else:
                ok = other.new_order([f"busy{i}.example.test"]).status == 201
            slowest = max(slowest, time.monotonic() - t0)
            assert ok
        assert slowest < 2, f"a request took {slowest:.2f} s"

        authz = wait_status(c, authz_url, ("invalid",), timeout=40)
        assert time.monotonic() - started >= 10   # the check really waited
        failed = next(x for x in authz["challenges"] if x["type"] == "http-01")
        assert failed["error"]["type"] == err("connection")
    finally:
        hole.stop()
        dns.stop()
        finish_stack(s)


# -- fair, bounded validation --------------------------------------------------

@pytest.fixture(scope="module")
def fair_env(tmp_path_factory):
    """Two validators, tls-alpn-01 pointed at a target that never answers,
    http-01 at a closed port (fails at once), and low per-account limits."""
    hole = Blackhole()
    dns = ChallTestSrv(str(tmp_path_factory.mktemp("fair-dns")))
    s = make_stack(tmp_path_factory, "fair", validators=2, env={
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{dns.dns_port}",
        "UPKI_RA_TLSALPN01_PORT": str(hole.port),
        "UPKI_RA_HTTP01_PORT": str(free_port()),
        "UPKI_RA_RATE_INFLIGHT": "6",
        "UPKI_RA_RATE_PENDING_AUTHZ": "20",
        "UPKI_RA_RATE_FAILED": "1",
        "UPKI_RA_RATE_ACCOUNTS": "8",
    })
    try:
        s.start()
        yield s, dns
    finally:
        hole.stop()
        dns.stop()
        finish_stack(s)


def challenge_of(client, authz_url, kind):
    return next(c for c in client.post(authz_url, None).json()["challenges"]
                if c["type"] == kind)


def assert_rate_limited(r):
    assert r.status == 429 and r.problem["type"] == err("rateLimited"), r
    assert int(r.header("retry-after")) >= 1, r.headers


def test_one_accounts_silent_targets_do_not_starve_another(fair_env):
    import hashlib
    stack, dns = fair_env
    attacker = Client(stack.base_url, stack.ca_cert)
    attacker.new_account()
    r = attacker.new_order([f"slow{i}.example.test" for i in range(12)])
    assert r.status == 201, r
    answers = []
    for authz_url in r.json()["authorizations"]:
        answers.append(attacker.post(challenge_of(attacker, authz_url, "tls-alpn-01")["url"],
                                     {}))
    # At most 6 in flight for one account; the rest are refused, not queued.
    assert [a.status for a in answers].count(200) == 6, answers
    for a in answers[6:]:
        assert_rate_limited(a)

    victim = Client(stack.base_url, stack.ca_cert)
    victim.new_account()
    r = victim.new_order(["victim.example.test"])
    authz_url = r.json()["authorizations"][0]
    ch = challenge_of(victim, authz_url, "dns-01")
    digest = b64u(hashlib.sha256(victim.key_authorization(ch["token"]).encode()).digest())
    dns.set_txt("_acme-challenge.victim.example.test.", digest)
    started = time.monotonic()
    assert victim.post(ch["url"], {}).status == 200
    wait_status(victim, authz_url, ("valid",), timeout=60)
    # Each of the attacker's checks takes 15 s; the victim waits for none.
    took = time.monotonic() - started
    assert took < 8, f"the victim's dns-01 took {took:.1f} s"


def test_pending_authorizations_per_account_are_bounded(fair_env):
    stack, _ = fair_env
    c = Client(stack.base_url, stack.ca_cert)
    c.new_account()
    assert c.new_order([f"p{i}.example.test" for i in range(12)]).status == 201
    assert_rate_limited(c.new_order([f"q{i}.example.test" for i in range(12)]))
    assert c.new_order([f"r{i}.example.test" for i in range(8)]).status == 201


def test_failed_validations_per_account_per_hour_are_bounded(fair_env):
    stack, _ = fair_env
    c = Client(stack.base_url, stack.ca_cert)
    c.new_account()
    r = c.new_order(["closed1.example.test"])
    authz_url = r.json()["authorizations"][0]
    assert c.post(challenge_of(c, authz_url, "http-01")["url"], {}).status == 200
    wait_status(c, authz_url, ("invalid",))
    r = c.new_order(["closed2.example.test"])
    authz_url = r.json()["authorizations"][0]
    assert_rate_limited(c.post(challenge_of(c, authz_url, "http-01")["url"], {}))
    assert challenge_of(c, authz_url, "http-01")["status"] == "pending"


def test_new_accounts_per_client_address_are_bounded(fair_env):
    stack, _ = fair_env
    for i in range(9):
        r = Client(stack.base_url, stack.ca_cert).new_account()
        if r.status != 201:
            break
    # The module's other tests made some of the 8 this hour.
    assert_rate_limited(r)
    assert int(r.header("retry-after")) <= 3600
    assert "per client address" in r.problem["detail"]

def test_terms_of_service_must_be_agreed(tmp_path_factory):
    s = make_stack(tmp_path_factory, "tos", env={"UPKI_RA_TOS_URL": "https://ra.example.test/tos"})
    try:
        s.start()
        c = Client(s.base_url, s.ca_cert)
        assert c.directory["meta"]["termsOfService"] == "https://ra.example.test/tos"
        r = c.post(c.directory["newAccount"], {"termsOfServiceAgreed": False}, kid=None)
        assert r.status == 403 and r.problem["type"] == err("userActionRequired")
        assert c.new_account().status == 201
    finally:
        finish_stack(s)


def start_refused(ra, env):
    """`upki-ra start`, which should exit; its whole session is killed if
    it serves instead."""
    p = subprocess.Popen([ra, "start"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, errs = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, errs = p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, out, errs)


def test_profiles_acme_must_not_offer_refuse_to_start(tmp_path_factory):
    from mtls_helpers import RA
    s = make_stack(tmp_path_factory, "badprofiles")
    cases = [
        ({"UPKI_RA_ACME_PROFILES": "server,admin"}, "'admin'"),
        ({"UPKI_RA_ACME_PROFILES": "ra"}, "'ra'"),
        ({"UPKI_RA_ACME_PROFILE": "ca"}, "'ca'"),
        # By their definition at the CA: clientAuth without the setting.
        ({"UPKI_RA_ACME_PROFILES": "server,laptop"}, "clientAuth"),
    ]
    try:
        s.start_devca()
        for env, what in cases:
            r = start_refused(RA, s.ra_env(**env))
            assert r.returncode == 1, (env, r.stderr)
            last = r.stderr.strip().splitlines()[-1]
            assert "cannot be offered over ACME" in last and what in last, (env, last)
        # The separate setting allows clientAuth ones, never ca, ra, admin.
        r = start_refused(RA, s.ra_env(UPKI_RA_ACME_PROFILES="admin",
                                       UPKI_RA_ACME_CLIENT_AUTH="true"))
        assert r.returncode == 1 and "'admin'" in r.stderr, r.stderr
        s.start_ra(UPKI_RA_ACME_PROFILES="server,laptop", UPKI_RA_ACME_CLIENT_AUTH="true")
    finally:
        finish_stack(s)


def make_admin(stack, tmp_path):
    """A client certificate from the dev CA, made an admin of the RA."""
    import zmq
    from conftest import BUILD
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.connect(f"tcp://127.0.0.1:{stack.ca_port}")
    sock.send_string(json.dumps({"TASK": "generate", "params": {
        "cn": "eab-admin", "profile": "admin", "sans": [], "local": True}}))
    data = json.loads(sock.recv_string())["DATA"]
    sock.close()
    crt, key = tmp_path / "admin.crt", tmp_path / "admin.key"
    crt.write_text(data["certificate"])
    key.write_text(data["private_key"])
    ra = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), BUILD, "upki-ra")
    subprocess.run([ra, "admin", "add", data["dn"]], env=stack.ra_env(), check=True,
                   capture_output=True)
    return str(crt), str(key)


def test_external_account_binding(tmp_path_factory, tmp_path):
    from acme_client import eab
    from conftest import request
    s = make_stack(tmp_path_factory, "eab", env={"UPKI_RA_EAB_REQUIRED": "true"})
    try:
        s.start()
        crt, key = make_admin(s, tmp_path)
        c = Client(s.base_url, s.ca_cert)
        assert c.directory["meta"]["externalAccountRequired"] is True
        r = c.new_account()
        assert r.status == 400 and r.problem["type"] == err("externalAccountRequired")

        made = request(s, "POST", "/api/v1/eab", body={}, cert=crt, key=key)
        assert made.status == 201, made.body
        kid, hmac_key = made.json()["data"]["kid"], made.json()["data"]["hmac_key"]
        url = c.directory["newAccount"]

        wrong = eab(kid, b64u(b"\0" * 32), url, c.key)
        r = c.new_account(externalAccountBinding=wrong)
        assert r.status == 401 and r.problem["type"] == err("unauthorized")
        other_key = eab(kid, hmac_key, url, Key("P-256"))   # signs another key
        r = c.new_account(externalAccountBinding=other_key)
        assert r.status == 400 and r.problem["type"] == err("malformed")

        r = c.new_account(externalAccountBinding=eab(kid, hmac_key, url, c.key))
        assert r.status == 201, r

        again = Client(s.base_url, s.ca_cert)
        r = again.new_account(externalAccountBinding=eab(kid, hmac_key, url, again.key))
        assert r.status == 401 and r.problem["type"] == err("unauthorized")
        listed = request(s, "GET", "/api/v1/eab", cert=crt, key=key).json()["data"]
        assert listed == [{"kid": kid, "created_by": listed[0]["created_by"],
                           "created_at": listed[0]["created_at"], "used": True}]
        assert "hmac_key" not in json.dumps(listed)
    finally:
        finish_stack(s)


def test_rate_limited_orders(tmp_path_factory):
    s = make_stack(tmp_path_factory, "rate", env={"UPKI_RA_RATE_ORDERS": "3"})
    try:
        s.start()
        c = Client(s.base_url, s.ca_cert)
        c.new_account()
        for i in range(3):
            assert c.new_order([f"rate{i}.example.test"]).status == 201
        r = c.new_order(["rate3.example.test"])
        assert r.status == 429 and r.problem["type"] == err("rateLimited")
        assert 1 <= int(r.header("retry-after")) <= 3600
        # Another account is not held back by the first one.
        other = Client(s.base_url, s.ca_cert)
        other.new_account()
        assert other.new_order(["rate4.example.test"]).status == 201
    finally:
        finish_stack(s)


def test_profiles(env, client):
    assert set(client.directory["meta"]["profiles"]) == {"server", "webapp"}
    r = client.new_order(["prof.example.test"], profile="ca")
    assert r.status == 400 and r.problem["type"] == err("invalidProfile")
    order, _ = ready_order(env, client, ["prof2.example.test"])
    assert order["profile"] == "server"
    r = client.new_order(["prof3.example.test"], profile="webapp")
    assert r.status == 201 and r.json()["profile"] == "webapp"


def test_renewal_info(env, client):
    crt, _ = issue(env, client, ["ari.example.test"])
    aki = crt.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = crt.serial_number.to_bytes((crt.serial_number.bit_length() + 8) // 8, "big")
    certid = f"{b64u(aki.key_identifier)}.{b64u(serial)}"
    assert client.directory["renewalInfo"].endswith("/acme/renewal-info")
    r = client.get(f"{client.directory['renewalInfo']}/{certid}")
    assert r.status == 200 and int(r.header("retry-after")) > 0
    window = r.json()["suggestedWindow"]
    life = crt.not_valid_after - crt.not_valid_before
    start = crt.not_valid_before + life * 2 / 3
    assert window["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert window["start"] < window["end"] < crt.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    bad = client.get(f"{client.directory['renewalInfo']}/not-a-certid")
    assert bad.status == 400 and bad.problem["type"] == err("malformed")


def test_order_replaces(env, client):
    crt, _ = issue(env, client, ["replace.example.test"])
    aki = crt.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = crt.serial_number.to_bytes((crt.serial_number.bit_length() + 8) // 8, "big")
    certid = f"{b64u(aki.key_identifier)}.{b64u(serial)}"
    r = client.new_order(["replace.example.test"], replaces=certid)
    assert r.status == 201 and r.json()["replaces"] == certid
    r = client.new_order(["replace.example.test"], replaces="AAAA.AAAA")
    assert r.status == 400 and r.problem["type"] == err("malformed")
