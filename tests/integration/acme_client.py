"""A small ACME client for the tests: it can also send what real clients
never would (bad nonces, wrong algorithms, forged urls), which is what the
error tests need.  JWS signing with python3-cryptography."""

import base64
import hashlib
import http.client
import json
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64u(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(length, "big"))


CURVES = {"P-256": (ec.SECP256R1, "ES256", hashes.SHA256, 32),
          "P-384": (ec.SECP384R1, "ES384", hashes.SHA384, 48),
          "P-521": (ec.SECP521R1, "ES512", hashes.SHA512, 66)}


class Key:
    """An account or certificate key with its JWK and JWS signing."""

    def __init__(self, kind="P-256", bits=2048, priv=None):
        self.kind = kind
        if priv is not None:
            self.priv = priv
        elif kind == "RSA":
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        elif kind == "Ed25519":
            self.priv = ed25519.Ed25519PrivateKey.generate()
        else:
            self.priv = ec.generate_private_key(CURVES[kind][0]())

    @property
    def alg(self):
        if self.kind == "RSA":
            return "RS256"
        if self.kind == "Ed25519":
            return "EdDSA"
        return CURVES[self.kind][1]

    def jwk(self):
        pub = self.priv.public_key()
        if self.kind == "RSA":
            n = pub.public_numbers()
            return {"kty": "RSA", "n": _int_b64u(n.n), "e": _int_b64u(n.e)}
        if self.kind == "Ed25519":
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
        size = CURVES[self.kind][3]
        n = pub.public_numbers()
        return {"kty": "EC", "crv": self.kind, "x": _int_b64u(n.x, size),
                "y": _int_b64u(n.y, size)}

    def thumbprint(self):
        jwk = self.jwk()
        req = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
               "OKP": ("crv", "kty", "x")}[jwk["kty"]]
        canon = json.dumps({k: jwk[k] for k in req}, separators=(",", ":"), sort_keys=True)
        return b64u(hashlib.sha256(canon.encode()).digest())

    def sign(self, data):
        if self.kind == "RSA":
            return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self.kind == "Ed25519":
            return self.priv.sign(data)
        _, _, h, size = CURVES[self.kind]
        r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(h())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def pem(self):
        return self.priv.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())


def jws(key, url, payload, nonce=None, kid=None, alg=None, extra=None):
    """A flattened JWS; payload None is POST-as-GET."""
    protected = {"alg": alg or key.alg, "url": url}
    if nonce is not None:
        protected["nonce"] = nonce
    if kid is not None:
        protected["kid"] = kid
    else:
        protected["jwk"] = key.jwk()
    protected.update(extra or {})
    p64 = b64u(json.dumps(protected))
    body64 = "" if payload is None else b64u(json.dumps(payload))
    sig = key.sign(f"{p64}.{body64}".encode())
    return {"protected": p64, "payload": body64, "signature": b64u(sig)}


def make_csr(names, key=None, cn=True):
    """A DER CSR for names (DNS or IP), with the first as CN unless cn=False."""
    import ipaddress
    key = key or Key("P-256")
    sans = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])] if cn else [])
    csr = (x509.CertificateSigningRequestBuilder().subject_name(subject)
           .add_extension(x509.SubjectAlternativeName(sans), critical=False)
           .sign(key.priv, None if key.kind == "Ed25519" else hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.DER), key


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    @property
    def problem(self):
        assert self.header("content-type") == "application/problem+json", (
            self.status, self.headers, self.body)
        return self.json()

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class NoNonce(Exception):
    """new-nonce answered with this status and no Replay-Nonce."""

    def __init__(self, status):
        super().__init__(f"new-nonce answered {status} without a nonce")
        self.status = status


class Client:
    def __init__(self, base, cafile, key=None):
        self.base = base.rstrip("/")
        host = self.base.split("://", 1)[1]
        self.host, _, port = host.partition(":")
        self.port = int(port or 443)
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.key = key or Key("P-256")
        self.kid = None
        self._nonce = None
        self.directory = self.get("/acme/directory").json()

    def url(self, path):
        return path if path.startswith("http") else self.base + path

    def request(self, method, url, body=None, headers=None):
        url = self.url(url)
        path = url[len(self.base):]
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        if resp.header("replay-nonce"):
            self._nonce = resp.header("replay-nonce")
        return resp

    def get(self, url):
        return self.request("GET", url)

    def nonce(self):
        """The nonce of the last response, else a fresh one from new-nonce.
        A new-nonce answered without one (a 502 from nginx while a worker
        dies) raises NoNonce rather than letting the next JWS go out with no
        nonce, which the server would rightly refuse as badNonce."""
        if self._nonce is None:
            r = self.request("HEAD", self.directory["newNonce"])
            if self._nonce is None:
                raise NoNonce(r.status)
        n, self._nonce = self._nonce, None
        return n

    def post(self, url, payload, key=None, kid="self", nonce=None, alg=None,
             content_type="application/jose+json", jws_url=None, extra=None):
        """POST a JWS; payload None is POST-as-GET; kid "self" uses the
        account's kid once there is one, None embeds the jwk."""
        key = key or self.key
        kid = self.kid if kid == "self" else kid
        body = jws(key, jws_url or self.url(url), payload,
                   nonce=self.nonce() if nonce is None else nonce, kid=kid, alg=alg,
                   extra=extra)
        return self.request("POST", url, json.dumps(body), {"Content-Type": content_type})

    # -- flows -------------------------------------------------------------
    def new_account(self, contact=None, **extra):
        payload = {"termsOfServiceAgreed": True, **extra}
        if contact is not None:
            payload["contact"] = contact
        r = self.post(self.directory["newAccount"], payload, kid=None)
        if r.status in (200, 201):
            self.kid = r.header("location")
        return r

    def new_order(self, names, **extra):
        ids = []
        import ipaddress
        for n in names:
            try:
                ipaddress.ip_address(n)
                ids.append({"type": "ip", "value": n})
            except ValueError:
                ids.append({"type": "dns", "value": n})
        return self.post(self.directory["newOrder"], {"identifiers": ids, **extra})

    def key_authorization(self, token):
        return f"{token}.{self.key.thumbprint()}"


def load_chain(pem):
    """Every certificate of a PEM chain (Debian's cryptography 38 has no
    load_pem_x509_certificates)."""
    blocks = pem.split(b"-----END CERTIFICATE-----")
    return [x509.load_pem_x509_certificate(b + b"-----END CERTIFICATE-----\n")
            for b in blocks if b"-----BEGIN CERTIFICATE-----" in b]


def issued_by(leaf, ca):
    """True when ca's key signed leaf (for EC and RSA CA keys)."""
    pub = ca.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(),
                       leaf.signature_hash_algorithm)
        else:
            pub.verify(leaf.signature, leaf.tbs_certificate_bytes,
                       ec.ECDSA(leaf.signature_hash_algorithm))
    except Exception:
        return False
    return leaf.issuer == ca.subject


def eab(kid, hmac_key_b64u, url, account_key):
    """An externalAccountBinding object (RFC 8555 7.3.4)."""
    import hmac as _hmac
    protected = b64u(json.dumps({"alg": "HS256", "kid": kid, "url": url}))
    payload = b64u(json.dumps(account_key.jwk()))
    key = base64.urlsafe_b64decode(hmac_key_b64u + "=" * (-len(hmac_key_b64u) % 4))
    mac = _hmac.new(key, f"{protected}.{payload}".encode(), hashlib.sha256).digest()
    return {"protected": protected, "payload": payload, "signature": b64u(mac)}
