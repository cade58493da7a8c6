"""The development CA (tests/devca) against docs/CA-PROTOCOL.md.

Every test talks to a real upki-devca over ZeroMQ, on free loopback ports,
in a directory of its own, and checks the certificates and CRLs it answers
with OpenSSL (the CLI) and python3-cryptography.  Under the sanitizer build
(UPKI_TEST_BUILD=build-asan) a report, a leak included, makes the CA exit
non-zero or print one, and the test that stopped it fails.
"""

import base64
import datetime
import ipaddress
import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest
import zmq
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("UPKI_TEST_BUILD", "build")
BINARY = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD),
                      "upki-devca")
SEED = "devca-test-seed-4f2a"
READY = re.compile(r"upki-devca: ready ops=(tcp://\S+) reg=(tcp://\S+)")
SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                       r"UndefinedBehaviorSanitizer")
EKU = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
       "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
REASONS = ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
           "superseded", "cessationOfOperation", "certificateHold", "removeFromCRL",
           "privilegeWithdrawn", "aACompromise"]
PEM = serialization.Encoding.PEM


class DevCA:
    """One upki-devca process and a ZeroMQ client for both of its ports."""

    def __init__(self, root, *args, env_seed=True):
        self.dir = os.path.join(root, "ca")
        self.log_path = os.path.join(root, "devca.log")
        env = dict(os.environ)
        env.pop("UPKI_CA_SEED", None)
        if env_seed:
            env["UPKI_CA_SEED"] = SEED
        os.makedirs(root, exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.start = self.log.tell()        # a restart appends to the same log
        self.proc = subprocess.Popen(
            [BINARY, "--dir", self.dir, "--host", "127.0.0.1", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        self.ops, self.reg = self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = READY.search(self.text())
            if m:
                return m.group(1), m.group(2)
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        pytest.fail("upki-devca did not get ready:\n" + self.text())

    def text(self):
        """What this run of the CA wrote to stderr."""
        with open(self.log_path, "rb") as f:
            f.seek(self.start)
            return f.read().decode(errors="replace")

    def raw(self, frames, port="ops", timeout=5.0):
        """Sends frames (bytes, or a list of them) and returns the reply text,
        or None when none comes within timeout."""
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        sock.connect(self.ops if port == "ops" else self.reg)
        try:
            if isinstance(frames, list):
                sock.send_multipart(frames)
            else:
                sock.send(frames)
            try:
                return sock.recv().decode()
            except zmq.Again:
                return None
        finally:
            sock.close()

    def call(self, task, params=None, port="ops", timeout=5.0):
        msg = {"TASK": task}
        if params is not None:
            msg["params"] = params
        text = self.raw(json.dumps(msg).encode(), port, timeout)
        assert text is not None, f"no answer to {task}"
        return json.loads(text)

    def ok(self, task, port="ops", **params):
        r = self.call(task, params, port)
        assert r.get("EVENT") == "ANSWER", r
        assert set(r) == {"EVENT", "DATA"}, r
        return r["DATA"]

    def err(self, task, port="ops", **params):
        r = self.call(task, params, port)
        assert r.get("EVENT") == "UPKI ERROR", r
        assert set(r) == {"EVENT", "MSG"}, r
        assert re.match(r"\[\d+\] ", r["MSG"]), r
        return r["MSG"]

    def tasks_log(self):
        with open(os.path.join(self.dir, "tasks.log")) as f:
            return f.read().splitlines()

    def stop(self, sig=signal.SIGTERM):
        """Stops the CA and returns its exit status; a sanitizer report fails."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("upki-devca ignored the signal:\n" + self.text())
        self.log.close()
        assert not SANITIZER.search(self.text()), self.text()[-4000:]
        return self.proc.returncode


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    c = DevCA(str(tmp_path_factory.mktemp("devca")))
    try:
        yield c
    finally:
        assert c.stop() == 0, c.text()[-4000:]


@pytest.fixture
def own_ca(tmp_path):
    """Starts CAs of the test's own, with the arguments it gives."""
    started = []

    def start(*args, **kw):
        c = DevCA(str(tmp_path / f"ca{len(started)}"), *args, **kw)
        started.append(c)
        return c

    yield start
    for c in started:
        assert c.stop() == 0, c.text()[-4000:]


def name_of(value):
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def make_csr(cn=None, sans=(), key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([name_of(s) for s in sans]),
                            critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(PEM).decode(), key


def load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def sans_of(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (sorted(ext.get_values_for_type(x509.DNSName)),
            sorted(str(ip) for ip in ext.get_values_for_type(x509.IPAddress)))


def eku_of(cert):
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def cn_of(name):
    return [a.value for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def days_of(cert):
    return cert.not_valid_after - cert.not_valid_before


def same_key(a, b):
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return (a.public_bytes(serialization.Encoding.DER, fmt) ==
            b.public_bytes(serialization.Encoding.DER, fmt))


def openssl_verify(tmp_path, ca_pem, cert_pem):
    (tmp_path / "ca.pem").write_text(ca_pem)
    (tmp_path / "cert.pem").write_text(cert_pem)
    r = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile",
                        str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith(": OK"), r.stdout + r.stderr


def crl_of(ca, task="get_crl"):
    der = base64.b64decode(ca.ok(task), validate=True)
    return der, x509.load_der_x509_crl(der)


def crl_number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


# -- the CA itself ---------------------------------------------------------

def test_ca_directory_and_certificate(ca):
    assert os.stat(ca.dir).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(ca.dir, "ca.key")).st_mode & 0o777 == 0o600
    pem = ca.ok("get_ca")
    with open(os.path.join(ca.dir, "ca.crt")) as f:
        assert f.read() == pem
    cert = load(pem)
    assert cert.subject == cert.issuer
    assert cn_of(cert.subject) == ["uPKI Dev CA"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(
        NameOID.ORGANIZATION_NAME)] == ["uPKI"]
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert days_of(cert) == datetime.timedelta(days=3650)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    with open(os.path.join(ca.dir, "ca.key"), "rb") as f:
        key = f.read()
    assert key.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert same_key(serialization.load_pem_private_key(key, None).public_key(),
                    cert.public_key())


def test_restart_keeps_the_ca_and_the_registry(own_ca, tmp_path):
    first = own_ca()
    ca_pem = first.ok("get_ca")
    csr, _ = make_csr("keep.example.test", ["keep.example.test"])
    serial = first.ok("sign", csr=csr)["serial"]
    assert first.stop() == 0
    again = DevCA(os.path.dirname(first.dir))
    try:
        assert again.ok("get_ca") == ca_pem
        assert int(again.ok("view", dn="keep.example.test")["serial"], 16) == serial
    finally:
        assert again.stop() == 0


def test_half_a_ca_is_refused(own_ca):
    c = own_ca()
    assert c.stop() == 0
    os.unlink(os.path.join(c.dir, "ca.crt"))
    r = subprocess.run([BINARY, "--dir", c.dir, "--port", "0"], capture_output=True,
                       text=True, env=dict(os.environ, UPKI_CA_SEED=SEED), timeout=20)
    assert r.returncode == 1
    assert "CA certificate" in r.stderr


@pytest.mark.parametrize("args,env_seed,message", [
    (["--port", "0"], False, "no registration seed"),
    (["--port", "0", "--seed", ""], False, "no registration seed"),
    (["--port", "70000"], True, "--port"),
    (["--port", "0", "--slow-ms", "x"], True, "--slow-ms"),
    (["--port", "0", "stray"], True, "unexpected argument"),
])
def test_command_line_errors(tmp_path, args, env_seed, message):
    env = dict(os.environ)
    env.pop("UPKI_CA_SEED", None)
    if env_seed:
        env["UPKI_CA_SEED"] = SEED
    r = subprocess.run([BINARY, "--dir", str(tmp_path / "ca"), *args],
                       capture_output=True, text=True, env=env, timeout=20)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "usage:" in r.stderr
    no_dir = subprocess.run([BINARY], capture_output=True, text=True, env=env, timeout=20)
    assert no_dir.returncode == 2 and "--dir is required" in no_dir.stderr


# -- the envelope ------------------------------------------------------------

@pytest.mark.parametrize("frame,why", [
    (b"{not json", "Invalid request: "),
    (b"[1, 2]", "Invalid request: not a JSON object"),
    (b'{"params": {}}', "Invalid request: no TASK"),
    (b'{"TASK": 5}', "Invalid request: no TASK"),
    (b'{"TASK": "get_ca", "params": []}', "Invalid request: params is not an object"),
    (b'{"TASK": "get_ca"} trailing', "Invalid request: "),
    (b'\xff\xfe', "Invalid request: "),
])
def test_invalid_requests(ca, frame, why):
    r = json.loads(ca.raw(frame))
    assert r["EVENT"] == "UPKI ERROR"
    assert r["MSG"].startswith("[700] " + why), r


def test_unknown_tasks_per_port(ca):
    assert ca.err("no_such_task") == "[700] Unknown task: no_such_task"
    assert ca.err("register", seed=SEED, cn="RA") == "[700] Unknown task: register"
    assert ca.err("status", cn="RA") == "[700] Unknown task: status"
    for task in ("get_ca", "sign", "revoke", "list_admins", "acme_sync_account"):
        assert ca.err(task, port="reg") == f"[700] Unknown task: {task}"
    # A task without params runs with empty ones.
    assert ca.call("list_profiles")["EVENT"] == "ANSWER"


def test_several_frames_are_refused(ca):
    r = json.loads(ca.raw([b'{"TASK": "get_ca"}', b"second"]))
    assert r == {"EVENT": "UPKI ERROR",
                 "MSG": "[700] Invalid request: more than one frame"}


def test_message_size_bound(ca):
    pad = " " * (1024 * 1024 - 100)
    near = ('{"TASK": "list_profiles", "params": {}}' + pad).encode()
    assert len(near) < 1024 * 1024
    assert json.loads(ca.raw(near))["EVENT"] == "ANSWER"
    # Past 1 MiB the peer is dropped: no answer, and the CA serves on.
    assert ca.raw(b"{" + b" " * (1024 * 1024 + 1) + b"}", timeout=1.5) is None
    assert ca.ok("list_profiles")


# -- sign ------------------------------------------------------------------------

def test_sign_server_certificate(ca, tmp_path):
    csr, key = make_csr("www.example.test", ["www.example.test", "alt.example.test",
                                              "192.0.2.7", "2001:db8::1"])
    text = ca.raw(json.dumps({"TASK": "sign", "params": {"csr": csr}}).encode())
    data = json.loads(text)["DATA"]
    assert set(data) == {"certificate", "serial"}
    cert = load(data["certificate"])
    # The serial is a bare JSON integer, as wide as the reference CA's.
    assert re.search(r'"serial":\d+[,}]', text), text
    assert type(data["serial"]) is int and data["serial"] == cert.serial_number
    assert 0 < cert.serial_number < 2 ** 159
    assert cn_of(cert.subject) == ["www.example.test"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(
        NameOID.ORGANIZATION_NAME)] == ["uPKI"]
    assert sans_of(cert) == (["alt.example.test", "www.example.test"],
                             ["192.0.2.7", "2001:db8::1"])
    assert eku_of(cert) == {ExtendedKeyUsageOID.SERVER_AUTH}
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    assert days_of(cert) == datetime.timedelta(days=60)
    assert same_key(cert.public_key(), key.public_key())
    ca_cert = load(ca.ok("get_ca"))
    assert cert.issuer == ca_cert.subject
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    openssl_verify(tmp_path, ca.ok("get_ca"), data["certificate"])


@pytest.mark.parametrize("profile", ["server", "webapp", "ra", "admin", "user", "laptop"])
def test_sign_follows_the_profile(ca, profile):
    described = ca.ok("get_profile", profile=profile)
    csr, _ = make_csr(f"{profile}.example.test", [f"{profile}.example.test"])
    cert = load(ca.ok("sign", csr=csr, profile=profile)["certificate"])
    assert eku_of(cert) == {EKU[e] for e in described["extendedKeyUsage"]}
    assert days_of(cert) == datetime.timedelta(days=described["duration"])
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature == ("digitalSignature" in described["keyUsage"])
    assert ku.key_encipherment == ("keyEncipherment" in described["keyUsage"])
    assert ku.content_commitment == ("nonRepudiation" in described["keyUsage"])
    assert int(ca.ok("view", dn=f"{profile}.example.test")["serial"], 16) == \
        cert.serial_number
    assert ca.ok("view", dn=f"{profile}.example.test")["profile"] == profile


def test_sign_keeps_an_rsa_csr_key(ca):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr, _ = make_csr("rsa.example.test", ["rsa.example.test"], key=key)
    cert = load(ca.ok("sign", csr=csr)["certificate"])
    assert same_key(cert.public_key(), key.public_key())


def test_sign_keeps_an_ed25519_csr_key(ca, tmp_path):
    """A key type whose algorithm has no parameters at all (RSA's is NULL,
    EC's the curve): the CA copies the CSR's key info as it is."""
    key = ed25519.Ed25519PrivateKey.generate()
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, "ed.example.test")]
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("ed.example.test")]),
                          critical=False)
           .sign(key, None).public_bytes(PEM).decode())
    data = ca.ok("sign", csr=csr)
    assert same_key(load(data["certificate"]).public_key(), key.public_key())
    openssl_verify(tmp_path, ca.ok("get_ca"), data["certificate"])


