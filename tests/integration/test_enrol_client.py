"""Enrolment with a one-time token (POST /api/v1/public/certify), the public
certificate routes (certs, ocsp) and the client API (/api/client/*).

certify issues only what an admin registered: the CSR names exactly the
node's CN and SANs, the node's profile is used, the token is used once and
expires, and the store keeps only its SHA-256.  The client API acts on the
certificate the caller presented and on nothing else.

One stack for the module, with UPKI_RA_TOKEN_TTL=600.
"""

import datetime
import os
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import finish_stack, make_stack
from mtls_helpers import (Identity, ca_data, call, certify, db_execute, db_path, db_query,
                          enrol, enrol_even, error_json, generate_identity, key_pem,
                          make_csr, new_key, ra_admin, register_node, same_serial,
                          sha256_hex, snapshot, success_json)

TOKEN_TTL = 600


class Enr:
    pass


@pytest.fixture(scope="module")
def enr(tmp_path_factory):
    s = make_stack(tmp_path_factory, "enrol",
                   env={"UPKI_RA_TOKEN_TTL": str(TOKEN_TTL)})
    t = Enr()
    t.stack = s
    t.dir = str(tmp_path_factory.mktemp("enrol-ids"))
    try:
        s.start()
        t.admin = generate_identity(s, t.dir, "admin1", "admin")
        ra_admin(s, "add", t.admin.dn)
        yield t
    finally:
        finish_stack(s)


def refused(t, who, method, path, body, status, raw=None, headers=None):
    """Refused with status and an error JSON; nothing changes, here or at the CA."""
    before = snapshot(t.stack)
    r = call(t.stack, who, method, path, raw if raw is not None else body, headers=headers)
    err = error_json(r, status)
    assert snapshot(t.stack) == before, (method, path, r.status, r.body)
    return err


def refused_certify(t, csr, token, status, **extra):
    return refused(t, None, "POST", "/api/v1/public/certify",
                   dict({"csr": csr, "token": token}, **extra), status)


