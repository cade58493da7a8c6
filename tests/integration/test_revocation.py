"""Revocation that cannot be dodged (fcgi/issue.c, fcgi/revoke.c).

The uPKI CA files one live certificate per CN, and revoke, unrevoke and
delete name the CN.  So the RA keeps, for every CN, which certificate the
CA files under it and who owns it:
  - a CN held by a live certificate of another owner (ACME account or node)
    is refused before the CA is called, unless UPKI_RA_SHARE_CN allows it;
    then the older certificate is recorded, and shown, as no longer
    revocable;
  - a renewal by the same owner (ACME, `replaces`, client renew, admin
    renew) revokes the older certificate as superseded, so none is left
    valid and unrevocable;
  - a renewal the CA refuses, or one whose worker is killed between the
    two steps, leaves the older certificate valid again (or the new one
    issued): never neither.
Also: node deletion revokes the node's serial only, every reason the CA
knows (RFC 5280 codes 0 to 10 but 7), and revocation by an account that
holds valid authorizations for all the names.

Every stack here is real: dev CA over ZeroMQ, upki-ra, nginx; all traffic
stays on 127.0.0.1.
"""

import contextlib
import os
import signal
import sqlite3
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme_client import Client, b64u, load_chain
from acme_client import make_csr as make_acme_csr
from conftest import get, wait_until
from mtls_helpers import (Identity, ca_data, ca_task_count, call, certify, db_query,
                          enrol, error_json, generate_identity, key_pem, make_csr, new_key,
                          ra_admin, register_node, same_serial, success_json)
from acme_flow import acme_world, err, finalize, issue, ready_order


class Env:
    """A stack with an ACME client's world (DNS, http-01) and an admin."""

    def __init__(self, stack, dns, http01, admin, directory):
        self.stack, self.dns, self.http01 = stack, dns, http01
        self.admin, self.dir = admin, directory

    @property
    def acme(self):
        return (self.stack, self.dns, self.http01)

    def client(self):
        c = Client(self.stack.base_url, self.stack.ca_cert)
        assert c.new_account(["mailto:revocation@example.test"]).status == 201
        return c


@contextlib.contextmanager
def revocation_env(tmp_path_factory, name, env=None, **kw):
    full_env = {"UPKI_RA_ALLOWED_NAMES": "example.test"}
    full_env.update(env or {})
    with acme_world(tmp_path_factory, name, full_env, **kw) as (s, dns, http01):
        directory = str(tmp_path_factory.mktemp(name + "-ids"))
        admin = generate_identity(s, directory, "revocation-admin", "admin")
        ra_admin(s, "add", admin.dn)
        yield Env(s, dns, http01, admin, directory)


@pytest.fixture(scope="module")
def rv(tmp_path_factory):
    with revocation_env(tmp_path_factory, "revocation") as e:
        yield e


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with revocation_env(tmp_path_factory, "shared", env={"UPKI_RA_SHARE_CN": "true"}) as e:
        yield e


# -- what the RA, the CA and nginx say of a certificate ------------------------------------

def record(stack, serial):
    """The RA's row: (status, reason, shadowed)."""
    rows = db_query(stack, "SELECT serial, status, revocation_reason, shadowed_at "
                    "FROM certificates")
    mine = [(r[1], r[2], r[3] is not None) for r in rows if same_serial(r[0], serial)]
    assert len(mine) == 1, (serial, mine)
    return mine[0]


def crl_serials(stack):
    crl = x509.load_pem_x509_crl(get(stack, "/api/v1/public/crl").body)
    return {format(rc.serial_number, "X") for rc in crl}


def in_crl(stack, serial):
    return any(same_serial(s, serial) for s in crl_serials(stack))


def ca_view(stack, cn):
    return ca_data(stack, "view", {"dn": cn})


def ca_registry_reason(stack, serial):
    """The revocation reason the CA's registry holds for serial ('' when not
    revoked), read from its file: a CA holding a task answers nothing."""
    db = sqlite3.connect(f"file:{stack.devca_dir}/registry.db?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT serial, revoked_at, reason FROM certs").fetchall()
    finally:
        db.close()
    return next(reason if revoked_at else "" for s, revoked_at, reason in rows
                if same_serial(s, serial))