def test_the_registry_keeps_a_write_ahead_log(ca):
    """WAL: a certificate filed costs one sync of the log instead of the
    rollback journal's four (and its creation and deletion)."""
    db = sqlite3.connect(f"file:{ca.dir}/registry.db?mode=ro", uri=True, timeout=10)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_sign_errors(ca):
    csr, _ = make_csr("err.example.test", ["err.example.test"])
    assert ca.err("sign") == "[700] Missing csr parameter"
    assert ca.err("sign", csr=5) == "[700] Invalid csr parameter"
    assert ca.err("sign", csr="nonsense").startswith("[300] Failed to load CSR")
    der = bytearray(x509.load_pem_x509_csr(csr.encode()).public_bytes(
        serialization.Encoding.DER))
    der[-1] ^= 1
    bad = x509.load_der_x509_csr(bytes(der)).public_bytes(PEM).decode()
    assert ca.err("sign", csr=bad) == "[300] Failed to load CSR: invalid signature"
    assert ca.err("sign", csr=csr, profile="nope") == "[500] Profile not found: nope"
    assert ca.err("sign", csr=csr, profile="ca") == "[500] Profile ca cannot be used to sign"
    for cn, sans in (("localhost", ["x.example.test"]),
                     ("ok.example.test", ["ok.example.test", "LOCALHOST."])):
        reserved, _ = make_csr(cn, sans)
        assert ca.err("sign", csr=reserved) == "[300] Reserved name: localhost"
    long_cn, _ = make_csr("a" * 60 + ".example.test")
    assert ca.err("sign", csr=long_cn).startswith("[300] Invalid Common Name")


