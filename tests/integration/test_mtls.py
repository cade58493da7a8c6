"""Who may call what: nginx's client-certificate check and the worker's own.

DESIGN.md: public routes need nothing; /api/v1/* (but the public ones) and
/api/client/* need a certificate nginx verified, and nginx refuses them
itself (a JSON 403) otherwise; the worker checks again (401 without
SSL_CLIENT_VERIFY=SUCCESS and a certificate in the FastCGI params, 403 for a
certificate its own check refuses, 403 on admin routes for a verified caller
who is not an admin); identity never comes from HTTP headers nor from
SSL_CLIENT_S_DN; an admin removed at the RA loses access at once.  The worker
serves no request, on any route, without the FastCGI secret nginx adds.

One stack for the module.  The identities:

  none       no client certificate
  unrelated  a CA made here (same name as the dev CA, other key) issued it,
             with admin1's subject
  expired    the stack's own CA key signed it, with admin1's subject, valid
             until yesterday
  revoked    the dev CA made it (profile admin), its DN is in the RA's admin
             list, then the CA revoked it and an admin refreshed the CRL
  user       the dev CA made it, profile user
  admin      the dev CA made it, profile admin, DN added with `upki-ra admin add`
"""

import json
import subprocess
import types
import urllib.parse

import pytest

from conftest import finish_stack, free_port, make_stack, wait_until
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtls_helpers import (RA, call, ca_call, ca_data, enrol, error_json, expired_identity, fcgi,
                          generate_identity, own_ca_identity, ra_admin, same_serial,
                          self_signed_identity, snapshot, subject, success_json,
                          unrelated_identity)
from stack import port_open

# -- the matrix -------------------------------------------------------------------

ROUTES = {
    "public": ("GET", "/api/v1/public/ca"),
    "admin": ("GET", "/api/v1/nodes"),
    "client": ("GET", "/api/client/status"),
}

# The exact status of each cell.  Public: 200 for everyone.  Protected:
# nginx's own 403 unless the certificate verified; a verified user on an
# admin route gets the worker's 403 (not an admin).
MATRIX = {
    #  identity      public  admin  client
    "none":        (200,    403,   403),
    "unrelated":   (200,    403,   403),
    "expired":     (200,    403,   403),
    "revoked":     (200,    403,   403),
    "user":        (200,    403,   200),
    "admin":       (200,    200,   200),
}
COLUMNS = ("public", "admin", "client")
CELLS = [(who, col, MATRIX[who][i]) for who in MATRIX for i, col in enumerate(COLUMNS)]

NGINX_REFUSAL = "a verified client certificate is required"


class Ids:
    """The module's stack and identities."""


@pytest.fixture(scope="module")
def ids(tmp_path_factory):
    s = make_stack(tmp_path_factory, "mtls")
    d = str(tmp_path_factory.mktemp("mtls-ids"))
    t = Ids()
    t.stack = s
    try:
        s.start()
        # An admin the CA knows and the RA does not, put on the CA's list
        # before any worker reads (and caches) that list.
        t.ca_admin = generate_identity(s, d, "admin3", "admin")
        assert ca_data(s, "add_admin", {"dn": t.ca_admin.dn}) is True

        t.admin = generate_identity(s, d, "admin1", "admin")
        ra_admin(s, "add", t.admin.dn)
        t.user = generate_identity(s, d, "user1", "user")
        # A node and a certificate on the RA's record, for the routes that
        # name one: a refusal that let the request through would change them.
        t.record = enrol(s, t.admin, d, "rec.example.test")
        t.unrelated = unrelated_identity(d, "unrelated", subject("admin1"))
        t.expired = expired_identity(s, d, "expired", subject("admin1"))

        # Revoked: an admin's certificate, accepted until the CA revokes it
        # and the CRL nginx reads is refreshed.
        t.revoked = generate_identity(s, d, "revoked1", "admin")
        ra_admin(s, "add", t.revoked.dn)
        t.revoked_before = (call(s, t.revoked, *ROUTES["admin"]).status,
                            call(s, t.revoked, *ROUTES["client"]).status)
        assert ca_data(s, "revoke", {"dn": t.revoked.cn, "reason": "keyCompromise"}) is True
        r = call(s, t.admin, "POST", "/api/v1/crl/generate", {})
        t.crl_generate_status = r.status
        # nginx reloads on the RA's signal: wait (bounded) until it refuses.
        t.revoked_refused = wait_until(
            lambda: call(s, t.revoked, *ROUTES["client"]).status != 200, timeout=10)
        yield t
    finally:
        finish_stack(s)


