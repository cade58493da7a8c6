"""A certificate the RA revoked is refused at once, whatever nginx does.

nginx checks a client certificate at the full handshake only: a TLS 1.2
session resumed from its session cache (or a ticket) is not checked again,
and nginx reads crl.pem only when it reloads.  This stack never reloads
nginx (no UPKI_RA_NGINX_PID), so everything nginx says about the revoked
certificate is from before the revocation: the refusal is the worker's.
"""

import socket
import ssl

import pytest

from conftest import finish_stack, make_stack, tls_context
from mtls_helpers import call, enrol, generate_identity, ra_admin, success_json

NGINX_REFUSAL = b"a verified client certificate is required"


@pytest.fixture(scope="module")
def rs(tmp_path_factory):
    s = make_stack(tmp_path_factory, "revsession", env={"UPKI_RA_NGINX_PID": ""})
    try:
        s.start()
        yield s
    finally:
        finish_stack(s)


def tls12_get(stack, ctx, path, session=None):
    """GET path on one TLS 1.2 connection: (status, body, session, reused)."""
    raw = socket.create_connection(("localhost", stack.ra_port), timeout=30)
    with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost:{stack.ra_port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body, s.session, s.session_reused


def test_revoked_admin_refused_on_a_resumed_tls12_session(rs, tmp_path):
    d = str(tmp_path)
    admin = generate_identity(rs, d, "admin1", "admin")
    ra_admin(rs, "add", admin.dn)
    # An identity the RA issued (enrolment, profile user), made an admin too.
    me = enrol(rs, admin, d, "resumed.example.test", profile="user")
    ra_admin(rs, "add", me.dn)
    ctx = tls_context(rs, me.cert, me.key)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    status, body, session, _ = tls12_get(rs, ctx, "/api/v1/nodes")
    assert status == 200, body
    status, body, session2, reused = tls12_get(rs, ctx, "/api/client/status", session)
    assert status == 200 and reused, (status, reused, body)

    success_json(call(rs, admin, "POST", f"/api/v1/certs/{me.serial}/revoke",
                      {"reason": "keyCompromise"}))
    for path in ("/api/v1/nodes", "/api/v1/config", "/api/client/status"):
        status, body, _, reused = tls12_get(rs, ctx, path, session2)
        assert reused, path
        assert status == 403, (path, status, body)
        assert NGINX_REFUSAL not in body and b"revoked" in body, body
    # A full handshake too: nginx has not reloaded, the worker refuses.
    status, body, _, reused = tls12_get(rs, ctx, "/api/client/status")
    assert not reused and status == 403 and b"revoked" in body, (status, body)
    # The admin who revoked it is still served.
    assert call(rs, admin, "GET", "/api/v1/nodes").status == 200
