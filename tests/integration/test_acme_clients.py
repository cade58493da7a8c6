"""Real ACME clients against the RA: certbot, lego and uacme, unmodified.

Every name resolves through pebble-challtestsrv, the RA's only resolver here
(UPKI_RA_DNS_SERVER): A queries answer 127.0.0.1 and AAAA queries nothing,
so every check the RA makes lands on loopback, on the http-01 and
tls-alpn-01 ports this module chose (UPKI_RA_HTTP01_PORT,
UPKI_RA_TLSALPN01_PORT) where the clients' own servers listen.  dns-01 TXT
records go through challtestsrv's management API (clients_lego_dns.sh for
lego's exec provider, clients_uacme_hook.sh for uacme).

Each test asks for names of its own, so no authorization of another test
answers for it, and checks the certificate it got: the chain is leaf then
the CA certificate and verifies against ca.crt, the SANs are exactly the
names asked for, the key is the client's, and the RA's validator checked
the challenge type the client answered.
"""

import http.server
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from functools import partial

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from conftest import finish_stack, get, make_stack
from stack import ChallTestSrv, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_TIMEOUT = 180      # one client run; the sanitizer build is slow
DOMAIN = "example.test"
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----",
                      re.S)


def need(binary):
    path = shutil.which(binary)
    assert path, f"{binary} is not installed: run tests/deps.sh test"
    return path


# -- pebble-challtestsrv: the RA's DNS ----------------------------------------

@pytest.fixture(scope="module")
def challtestsrv(tmp_path_factory):
    need("pebble-challtestsrv")
    srv = ChallTestSrv(str(tmp_path_factory.mktemp("challtestsrv")))
    try:
        yield srv
    finally:
        srv.stop()


# -- the RA with its knobs pointing at challtestsrv and our ports -------------

class Acme:
    def __init__(self, stack, dns, http01_port, tlsalpn01_port):
        self.stack = stack
        self.dns = dns
        self.http01_port = http01_port
        self.tlsalpn01_port = tlsalpn01_port

    @property
    def directory(self):
        return f"{self.stack.base_url}/acme/directory"

    @property
    def ca_cert(self):
        return self.stack.ca_cert

    def logs(self, tail=6000):
        """The tails of the RA's and nginx's logs, for failure messages."""
        out = []
        for path in (self.stack.log_path("ra"),
                     os.path.join(self.stack.nginx_dir, "logs", "error.log"),
                     os.path.join(self.stack.nginx_dir, "logs", "access.log")):
            if os.path.exists(path):
                text = open(path, errors="replace").read()[-tail:]
                out.append(f"--- {path} (tail) ---\n{text}")
        return "\n".join(out)

    def ra_log(self):
        return open(self.stack.log_path("ra"), errors="replace").read()


@pytest.fixture(scope="module")
def acme(tmp_path_factory, challtestsrv):
    http01, tlsalpn01 = free_port(), free_port()
    while tlsalpn01 == http01:
        tlsalpn01 = free_port()
    stack = make_stack(tmp_path_factory, "clients", env={
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{challtestsrv.dns_port}",
        "UPKI_RA_HTTP01_PORT": str(http01),
        "UPKI_RA_TLSALPN01_PORT": str(tlsalpn01),
        "UPKI_RA_ALLOWED_NAMES": DOMAIN,
        "UPKI_RA_TOS_URL": "https://ra.example.test/terms",
    })
    try:
        stack.start()
        yield Acme(stack, challtestsrv, http01, tlsalpn01)
    finally:
        finish_stack(stack)


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(3)}.{DOMAIN}"