def claims(stack):
    return db_query(stack, "SELECT cn, superseded FROM cn_claims")


def serial_of(crt):
    return format(crt.serial_number, "X")


def acme_der(crt):
    return b64u(crt.public_bytes(serialization.Encoding.DER))


def client_status(stack, who):
    """/api/client/status as who: 200, or 'refused' when nginx (or the RA)
    does not take the certificate."""
    try:
        r = call(stack, who, "GET", "/api/client/status")
    except (ssl.SSLError, ConnectionError):
        return "refused"
    return r.status if r.status == 200 else "refused"


def signs_for(stack, cn):
    path = os.path.join(stack.devca_dir, "tasks.log")
    with open(path) as f:
        return sum(1 for line in f if "task=sign " in line and f"cn={cn} " in line + " ")


# -- another owner's CN --------------------------------------------------------------------

def test_acme_cannot_shadow_an_enrolled_node(rv):
    """The node enrolled S1; an account that passes validation for its name
    is refused before the CA is asked, and S1 stays revocable: after the
    revocation its serial is in the CRL and nginx refuses it."""
    s, cn = rv.stack, "victim.example.test"
    victim = enrol(s, rv.admin, rv.dir, cn, "user")
    attacker = rv.client()
    order, order_url = ready_order(rv.acme, attacker, [cn])
    signs = signs_for(s, cn)
    r, _ = finalize(attacker, order, [cn])
    assert r.status == 403 and r.problem["type"] == err("unauthorized"), r
    assert "another subscriber" in r.problem["detail"] and victim.serial in r.problem["detail"]
    assert signs_for(s, cn) == signs, "the CA was asked to sign"
    assert attacker.post(order_url, None).json()["status"] == "ready"
    assert same_serial(str(ca_view(s, cn)["serial"]), victim.serial)

    assert client_status(s, victim) == 200
    data = success_json(call(s, rv.admin, "POST", f"/api/v1/certs/{victim.serial}/revoke",
                             {"reason": "keyCompromise"}))
    assert same_serial(data, victim.serial)
    assert record(s, victim.serial)[:2] == ("revoked", "keyCompromise")
    assert in_crl(s, victim.serial)
    assert wait_until(lambda: client_status(s, victim) == "refused", 10), \
        "nginx still accepts the revoked certificate"


def test_enrolment_cannot_shadow_an_acme_certificate(rv):
    """The other way round: an account holds the CN, a node registered
    later for it is refused at enrolment (409), and its token still works
    once the account's certificate is revoked."""
    s, cn = rv.stack, "taken.example.test"
    holder = rv.client()
    crt, _ = issue(rv.acme, holder, [cn])
    node = register_node(s, rv.admin, cn, "server")
    key = new_key()
    csr = make_csr(key, cn, node["sans"])
    body = error_json(certify(s, csr, node["token"]), 409)
    assert "another subscriber" in body["message"]
    assert signs_for(s, cn) == 1
    r = holder.post(holder.directory["revokeCert"], {"certificate": acme_der(crt), "reason": 5})
    assert r.status == 200, r
    data = success_json(certify(s, csr, node["token"]), 201)
    assert same_serial(str(ca_view(s, cn)["serial"]), data["serial"])