def test_cnless_csr_is_filed_under_its_first_san(ca):
    csr, _ = make_csr(None, ["first.cnless.test", "second.cnless.test"])
    data = ca.ok("sign", csr=csr)
    cert = load(data["certificate"])
    assert cn_of(cert.subject) == []
    assert sans_of(cert)[0] == ["first.cnless.test", "second.cnless.test"]
    view = ca.ok("view", dn="first.cnless.test")
    assert view["cn"] == "first.cnless.test"
    assert int(view["serial"], 16) == data["serial"]
    nothing, _ = make_csr(None, [])
    assert ca.err("sign", csr=nothing) == "[300] CSR has no Common Name"


def test_refuse_cnless_switch(own_ca):
    strict = own_ca("--refuse-cnless")
    csr, _ = make_csr(None, ["cnless.example.test"])
    assert strict.err("sign", csr=csr) == "[300] CSR has no Common Name"
    with_cn, _ = make_csr("cn.example.test", ["cn.example.test"])
    assert strict.ok("sign", csr=with_cn)["serial"] > 0


def test_reserved_names_switch(own_ca):
    c = own_ca("--reserved", "intranet.test,10.0.0.1")
    csr, _ = make_csr("localhost", ["localhost"])
    assert c.ok("sign", csr=csr)
    bad, _ = make_csr("host.example.test", ["10.0.0.1"])
    assert c.err("sign", csr=bad) == "[300] Reserved name: 10.0.0.1"
    assert c.err("generate", cn="intranet.test") == "[300] Reserved name: intranet.test"