def ca_cert(t):
    with open(t.stack.ca_cert, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def cert_names(c):
    try:
        san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(san.get_values_for_type(x509.DNSName)) | \
        {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def eku(c):
    return list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def lifetime_days(c):
    return (c.not_valid_after - c.not_valid_before) / datetime.timedelta(days=1)


def record(t, serial):
    """The RA's row for serial: (status, reason, profile, source)."""
    rows = db_query(t.stack, "SELECT serial, status, revocation_reason, profile, source "
                    "FROM certificates")
    mine = [r[1:] for r in rows if same_serial(r[0], serial)]
    assert len(mine) == 1, (serial, mine)
    return mine[0]


# -- enrolment ---------------------------------------------------------------------

def test_certify_issues_what_the_admin_registered(enr):
    s = enr.stack
    cn = "web1.example.test"
    sans = ["web1.example.test", "www.web1.example.test", "192.0.2.20"]
    now = int(time.time())
    node = register_node(s, enr.admin, cn, "server", sans)
    assert now + TOKEN_TTL - 5 <= node["token_expires"] <= now + TOKEN_TTL + 5
    key = new_key()
    r = certify(s, make_csr(key, cn, sans), node["token"])
    data = success_json(r, 201)
    crt = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert crt.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    assert cert_names(crt) == set(sans)
    assert crt.public_key().public_numbers() == key.public_key().public_numbers()
    ca = ca_cert(enr)
    assert crt.issuer == ca.subject
    ca.public_key().verify(crt.signature, crt.tbs_certificate_bytes,
                           ec.ECDSA(crt.signature_hash_algorithm))
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku(crt)
    assert 59 <= lifetime_days(crt) <= 61           # the server profile
    assert data["profile"] == "server" and data["status"] == "valid"
    assert same_serial(data["serial"], format(crt.serial_number, "X"))
    with open(s.ca_cert) as f:
        assert data["chain"].startswith(data["certificate"].rstrip("\n"))
        assert data["chain"].rstrip("\n").endswith(f.read().rstrip("\n"))
    assert record(enr, data["serial"]) == ("valid", None, "server", "enrol")
    nodes = success_json(call(s, enr.admin, "GET", "/api/v1/nodes"))
    assert [n["enrolled"] for n in nodes if n["cn"] == cn] == [True]
    listed = success_json(call(s, None, "GET", f"/api/v1/public/certs/{cn}"))
    assert listed["total"] == 1
    assert same_serial(listed["certificates"][0]["serial"], data["serial"])


def test_token_is_single_use(enr):
    s = enr.stack
    node = register_node(s, enr.admin, "once.example.test", "server")
    success_json(certify(s, make_csr(new_key(), "once.example.test", node["sans"]),
                         node["token"]), 201)
    refused_certify(enr, make_csr(new_key(), "once.example.test", node["sans"]),
                    node["token"], 403)
    assert len(db_query(s, "SELECT 1 FROM certificates WHERE cn = ?",
                        ("once.example.test",))) == 1


def test_expired_token_refused(enr):
    s = enr.stack
    node = register_node(s, enr.admin, "late.example.test", "server")
    assert db_execute(s, "UPDATE nodes SET token_expires = 1 WHERE cn = ?",
                      ("late.example.test",)) == 1
    refused_certify(enr, make_csr(new_key(), "late.example.test", node["sans"]),
                    node["token"], 403)
    assert not db_query(s, "SELECT 1 FROM certificates WHERE cn = ?", ("late.example.test",))


def test_token_of_one_node_cannot_certify_another_nodes_names(enr):
    s = enr.stack
    a = register_node(s, enr.admin, "nodea.example.test", "server")
    b = register_node(s, enr.admin, "nodeb.example.test", "server")
    k = new_key()
    # B's names with A's token.
    refused_certify(enr, make_csr(k, "nodeb.example.test", ["nodeb.example.test"]),
                    a["token"], 403)
    # A's CN, with B's name among the SANs, or instead of A's, or without any.
    for sans in (["nodeb.example.test"], ["nodea.example.test", "nodeb.example.test"],
                 ["nodea.example.test", "extra.example.test"], []):
        err = refused_certify(enr, make_csr(k, "nodea.example.test", sans), a["token"], 400)
        assert err["message"]
    # An unregistered name, and a token that is no token.
    refused_certify(enr, make_csr(k, "nobody.example.test", ["nobody.example.test"]),
                    a["token"], 403)
    refused_certify(enr, make_csr(k, "nodeb.example.test", ["nodeb.example.test"]),
                    "not-a-token", 403)
    assert not db_query(s, "SELECT 1 FROM certificates WHERE cn IN (?, ?)",
                        ("nodea.example.test", "nodeb.example.test"))
    # Those attempts did not use up B's token.
    data = success_json(certify(s, make_csr(new_key(), "nodeb.example.test",
                                            ["nodeb.example.test"]), b["token"]), 201)
    assert record(enr, data["serial"])[2] == "server"


def test_certify_answers_alike_for_an_unknown_node_and_a_wrong_token(enr):
    s = enr.stack
    node = register_node(s, enr.admin, "quiet.example.test", "server",
                         ["quiet.example.test", "hidden.example.test"])
    k, wrong = new_key(), "x" * len(node["token"])
    # CSRs whose names are not the node's: the names must not be compared
    # (nor told) before the token is.
    answers = {}
    for cn in ("quiet.example.test", "nosuch.example.test"):
        for sans in ([cn], [], [cn, "other.example.test"]):
            r = certify(s, make_csr(k, cn, sans), wrong)
            answers.setdefault(r.status, set()).add(r.body)
    assert list(answers) == [403], answers
    assert len(answers[403]) == 1, answers
    body = next(iter(answers[403])).decode()
    assert "quiet" not in body and "hidden" not in body, body
    # The wrong tokens did not use up the right one.
    data = success_json(certify(s, make_csr(new_key(), "quiet.example.test", node["sans"]),
                                node["token"]), 201)
    assert data["cn"] == "quiet.example.test"


def test_token_cannot_get_another_profile(enr):
    s = enr.stack
    cn = "laptop1.example.test"
    node = register_node(s, enr.admin, cn, "user")
    key = new_key()
    csr = make_csr(key, cn, node["sans"], extra_extensions=[
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                ExtendedKeyUsageOID.CLIENT_AUTH]), False)])
    # The body asks for the admin profile; the node's profile (user) is used.
    data = success_json(certify(s, csr, node["token"], profile="admin"), 201)
    crt = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert data["profile"] == "user"
    assert record(enr, data["serial"])[2] == "user"
    assert eku(crt) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert crt.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert 29 <= lifetime_days(crt) <= 31            # user: 30 days; admin would be 365
    me = Identity(enr.dir, cn, data["certificate"], key_pem(key))
    assert call(s, me, "GET", "/api/v1/nodes").status == 403