def identity(ids, who):
    return None if who == "none" else getattr(ids, who)


def test_revoked_certificate_worked_before_its_revocation(ids):
    # Otherwise the "revoked" row would prove nothing.
    assert ids.revoked_before == (200, 200)
    assert ids.crl_generate_status == 200
    assert ids.revoked_refused, "nginx kept accepting the revoked certificate for 10 s"


@pytest.mark.parametrize("who,column,expected", CELLS,
                         ids=[f"{w}-{c}-{e}" for w, c, e in CELLS])
def test_matrix(ids, who, column, expected):
    method, path = ROUTES[column]
    me = identity(ids, who)
    r = call(ids.stack, me, method, path)
    assert r.status == expected, (who, method, path, r.status, r.body[:300])
    if expected == 200 and column == "public":
        with open(ids.stack.ca_cert, "rb") as f:
            assert r.body == f.read()
    elif expected == 200 and column == "client":
        data = success_json(r)
        assert same_serial(data["serial"], me.serial) and data["cn"] == me.cn
        assert data["status"] == "valid"
    elif expected == 200:
        assert isinstance(success_json(r), list)
    else:
        body = error_json(r, expected)
        if who == "user":
            # The worker's refusal, not nginx's: the caller verified.
            assert body["message"] != NGINX_REFUSAL
            assert "admin" in body["message"]


# -- every protected route ------------------------------------------------------------

def admin_routes(ids):
    """Every admin route, with a body where it takes one; the targets exist,
    so that a refusal that failed would show as a change in the store."""
    serial = ids.record.serial
    admin_dn = urllib.parse.quote(ids.admin.rfc2253, safe="")
    return [
        ("GET", "/api/v1/nodes", None),
        ("POST", "/api/v1/nodes", {"cn": "spoofed.example.test", "profile": "server"}),
        ("DELETE", "/api/v1/nodes/rec.example.test", None),
        ("GET", "/api/v1/admins", None),
        ("POST", "/api/v1/admins", {"dn": "CN=intruder,O=uPKI"}),
        ("DELETE", f"/api/v1/admins/{admin_dn}", None),
        ("GET", "/api/v1/certs", None),
        ("GET", "/api/v1/certs?page=1&per_page=5", None),
        ("GET", f"/api/v1/certs/{serial}", None),
        ("POST", f"/api/v1/certs/{serial}/revoke", {"reason": "keyCompromise"}),
        ("POST", f"/api/v1/certs/{serial}/unrevoke", {}),
        ("POST", f"/api/v1/certs/{serial}/renew", {}),
        ("POST", "/api/v1/crl/generate", {}),
        ("GET", "/api/v1/config", None),
        ("GET", "/api/v1/options", None),
        ("GET", "/api/v1/eab", None),
        ("POST", "/api/v1/eab", {}),
    ]


CLIENT_ROUTES = [
    ("GET", "/api/client/certificate", None),
    ("GET", "/api/client/status", None),
    ("POST", "/api/client/renew", {}),
    ("POST", "/api/client/revoke", {"reason": "keyCompromise"}),
]


def spoof_headers(ids):
    a = ids.admin
    return {
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-S-DN": a.rfc2253,
        "X-SSL-Client-Cert": a.escaped_cert,
        "SSL_CLIENT_VERIFY": "SUCCESS",
        "SSL-Client-Verify": "SUCCESS",
        "SSL_CLIENT_S_DN": a.rfc2253,
        "SSL-Client-S-DN": a.rfc2253,
        "SSL_CLIENT_CERT": a.escaped_cert,
        "SSL_CLIENT_SERIAL": a.serial,
    }


