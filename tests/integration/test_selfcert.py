"""The RA keeps its own certificate alive (issue 19, item 10): with a
development CA whose `ra` profile lives seconds, the RA renews ra.crt by
itself before the last third of its life (a fresh key, signed with the `ra`
profile, no seed), nginx serves the new one, and a client polling through
the renewal never fails a handshake; `upki-ra reissue --sans` gives a
certificate with the new SANs the same way.
"""

import os
import socket
import ssl
import subprocess
import time

import pytest
from cryptography import x509

from conftest import finish_stack, make_stack
from mtls_helpers import RA

LIFE = 24       # seconds: renewal is due after 16


@pytest.fixture
def short(tmp_path_factory):
    # The dev CA reserves localhost as the reference CA does; this stack's
    # RA is 127.0.0.1 only, so that its renewal may be signed.
    s = make_stack(tmp_path_factory, "selfcert", sans="127.0.0.1",
                   devca_args=("--reserved", "", "--ra-seconds", str(LIFE)))
    try:
        s.start()
        yield s
    finally:
        finish_stack(s)


def served(stack):
    """The certificate nginx serves, after a verified handshake."""
    ctx = ssl.create_default_context(cafile=stack.ca_cert)
    with socket.create_connection(("127.0.0.1", stack.ra_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def sans(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(str(v) for v in ext.get_values_for_type(x509.DNSName)) + \
        sorted(str(v) for v in ext.get_values_for_type(x509.IPAddress))


def test_the_ra_renews_its_certificate_by_itself(short):
    s = short
    first = served(s)
    with open(os.path.join(s.data_dir, "ra.key"), "rb") as f:
        first_key = f.read()
    seen = {first.serial_number}
    deadline = time.monotonic() + LIFE * 2
    while time.monotonic() < deadline and len(seen) < 3:
        c = served(s)       # raises on a failed handshake or an expired certificate
        seen.add(c.serial_number)
        time.sleep(0.2)
    assert len(seen) >= 3, "ra.crt was not renewed twice"
    with open(os.path.join(s.data_dir, "ra.key"), "rb") as f:
        assert f.read() != first_key        # a fresh key
    assert sans(served(s)) == ["127.0.0.1"]
    log = open(s.log_path("ra")).read()
    assert "renewed ra.crt" in log


def test_reissue_changes_the_sans(short):
    s = short
    r = subprocess.run([RA, "reissue", "--sans", "127.0.0.1,ra.example.test"],
                       env=s.ra_env(UPKI_RA_SANS="ignored.example.test"), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(s.data_dir, "ra.crt"), "rb") as f:
        assert sans(x509.load_pem_x509_certificate(f.read())) == ["ra.example.test",
                                                                  "127.0.0.1"]
    deadline = time.monotonic() + 10
    while sans(served(s)) != ["ra.example.test", "127.0.0.1"]:
        assert time.monotonic() < deadline, "nginx did not reload"
        time.sleep(0.2)


def get_ip(stack, path, who=None):
    """GET through nginx at 127.0.0.1, the one name this stack's ra.crt has."""
    import http.client
    import json
    ctx = ssl.create_default_context(cafile=stack.ca_cert)
    if who is not None:
        ctx.load_cert_chain(who.cert, who.key)
    conn = http.client.HTTPSConnection("127.0.0.1", stack.ra_port, timeout=30, context=ctx)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        return r.status, (json.loads(body) if body.startswith(b"{") else body)
    finally:
        conn.close()


def health(stack, who):
    status, body = get_ip(stack, "/api/v1/health", who)
    assert status == 200 and body["status"] == "success", (status, body)
    return body["data"]


def test_admin_health_tells_when_ra_crt_is_due(short, tmp_path):
    from mtls_helpers import generate_identity, ra_admin
    s = short
    admin = generate_identity(s, str(tmp_path), "health-admin", "admin")
    ra_admin(s, "add", admin.dn)
    data = health(s, admin)
    ra, ca = data["certificates"]["ra.crt"], data["certificates"]["ca.crt"]
    assert ra["status"] == "ok" and ra["not_after"] > ra["renew_at"], ra
    assert ca["status"] == "ok", ca
    assert data["warnings"] == [], data
    # Anyone else gets no such detail.
    assert get_ip(s, "/api/v1/health")[0] in (401, 403)
    # The CA away past the renewal time: the renewal cannot happen, health says so.
    s.stop_devca()
    time.sleep(LIFE * 2 / 3 + 1)
    data = health(s, admin)
    assert data["certificates"]["ra.crt"]["status"] == "renewal due", data
    assert any("ra.crt" in w for w in data["warnings"]), data
    assert "could not be renewed" in open(s.log_path("ra")).read()