def test_stored_token_is_not_the_token(enr):
    s = enr.stack
    node = register_node(s, enr.admin, "hashed.example.test", "server")
    token = node["token"]
    rows = db_query(s, "SELECT token_hash FROM nodes WHERE cn = ?", ("hashed.example.test",))
    assert rows and rows[0][0] != token
    assert rows[0][0] == sha256_hex(token)
    for suffix in ("", "-wal"):
        path = db_path(s) + suffix
        if os.path.exists(path):
            with open(path, "rb") as f:
                assert token.encode() not in f.read(), path


def test_certify_bad_input(enr):
    s = enr.stack
    node = register_node(s, enr.admin, "bad.example.test", "server")
    csr = make_csr(new_key(), "bad.example.test", node["sans"])
    refused(enr, None, "POST", "/api/v1/public/certify", None, 415,
            raw='{"csr": "x", "token": "y"}', headers={"Content-Type": "text/plain"})
    refused(enr, None, "POST", "/api/v1/public/certify", {"token": node["token"]}, 400)
    refused(enr, None, "POST", "/api/v1/public/certify", {"csr": csr}, 400)
    refused(enr, None, "POST", "/api/v1/public/certify",
            {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                    "-----END CERTIFICATE REQUEST-----\n", "token": node["token"]}, 400)
    refused(enr, None, "POST", "/api/v1/public/certify", {"csr": 5, "token": node["token"]},
            400)
    # Still usable after all that.
    success_json(certify(s, csr, node["token"]), 201)


# -- public certificate routes --------------------------------------------------------

def test_public_certs(enr):
    s = enr.stack
    enrol(s, enr.admin, enr.dir, "pub1.example.test")
    enrol(s, enr.admin, enr.dir, "pub2.example.test")
    total = db_query(s, "SELECT count(*) FROM certificates")[0][0]
    seen = []
    for page in (1, 2, 3, 4, 5, 6, 7, 8):
        data = success_json(call(s, None, "GET",
                                 f"/api/v1/public/certs?page={page}&per_page=2"))
        assert data["page"] == page and data["per_page"] == 2 and data["total"] == total
        seen += [c["serial"] for c in data["certificates"]]
        if not data["certificates"]:
            break
    assert len(seen) == total == len(set(seen))
    one = success_json(call(s, None, "GET", "/api/v1/public/certs/pub1.example.test"))
    assert [c["cn"] for c in one["certificates"]] == ["pub1.example.test"]
    error_json(call(s, None, "GET", "/api/v1/public/certs/nobody.example.test"), 404)


def test_public_ocsp(enr):
    s = enr.stack
    c = enrol_even(s, enr.admin, enr.dir, "ocsp")

    def ocsp(body):
        return success_json(call(s, None, "POST", "/api/v1/public/ocsp", body))

    for body in ({"cert": c.cert_pem}, {"serial": c.serial}, {"serial": c.serial.lower()}):
        data = ocsp(body)
        assert data["status"] == "valid" and data["ca_status"] == "good", (body, data)
        assert same_serial(data["serial"], c.serial)

    success_json(call(s, enr.admin, "POST", f"/api/v1/certs/{c.serial}/revoke",
                      {"reason": "keyCompromise"}))
    for body in ({"cert": c.cert_pem}, {"serial": c.serial}):
        data = ocsp(body)
        assert data["status"] == "revoked" and data["ca_status"] == "revoked", (body, data)

    e = enrol_even(s, enr.admin, enr.dir, "ocspexp")
    assert db_execute(s, "UPDATE certificates SET not_after = 1 WHERE cn = ?", (e.cn,)) == 1
    assert ocsp({"serial": e.serial})["status"] == "expired"

    error_json(call(s, None, "POST", "/api/v1/public/ocsp", {"serial": "ABCDEF0123456789"}),
               404)
    error_json(call(s, None, "POST", "/api/v1/public/ocsp", {"serial": "xyz"}), 400)
    error_json(call(s, None, "POST", "/api/v1/public/ocsp", {}), 400)
    error_json(call(s, None, "POST", "/api/v1/public/ocsp", {"cert": "not a PEM"}), 400)
    # A certificate the RA did not issue, even with a serial it did.
    other = generate_identity(s, enr.dir, "notmine.example.test", "server")
    error_json(call(s, None, "POST", "/api/v1/public/ocsp", {"cert": other.cert_pem}), 404)


