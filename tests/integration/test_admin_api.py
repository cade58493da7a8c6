"""The admin API (/api/v1/...), as an admin: every route's success, and bad
input answered with a clear error JSON and no change at all, neither in the
RA's store (a snapshot of the nodes, admins, certificates and eab_keys
tables of acme.db before and after) nor at the CA (no changing task sent).

One stack for the module; admin1's DN is added with `upki-ra admin add`.
"""

import os
import re
import time
import urllib.parse

import pytest
from cryptography import x509

from conftest import finish_stack, make_stack
from mtls_helpers import (ca_data, call, db_query, enrol, enrol_even, error_json,
                          generate_identity, ra_admin, register_node, same_serial, snapshot,
                          success_json)


class Adm:
    pass


@pytest.fixture(scope="module")
def adm(tmp_path_factory):
    s = make_stack(tmp_path_factory, "admin-api")
    t = Adm()
    t.stack = s
    t.dir = str(tmp_path_factory.mktemp("admin-ids"))
    try:
        s.start()
        t.admin = generate_identity(s, t.dir, "admin1", "admin")
        ra_admin(s, "add", t.admin.dn)
        # Certificates on the RA's record, one per test that changes one.
        t.certs = {name: enrol_even(s, t.admin, t.dir, name)
                   for name in ("view", "revoke", "renew", "page")}
        yield t
    finally:
        finish_stack(s)


def refused(t, method, path, body, status, headers=None, raw=None):
    """The request is refused with status and a clear error, and changes nothing."""
    s = t.stack
    before = snapshot(s)
    if raw is not None:
        r = call(s, t.admin, method, path, raw, headers=headers)
    else:
        r = call(s, t.admin, method, path, body, headers=headers)
    err = error_json(r, status)
    after = snapshot(s)
    assert after == before, (method, path, body, r.status, r.body)
    return err


def store_row(t, table, where, args):
    return db_query(t.stack, f"SELECT * FROM {table} WHERE {where}", args)


# -- nodes -----------------------------------------------------------------------

def test_node_create_and_list(adm):
    s = adm.stack
    now = int(time.time())
    data = success_json(call(s, adm.admin, "POST", "/api/v1/nodes",
                             {"cn": "Node1.Example.Test", "profile": "server",
                              "sans": ["node1.example.test", "alt.example.test",
                                       "192.0.2.10"]}), 201)
    assert data["cn"] == "node1.example.test"
    assert data["profile"] == "server"
    assert data["sans"] == ["node1.example.test", "alt.example.test", "192.0.2.10"]
    assert isinstance(data["token"], str) and len(data["token"]) >= 32
    assert now + 86400 - 5 <= data["token_expires"] <= now + 86400 + 5
    nodes = success_json(call(s, adm.admin, "GET", "/api/v1/nodes"))
    mine = [n for n in nodes if n["cn"] == "node1.example.test"]
    assert len(mine) == 1
    n = mine[0]
    assert n["profile"] == "server" and n["enrolled"] is False
    assert n["sans"] == data["sans"]
    assert n["created_by"] == adm.admin.dn
    # The list never gives the token (nor what is stored for it) back.
    listing = call(s, adm.admin, "GET", "/api/v1/nodes").body.decode()
    assert data["token"] not in listing
    assert "token_hash" not in listing
    assert store_row(adm, "nodes", "cn = ?", ("node1.example.test",))


def test_node_sans_default_to_the_cn(adm):
    data = register_node(adm.stack, adm.admin, "node2.example.test", "webapp")
    assert data["sans"] == ["node2.example.test"]


@pytest.mark.parametrize("body", [
    {"profile": "server"},
    {"cn": "x1.example.test"},
    {},
    {"cn": None, "profile": "server"},
    {"cn": 12, "profile": "server"},
    {"cn": "x1.example.test", "profile": None},
    {"cn": "x1.example.test", "profile": "nope"},
    {"cn": "x1.example.test", "profile": "ca"},
    {"cn": "x1.example.test", "profile": "ra"},
    {"cn": "x1.example.test", "profile": "../server"},
    {"cn": "x1.example.test", "profile": ""},
    {"cn": "", "profile": "server"},
    {"cn": "bad name.example.test", "profile": "server"},
    {"cn": "*.wild.example.test", "profile": "server"},
    {"cn": "nodot", "profile": "server"},
    {"cn": "-edge.example.test", "profile": "server"},
    {"cn": "x1.example.test", "profile": "server", "sans": "x1.example.test"},
    {"cn": "x1.example.test", "profile": "server", "sans": [1]},
    {"cn": "x1.example.test", "profile": "server", "sans": ["x1.example.test", "bad name"]},
    {"cn": "x1.example.test", "profile": "server", "sans": ["x1.example.test", "a/b.test"]},
], ids=["no-cn", "no-profile", "empty", "cn-null", "cn-number", "profile-null",
        "unknown-profile", "profile-ca", "profile-ra", "profile-path", "profile-empty",
        "cn-empty", "cn-space", "cn-wildcard", "cn-unqualified", "cn-hyphen",
        "sans-string", "sans-number", "sans-bad-name", "sans-slash"])