def test_spoofed_headers_without_a_certificate_are_refused_everywhere(ids):
    s = ids.stack
    before = snapshot(s)
    headers = spoof_headers(ids)
    for method, path, body in admin_routes(ids) + CLIENT_ROUTES:
        r = call(s, None, method, path, body, headers=dict(headers))
        error_json(r, 403)
    # Each header alone, too, on an admin route and a client route.
    for name, value in headers.items():
        for method, path, body in (("GET", "/api/v1/admins", None),
                                   ("GET", "/api/client/certificate", None)):
            r = call(s, None, method, path, body, headers={name: value})
            error_json(r, 403)
    assert snapshot(s) == before


def test_a_user_with_spoofed_admin_headers_is_still_only_a_user(ids):
    s = ids.stack
    before = snapshot(s)
    headers = spoof_headers(ids)
    for method, path, body in admin_routes(ids):
        r = call(s, ids.user, method, path, body, headers=dict(headers))
        body = error_json(r, 403)
        assert body["message"] != NGINX_REFUSAL, (method, path)
    r = call(s, ids.user, "GET", "/api/client/certificate", headers=dict(headers))
    data = success_json(r)
    assert same_serial(data["serial"], ids.user.serial) and data["cn"] == ids.user.cn
    assert snapshot(s) == before


# -- the worker's own check, without nginx ------------------------------------------

@pytest.mark.parametrize("verify", [None, "", "NONE", "FAILED:x",
                                    "FAILED:certificate has expired", "success"],
                         ids=["missing", "empty", "NONE", "FAILED-x", "FAILED-expired",
                              "lowercase"])
def test_worker_refuses_without_ssl_client_verify_success(ids, verify):
    # Everything else names the admin: only the verify result is wrong.
    params = verified(ids.admin)
    del params["SSL_CLIENT_VERIFY"]
    if verify is not None:
        params["SSL_CLIENT_VERIFY"] = verify
    for uri in ("/api/v1/nodes", "/api/v1/config", "/api/client/certificate",
                "/api/client/status"):
        r = fcgi(ids.stack, "GET", uri, params)
        assert r.status == 401, (verify, uri, r.status, r.body)
        body = r.json()
        assert body["status"] == "error" and body["message"], body


def verified(who):
    """The params nginx passes for a certificate it verified."""
    return {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN": who.rfc2253,
            "SSL_CLIENT_CERT": who.escaped_cert, "SSL_CLIENT_SERIAL": who.serial}


def test_worker_answers_a_verified_admin(ids):
    # The control for the refusals around it: the direct path does work.
    r = fcgi(ids.stack, "GET", "/api/v1/nodes", verified(ids.admin))
    assert r.status == 200, r.body


def test_worker_never_takes_the_dn_from_ssl_client_s_dn(ids):
    # Without the certificate, nginx's DN string alone is no identity.
    for who in (ids.admin, ids.user):
        params = {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN": who.rfc2253,
                  "SSL_CLIENT_SERIAL": who.serial}
        for uri in ("/api/v1/nodes", "/api/client/status"):
            r = fcgi(ids.stack, "GET", uri, params)
            assert r.status == 401, (who, uri, r.status, r.body)
            assert r.json()["status"] == "error"


def test_worker_403_for_a_verified_non_admin(ids):
    u, a = ids.user, ids.admin
    # The certificate wins over the DN string where both are there.
    cases = [verified(u), dict(verified(u), SSL_CLIENT_S_DN=a.rfc2253)]
    for params in cases:
        r = fcgi(ids.stack, "GET", "/api/v1/nodes", params)
        assert r.status == 403, (params.get("SSL_CLIENT_S_DN"), r.status, r.body)
        assert "admin" in r.json()["message"]
    r = fcgi(ids.stack, "GET", "/api/client/certificate", cases[1])
    assert r.status == 200, r.body
    assert same_serial(r.json()["data"]["serial"], u.serial)


# -- the FastCGI front ----------------------------------------------------------------

FRONT_REFUSAL = "this FastCGI peer is not trusted"