def test_shared_cn_is_recorded_as_no_longer_revocable(shared):
    """With UPKI_RA_SHARE_CN the shadowing issuance succeeds; the older
    certificate is valid, and every view says it cannot be revoked."""
    s, cn = shared.stack, "shared.example.test"
    node = enrol(s, shared.admin, shared.dir, cn, "user")
    crt, _ = issue(shared.acme, shared.client(), [cn])
    assert same_serial(str(ca_view(s, cn)["serial"]), serial_of(crt))
    assert record(s, node.serial) == ("valid", None, True)
    assert record(s, serial_of(crt)) == ("valid", None, False)
    for view in (success_json(call(s, shared.admin, "GET", f"/api/v1/certs/{node.serial}")),
                 success_json(call(s, None, "POST", "/api/v1/public/ocsp",
                                   {"serial": node.serial})),
                 next(c for c in success_json(call(s, None, "GET", f"/api/v1/public/certs/{cn}"))
                      ["certificates"] if same_serial(c["serial"], node.serial))):
        assert view["status"] == "valid" and view["revocable"] is False, view
        assert view["shadowed_at"] > 0 and "can no longer be revoked" in view["note"], view
    body = error_json(call(s, shared.admin, "POST", f"/api/v1/certs/{node.serial}/revoke",
                           {"reason": "keyCompromise"}), 409)
    assert "can no longer be changed through the CA" in body["message"]
    assert ca_view(s, cn)["revoked"] is False, "the other owner's certificate was revoked"
    assert record(s, node.serial) == ("valid", None, True)
    # Deleting the node cannot revoke another owner's certificate either.
    error_json(call(s, shared.admin, "DELETE", f"/api/v1/nodes/{cn}"), 409)
    assert ca_view(s, cn)["revoked"] is False


# -- renewals by the same owner ---------------------------------------------------------

def assert_superseded(stack, old, new):
    assert record(stack, old)[:2] == ("revoked", "superseded")
    assert in_crl(stack, old), f"{old} is not in the CRL"
    assert record(stack, new)[:2] == ("valid", None)
    assert not in_crl(stack, new)
    view = ca_view(stack, db_query(stack, "SELECT cn FROM certificates WHERE serial = ?",
                                   (new,))[0][0])
    assert same_serial(str(view["serial"]), new) and view["revoked"] is False
    assert claims(stack) == []


def test_acme_renewal_supersedes_the_older_certificate(rv):
    c = rv.client()
    first, _ = issue(rv.acme, c, ["renew1.example.test"])
    second, _ = issue(rv.acme, c, ["renew1.example.test"])
    assert_superseded(rv.stack, serial_of(first), serial_of(second))
    # The first one is the CA's no more: revoking it again says so.
    r = c.post(c.directory["revokeCert"], {"certificate": acme_der(first)})
    assert r.status == 400 and r.problem["type"] == err("alreadyRevoked"), r