def run_client(acme, argv, env=None, cwd=None, timeout=CLIENT_TIMEOUT, expect_ok=True):
    """Runs one client in a process group of its own; its output."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})),
                            cwd=cwd, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{argv[0]} timed out after {timeout}s:\n"
                    f"{out.decode(errors='replace')[-6000:]}\n{acme.logs()}")
    text = out.decode(errors="replace")
    if expect_ok:
        assert proc.returncode == 0, (
            f"{' '.join(argv)} exited {proc.returncode}:\n{text[-6000:]}\n{acme.logs()}")
    else:
        assert proc.returncode != 0, f"{' '.join(argv)} succeeded:\n{text[-3000:]}"
    return text


# -- what every certificate must be -------------------------------------------

def check_certificate(acme, chain_path, names, key_path=None):
    """The chain at chain_path is leaf then the CA certificate, verifies
    against ca.crt for a TLS server, names exactly `names`, and holds the
    public key of key_path.  Returns the leaf."""
    pems = PEM_CERT.findall(open(chain_path, "rb").read())
    assert pems, f"no certificate in {chain_path}"
    certs = [x509.load_pem_x509_certificate(p) for p in pems]
    ca = x509.load_pem_x509_certificate(open(acme.ca_cert, "rb").read())
    leaf = certs[0]
    assert [c.fingerprint(ca.signature_hash_algorithm) for c in certs[1:]] == [
        ca.fingerprint(ca.signature_hash_algorithm)], (
        f"{chain_path}: expected leaf then the CA certificate, got "
        f"{[c.subject.rfc4514_string() for c in certs]}")

    leaf_path = f"{chain_path}.leaf.pem"
    with open(leaf_path, "wb") as f:
        f.write(pems[0] + b"\n")
    r = subprocess.run(["openssl", "verify", "-purpose", "sslserver", "-CAfile", acme.ca_cert,
                        "-untrusted", chain_path, leaf_path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip().endswith(": OK"), r.stdout + r.stderr

    san = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    assert san.get_values_for_type(x509.IPAddress) == []
    assert len(list(san)) == len(names), list(san)

    if key_path is not None:
        key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        assert leaf.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)
    return leaf


def assert_validated(acme, challenge, names):
    """The RA's validator checked `challenge` for each name and found it valid
    (a certificate alone could also come from a reused authorization)."""
    log = acme.ra_log()
    for name in names:
        bare = re.escape(name[2:] if name.startswith("*.") else name)
        pattern = rf"validator: {re.escape(challenge)} for dns (\*\.)?{bare}: valid"
        assert re.search(pattern, log), f"no '{pattern}' in ra.log:\n{acme.logs()}"


# -- revocation: the CRL and the CA's record -----------------------------------

def crl_entry(acme, serial, timeout=15):
    """The CRL entry for serial, from GET /api/v1/public/crl (waits a little
    for the refresh after a revocation); None if it never shows up."""
    deadline = time.monotonic() + timeout
    while True:
        r = get(acme.stack, "/api/v1/public/crl")
        assert r.status == 200, (r.status, r.body)
        assert r.body.startswith(b"-----BEGIN X509 CRL-----"), r.body[:200]
        crl = x509.load_pem_x509_crl(r.body)
        ca = x509.load_pem_x509_certificate(open(acme.ca_cert, "rb").read())
        assert crl.is_signature_valid(ca.public_key())
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        if entry is not None or time.monotonic() > deadline:
            return entry
        time.sleep(0.5)


def ca_record(acme, serial):
    """(revoked_at, reason) of serial in the development CA's registry."""
    db = sqlite3.connect(f"file:{acme.stack.devca_dir}/registry.db?mode=ro", uri=True,
                         timeout=10)
    try:
        for s, revoked_at, reason in db.execute("SELECT serial, revoked_at, reason FROM certs"):
            if int(s, 16) == serial:
                return revoked_at, reason
    finally:
        db.close()
    raise AssertionError(f"serial {serial:x} is not in the CA's registry")


def assert_revoked(acme, leaf, reason):
    entry = crl_entry(acme, leaf.serial_number)
    assert entry is not None, (
        f"serial {leaf.serial_number:x} is not in the CRL after revocation\n{acme.logs()}")
    revoked_at, ca_reason = ca_record(acme, leaf.serial_number)
    assert revoked_at > 0 and ca_reason == reason, (revoked_at, ca_reason)


# -- certbot --------------------------------------------------------------------

def certbot(acme, tmp_path, *args, expect_ok=True):
    d = tmp_path / "certbot"
    return run_client(acme, [
        need("certbot"), *args, "--server", acme.directory, "--non-interactive",
        "--config-dir", str(d / "config"), "--work-dir", str(d / "work"),
        "--logs-dir", str(d / "logs")],
        env={"REQUESTS_CA_BUNDLE": acme.ca_cert}, cwd=str(tmp_path), expect_ok=expect_ok)