def test_node_create_bad_input(adm, body):
    refused(adm, "POST", "/api/v1/nodes", body, 400)
    assert not store_row(adm, "nodes", "cn = ?", ("x1.example.test",))


def test_node_create_needs_a_json_object(adm):
    good = '{"cn": "x2.example.test", "profile": "server"}'
    refused(adm, "POST", "/api/v1/nodes", None, 415, raw=good,
            headers={"Content-Type": "text/plain"})
    refused(adm, "POST", "/api/v1/nodes", None, 415, raw=good, headers={})
    refused(adm, "POST", "/api/v1/nodes", None, 400, raw='{"cn": "x2.example.test"',
            headers={"Content-Type": "application/json"})
    refused(adm, "POST", "/api/v1/nodes", None, 400, raw='["x2.example.test"]',
            headers={"Content-Type": "application/json"})


def test_node_create_existing_cn_409(adm):
    register_node(adm.stack, adm.admin, "dup.example.test", "server")
    refused(adm, "POST", "/api/v1/nodes", {"cn": "dup.example.test", "profile": "user"}, 409)
    refused(adm, "POST", "/api/v1/nodes", {"cn": "DUP.example.test", "profile": "server"}, 409)


def test_node_delete(adm):
    s = adm.stack
    register_node(s, adm.admin, "gone.example.test", "server")
    assert success_json(call(s, adm.admin, "DELETE", "/api/v1/nodes/gone.example.test")) \
        == "gone.example.test"
    assert not store_row(adm, "nodes", "cn = ?", ("gone.example.test",))
    nodes = success_json(call(s, adm.admin, "GET", "/api/v1/nodes"))
    assert "gone.example.test" not in [n["cn"] for n in nodes]
    refused(adm, "DELETE", "/api/v1/nodes/gone.example.test", None, 404)
    refused(adm, "DELETE", "/api/v1/nodes/never.example.test", None, 404)


def test_node_delete_revokes_its_certificate(adm):
    s = adm.stack
    node = enrol(s, adm.admin, adm.dir, "retired.example.test")
    assert success_json(call(s, adm.admin, "DELETE", "/api/v1/nodes/retired.example.test")) \
        == "retired.example.test"
    rows = db_query(s, "SELECT status, revocation_reason FROM certificates WHERE cn = ?",
                    ("retired.example.test",))
    assert rows == [("revoked", "cessationOfOperation")]
    view = ca_data(s, "view", {"dn": "retired.example.test"})
    assert view["revoked"] is True and same_serial(str(view["serial"]), node.serial)
    with open(os.path.join(s.data_dir, "crl.pem"), "rb") as f:
        crl = x509.load_pem_x509_crl(f.read())
    assert crl.get_revoked_certificate_by_serial_number(node.x509.serial_number) is not None


# -- admins -------------------------------------------------------------------------

def admins(adm):
    return success_json(call(adm.stack, adm.admin, "GET", "/api/v1/admins"))


