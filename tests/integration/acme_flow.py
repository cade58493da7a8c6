"""An ACME client's world for the integration tests: an http-01 responder,
and the steps of an issuance through the test client (acme_client.py)."""

import contextlib
import http.server
import threading
import time

from acme_client import b64u, load_chain, make_csr
from conftest import finish_stack, make_stack
from stack import ChallTestSrv, free_port


def err(name):
    return f"urn:ietf:params:acme:error:{name}"


class Http01Responder:
    """Answers http-01 for every token it is given, on one loopback port."""

    def __init__(self):
        self.port = free_port()
        self.answers = {}
        answers = self.answers

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                token = self.path.rsplit("/", 1)[-1]
                body = answers.get(token)
                if isinstance(body, tuple):     # ("redirect", url)
                    self.send_response(302)
                    self.send_header("Location", body[1])
                    self.end_headers()
                    return
                self.send_response(200 if body else 404)
                self.end_headers()
                if body:
                    self.wfile.write(body.encode())

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def wait_status(client, url, want, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = client.post(url, None).json()
        if obj["status"] in want:
            return obj
        time.sleep(0.1)
    raise AssertionError(f"{url} never reached {want}: {obj}")


def ready_order(env, client, names):
    """An order whose authorizations are all valid through http-01."""
    _, _, http01 = env
    r = client.new_order(names)
    assert r.status == 201, r
    order_url = r.header("location")
    for authz_url in r.json()["authorizations"]:
        authz = client.post(authz_url, None).json()
        ch = next(c for c in authz["challenges"] if c["type"] == "http-01")
        http01.answers[ch["token"]] = client.key_authorization(ch["token"])
        assert client.post(ch["url"], {}).status == 200
        wait_status(client, authz_url, ("valid",))
    return wait_status(client, order_url, ("ready",)), order_url


def finalize(client, order, names, key=None, cn=True):
    der, key = make_csr(names, key=key, cn=cn)
    return client.post(order["finalize"], {"csr": b64u(der)}), key


def issue(env, client, names):
    order, _ = ready_order(env, client, names)
    r, key = finalize(client, order, names)
    pem = client.post(r.json()["certificate"], None).body
    return load_chain(pem)[0], key


@contextlib.contextmanager
def acme_world(tmp_path_factory, name, env=None, before_start=None, **kw):
    """A started stack with an ACME client's world around it: a DNS server
    that answers 127.0.0.1 for every name (pebble-challtestsrv) and an
    http-01 responder, which the RA validates against.  Yields (stack, dns,
    http01) and stops all three.  before_start(stack), when given, runs
    before the stack starts."""
    dns = ChallTestSrv(str(tmp_path_factory.mktemp(name + "-dns")))
    try:
        http01 = Http01Responder()
    except BaseException:
        dns.stop()
        raise
    full_env = {
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{dns.dns_port}",
        "UPKI_RA_HTTP01_PORT": str(http01.port),
        "UPKI_RA_TLSALPN01_PORT": str(free_port()),
    }
    full_env.update(env or {})
    s = make_stack(tmp_path_factory, name, env=full_env, **kw)
    try:
        if before_start is not None:
            before_start(s)
        s.start()
        yield s, dns, http01
    finally:
        http01.stop()
        dns.stop()
        finish_stack(s)