# -- the client API ---------------------------------------------------------------

def user(t, name):
    """A node enrolled with the user profile, as its client identity."""
    return enrol(t.stack, t.admin, t.dir, f"{name}.example.test", "user")


def test_client_certificate(enr):
    alice = user(enr, "alice")
    data = success_json(call(enr.stack, alice, "GET", "/api/client/certificate"))
    assert same_serial(data["serial"], alice.serial)
    assert data["cn"] == alice.cn and data["status"] == "valid"
    assert data["profile"] == "user" and data["source"] == "enrol"
    assert x509.load_pem_x509_certificate(data["certificate"].encode()) == alice.x509


def test_client_certificate_the_ca_made_alone(enr):
    carol = generate_identity(enr.stack, enr.dir, "carol.example.test", "user")
    data = success_json(call(enr.stack, carol, "GET", "/api/client/certificate"))
    assert same_serial(data["serial"], carol.serial) and data["cn"] == carol.cn
    assert data["status"] == "valid"
    assert x509.load_pem_x509_certificate(data["certificate"].encode()) == carol.x509


def test_client_status(enr):
    me = user(enr, "stat")
    data = success_json(call(enr.stack, me, "GET", "/api/client/status"))
    assert data["status"] == "valid"
    assert same_serial(data["serial"], me.serial)
    assert 28 <= data["days_left"] <= 30
    not_after = me.x509.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert data["not_after"] == int(not_after)


def test_client_renew_with_a_csr(enr):
    s = enr.stack
    bob = user(enr, "bob")
    key = new_key()
    r = call(s, bob, "POST", "/api/client/renew",
             {"csr": make_csr(key, bob.cn, [bob.cn])})
    data = success_json(r, 201)
    new = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert new.public_key().public_numbers() == key.public_key().public_numbers()
    assert new.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == bob.cn
    assert not same_serial(data["serial"], bob.serial)
    assert eku(new) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert record(enr, data["serial"]) == ("valid", None, "user", "client")
    # The new certificate is a client identity of its own.
    bob2 = Identity(enr.dir, "bob2", data["certificate"], key_pem(key))
    again = success_json(call(s, bob2, "GET", "/api/client/certificate"))
    assert same_serial(again["serial"], data["serial"])


def test_client_renew_refuses_a_csr_for_another_name(enr):
    dan, eve = user(enr, "dan"), user(enr, "eve")
    k = new_key()
    refused(enr, eve, "POST", "/api/client/renew", {"csr": make_csr(k, dan.cn, [dan.cn])}, 403)
    refused(enr, eve, "POST", "/api/client/renew", {"csr": "not a CSR"}, 400)
    refused(enr, eve, "POST", "/api/client/renew", None, 415, raw='{"csr": "x"}',
            headers={"Content-Type": "text/plain"})


def test_client_renew_without_a_csr(enr):
    s = enr.stack
    fay = user(enr, "fay")
    data = success_json(call(s, fay, "POST", "/api/client/renew"), 201)
    new = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert not same_serial(data["serial"], fay.serial)
    assert new.subject == fay.x509.subject
    assert new.public_key().public_numbers() == fay.x509.public_key().public_numbers()
    assert same_serial(str(ca_data(s, "view", {"dn": fay.cn})["serial"]), data["serial"])