def test_admins_list_add_remove(adm):
    s = adm.stack
    listed = admins(adm)
    assert {"dn": adm.admin.dn, "source": "ra"}.items() <= \
        [a for a in listed if a["dn"] == adm.admin.dn][0].items()

    # RFC 2253 (most specific first) and the slash form both canonicalise.
    assert success_json(call(s, adm.admin, "POST", "/api/v1/admins",
                             {"dn": "CN=ops1,O=uPKI"}), 201) == "/O=uPKI/CN=ops1"
    assert success_json(call(s, adm.admin, "POST", "/api/v1/admins",
                             {"dn": "/O=uPKI/CN=ops2"}), 201) == "/O=uPKI/CN=ops2"
    dns = {a["dn"]: a for a in admins(adm)}
    assert dns["/O=uPKI/CN=ops1"]["source"] == "ra"
    assert dns["/O=uPKI/CN=ops2"]["source"] == "ra"
    assert "/O=uPKI/CN=ops1" in ra_admin(s, "list").split()
    assert "/O=uPKI/CN=ops1" in ca_data(s, "list_admins")

    r = call(s, adm.admin, "DELETE", "/api/v1/admins/" + urllib.parse.quote("CN=ops1,O=uPKI"))
    assert success_json(r) == "/O=uPKI/CN=ops1"
    assert "/O=uPKI/CN=ops1" not in [a["dn"] for a in admins(adm)]
    assert "/O=uPKI/CN=ops1" not in ra_admin(s, "list").split()
    assert "/O=uPKI/CN=ops1" not in ca_data(s, "list_admins")
    assert "/O=uPKI/CN=ops2" in [a["dn"] for a in admins(adm)]


@pytest.mark.parametrize("body", [
    {}, {"dn": None}, {"dn": 7}, {"dn": ""}, {"dn": "not a dn"}, {"dn": "CN="},
    {"dn": "=uPKI"}, {"dn": "CN=a/b,O=uPKI"}, {"dn": "/CN=x//O=y"}, {"dn": "/"},
    {"dn": "CN=" + "x" * 2000},
], ids=["missing", "null", "number", "empty", "no-equals", "empty-value", "empty-key",
        "slash-in-value", "empty-rdn", "lone-slash", "over-long"])
def test_admin_add_bad_dn(adm, body):
    refused(adm, "POST", "/api/v1/admins", body, 400)


