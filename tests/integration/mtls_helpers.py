"""Helpers for the mTLS, admin API and enrolment/client tests.

Identities (client certificates and their keys) come from the stack's own
development CA over ZeroMQ, from its key directly (expired certificates), or
from a CA made here (unrelated to the stack).  Requests go through nginx
(conftest.request) or straight to the FastCGI socket with cgi-fcgi
(Debian's libfcgi-bin), which is how the worker's own checks are reached
without nginx in front.
"""

import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
import urllib.parse

import zmq
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import BUILD, request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RA = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD), "upki-ra")
PEM = serialization.Encoding.PEM

# The tasks that change something at the CA (docs/CA-PROTOCOL.md).
CA_MUTATING_TASKS = ("sign", "generate", "renew", "revoke", "unrevoke", "delete",
                     "add_admin", "remove_admin")


# -- the CA -------------------------------------------------------------------

def ca_call(stack, task, params=None, timeout=10.0):
    """One request to the dev CA's operations port; returns the reply dict."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
    try:
        sock.connect(f"tcp://{stack.ca_host}:{stack.ca_port}")
        msg = {"TASK": task}
        if params is not None:
            msg["params"] = params
        sock.send_string(json.dumps(msg))
        return json.loads(sock.recv_string())
    finally:
        sock.close()


def ca_data(stack, task, params=None):
    reply = ca_call(stack, task, params)
    assert reply.get("EVENT") == "ANSWER", (task, params, reply)
    return reply["DATA"]


def ca_task_count(stack, tasks=CA_MUTATING_TASKS):
    """How many requests for these tasks the dev CA has journalled."""
    path = os.path.join(stack.devca_dir, "tasks.log")
    if not os.path.exists(path):
        return 0
    n = 0
    with open(path) as f:
        for line in f:
            for t in tasks:
                if f"task={t} " in line + " ":
                    n += 1
    return n


# -- identities ---------------------------------------------------------------

def hex_serial(value):
    """Serial as the RA writes it: upper-case hex without leading zeros."""
    if isinstance(value, int):
        return format(value, "X")
    return value.upper().lstrip("0") or "0"


def same_serial(a, b):
    """Serials compared as numbers: the spelling (case, leading zeros) aside."""
    return int(a, 16) == int(b, 16)


class Identity:
    """A certificate and its key, written to files for ssl.load_cert_chain."""

    def __init__(self, directory, name, cert_pem, key_pem):
        self.name = name
        self.cert_pem = cert_pem if isinstance(cert_pem, str) else cert_pem.decode()
        self.key_pem = key_pem if isinstance(key_pem, str) else key_pem.decode()
        os.makedirs(directory, exist_ok=True)
        self.cert = os.path.join(directory, f"{name}.crt")
        self.key = os.path.join(directory, f"{name}.key")
        with open(self.cert, "w") as f:
            f.write(self.cert_pem)
        fd = os.open(self.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.key_pem)
        self.x509 = x509.load_pem_x509_certificate(self.cert_pem.encode())
        self.serial = format(self.x509.serial_number, "X")
        cns = self.x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        self.cn = cns[0].value if cns else ""
        # nginx's $ssl_client_s_dn (RFC 2253: most specific RDN first) ...
        self.rfc2253 = self.x509.subject.rfc4514_string()
        # ... and the RA's canonical form, in the order of the certificate.
        self.dn = "".join(f"/{a.rfc4514_attribute_name}={a.value}"
                          for a in self.x509.subject)

    @property
    def escaped_cert(self):
        """The certificate as nginx's $ssl_client_escaped_cert gives it."""
        return urllib.parse.quote(self.cert_pem, safe="")

    def __repr__(self):
        return f"Identity({self.name}, {self.dn}, {self.serial})"