def front_routes(ids):
    """A route of each kind: public, ACME, admin, client."""
    return [("GET", "/api/v1/public/health", None), ("GET", "/api/v1/public/ca", None),
            ("GET", "/acme/directory", None), ("GET", "/acme/new-nonce", None),
            ("POST", "/acme/new-account", b"{}")] + \
        [(m, p, None if b is None else json.dumps(b).encode())
         for m, p, b in admin_routes(ids) + CLIENT_ROUTES]


@pytest.mark.parametrize("secret", ["none", "empty", "wrong", "prefix", "longer", "case"])
def test_worker_refuses_a_peer_without_the_front_secret(ids, secret):
    s = ids.stack
    given = {"none": None, "empty": "", "wrong": "0" * len(s.front_secret),
             "prefix": s.front_secret[:-1], "longer": s.front_secret + "0",
             "case": s.front_secret.upper()}[secret]
    assert given != s.front_secret
    before = snapshot(s)
    for method, path, body in front_routes(ids):
        r = fcgi(s, method, path, verified(ids.admin), body=body or b"",
                 content_type="application/json" if body else None, secret=given)
        assert r.status == 403, (secret, method, path, r.status, r.body)
        assert r.json() == {"status": "error", "message": FRONT_REFUSAL}, r.body
    assert snapshot(s) == before
    log = open(s.log_path("ra"), errors="replace").read()
    assert "not from the trusted nginx" in log
    assert s.front_secret not in log


def test_tcp_listen_needs_the_front_secret_too(ids):
    s = ids.stack
    port = free_port()
    log = open(s.log_path("ra-tcp"), "ab")
    ra = subprocess.Popen([RA, "serve", "--listen", f"127.0.0.1:{port}", "--workers", "1",
                           "--spare-workers", "0", "--validators", "1"],
                          env=s.ra_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                          start_new_session=True)
    try:
        assert wait_until(lambda: port_open("127.0.0.1", port), 20)
        tcp = types.SimpleNamespace(ra_port=s.ra_port, fcgi_socket=f"127.0.0.1:{port}",
                                    front_secret=s.front_secret)
        for given in (None, "0" * len(s.front_secret)):
            r = fcgi(tcp, "GET", "/api/v1/nodes", verified(ids.admin), secret=given)
            assert r.status == 403 and r.json()["message"] == FRONT_REFUSAL, r.body
        assert fcgi(tcp, "GET", "/api/v1/nodes", verified(ids.admin)).status == 200
    finally:
        ra.terminate()
        assert ra.wait(20) == 0


def test_nginx_sends_the_front_secret_and_the_worker_never_shows_it(ids):
    s = ids.stack
    r = call(s, ids.admin, "GET", "/api/v1/config")
    assert r.status == 200, r.body
    assert s.front_secret.encode() not in r.body
    assert call(s, None, "GET", "/api/v1/public/health").status == 200


# -- the worker's own check of the certificate ------------------------------------------

def bad_certificates(ids, d):
    """Certificates with the admin's subject that the worker must refuse."""
    s, name = ids.stack, subject("admin1")
    return {
        "self-signed": self_signed_identity(d, "selfsigned", name),
        "expired": ids.expired,
        "unrelated-ca": ids.unrelated,
        "revoked": ids.revoked,
        "server-auth-only": own_ca_identity(s, d, "serveronly", name,
                                            (ExtendedKeyUsageOID.SERVER_AUTH,)),
        "no-eku": own_ca_identity(s, d, "noeku", name, None),
    }


def test_worker_refuses_certificates_it_cannot_verify(ids, tmp_path):
    s = ids.stack
    before = snapshot(s)
    for what, who in bad_certificates(ids, str(tmp_path)).items():
        for method, path, body in admin_routes(ids) + CLIENT_ROUTES:
            payload = b"" if body is None else json.dumps(body).encode()
            r = fcgi(s, method, path, verified(who), body=payload,
                     content_type="application/json" if body is not None else None)
            assert r.status == 403, (what, method, path, r.status, r.body)
            msg = r.json()["message"]
            assert msg.startswith("the client certificate is not accepted"), (what, msg)
    assert snapshot(s) == before
    log = open(s.log_path("ra"), errors="replace").read()
    assert "(serial " + ids.unrelated.serial + ")" in log