def test_admin_add_needs_json(adm):
    refused(adm, "POST", "/api/v1/admins", None, 415, raw='{"dn": "CN=ops3,O=uPKI"}',
            headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_admin_cannot_remove_itself(adm):
    # The path takes RFC 2253; another spelling of the same DN is still itself.
    for spelled in (adm.admin.rfc2253, "o=uPKI, cn=admin1"):
        refused(adm, "DELETE", "/api/v1/admins/" + urllib.parse.quote(spelled, safe=""),
                None, 409)
    assert call(adm.stack, adm.admin, "GET", "/api/v1/admins").status == 200


@pytest.mark.parametrize("dn", ["garbage", "CN%3D", "%3DuPKI", "CN%3Da%5C"],
                         ids=["no-equals", "empty-value", "empty-key", "dangling-escape"])
def test_admin_remove_bad_dn(adm, dn):
    refused(adm, "DELETE", f"/api/v1/admins/{dn}", None, 400)


# -- certificates ------------------------------------------------------------------

def test_certs_paged(adm):
    s = adm.stack
    stored = [r[0] for r in db_query(s, "SELECT serial FROM certificates")]
    assert len(stored) >= 5
    seen = []
    page = 1
    while True:
        data = success_json(call(s, adm.admin, "GET",
                                 f"/api/v1/certs?page={page}&per_page=2"))
        assert data["page"] == page and data["per_page"] == 2
        assert data["total"] == len(stored)
        assert len(data["certificates"]) <= 2
        if not data["certificates"]:
            break
        for c in data["certificates"]:
            assert {"serial", "cn", "status", "not_after", "profile"} <= c.keys()
        seen += [c["serial"] for c in data["certificates"]]
        page += 1
    assert page == (len(stored) + 1) // 2 + 1
    assert sorted(seen) == sorted(stored)
    one = success_json(call(s, adm.admin, "GET", "/api/v1/certs?page=1&per_page=1"))
    assert len(one["certificates"]) == 1 and one["total"] == len(stored)


def test_cert_view(adm):
    s, c = adm.stack, adm.certs["view"]
    for spelled in (c.serial, c.serial.lower(), "00" + c.serial):
        data = success_json(call(s, adm.admin, "GET", f"/api/v1/certs/{spelled}"))
        assert same_serial(data["serial"], c.serial)
        assert data["cn"] == c.cn and data["status"] == "valid"
        assert data["profile"] == "server" and data["source"] == "enrol"
        assert x509.load_pem_x509_certificate(data["certificate"].encode()) == c.x509


@pytest.mark.parametrize("serial,status", [("ABCDEF0123456789", 404), ("XYZ", 400),
                                          ("12G4", 400), ("-1", 400), ("%20", 400)])
def test_cert_view_unknown_or_bad_serial(adm, serial, status):
    refused(adm, "GET", f"/api/v1/certs/{serial}", None, status)


def cert_row(adm, c):
    rows = db_query(adm.stack, "SELECT serial, status, revocation_reason FROM certificates "
                    "WHERE cn = ?", (c.cn,))
    return [r[1:] for r in rows if same_serial(r[0], c.serial)][0]


def test_cert_revoke_and_unrevoke(adm):
    s, c = adm.stack, adm.certs["revoke"]
    path = f"/api/v1/certs/{c.serial}"
    refused(adm, "POST", path + "/revoke", {"reason": "becauseISaySo"}, 400)
    refused(adm, "POST", path + "/revoke", {"reason": "keycompromise"}, 400)
    refused(adm, "POST", path + "/revoke", None, 415, raw='{"reason": "keyCompromise"}',
            headers={"Content-Type": "text/plain"})
    refused(adm, "POST", "/api/v1/certs/ABCDEF0123456789/revoke", {"reason": "keyCompromise"},
            404)
    refused(adm, "POST", "/api/v1/certs/NOTHEX/revoke", {"reason": "keyCompromise"}, 400)
    refused(adm, "POST", path + "/unrevoke", {}, 409)
    assert cert_row(adm, c) == ("valid", None)

    data = success_json(call(s, adm.admin, "POST", path + "/revoke", {"reason": "keyCompromise"}))
    assert same_serial(data, c.serial)
    assert cert_row(adm, c) == ("revoked", "keyCompromise")
    assert ca_data(s, "view", {"dn": c.cn})["revoked"] is True
    view = success_json(call(s, adm.admin, "GET", path))
    assert view["status"] == "revoked" and view["revocation_reason"] == "keyCompromise"
    refused(adm, "POST", path + "/revoke", {"reason": "keyCompromise"}, 409)

    data = success_json(call(s, adm.admin, "POST", path + "/unrevoke", {}))
    assert same_serial(data, c.serial)
    assert cert_row(adm, c) == ("valid", None)
    assert ca_data(s, "view", {"dn": c.cn})["revoked"] is False
    refused(adm, "POST", path + "/unrevoke", {}, 409)
    refused(adm, "POST", "/api/v1/certs/ABCDEF0123456789/unrevoke", {}, 404)


@pytest.mark.parametrize("tag,reason", [("number", 1), ("digits", "1"),
                                        ("list", ["keyCompromise"]),
                                        ("object", {"name": "keyCompromise"})],
                         ids=["number", "digit-string", "list", "object"])
def test_cert_revoke_reason_not_a_name(adm, tag, reason):
    # The reasons are names (docs/CA-PROTOCOL.md); anything else is refused, not
    # replaced by a reason the admin did not give.
    c = enrol_even(adm.stack, adm.admin, adm.dir, f"reason-{tag}-")
    refused(adm, "POST", f"/api/v1/certs/{c.serial}/revoke", {"reason": reason}, 400)
    assert cert_row(adm, c) == ("valid", None)


def test_cert_renew(adm):
    s, c = adm.stack, adm.certs["renew"]
    refused(adm, "POST", "/api/v1/certs/ABCDEF0123456789/renew", {}, 404)
    refused(adm, "POST", "/api/v1/certs/NOTHEX/renew", {}, 400)
    data = success_json(call(s, adm.admin, "POST", f"/api/v1/certs/{c.serial}/renew", {}), 201)
    new = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert not same_serial(data["serial"], c.serial)
    assert same_serial(data["serial"], format(new.serial_number, "X"))
    assert new.subject == c.x509.subject
    assert new.public_key().public_numbers() == c.x509.public_key().public_numbers()
    assert data["source"] == "admin" and data["profile"] == "server"
    assert data["status"] == "valid"
    rows = db_query(s, "SELECT serial, source, status FROM certificates WHERE cn = ?", (c.cn,))
    assert len(rows) == 2
    assert [r[1:] for r in rows if same_serial(r[0], data["serial"])] == [("admin", "valid")]
    # The CA files one live certificate per CN: the renewed one is superseded.
    assert [r[1:] for r in rows if same_serial(r[0], c.serial)] == [("enrol", "revoked")]
    assert cert_row(adm, c) == ("revoked", "superseded")
    # The CA files the renewed one under the CN now.
    assert same_serial(str(ca_data(s, "view", {"dn": c.cn})["serial"]), data["serial"])


def test_cert_found_whatever_the_leading_zeros_of_its_serial(adm):
    """The serial the RA reports for a certificate names it in every cert
    route.  About one serial in eight of the dev CA's begins with a zero
    nibble (an odd number of hex digits): enrol until one does."""
    s = adm.stack
    for i in range(80):
        c = enrol(s, adm.admin, adm.dir, f"lz{i}.example.test")
        if len(c.serial) % 2 == 1:
            break
    else:
        pytest.fail("no serial with a leading zero nibble in 80 certificates")
    listed = success_json(call(s, adm.admin, "GET", "/api/v1/certs?per_page=500"))
    reported = [x["serial"] for x in listed["certificates"] if x["cn"] == c.cn]
    assert len(reported) == 1
    for spelled in dict.fromkeys([reported[0], c.serial, "0" + c.serial]):
        r = call(s, adm.admin, "GET", f"/api/v1/certs/{spelled}")
        assert r.status == 200, (spelled, r.status, r.body)
        assert same_serial(success_json(r)["serial"], c.serial)
    r = call(s, None, "POST", "/api/v1/public/ocsp", {"serial": reported[0]})
    assert r.status == 200, (reported[0], r.status, r.body)
    r = call(s, adm.admin, "POST", f"/api/v1/certs/{reported[0]}/revoke",
             {"reason": "superseded"})
    assert r.status == 200, (reported[0], r.status, r.body)


# -- CRL, settings, profiles ----------------------------------------------------------

def test_crl_generate(adm, tmp_path):
    s = adm.stack
    victim = generate_identity(s, str(tmp_path), "crlvictim.example.test", "server")
    assert ca_data(s, "revoke", {"dn": victim.cn, "reason": "keyCompromise"}) is True
    path = os.path.join(s.data_dir, "crl.pem")
    data = success_json(call(s, adm.admin, "POST", "/api/v1/crl/generate", {}))
    assert data
    with open(path, "rb") as f:
        crl = x509.load_pem_x509_crl(f.read())
    with open(s.ca_cert, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    assert crl.is_signature_valid(ca.public_key())
    assert crl.get_revoked_certificate_by_serial_number(victim.x509.serial_number) is not None
    # The public CRL is that one.
    r = call(s, None, "GET", "/api/v1/public/crl")
    assert r.status == 200
    assert x509.load_pem_x509_crl(r.body).get_revoked_certificate_by_serial_number(
        victim.x509.serial_number) is not None


def test_config_has_no_secret(adm):
    s = adm.stack
    r = call(s, adm.admin, "GET", "/api/v1/config")
    data = success_json(r)
    assert isinstance(data, dict) and data
    assert str(data.get("UPKI_CA_PORT")) == str(s.ca_port)
    text = r.body.decode()
    assert s.seed not in text and s.front_secret not in text
    assert not [k for k in data if re.search("seed|secret|password|key$", k, re.I)], data
    assert "PRIVATE KEY" not in text
    with open(os.path.join(s.data_dir, "ra.key")) as f:
        body_lines = [line for line in f.read().splitlines() if "-----" not in line]
    assert not [line for line in body_lines if line in text.replace("\\n", "\n")]


def test_options_describe_the_profiles(adm):
    data = success_json(call(adm.stack, adm.admin, "GET", "/api/v1/options"))
    for name in ("server", "webapp", "laptop", "user", "admin"):
        p = data[name]
        assert p["keyType"] and p["duration"] > 0 and "keyUsage" in p, (name, p)
    assert "serverAuth" in data["server"]["extendedKeyUsage"]
    assert "clientAuth" in data["user"]["extendedKeyUsage"]


def test_eab_keys(adm):
    s = adm.stack
    data = success_json(call(s, adm.admin, "POST", "/api/v1/eab", {}), 201)
    assert data["kid"] and len(data["hmac_key"]) >= 43
    r = call(s, adm.admin, "GET", "/api/v1/eab")
    listed = success_json(r)
    mine = [k for k in listed if k["kid"] == data["kid"]]
    assert len(mine) == 1 and mine[0]["used"] is False
    assert mine[0]["created_by"] == adm.admin.dn
    # The key is shown once, when it is made.
    assert data["hmac_key"] not in r.body.decode()