def test_client_revoke_own(enr):
    s = enr.stack
    gus = user(enr, "gus")
    refused(enr, gus, "POST", "/api/client/revoke", {"reason": "whatever"}, 400)
    data = success_json(call(s, gus, "POST", "/api/client/revoke", {"reason": "keyCompromise"}))
    assert same_serial(data, gus.serial)
    assert record(enr, gus.serial)[:2] == ("revoked", "keyCompromise")
    assert ca_data(s, "view", {"dn": gus.cn})["revoked"] is True
    with open(os.path.join(s.data_dir, "crl.pem"), "rb") as f:
        crl = x509.load_pem_x509_crl(f.read())
    assert crl.get_revoked_certificate_by_serial_number(gus.x509.serial_number) is not None


def other_names(victim):
    return {"serial": victim.serial, "cn": victim.cn, "dn": victim.dn,
            "certificate": victim.cert_pem, "cert": victim.cert_pem}


def assert_untouched(t, victim, ca_serial):
    assert record(t, victim.serial)[:2] == ("valid", None)
    view = ca_data(t.stack, "view", {"dn": victim.cn})
    assert view["revoked"] is False
    assert same_serial(str(view["serial"]), ca_serial)
    assert len(db_query(t.stack, "SELECT 1 FROM certificates WHERE cn = ?", (victim.cn,))) == 1
    data = success_json(call(t.stack, victim, "GET", "/api/client/status"))
    assert data["status"] == "valid" and same_serial(data["serial"], victim.serial)


def test_client_cannot_revoke_another_certificate(enr):
    s = enr.stack
    hal, ivy = user(enr, "hal"), user(enr, "ivy")
    r = call(s, hal, "POST", "/api/client/revoke",
             dict(other_names(ivy), reason="keyCompromise"))
    if r.status == 200:
        # The body's names were ignored: the caller's own certificate it was.
        assert same_serial(success_json(r), hal.serial)
        assert record(enr, hal.serial)[0] == "revoked"
    else:
        error_json(r, r.status)
        assert 400 <= r.status < 500
    assert_untouched(enr, ivy, ivy.serial)


def test_client_cannot_renew_another_certificate(enr):
    s = enr.stack
    jan, kim = user(enr, "jan"), user(enr, "kim")
    r = call(s, jan, "POST", "/api/client/renew", other_names(kim))
    if r.status == 201:
        data = success_json(r, 201)
        new = x509.load_pem_x509_certificate(data["certificate"].encode())
        assert new.subject == jan.x509.subject
        assert new.public_key().public_numbers() == jan.x509.public_key().public_numbers()
    else:
        error_json(r, r.status)
        assert 400 <= r.status < 500
    assert_untouched(enr, kim, kim.serial)


def test_certify_needs_every_registered_san(enr):
    s = enr.stack
    cn = "pair.example.test"
    node = register_node(s, enr.admin, cn, "server", [cn, "alt.pair.example.test"])
    k = new_key()
    # As many SANs as registered, but not the same set.
    refused_certify(enr, make_csr(k, cn, [cn, cn]), node["token"], 400)
    refused_certify(enr, make_csr(k, cn, [cn]), node["token"], 400)
    data = success_json(certify(s, make_csr(k, cn, ["alt.pair.example.test", cn]),
                                node["token"]), 201)
    crt = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert cert_names(crt) == {cn, "alt.pair.example.test"}


def test_client_renew_keeps_the_names(enr):
    """A renewal is for the same subject: a CSR with the caller's CN cannot
    add names (another node's, or any other) to the new certificate."""
    s = enr.stack
    victim = enrol(s, enr.admin, enr.dir, "victim.example.test", "server")
    me = enrol(s, enr.admin, enr.dir, "renewer.example.test", "laptop")
    before_victim = db_query(s, "SELECT count(*) FROM certificates WHERE cn = ?",
                             (victim.cn,))
    k = new_key()
    r = call(s, me, "POST", "/api/client/renew",
             {"csr": make_csr(k, me.cn, [me.cn, victim.cn, "www.bank.example"])})
    if r.status == 201:
        new = x509.load_pem_x509_certificate(success_json(r, 201)["certificate"].encode())
        assert cert_names(new) == cert_names(me.x509), cert_names(new)
    else:
        error_json(r, r.status)
        assert 400 <= r.status < 500
    assert db_query(s, "SELECT count(*) FROM certificates WHERE cn = ?",
                    (victim.cn,)) == before_victim