def certbot_issue(acme, tmp_path, names):
    certbot(acme, tmp_path, "certonly", "--standalone", "--preferred-challenges", "http",
            "--http-01-port", str(acme.http01_port), "--cert-name", "test",
            "--agree-tos", "--register-unsafely-without-email",
            *[a for n in names for a in ("-d", n)])
    live = tmp_path / "certbot" / "config" / "live" / "test"
    leaf = check_certificate(acme, str(live / "fullchain.pem"), names,
                             str(live / "privkey.pem"))
    assert x509.load_pem_x509_certificate(
        (live / "cert.pem").read_bytes()).serial_number == leaf.serial_number
    assert_validated(acme, "http-01", names)
    return live, leaf


def test_certbot_http01_one_name(acme, tmp_path):
    certbot_issue(acme, tmp_path, [unique("certbot")])


def test_certbot_http01_two_names(acme, tmp_path):
    certbot_issue(acme, tmp_path, [unique("certbot-x"), unique("certbot-y")])


def test_certbot_revoke(acme, tmp_path):
    live, leaf = certbot_issue(acme, tmp_path, [unique("certbot-rev")])
    certbot(acme, tmp_path, "revoke", "--cert-path", str(live / "cert.pem"),
            "--reason", "keycompromise", "--no-delete-after-revoke")
    assert_revoked(acme, leaf, "keyCompromise")


# -- lego -------------------------------------------------------------------------

def lego(acme, tmp_path, names, *args, command="run", command_args=(), env=None,
         expect_ok=True):
    return run_client(acme, [
        need("lego"), "--accept-tos", "--email", "t@example.test",
        "--path", str(tmp_path / "lego"), "--server", acme.directory,
        *[a for n in names for a in ("--domains", n)], *args, command, *command_args],
        env=dict({"LEGO_CA_CERTIFICATES": acme.ca_cert}, **(env or {})),
        cwd=str(tmp_path), expect_ok=expect_ok)


def lego_files(tmp_path, name):
    base = tmp_path / "lego" / "certificates" / name.replace("*", "_")
    return str(base) + ".crt", str(base) + ".key"


def lego_dns_env(acme, tmp_path):
    script = tmp_path / "clients_lego_dns.sh"
    shutil.copy(os.path.join(HERE, "clients_lego_dns.sh"), script)
    script.chmod(0o755)
    # The exec provider solves one authorization at a time, with a pause
    # (EXEC_SEQUENCE_INTERVAL, 60 s by default) between them.
    return {"EXEC_PATH": str(script), "EXEC_PROPAGATION_TIMEOUT": "30",
            "EXEC_POLLING_INTERVAL": "1", "EXEC_SEQUENCE_INTERVAL": "1",
            "CLIENTS_CHALLTESTSRV": acme.dns.mgmt}


def lego_dns_args(acme):
    return ("--dns", "exec", "--dns.resolvers", f"127.0.0.1:{acme.dns.dns_port}",
            "--dns.disable-cp")


def test_lego_http01(acme, tmp_path):
    names = [unique("lego-http")]
    lego(acme, tmp_path, names, "--http", "--http.port", f":{acme.http01_port}")
    crt, key = lego_files(tmp_path, names[0])
    check_certificate(acme, crt, names, key)
    assert_validated(acme, "http-01", names)


def test_lego_tlsalpn01(acme, tmp_path):
    names = [unique("lego-tls")]
    lego(acme, tmp_path, names, "--tls", "--tls.port", f":{acme.tlsalpn01_port}")
    crt, key = lego_files(tmp_path, names[0])
    check_certificate(acme, crt, names, key)
    assert_validated(acme, "tls-alpn-01", names)


@pytest.mark.parametrize("shape", ["one", "wildcard", "wildcard-and-base"])
def test_lego_dns01(acme, tmp_path, shape):
    base = unique(f"lego-dns-{shape}")
    names = {"one": [base], "wildcard": [f"*.{base}"],
             "wildcard-and-base": [base, f"*.{base}"]}[shape]
    lego(acme, tmp_path, names, *lego_dns_args(acme), env=lego_dns_env(acme, tmp_path))
    crt, key = lego_files(tmp_path, names[0])
    check_certificate(acme, crt, names, key)
    assert_validated(acme, "dns-01", names)


def test_lego_revoke(acme, tmp_path):
    names = [unique("lego-rev")]
    lego(acme, tmp_path, names, "--http", "--http.port", f":{acme.http01_port}")
    crt, key = lego_files(tmp_path, names[0])
    leaf = check_certificate(acme, crt, names, key)
    lego(acme, tmp_path, names, command="revoke", command_args=("--reason", "4", "--keep"))
    assert_revoked(acme, leaf, "superseded")
    out = lego(acme, tmp_path, names, command="revoke", command_args=("--keep",),
               expect_ok=False)
    assert "urn:ietf:params:acme:error:alreadyRevoked" in out, out