def test_worker_refuses_at_once_a_certificate_the_ra_revoked(ids, tmp_path):
    s = ids.stack
    # A client identity the RA issued (enrolment, profile user), also an admin.
    me = enrol(s, ids.admin, str(tmp_path), "revme.example.test", profile="user")
    ra_admin(s, "add", me.dn)
    for uri in ("/api/v1/nodes", "/api/client/status"):
        assert fcgi(s, "GET", uri, verified(me)).status == 200, uri
    r = call(s, ids.admin, "POST", f"/api/v1/certs/{me.serial}/revoke",
             {"reason": "keyCompromise"})
    success_json(r)
    # Every worker, whatever it cached a moment ago, and with no CRL change
    # it could have read yet.
    for _ in range(2 * s.servers):
        for uri in ("/api/v1/nodes", "/api/client/status"):
            r = fcgi(s, "GET", uri, verified(me))
            assert r.status == 403, (uri, r.status, r.body)
            assert "revoked" in r.json()["message"], r.body


def test_worker_ignores_http_headers_posing_as_params(ids):
    s, a = ids.stack, ids.admin
    spoof = {"HTTP_SSL_CLIENT_VERIFY": "SUCCESS", "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
             "HTTP_SSL_CLIENT_S_DN": a.rfc2253, "HTTP_X_SSL_CLIENT_S_DN": a.rfc2253,
             "HTTP_SSL_CLIENT_CERT": a.escaped_cert, "HTTP_X_SSL_CLIENT_CERT": a.escaped_cert,
             "HTTP_SSL_CLIENT_SERIAL": a.serial}
    before = snapshot(s)
    for method, path, body in admin_routes(ids) + CLIENT_ROUTES:
        payload = b"" if body is None else json.dumps(body).encode()
        r = fcgi(s, method, path, spoof, body=payload,
                 content_type="application/json" if body is not None else None)
        assert r.status == 401, (method, path, r.status, r.body)
        assert r.json()["status"] == "error"
    assert snapshot(s) == before


# -- removal from the admin list ---------------------------------------------------------

def nodes_status(ids, who, times=4):
    """Several requests, so that every worker of the pool answers one."""
    return [call(ids.stack, who, "GET", "/api/v1/nodes").status for _ in range(times)]


def test_admin_removed_through_the_api_loses_access_at_once(ids, tmp_path):
    s = ids.stack
    admin2 = generate_identity(s, str(tmp_path), "admin2", "admin")
    r = call(s, ids.admin, "POST", "/api/v1/admins", {"dn": admin2.rfc2253})
    assert success_json(r, 201) == admin2.dn
    assert nodes_status(ids, admin2) == [200] * 4
    r = call(s, ids.admin, "DELETE",
             "/api/v1/admins/" + urllib.parse.quote(admin2.rfc2253, safe=""))
    assert success_json(r) == admin2.dn
    assert nodes_status(ids, admin2) == [403] * 4
    listed = [a["dn"] for a in success_json(call(s, ids.admin, "GET", "/api/v1/admins"))]
    assert admin2.dn not in listed


def test_admin_removed_with_the_cli_loses_access_at_once(ids, tmp_path):
    s = ids.stack
    admin4 = generate_identity(s, str(tmp_path), "admin4", "admin")
    ra_admin(s, "add", admin4.dn)
    assert nodes_status(ids, admin4) == [200] * 4
    ra_admin(s, "remove", admin4.dn)
    assert nodes_status(ids, admin4) == [403] * 4
    assert admin4.dn not in ra_admin(s, "list").split()


def test_ca_listed_admin_removed_with_the_cli_loses_access_whatever_the_ca_says(ids):
    s, a3 = ids.stack, ids.ca_admin
    # An admin through the CA's list only.
    assert a3.dn not in ra_admin(s, "list").split()
    assert nodes_status(ids, a3) == [200] * 4
    ra_admin(s, "remove", a3.dn)
    # The CA still lists it, and every worker has that list cached.
    reply = ca_call(s, "list_admins")
    assert a3.dn in reply["DATA"], reply
    assert nodes_status(ids, a3) == [403] * 4