def generate_identity(stack, directory, cn, profile="user", sans=()):
    """A certificate and key that the dev CA makes (task generate)."""
    data = ca_data(stack, "generate", {"cn": cn, "profile": profile,
                                       "sans": list(sans), "local": True})
    ident = Identity(directory, cn, data["certificate"], data["private_key"])
    assert ident.serial == hex_serial(data["serial"])
    return ident


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key):
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def subject(cn, org="uPKI"):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def unrelated_ca():
    """A self-signed CA the stack has never heard of: (cert, key)."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "uPKI Dev CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uPKI")])
    now = _utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue_with(directory, name, ca_cert, ca_key, subject_name, not_before, not_after,
               eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), key=None):
    """A client certificate signed by ca_key, with the validity and the
    extended key usage given (eku None: no such extension); ca_cert None
    makes it self-signed (with key)."""
    key = key or new_key()
    issuer = ca_cert.subject if ca_cert is not None else subject_name
    b = (x509.CertificateBuilder().subject_name(subject_name)
         .issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    return Identity(directory, name, cert.public_bytes(PEM).decode(), key_pem(key))


def unrelated_identity(directory, name, subject_name):
    ca_cert, ca_key = unrelated_ca()
    now = _utcnow()
    return issue_with(directory, name, ca_cert, ca_key, subject_name,
                      now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30))


def stack_ca(stack):
    """The dev CA's certificate and key: (cert, key)."""
    with open(os.path.join(stack.devca_dir, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(stack.devca_dir, "ca.crt"), "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    return ca_cert, ca_key


def expired_identity(stack, directory, name, subject_name):
    """Signed with the stack's own CA key, valid until yesterday."""
    ca_cert, ca_key = stack_ca(stack)
    now = _utcnow()
    return issue_with(directory, name, ca_cert, ca_key, subject_name,
                      now - datetime.timedelta(days=3), now - datetime.timedelta(days=1))


def own_ca_identity(stack, directory, name, subject_name, eku):
    """Signed with the stack's own CA key, valid now, with the extended key
    usage given (None: without the extension)."""
    ca_cert, ca_key = stack_ca(stack)
    now = _utcnow()
    return issue_with(directory, name, ca_cert, ca_key, subject_name,
                      now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30),
                      eku=eku)


def self_signed_identity(directory, name, subject_name):
    """A certificate signed by its own key, for client authentication."""
    key = new_key()
    now = _utcnow()
    return issue_with(directory, name, None, key, subject_name,
                      now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30),
                      key=key)


def make_csr(key, cn, sans=(), extra_extensions=()):
    """A CSR for cn with DNS (or IP) SANs; PEM text."""
    import ipaddress

    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    names = []
    for s in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(s)))
        except ValueError:
            names.append(x509.DNSName(s))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for ext, critical in extra_extensions:
        b = b.add_extension(ext, critical=critical)
    return b.sign(key, hashes.SHA256()).public_bytes(PEM).decode()


# -- the RA's admin list from the CLI -------------------------------------------