# -- uacme ------------------------------------------------------------------------

class ReusingHTTPServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class Webroot:
    """A plain HTTP server on 127.0.0.1:port serving a directory, which
    records the paths it was asked for."""

    def __init__(self, root, port):
        self.root = root
        self.requests = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, fmt, *args):
                headers = getattr(self, "headers", None)
                outer.requests.append((headers.get("Host", "") if headers else "",
                                       getattr(self, "path", "")))

        self.server = ReusingHTTPServer(
            ("127.0.0.1", port), partial(Handler, directory=root))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def webroot(acme, tmp_path):
    w = Webroot(str(tmp_path / "www"), acme.http01_port)
    os.makedirs(w.root, exist_ok=True)
    try:
        yield w
    finally:
        w.stop()


def uacme(acme, tmp_path, *args, env=None, expect_ok=True):
    """uacme is linked with libcurl-gnutls, which trusts /etc/ssl/certs and
    reads no environment variable for another CA: it runs in a mount
    namespace of its own where /etc/ssl/certs holds ca.crt alone."""
    certs = tmp_path / "trust"
    certs.mkdir(exist_ok=True)
    # Read as a CA directory (this build); the bundle's name covers builds
    # that read /etc/ssl/certs/ca-certificates.crt as a file instead.
    shutil.copy(acme.ca_cert, certs / "upki-test-ca.pem")
    shutil.copy(acme.ca_cert, certs / "ca-certificates.crt")
    unshare = [need("unshare"), "--mount"] if os.geteuid() == 0 else \
        [need("unshare"), "--user", "--map-root-user", "--mount"]
    hook = tmp_path / "clients_uacme_hook.sh"
    shutil.copy(os.path.join(HERE, "clients_uacme_hook.sh"), hook)
    hook.chmod(0o755)
    argv = [*unshare, "sh", "-c", 'mount --bind "$0" /etc/ssl/certs && exec "$@"',
            str(certs), need("uacme"), "-v", "-c", str(tmp_path / "uacme"),
            "-a", acme.directory, "-h", str(hook), *args]
    return run_client(acme, argv, env=dict({
        "CLIENTS_CHALLTESTSRV": acme.dns.mgmt,
        "CLIENTS_HOOK_LOG": str(tmp_path / "hook.log")}, **(env or {})),
        cwd=str(tmp_path), expect_ok=expect_ok)


def uacme_issue(acme, tmp_path, names, challenge, env=None):
    uacme(acme, tmp_path, "-y", "new")
    uacme(acme, tmp_path, "-t", "EC", "issue", *names,
          env=dict({"CLIENTS_CHALLENGE": challenge}, **(env or {})))
    bare = names[0][2:] if names[0].startswith("*.") else names[0]
    leaf = check_certificate(acme, str(tmp_path / "uacme" / bare / "cert.pem"), names,
                             str(tmp_path / "uacme" / "private" / bare / "key.pem"))
    hooked = (tmp_path / "hook.log").read_text().splitlines()
    for name in names:
        assert any(line.startswith(f"begin {challenge} {name} ") for line in hooked), hooked
        assert any(line.startswith(f"done {challenge} {name} ") for line in hooked), hooked
    assert_validated(acme, challenge, names)
    return leaf


def test_uacme_http01(acme, tmp_path, webroot):
    names = [unique("uacme-http")]
    uacme_issue(acme, tmp_path, names, "http-01", env={"CLIENTS_WEBROOT": webroot.root})
    asked = [(host, path) for host, path in webroot.requests
             if path.startswith("/.well-known/acme-challenge/")]
    assert asked and all(host.split(":")[0] == names[0] for host, _ in asked), \
        webroot.requests


def test_uacme_dns01_and_revoke_with_the_certificate_key(acme, tmp_path):
    names = [unique("uacme-dns"), unique("uacme-dns2")]
    leaf = uacme_issue(acme, tmp_path, names, "dns-01")
    cert = tmp_path / "uacme" / names[0] / "cert.pem"
    key = tmp_path / "uacme" / "private" / names[0] / "key.pem"
    # Signed with the certificate's key (jwk), not the account's (kid).
    uacme(acme, tmp_path, "-r", "1", "revoke", str(cert), str(key))
    assert_revoked(acme, leaf, "keyCompromise")
