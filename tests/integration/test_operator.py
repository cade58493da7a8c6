"""What an operator sees (issue 19): the ACME directory's CAA identity, the
CRL in DER, the reference RA's command line, a data directory of another
CA, the environment file, and what the logs and health say when the CA goes
away and comes back.
"""

import json
import os
import subprocess
import time

import pytest

from conftest import finish_stack, get, make_stack
from mtls_helpers import RA


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    s = make_stack(tmp_path_factory, "operator")
    try:
        s.start()
        yield s
    finally:
        finish_stack(s)


def directory(stack):
    r = get(stack, "/acme/directory")
    assert r.status == 200, r.body
    return r.json()


# -- caaIdentities ------------------------------------------------------------------

def test_caa_identity_is_omitted_without_a_domain_name(op):
    # No base URL, and the CN "RA" is no domain name: no port-carrying guess.
    assert "caaIdentities" not in directory(op)["meta"]


def test_caa_identity_is_a_domain_name(tmp_path_factory):
    for env, want in (({"UPKI_RA_CAA_IDENTITY": "pki.example.test"}, "pki.example.test"),
                      ({"UPKI_RA_CN": "ra.example.test"}, "ra.example.test")):
        s = make_stack(tmp_path_factory, "caa", env=env)
        try:
            s.start()
            assert directory(s)["meta"]["caaIdentities"] == [want]
        finally:
            finish_stack(s)


# -- the CRL in DER ------------------------------------------------------------------

def test_crl_in_der(op, tmp_path):
    r = get(op, "/api/v1/public/crl.der")
    assert r.status == 200, r.body
    assert r.header("content-type") == "application/pkix-crl"
    der = tmp_path / "crl.der"
    der.write_bytes(r.body)
    out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(der), "-noout",
                          "-issuer"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "uPKI Dev CA" in out.stdout
    # The same CRL as the PEM route's.
    pem = get(op, "/api/v1/public/crl").body
    conv = subprocess.run(["openssl", "crl", "-inform", "PEM", "-outform", "DER"],
                          input=pem, capture_output=True)
    assert conv.stdout == r.body