def ra_admin(stack, action, dn=None):
    argv = [RA, "admin", action] + ([dn] if dn is not None else [])
    r = subprocess.run(argv, env=stack.ra_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return r.stdout


# -- requests ------------------------------------------------------------------

def call(stack, who, method, path, body=None, headers=None):
    """One request through nginx, as who (an Identity) or with no certificate."""
    kw = {}
    if who is not None:
        kw = {"cert": who.cert, "key": who.key}
    return request(stack, method, path, body=body, headers=headers, **kw)


def error_json(reply, status):
    """Checks a REST error answer: the status, JSON, status=error, a message."""
    assert reply.status == status, (reply.status, reply.body)
    try:
        body = reply.json()
    except ValueError as e:
        raise AssertionError(f"the error is not JSON ({e}): {reply.body!r}") from None
    assert body["status"] == "error", body
    msg = body.get("message")
    assert isinstance(msg, str) and msg.strip(), body
    # A clear message: text, and no label left without what it labels.
    assert msg.isprintable(), body
    assert not msg.rstrip().endswith(":"), body
    return body


def success_json(reply, status=200):
    assert reply.status == status, (reply.status, reply.body)
    body = reply.json()
    assert body["status"] == "success", body
    return body["data"]


class FcgiReply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        assert self.headers.get("content-type", "").startswith("application/json"), \
            self.headers
        return json.loads(self.body)


def fcgi(stack, method, uri, params=None, body=b"", content_type=None, secret=True):
    """One request straight to the FastCGI socket, bypassing nginx.

    cgi-fcgi passes its whole environment as the FastCGI params, so the
    environment holds exactly the params given here (and the request's own).
    secret: True sends the stack's FastCGI secret as nginx does, a string
    sends that instead, None sends none."""
    env = {"REQUEST_METHOD": method, "REQUEST_URI": uri,
           "QUERY_STRING": uri.split("?", 1)[1] if "?" in uri else "",
           "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost",
           "SERVER_PORT": str(stack.ra_port), "REMOTE_ADDR": "127.0.0.1",
           "HTTPS": "on", "HTTP_HOST": f"localhost:{stack.ra_port}",
           "CONTENT_LENGTH": str(len(body))}
    if content_type is not None:
        env["CONTENT_TYPE"] = content_type
    if secret is True:
        env["UPKI_RA_SECRET"] = stack.front_secret
    elif secret is not None:
        env["UPKI_RA_SECRET"] = secret
    env.update(params or {})
    r = subprocess.run(["cgi-fcgi", "-bind", "-connect", stack.fcgi_socket], env=env,
                       input=body, capture_output=True, timeout=30)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    head, _, payload = r.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return FcgiReply(status, headers, payload)


# -- the store -------------------------------------------------------------------

def db_path(stack):
    return os.path.join(stack.data_dir, "acme.db")


def db_query(stack, sql, args=()):
    con = sqlite3.connect(f"file:{db_path(stack)}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def db_execute(stack, sql, args=()):
    con = sqlite3.connect(db_path(stack), timeout=10)
    try:
        with con:
            return con.execute(sql, args).rowcount
    finally:
        con.close()


SNAPSHOT_TABLES = ("nodes", "admins", "certificates", "eab_keys")


def snapshot(stack, tables=SNAPSHOT_TABLES):
    """Every row of the tables (those the store has), plus how many changing
    tasks the CA saw."""
    out = {}
    have = {r[0] for r in db_query(stack, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    for t in tables:
        if t in have:
            out[t] = sorted(repr(row) for row in db_query(stack, f"SELECT * FROM {t}"))
    out["ca_mutations"] = ca_task_count(stack)
    return out


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


# -- enrolment --------------------------------------------------------------------

def register_node(stack, admin, cn, profile="server", sans=None):
    body = {"cn": cn, "profile": profile}
    if sans is not None:
        body["sans"] = list(sans)
    data = success_json(call(stack, admin, "POST", "/api/v1/nodes", body), 201)
    assert data["token"]
    return data


def certify(stack, csr, token, **extra):
    return request(stack, "POST", "/api/v1/public/certify",
                   body=dict({"csr": csr, "token": token}, **extra))


def enrol(stack, admin, directory, cn, profile="server", sans=None):
    """Registers a node and enrols it: an Identity with a key made here."""
    node = register_node(stack, admin, cn, profile, sans)
    key = new_key()
    csr = make_csr(key, cn, node["sans"])
    data = success_json(certify(stack, csr, node["token"]), 201)
    return Identity(directory, cn, data["certificate"], key_pem(key))


def enrol_even(stack, admin, directory, name, profile="server"):
    """An enrolled certificate whose serial has no leading zero nibble (node
    names name0.example.test, name1...).  A leading zero is a case of its own
    (test_admin_api: test_cert_found_whatever_the_leading_zeros_of_its_serial);
    tests about something else use these, so that they stay exact."""
    for i in range(40):
        c = enrol(stack, admin, directory, f"{name}{i}.example.test", profile)
        if len(c.serial) % 2 == 0:
            return c
    raise AssertionError("40 serials in a row with a leading zero nibble")