def test_acme_replaces_supersedes_the_older_certificate(rv):
    c = rv.client()
    names = ["replace1.example.test", "alt.replace1.example.test"]
    first, _ = issue(rv.acme, c, names)
    aki = first.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = first.serial_number.to_bytes((first.serial_number.bit_length() + 8) // 8, "big")
    r = c.new_order(names, replaces=f"{b64u(aki.key_identifier)}.{b64u(serial)}")
    assert r.status == 201, r
    order, _ = ready_order(rv.acme, c, names)
    fin, _ = finalize(c, order, names)
    assert fin.status == 200, fin
    second = load_chain(c.post(fin.json()["certificate"], None).body)[0]
    assert_superseded(rv.stack, serial_of(first), serial_of(second))


def test_client_renewals_supersede_the_older_certificate(rv):
    s = rv.stack
    me = enrol(s, rv.admin, rv.dir, "client-renew.example.test", "user")
    key = new_key()
    data = success_json(call(s, me, "POST", "/api/client/renew",
                             {"csr": make_csr(key, me.cn, [me.cn])}), 201)
    assert_superseded(s, me.serial, data["serial"])
    assert wait_until(lambda: client_status(s, me) == "refused", 10)
    me2 = Identity(rv.dir, "client-renew-2", data["certificate"], key_pem(key))
    again = success_json(call(s, me2, "POST", "/api/client/renew"), 201)
    assert_superseded(s, me2.serial, again["serial"])


def test_admin_renewal_supersedes_the_older_certificate(rv):
    s = rv.stack
    node = enrol(s, rv.admin, rv.dir, "admin-renew.example.test", "server")
    data = success_json(call(s, rv.admin, "POST", f"/api/v1/certs/{node.serial}/renew"), 201)
    assert_superseded(s, node.serial, data["serial"])
    # The older one is the CA's no more: the CA cannot renew it again.
    body = error_json(call(s, rv.admin, "POST", f"/api/v1/certs/{node.serial}/renew"), 400)
    assert "not the one the CA files" in body["message"]


# -- a renewal that does not finish ------------------------------------------------------

def switch(stack, name, on):
    path = os.path.join(stack.devca_dir, name)
    if on:
        open(path, "w").close()
    elif os.path.exists(path):
        os.unlink(path)


def test_refused_renewal_restores_the_older_certificate(rv):
    """The CA refuses the new signature: the older certificate, superseded
    for it, is unrevoked at the CA and in the RA, and the client is told."""
    s, cn = rv.stack, "refused-renew.example.test"
    c = rv.client()
    first, _ = issue(rv.acme, c, [cn])
    order, _ = ready_order(rv.acme, c, [cn])
    switch(s, "refuse-sign", True)
    try:
        r, _ = finalize(c, order, [cn])
    finally:
        switch(s, "refuse-sign", False)
    assert r.status == 400 and r.problem["type"] == err("badCSR"), r
    assert "refuse-sign" in r.problem["detail"]
    view = ca_view(s, cn)
    assert same_serial(str(view["serial"]), serial_of(first)) and view["revoked"] is False
    assert record(s, serial_of(first)) == ("valid", None, False)
    assert not in_crl(s, serial_of(first))
    assert claims(s) == []
    # And the renewal goes through once the CA signs again.
    fin, _ = finalize(c, order, [cn])
    assert fin.status == 200, fin
    second = load_chain(c.post(fin.json()["certificate"], None).body)[0]
    assert_superseded(s, serial_of(first), serial_of(second))


def test_a_certificate_made_outside_the_ra_is_not_taken_for_the_older_one(rv):
    """The CA files, under the account's CN, a certificate made without the
    RA.  A renewal the CA then refuses must not record the account's older
    certificate as superseded: it was never revoked, and the CA no longer
    files it, so its record says shadowed."""
    s, cn = rv.stack, "outside.example.test"
    c = rv.client()
    first, _ = issue(rv.acme, c, [cn])
    outside = ca_data(s, "generate", {"cn": cn, "profile": "server",
                                      "sans": [{"type": "DNS", "value": cn}],
                                      "local": True})
    order, _ = ready_order(rv.acme, c, [cn])
    switch(s, "refuse-sign", True)
    try:
        r, _ = finalize(c, order, [cn])
    finally:
        switch(s, "refuse-sign", False)
    assert r.status == 400 and r.problem["type"] == err("badCSR"), r
    assert record(s, serial_of(first)) == ("valid", None, True)
    assert ca_registry_reason(s, serial_of(first)) == ""
    view = ca_view(s, cn)
    assert same_serial(str(view["serial"]), hex_serial_of(outside)) and view["revoked"] is False
    assert claims(s) == []


def hex_serial_of(answer):
    return format(x509.load_pem_x509_certificate(answer["certificate"].encode()).serial_number,
                  "X")


def finalize_in_background(c, order, names, key):
    out = {}

    def run():
        try:
            out["reply"], _ = finalize(c, order, names, key=key)
        except Exception as e:  # the worker dies under it: any failure is expected
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def kill_mid_renewal(tmp_path_factory, name, sign_happens):
    """Finalize a renewal while the CA holds the sign (hold-sign), SIGKILL
    the worker that waits for it; the CA then either dies with the sign
    unread, or goes on and signs.  The client finalizes with one key, as a
    client that tries again does.  Returns (env, its context manager, the
    first certificate, the order, the client, the key)."""
    cm = revocation_env(tmp_path_factory, name, env={"UPKI_CA_TIMEOUT_MS": "20000"})
    e = cm.__enter__()
    try:
        s, cn = e.stack, f"{name}.example.test"
        c = e.client()
        first, _ = issue(e.acme, c, [cn])
        order, _ = ready_order(e.acme, c, [cn])
        _, key = make_acme_csr([cn])
        switch(s, "hold-sign", True)
        t, _ = finalize_in_background(c, order, [cn], key)
        assert wait_until(lambda: b"holding sign" in open(s.log_path("devca"), "rb").read(),
                          20), "the sign never reached the CA"
        # Superseded and recorded as such, the sign not made yet.
        assert ca_registry_reason(s, serial_of(first)) == "superseded"
        assert [r[1] for r in claims(s)] == [serial_of(first)]
        pid = db_query(s, "SELECT processing_pid FROM orders WHERE status = 'processing'")[0][0]
        if not sign_happens:
            s.devca.send_signal(signal.SIGKILL)
            s.devca.wait()
        os.kill(pid, signal.SIGKILL)
        switch(s, "hold-sign", False)
        if not sign_happens:
            s.start_devca()
        t.join(30)
        return e, cm, first, order, c, key
    except BaseException:
        cm.__exit__(None, None, None)
        raise


def test_worker_killed_before_the_sign_restores_the_older_certificate(tmp_path_factory):
    """The worker dies after superseding; the CA never signs (it dies with
    the sign unread).  The worker that replaces it finds the claim its
    predecessor left and restores the older certificate."""
    e, cm, first, order, c, key = kill_mid_renewal(tmp_path_factory, "kill-before-sign",
                                                   False)
    try:
        s, cn = e.stack, "kill-before-sign.example.test"
        assert wait_until(lambda: claims(s) == [], 30), claims(s)
        view = ca_view(s, cn)
        assert same_serial(str(view["serial"]), serial_of(first)) and view["revoked"] is False
        assert record(s, serial_of(first)) == ("valid", None, False)
        assert not in_crl(s, serial_of(first))
        # The order went back to ready; finalizing again renews.
        fin, _ = finalize(c, order, [cn], key=key)
        assert fin.status == 200, fin
        second = load_chain(c.post(fin.json()["certificate"], None).body)[0]
        assert_superseded(s, serial_of(first), serial_of(second))
    finally:
        cm.__exit__(None, None, None)


def test_worker_killed_after_the_sign_keeps_the_new_certificate(tmp_path_factory):
    """The worker dies after superseding; the CA signs anyway.  The older
    certificate stays revoked, and the client's next finalize gets the
    certificate the CA made (adopted, not signed twice)."""
    e, cm, first, order, c, key = kill_mid_renewal(tmp_path_factory, "kill-after-sign", True)
    try:
        s, cn = e.stack, "kill-after-sign.example.test"
        assert wait_until(lambda: claims(s) == [], 30), claims(s)
        assert record(s, serial_of(first))[:2] == ("revoked", "superseded")
        held = ca_view(s, cn)
        assert not same_serial(str(held["serial"]), serial_of(first))
        fin, _ = finalize(c, order, [cn], key=key)
        assert fin.status == 200, fin
        second = load_chain(c.post(fin.json()["certificate"], None).body)[0]
        assert same_serial(serial_of(second), str(held["serial"]))
        assert signs_for(s, cn) == 2
        assert_superseded(s, serial_of(first), serial_of(second))
    finally:
        cm.__exit__(None, None, None)


# -- node deletion, reasons, who may revoke --------------------------------------------------

def test_node_deletion_revokes_exactly_the_nodes_certificate(rv):
    s = rv.stack
    node = enrol(s, rv.admin, rv.dir, "deleted.example.test", "server")
    bystander = enrol(s, rv.admin, rv.dir, "bystander.example.test", "server")
    before = ca_task_count(s, ("revoke", "delete"))
    assert success_json(call(s, rv.admin, "DELETE", "/api/v1/nodes/deleted.example.test")) \
        == "deleted.example.test"
    assert ca_task_count(s, ("revoke", "delete")) == before + 1
    assert record(s, node.serial)[:2] == ("revoked", "cessationOfOperation")
    assert in_crl(s, node.serial)
    assert record(s, bystander.serial)[:2] == ("valid", None)
    assert ca_view(s, bystander.cn)["revoked"] is False


CA_REASONS = {0: "unspecified", 1: "keyCompromise", 2: "cACompromise",
              3: "affiliationChanged", 4: "superseded", 5: "cessationOfOperation",
              6: "certificateHold", 8: "removeFromCRL", 9: "privilegeWithdrawn",
              10: "aACompromise"}


@pytest.mark.parametrize("code", sorted(CA_REASONS))
def test_every_reason_the_ca_knows(rv, code):
    c = rv.client()
    crt, _ = issue(rv.acme, c, [f"reason-code-{code}.example.test"])
    r = c.post(c.directory["revokeCert"], {"certificate": acme_der(crt), "reason": code})
    assert r.status == 200, r
    assert record(rv.stack, serial_of(crt))[:2] == ("revoked", CA_REASONS[code])
    assert ca_view(rv.stack, f"reason-code-{code}.example.test")["revocation_reason"] == \
        CA_REASONS[code]


def test_every_reason_name_over_rest(rv):
    s = rv.stack
    for name in ("removeFromCRL", "privilegeWithdrawn", "aACompromise"):
        node = enrol(s, rv.admin, rv.dir, f"rest-{name.lower()}.example.test", "server")
        success_json(call(s, rv.admin, "POST", f"/api/v1/certs/{node.serial}/revoke",
                          {"reason": name}))
        assert record(s, node.serial)[:2] == ("revoked", name)
    node = enrol(s, rv.admin, rv.dir, "rest-unknown-reason.example.test", "server")
    body = error_json(call(s, rv.admin, "POST", f"/api/v1/certs/{node.serial}/revoke",
                           {"reason": "becauseISaySo"}), 400)
    assert "aACompromise" in body["message"]


def test_an_account_authorized_for_every_name_may_revoke(rv):
    """RFC 8555 7.6: an account that holds valid authorizations for all the
    certificate's names may revoke it, though it did not order it."""
    names = ["authz-revoke.example.test", "www.authz-revoke.example.test"]
    owner, other = rv.client(), rv.client()
    crt, _ = issue(rv.acme, owner, names)
    # Authorized for one name only: not enough.
    ready_order(rv.acme, other, names[:1])
    r = other.post(other.directory["revokeCert"], {"certificate": acme_der(crt)})
    assert r.status == 403 and r.problem["type"] == err("unauthorized"), r
    ready_order(rv.acme, other, names)
    r = other.post(other.directory["revokeCert"], {"certificate": acme_der(crt), "reason": 1})
    assert r.status == 200, r
    assert record(rv.stack, serial_of(crt))[:2] == ("revoked", "keyCompromise")


def test_revocation_refusals_are_logged(rv):
    s = rv.stack
    c = rv.client()
    crt, _ = issue(rv.acme, c, ["logged-refusal.example.test"])
    stranger = rv.client()
    r = stranger.post(stranger.directory["revokeCert"], {"certificate": acme_der(crt)})
    assert r.status == 403, r
    with open(s.log_path("ra"), errors="replace") as f:
        log = f.read()
    assert any("warn" in line.lower() and serial_of(crt) in line and "refused" in line
               for line in log.splitlines()), "no warn line names the refused revocation"


def test_ca_down_is_retryable_with_retry_after(tmp_path_factory):
    """A revocation the CA cannot answer now is a 5xx with Retry-After (it
    may pass); the record is unchanged."""
    with revocation_env(tmp_path_factory, "revoke-ca-down",
                        env={"UPKI_CA_TIMEOUT_MS": "500"}) as e:
        s = e.stack
        c = e.client()
        crt, _ = issue(e.acme, c, ["ca-down.example.test"])
        s.stop_devca()
        r = c.post(c.directory["revokeCert"], {"certificate": acme_der(crt)})
        assert r.status == 500 and r.problem["type"] == err("serverInternal"), r
        assert int(r.header("retry-after")) > 0
        assert record(s, serial_of(crt)) == ("valid", None, False)
        s.start_devca()