# -- generate ------------------------------------------------------------------

def test_generate_makes_key_and_certificate(ca, tmp_path):
    data = ca.ok("generate", cn="gen.example.test", profile="server", local=True,
                 sans=[{"type": "DNS", "value": "gen.example.test"},
                       {"type": "DNS", "value": "198.51.100.4"},
                       {"type": "IP", "value": "::1"}])
    assert set(data) == {"dn", "certificate", "serial", "private_key"}
    assert data["dn"] == "/CN=gen.example.test/O=uPKI"
    cert = load(data["certificate"])
    assert data["serial"] == cert.serial_number
    assert data["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(data["private_key"].encode(), None)
    assert same_key(key.public_key(), cert.public_key())
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    # An IP literal becomes an IP SAN, whatever type it came with.
    assert sans_of(cert) == (["gen.example.test"], ["198.51.100.4", "::1"])
    openssl_verify(tmp_path, ca.ok("get_ca"), data["certificate"])


def test_generate_client_certificate_with_rsa_profile(ca):
    assert ca.ok("get_profile", profile="user")["keyType"] == "rsa"
    data = ca.ok("generate", cn="Alice User", profile="user")
    cert = load(data["certificate"])
    key = serialization.load_pem_private_key(data["private_key"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert eku_of(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert days_of(cert) == datetime.timedelta(days=30)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert ca.ok("view", dn="Alice User")["dn"] == "/CN=Alice User/O=uPKI"


def test_generate_errors(ca):
    assert ca.err("generate") == "[700] Missing cn parameter"
    assert ca.err("generate", cn="") == "[700] Missing cn parameter"
    assert ca.err("generate", cn="a\u0000b") == "[700] Invalid cn parameter"
    assert ca.err("generate", cn="x" * 65).startswith("[300] Common Name too long")
    assert ca.err("generate", cn="x.test", profile="bogus") == \
        "[500] Profile not found: bogus"
    assert ca.err("generate", cn="localhost") == "[300] Reserved name: localhost"
    assert ca.err("generate", cn="x.test",
                  sans=[{"type": "DNS", "value": "localhost"}]) == \
        "[300] Reserved name: localhost"
    assert ca.err("generate", cn="x.test",
                  sans=[{"type": "URI", "value": "http://x"}]) == \
        "[300] Unsupported SAN type: URI"
    assert ca.err("generate", cn="x.test",
                  sans=[{"type": "IP", "value": "not-an-ip"}]) == \
        "[300] Invalid IP address: not-an-ip"
    assert ca.err("generate", cn="x.test",
                  sans=[{"type": "DNS", "value": "bad name"}]) == \
        "[300] Invalid DNS name: bad name"
    assert ca.err("generate", cn="x.test",
                  sans=[{"type": "DNS", "value": "a\u0000.x.test"}]) == \
        "[300] Invalid SAN: NUL in value"
    assert ca.err("generate", cn="x.test", sans="x.test") == \
        "[300] Invalid sans: not a list"
    assert ca.err("generate", cn="x.test", sans=["x.test"]).startswith("[300] Invalid SAN")
    many = [{"type": "DNS", "value": f"n{i}.test"} for i in range(101)]
    assert ca.err("generate", cn="x.test", sans=many).startswith("[300] Too many SANs")


# -- lookup, renew, revoke -----------------------------------------------------

def sign(ca, cn, sans=None):
    csr, key = make_csr(cn, sans if sans is not None else [cn])
    data = ca.ok("sign", csr=csr)
    return load(data["certificate"]), key


def test_lookup_is_by_bare_cn(ca):
    sign(ca, "bare.example.test")
    assert ca.ok("view", dn="bare.example.test")["cn"] == "bare.example.test"
    for task, extra in (("view", {}), ("renew", {}), ("revoke", {"reason": "superseded"}),
                        ("unrevoke", {}), ("delete", {})):
        assert ca.err(task, dn="/CN=bare.example.test", **extra) == \
            "[404] Node not found: /CN=bare.example.test"
        assert ca.err(task, **extra) == "[700] Missing dn parameter"
    assert ca.err("view", dn="nobody.example.test") == \
        "[404] Node not found: nobody.example.test"


def test_view(ca):
    cert, _ = sign(ca, "view.example.test")
    v = ca.ok("view", dn="view.example.test")
    assert v["dn"] == "/CN=view.example.test/O=uPKI"
    assert v["cn"] == "view.example.test"
    assert v["profile"] == "server"
    assert int(v["serial"], 16) == cert.serial_number
    assert re.fullmatch(r"[0-9A-F]+", v["serial"])
    assert v["revoked"] is False and v["revocation_reason"] is None
    assert v["revoked_at"] is None
    assert v["not_before"] == cert.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert v["not_after"] == cert.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert load(v["certificate"]) == cert


def test_newer_certificate_replaces_older(ca):
    old, _ = sign(ca, "twice.example.test")
    assert ca.ok("revoke", dn="twice.example.test", reason="superseded") is True
    new, _ = sign(ca, "twice.example.test")
    v = ca.ok("view", dn="twice.example.test")
    assert int(v["serial"], 16) == new.serial_number and v["revoked"] is False
    _, crl = crl_of(ca)
    assert crl.get_revoked_certificate_by_serial_number(old.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(new.serial_number) is None
    assert ca.ok("ocsp_check", cert=old.public_bytes(PEM).decode())["status"] == "revoked"
    assert ca.ok("ocsp_check", cert=new.public_bytes(PEM).decode())["status"] == "good"


def test_revoke_unrevoke_and_the_crl(ca):
    cert, _ = sign(ca, "rev.example.test")
    pem = cert.public_bytes(PEM).decode()
    _, before = crl_of(ca)
    assert ca.ok("revoke", dn="rev.example.test", reason="keyCompromise") is True
    assert ca.err("revoke", dn="rev.example.test", reason="keyCompromise") == \
        "[900] Certificate already revoked: rev.example.test"
    v = ca.ok("view", dn="rev.example.test")
    assert v["revoked"] is True and v["revocation_reason"] == "keyCompromise"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v["revoked_at"])
    o = ca.ok("ocsp_check", cert=pem)
    assert o["status"] == "revoked" and o["reason"] == "keyCompromise"
    assert o["revoked_at"] == v["revoked_at"]
    assert int(o["serial"], 16) == cert.serial_number
    assert o["cn"] == "rev.example.test"

    der, crl = crl_of(ca)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert len(entry.extensions) == 0       # no reason codes, like the reference CA
    assert crl_number(crl) > crl_number(before)
    ca_cert = load(ca.ok("get_ca"))
    assert crl.is_signature_valid(ca_cert.public_key())
    assert crl.issuer == ca_cert.subject
    assert isinstance(crl.signature_hash_algorithm, hashes.SHA256)
    assert crl.next_update - crl.last_update == datetime.timedelta(days=1)
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    text = subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-text"],
                          input=der, capture_output=True, check=True).stdout.decode()
    assert "Version 2" in text
    assert format(cert.serial_number, "X").rjust(2, "0") in text.replace(":", "").upper()
    assert "Reason Code" not in text

    assert ca.ok("unrevoke", dn="rev.example.test") is True
    assert ca.err("unrevoke", dn="rev.example.test") == \
        "[900] Certificate is not revoked: rev.example.test"
    _, after = crl_of(ca)
    assert after.get_revoked_certificate_by_serial_number(cert.serial_number) is None
    assert ca.ok("ocsp_check", cert=pem)["status"] == "good"
    assert "reason" not in ca.ok("ocsp_check", cert=pem)


def test_revocation_reasons(ca):
    sign(ca, "reasons.example.test")
    for reason in REASONS:
        assert ca.ok("revoke", dn="reasons.example.test", reason=reason) is True
        assert ca.ok("view", dn="reasons.example.test")["revocation_reason"] == reason
        assert ca.ok("unrevoke", dn="reasons.example.test") is True
    for bad in (0, 1, "1", "KeyCompromise", "removefromcrl", "bogus"):
        assert ca.err("revoke", dn="reasons.example.test", reason=bad) == \
            f"[900] Invalid revocation reason: {bad}"
    assert ca.ok("view", dn="reasons.example.test")["revoked"] is False
    # Without a reason, "unspecified".
    assert ca.ok("revoke", dn="reasons.example.test") is True
    assert ca.ok("view", dn="reasons.example.test")["revocation_reason"] == "unspecified"


def test_delete_revokes(ca):
    cert, _ = sign(ca, "del.example.test")
    assert ca.ok("delete", dn="del.example.test") is True
    v = ca.ok("view", dn="del.example.test")
    assert v["revoked"] is True and v["revocation_reason"] == "cessationOfOperation"
    _, crl = crl_of(ca)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert ca.ok("delete", dn="del.example.test") is True
    assert ca.ok("view", dn="del.example.test")["revocation_reason"] == \
        "cessationOfOperation"


def test_renew(ca, tmp_path):
    old, key = sign(ca, "renew.example.test", ["renew.example.test", "203.0.113.9"])
    data = ca.ok("renew", dn="renew.example.test")
    assert set(data) == {"certificate", "serial"}
    new = load(data["certificate"])
    assert type(data["serial"]) is int and data["serial"] == new.serial_number
    assert new.serial_number != old.serial_number
    assert new.subject == old.subject
    assert sans_of(new) == sans_of(old)
    assert same_key(new.public_key(), key.public_key())
    assert eku_of(new) == eku_of(old)
    assert days_of(new) == datetime.timedelta(days=60)
    assert int(ca.ok("view", dn="renew.example.test")["serial"], 16) == new.serial_number
    openssl_verify(tmp_path, ca.ok("get_ca"), data["certificate"])
    short = load(ca.ok("renew", dn="renew.example.test", duration=10)["certificate"])
    assert days_of(short) == datetime.timedelta(days=10)
    for bad in ("10", 0, -1, 3651, 1.5):
        assert ca.err("renew", dn="renew.example.test", duration=bad).startswith(
            "[700] Invalid duration parameter")
    assert ca.ok("revoke", dn="renew.example.test", reason="superseded") is True
    assert ca.err("renew", dn="renew.example.test") == \
        "[900] Certificate is revoked: renew.example.test"


def test_generate_crl_and_get_crl(ca):
    der1, crl1 = crl_of(ca, "generate_crl")
    der2, crl2 = crl_of(ca, "generate_crl")
    assert crl_number(crl2) == crl_number(crl1) + 1
    der3, _ = crl_of(ca, "get_crl")
    assert der3 == der2                     # get_crl hands out the current one
    subprocess.run(["openssl", "crl", "-inform", "DER", "-noout"], input=der1, check=True)


def test_get_crl_on_a_fresh_ca(own_ca):
    c = own_ca()
    der, crl = crl_of(c)
    assert len(list(crl)) == 0 and crl_number(crl) == 1
    assert crl_of(c)[0] == der              # made once, then kept


# -- ocsp_check ------------------------------------------------------------------

def test_ocsp_check(ca):
    cert, _ = sign(ca, "ocsp.example.test")
    o = ca.ok("ocsp_check", cert=cert.public_bytes(PEM).decode())
    assert o == {"status": "good", "serial": o["serial"], "cn": "ocsp.example.test"}
    assert int(o["serial"], 16) == cert.serial_number
    assert ca.err("ocsp_check") == "[700] Missing cert parameter"
    assert ca.err("ocsp_check", cert="junk") == "[300] Failed to load certificate"
    # A certificate of another CA, even one that copies this CA's name.
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = load(ca.ok("get_ca")).subject
    now = datetime.datetime.utcnow()
    foreign = (x509.CertificateBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "ocsp.example.test")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(cert.serial_number).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    assert ca.err("ocsp_check", cert=foreign.public_bytes(PEM).decode()) == \
        "[300] Certificate not issued by this CA"


def test_ocsp_check_expired(ca):
    """A certificate of this CA's (made here with its key) that has expired,
    and that its registry does not hold."""
    with open(os.path.join(ca.dir, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    ca_cert = load(ca.ok("get_ca"))
    key = ec.generate_private_key(ec.SECP256R1())
    then = datetime.datetime.utcnow() - datetime.timedelta(days=30)
    old = (x509.CertificateBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "old.example.test")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(then)
        .not_valid_after(then + datetime.timedelta(days=1)).sign(ca_key, hashes.SHA256()))
    o = ca.ok("ocsp_check", cert=old.public_bytes(PEM).decode())
    assert o["status"] == "expired" and o["cn"] == "old.example.test"
    assert int(o["serial"], 16) == old.serial_number


# -- registration port -----------------------------------------------------------

def test_register(ca, tmp_path):
    assert ca.err("register", port="reg", seed="wrong", cn="RA") == \
        "[700] Invalid registration seed"
    assert ca.err("register", port="reg", cn="RA") == "[700] Invalid registration seed"
    assert ca.err("register", port="reg", seed=SEED[:-1], cn="RA") == \
        "[700] Invalid registration seed"
    assert ca.ok("status", port="reg", cn="RA") == {"status": "not_registered"}
    data = ca.ok("register", port="reg", seed=SEED, cn="RA", profile="ra",
                 sans=[{"type": "DNS", "value": "localhost"},
                       {"type": "DNS", "value": "127.0.0.1"}])
    assert data["status"] == "registered" and data["cn"] == "RA"
    assert data["profile"] == "ra"
    assert data["ca_certificate"] == ca.ok("get_ca")
    cert = load(data["certificate"])
    assert cn_of(cert.subject) == ["RA"]
    assert sans_of(cert) == (["localhost"], ["127.0.0.1"])
    assert eku_of(cert) == {ExtendedKeyUsageOID.SERVER_AUTH,
                            ExtendedKeyUsageOID.CLIENT_AUTH}
    assert days_of(cert) == datetime.timedelta(days=365)
    assert data["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(data["private_key"].encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert same_key(key.public_key(), cert.public_key())
    openssl_verify(tmp_path, data["ca_certificate"], data["certificate"])
    st = ca.ok("status", port="reg", cn="RA")
    assert st["status"] == "registered"
    node = st["node"]
    assert node["cn"] == "RA" and node["profile"] == "ra"
    assert int(node["serial"], 16) == cert.serial_number
    assert ca.err("status", port="reg") == "[700] Missing cn parameter"
    assert ca.err("register", port="reg", seed=SEED, cn="localhost") == \
        "[300] Reserved name: localhost"
    assert ca.err("register", port="reg", seed=SEED, cn="RA2", profile="ca") == \
        "[500] Profile ca cannot be used to sign"
    assert ca.err("register", port="reg", seed=SEED) == "[700] Missing cn parameter"


def test_seed_from_the_command_line(own_ca):
    c = own_ca("--seed", "flag-seed", env_seed=False)
    assert c.err("register", port="reg", seed=SEED, cn="RA") == \
        "[700] Invalid registration seed"
    assert c.ok("register", port="reg", seed="flag-seed", cn="RA")["status"] == "registered"


# -- profiles and admins ---------------------------------------------------------

def test_profiles(ca):
    assert ca.ok("list_profiles") == ["ca", "ra", "server", "webapp", "laptop", "user",
                                      "admin"]
    p = ca.ok("get_profile", profile="server")
    assert p == {"keyType": "ec", "keyLen": 256, "duration": 60, "digest": "sha256",
                 "subject": {"O": "uPKI"},
                 "keyUsage": ["digitalSignature", "keyEncipherment"],
                 "extendedKeyUsage": ["serverAuth"], "certType": "server"}
    assert ca.ok("get_profile", profile="ra")["extendedKeyUsage"] == \
        ["serverAuth", "clientAuth"]
    assert ca.ok("get_profile", profile="ca")["extendedKeyUsage"] == []
    for name, days in (("webapp", 60), ("ra", 365), ("admin", 365), ("user", 30),
                       ("laptop", 365)):
        assert ca.ok("get_profile", profile=name)["duration"] == days
    assert ca.err("get_profile", profile="nope") == "[500] Profile not found: nope"
    assert ca.err("get_profile") == "[700] Missing profile parameter"


def test_admins(ca):
    assert ca.ok("list_admins") == []
    assert ca.ok("add_admin", dn="/CN=alice/O=uPKI") is True
    assert ca.ok("add_admin", dn="/CN=alice/O=uPKI") is True
    assert ca.ok("add_admin", dn="/CN=bob/O=uPKI") is True
    assert ca.ok("list_admins") == ["/CN=alice/O=uPKI", "/CN=bob/O=uPKI"]
    assert ca.ok("remove_admin", dn="/CN=alice/O=uPKI") is True
    assert ca.ok("remove_admin", dn="/CN=nobody") is True
    assert ca.ok("list_admins") == ["/CN=bob/O=uPKI"]
    assert ca.err("add_admin") == "[700] Missing dn parameter"
    assert ca.err("remove_admin") == "[700] Missing dn parameter"
    assert ca.err("add_admin", dn="x" * 1025).startswith("[700] Invalid dn parameter")


# -- fault injection, logging, shutdown ------------------------------------------

def test_slow_ms_delays_operations_only(own_ca):
    c = own_ca("--slow-ms", "1500")
    t = time.monotonic()
    assert c.ok("list_profiles")
    assert time.monotonic() - t >= 1.4
    t = time.monotonic()
    assert c.ok("status", port="reg", cn="RA") == {"status": "not_registered"}
    assert time.monotonic() - t < 1.0
    assert c.raw(b'{"TASK": "get_ca"}', timeout=0.5) is None
    assert c.ok("get_ca").startswith("-----BEGIN CERTIFICATE-----")


def test_tasks_log(own_ca):
    c = own_ca()
    for i in range(3):
        csr, _ = make_csr(f"log{i}.example.test", [f"log{i}.example.test"])
        c.ok("sign", csr=csr)
    c.err("sign", csr="junk")
    c.ok("register", port="reg", seed=SEED, cn="RA")
    c.err("register", port="reg", seed="wrong " + SEED, cn="RA")
    c.ok("generate", cn="Spacey Name\nforged=1", profile="admin")
    c.raw(b"junk")
    lines = c.tasks_log()
    line = re.compile(r"task=\S+ port=(ops|reg) result=(ok|error)( cn=\S+)?"
                      r"( serial=[0-9A-F]+)?")
    assert all(line.fullmatch(ln) for ln in lines), lines
    signs = [ln for ln in lines if ln.startswith("task=sign ")]
    assert len(signs) == 4
    assert len([ln for ln in signs if "result=ok" in ln and "serial=" in ln]) == 3
    assert "task=register port=reg result=ok cn=RA serial=" in "\n".join(lines)
    assert any(ln.startswith("task=generate port=ops result=ok cn=Spacey?Name?forged=1 ")
               for ln in lines), lines
    assert "task=- port=ops result=error" in lines
    with open(os.path.join(c.dir, "tasks.log")) as f:
        everything = f.read() + c.text()
    assert SEED not in everything
    assert "PRIVATE KEY" not in everything


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_exit_cleanly(tmp_path, sig):
    c = DevCA(str(tmp_path))
    assert c.ok("get_ca")
    assert c.stop(sig) == 0
    assert "exiting on signal" in c.text()
