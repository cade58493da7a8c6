"""Fixtures shared by the integration tests: real dev CA, upki-ra and nginx.

UPKI_TEST_BUILD names the build directory (build or build-asan).  Under the
sanitizer build a report kills the process that made it; the pool would
restart a worker and hide that, so every stack's logs are scanned for
sanitizer reports when it stops, and a report fails the test that owns it.
"""

import http.client
import json
import os
import re
import ssl
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from stack import Stack, free_port, free_port_pair  # noqa: E402,F401
from acme_client import Response  # noqa: E402

BUILD = os.environ.get("UPKI_TEST_BUILD", "build")

SANITIZER_REPORT = re.compile(
    rb"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|UndefinedBehaviorSanitizer")

os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")


def wait_until(predicate, timeout=10.0, interval=0.1):
    """True once predicate() is, False when timeout passed first."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def child_pids(pid):
    """The live children of pid (from /proc; zombies are not counted)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def sanitizer_reports(stack):
    found = []
    for name in ("devca", "ra"):
        path = stack.log_path(name)
        if os.path.exists(path):
            data = open(path, "rb").read()
            if SANITIZER_REPORT.search(data):
                found.append(f"{path}:\n{data.decode(errors='replace')[-4000:]}")
    return found


def make_stack(tmp_path_factory, name, **kw):
    kw.setdefault("env", {})
    kw["env"].setdefault("UPKI_CA_TIMEOUT_MS", "1000")
    return Stack(str(tmp_path_factory.mktemp(name)), build=BUILD, **kw)


def finish_stack(stack):
    stack.stop()
    reports = sanitizer_reports(stack)
    assert not reports, "sanitizer report(s):\n" + "\n".join(reports)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One full stack for a test module; tests must leave it running."""
    s = make_stack(tmp_path_factory, "stack")
    try:
        s.start()
        yield s
    finally:
        finish_stack(s)


@pytest.fixture
def fresh_stack(tmp_path_factory):
    """A stack of its own that the test starts (parts of) itself."""
    s = make_stack(tmp_path_factory, "fresh")
    try:
        yield s
    finally:
        finish_stack(s)


def tls_context(stack, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=stack.ca_cert)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


class Reply(Response):
    """A REST answer: read as JSON, it must say it is JSON."""

    def json(self):
        assert (self.header("content-type") or "").startswith("application/json"), self.headers
        return super().json()


def request(stack, method, path, body=None, headers=None, cert=None, key=None,
            timeout=30):
    """One HTTPS request through nginx, verifying the RA's certificate."""
    conn = http.client.HTTPSConnection("localhost", stack.ra_port, timeout=timeout,
                                       context=tls_context(stack, cert, key))
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def get(stack, path, **kw):
    return request(stack, "GET", path, **kw)
