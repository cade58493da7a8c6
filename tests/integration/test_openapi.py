"""docs/openapi.yaml against the router table and the real answers.

The document must list every route of fcgi/router.c with the same methods
and the same callers (security), and nothing the router does not route.
Real answers of the REST routes, through nginx on a stack of the module's
own, must validate against the document's schema for their route, method
and status (Debian's python3-jsonschema, draft 2020-12 as OpenAPI 3.1
uses).  GET /api/v1/public/openapi serves the document.
"""

import inspect
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse

import jsonschema
import pytest
import yaml

from conftest import BUILD, finish_stack, free_port_pair, get, make_stack, wait_until
from mtls_helpers import (call, certify, enrol, generate_identity, make_csr, new_key,
                          ra_admin)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
ROUTER = os.path.join(ROOT, "fcgi", "router.c")

ROUTE_LINE = re.compile(r'\{\s*(M_[A-Z_| ]+),\s*"([^"]+)",\s*(AUTH_[A-Z]+),\s*(\w+)\s*\}')
METHOD_BITS = {"M_GET": "get", "M_POST": "post", "M_DELETE": "delete"}
# Who may call, as the router says and as the document says it.
SECURITY = {"AUTH_PUBLIC": [], "AUTH_ACME": [],
            "AUTH_ADMIN": [{"adminCertificate": []}],
            "AUTH_CLIENT": [{"nodeCertificate": []}]}


def router_routes(text=None):
    """[(pattern, {methods}, auth)] of the router table; HEAD goes with GET."""
    if text is None:
        text = open(ROUTER).read()
    table = text[text.index("router_table[] = {"):]
    table = table[:table.index("};")]
    routes = []
    for bits, pattern, auth, _fn in ROUTE_LINE.findall(table):
        methods = {METHOD_BITS[b.strip()] for b in bits.split("|") if b.strip() in METHOD_BITS}
        routes.append((pattern, methods, auth))
    return routes


def load_doc():
    with open(DOC_PATH) as f:
        return yaml.safe_load(f)


def doc_routes(doc):
    """{pattern: {method: operation}}, {name} segments as the router's '*'."""
    out = {}
    for path, item in doc["paths"].items():
        pattern = re.sub(r"\{[^}/]+\}", "*", path)
        ops = {m: op for m, op in item.items() if m in ("get", "post", "delete", "put",
                                                        "patch", "head", "options")}
        out[pattern] = ops
    return out


# -- the document against the router table ---------------------------------------

def test_router_table_is_read():
    """The parser sees the whole table: a wrong regexp would pass everything."""
    routes = router_routes()
    assert len(routes) >= 45, routes
    patterns = {p for p, _, _ in routes}
    assert {"/api/v1/public/health", "/api/v1/nodes", "/api/client/renew",
            "/acme/directory", "/api/v1/public/openapi"} <= patterns


def test_every_route_is_documented():
    doc = doc_routes(load_doc())
    missing = []
    for pattern, methods, _ in router_routes():
        for m in methods:
            if m not in doc.get(pattern, {}):
                missing.append(f"{m.upper()} {pattern}")
    assert not missing, "routed but not in docs/openapi.yaml: " + ", ".join(missing)


def test_every_documented_route_is_routed():
    routed = {}
    for pattern, methods, _ in router_routes():
        routed.setdefault(pattern, set()).update(methods)
    extra = [f"{m.upper()} {p}" for p, ops in doc_routes(load_doc()).items()
             for m in ops if m not in routed.get(p, set())]
    assert not extra, "in docs/openapi.yaml but not routed: " + ", ".join(extra)


def test_who_may_call_is_the_routers():
    doc = doc_routes(load_doc())
    wrong = []
    for pattern, methods, auth in router_routes():
        for m in methods:
            op = doc.get(pattern, {}).get(m)
            if op is not None and op.get("security") != SECURITY[auth]:
                wrong.append(f"{m.upper()} {pattern}: {op.get('security')} for {auth}")
    assert not wrong, wrong


def test_protected_routes_document_the_refusals():
    """An admin or client route can answer 401 (no certificate from nginx),
    403 (refused) and 503 (the store or the admin list unreadable)."""
    missing = []
    for path, item in load_doc()["paths"].items():
        for m, op in item.items():
            if op.get("security"):
                gaps = {"401", "403", "503"} - set(op["responses"])
                if gaps:
                    missing.append(f"{m.upper()} {path}: {sorted(gaps)}")
    assert not missing, missing


def test_the_checks_catch_a_missing_and_an_unrouted_route():
    """The two checks above, on a router table with one route more and one
    less than the document's."""
    text = open(ROUTER).read()
    more = text.replace("router_table[] = {", "router_table[] = {\n\t{ M_GET, "
                        "\"/api/v1/public/nowhere\", AUTH_PUBLIC, public_health },", 1)
    less = re.sub(r'\t\{ M_POST, "/api/v1/crl/generate".*\n', "", text)
    doc = doc_routes(load_doc())
    assert "/api/v1/public/nowhere" not in doc
    assert ("/api/v1/public/nowhere", {"get"}, "AUTH_PUBLIC") in router_routes(more)
    assert "/api/v1/crl/generate" in doc
    assert "/api/v1/crl/generate" not in {p for p, _, _ in router_routes(less)}


def test_document_is_openapi_3_1_with_valid_schemas():
    doc = load_doc()
    assert str(doc["openapi"]).startswith("3.1"), doc["openapi"]
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    for path, item in doc["paths"].items():
        for m, op in item.items():
            assert op.get("summary"), f"{m} {path} has no summary"
            assert op.get("responses"), f"{m} {path} has no responses"
            for status, r in op["responses"].items():
                for media in r.get("content", {}).values():
                    jsonschema.Draft202012Validator.check_schema(media["schema"])
    # Every $ref points at something.
    refs = re.findall(r"\$ref: '#/([^']+)'", open(DOC_PATH).read())
    for ref in refs:
        node = doc
        for part in ref.split("/"):
            assert part in node, f"dangling $ref #/{ref}"
            node = node[part]


# -- real answers against the document ---------------------------------------------

class Validator:
    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver.from_schema(doc)
        self.seen = set()

    def response(self, path, method, status):
        op = self.doc["paths"][path][method]
        r = op["responses"].get(str(status))
        assert r is not None, f"{method.upper()} {path}: status {status} is not documented"
        if "$ref" in r:
            r = self.resolver.resolve(r["$ref"])[1]
        return r

    def check(self, reply, path, method, status=None):
        """The reply has a documented status and content type, and its body
        validates against the document's schema for them."""
        if status is not None:
            assert reply.status == status, (path, method, reply.status, reply.body)
        r = self.response(path, method, reply.status)
        ctype = (reply.header("content-type") or "").split(";")[0].strip()
        content = r.get("content", {})
        assert ctype in content, (path, method, reply.status, ctype, list(content))
        schema = content[ctype]["schema"]
        # Other bodies are text (PEM, YAML) or bytes (DER): as a string of
        # their bytes either way.
        body = reply.json() if ctype == "application/json" else reply.body.decode("latin-1")
        jsonschema.Draft202012Validator(schema, resolver=self.resolver).validate(body)
        self.seen.add((method, path, reply.status))
        return body


class Api:
    pass


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    s = make_stack(tmp_path_factory, "openapi")
    t = Api()
    t.stack = s
    t.dir = str(tmp_path_factory.mktemp("openapi-ids"))
    t.v = Validator(load_doc())
    t.ran = set()
    try:
        s.start()
        t.admin = generate_identity(s, t.dir, "admin1", "admin")
        ra_admin(s, "add", t.admin.dn)
        yield t
    finally:
        finish_stack(s)


def test_served_document_is_the_repositorys(api):
    r = get(api.stack, "/api/v1/public/openapi")
    assert r.status == 200, r.body
    assert r.header("content-type") in ("application/yaml", "application/vnd.oai.openapi")
    assert r.body == open(DOC_PATH, "rb").read()
    api.v.check(r, "/api/v1/public/openapi", "get", 200)


def test_public_answers(api):
    s, v = api.stack, api.v
    v.check(get(s, "/api/v1/public/health"), "/api/v1/public/health", "get", 200)
    v.check(get(s, "/api/v1/public/ca"), "/api/v1/public/ca", "get", 200)
    v.check(get(s, "/api/v1/ca"), "/api/v1/ca", "get", 200)
    v.check(get(s, "/api/v1/public/crl"), "/api/v1/public/crl", "get", 200)
    v.check(get(s, "/api/v1/crl"), "/api/v1/crl", "get", 200)
    v.check(get(s, "/api/v1/public/crl.der"), "/api/v1/public/crl.der", "get", 200)
    names = v.check(get(s, "/api/v1/public/profiles"), "/api/v1/public/profiles", "get", 200)
    assert "server" in names["data"]
    v.check(get(s, "/api/v1/public/profiles/server"), "/api/v1/public/profiles/{name}",
            "get", 200)
    v.check(get(s, "/api/v1/public/profiles/nosuch"), "/api/v1/public/profiles/{name}",
            "get", 404)
    v.check(get(s, "/api/v1/public/magic/server?cn=a.example.test"),
            "/api/v1/public/magic/{profile}", "get", 200)
    v.check(get(s, "/api/v1/public/certs"), "/api/v1/public/certs", "get", 200)
    v.check(get(s, "/api/v1/public/certs/nosuch.example.test"), "/api/v1/public/certs/{cn}",
            "get", 404)


def test_enrolment_and_certificate_answers(api):
    s, v, a = api.stack, api.v, api.admin
    node = v.check(call(s, a, "POST", "/api/v1/nodes",
                        {"cn": "doc1.example.test", "profile": "server"}),
                   "/api/v1/nodes", "post", 201)["data"]
    v.check(call(s, a, "POST", "/api/v1/nodes", {}), "/api/v1/nodes", "post", 400)
    v.check(call(s, a, "POST", "/api/v1/nodes", {"cn": "doc1.example.test",
                                                 "profile": "server"}),
            "/api/v1/nodes", "post", 409)
    v.check(call(s, a, "GET", "/api/v1/nodes"), "/api/v1/nodes", "get", 200)
    key = new_key()
    v.check(certify(s, make_csr(key, "doc1.example.test", node["sans"]), "wrong"),
            "/api/v1/public/certify", "post", 403)
    cert = v.check(certify(s, make_csr(key, "doc1.example.test", node["sans"]),
                           node["token"]), "/api/v1/public/certify", "post", 201)["data"]
    serial = cert["serial"]
    v.check(get(s, "/api/v1/public/certs/doc1.example.test"), "/api/v1/public/certs/{cn}",
            "get", 200)
    v.check(call(s, None, "POST", "/api/v1/public/ocsp", {"serial": serial}),
            "/api/v1/public/ocsp", "post", 200)
    v.check(call(s, None, "POST", "/api/v1/public/ocsp", {"cert": cert["certificate"]}),
            "/api/v1/public/ocsp", "post", 200)
    v.check(call(s, None, "POST", "/api/v1/public/ocsp", {"serial": "ABCDEF0123"}),
            "/api/v1/public/ocsp", "post", 404)
    v.check(call(s, None, "POST", "/api/v1/public/ocsp", {}), "/api/v1/public/ocsp",
            "post", 400)
    v.check(call(s, a, "GET", "/api/v1/certs"), "/api/v1/certs", "get", 200)
    v.check(call(s, a, "GET", f"/api/v1/certs/{serial}"), "/api/v1/certs/{serial}",
            "get", 200)
    v.check(call(s, a, "GET", "/api/v1/certs/ABCDEF0123"), "/api/v1/certs/{serial}",
            "get", 404)
    v.check(call(s, a, "POST", f"/api/v1/certs/{serial}/revoke", {"reason": "nosuch"}),
            "/api/v1/certs/{serial}/revoke", "post", 400)
    v.check(call(s, a, "POST", f"/api/v1/certs/{serial}/revoke",
                 {"reason": "certificateHold"}), "/api/v1/certs/{serial}/revoke", "post", 200)
    v.check(call(s, a, "POST", f"/api/v1/certs/{serial}/revoke"),
            "/api/v1/certs/{serial}/revoke", "post", 409)
    revoked = v.check(call(s, a, "GET", f"/api/v1/certs/{serial}"), "/api/v1/certs/{serial}",
                      "get", 200)["data"]
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "certificateHold"
    v.check(call(s, a, "POST", f"/api/v1/certs/{serial}/unrevoke"),
            "/api/v1/certs/{serial}/unrevoke", "post", 200)
    v.check(call(s, a, "POST", f"/api/v1/certs/{serial}/renew"),
            "/api/v1/certs/{serial}/renew", "post", 201)
    v.check(call(s, a, "DELETE", "/api/v1/nodes/doc1.example.test"), "/api/v1/nodes/{cn}",
            "delete", 200)
    v.check(call(s, a, "DELETE", "/api/v1/nodes/doc1.example.test"), "/api/v1/nodes/{cn}",
            "delete", 404)


def test_admin_answers(api):
    s, v, a = api.stack, api.v, api.admin
    v.check(call(s, a, "POST", "/api/v1/admins", {"dn": "CN=doc-admin,O=uPKI"}),
            "/api/v1/admins", "post", 201)
    v.check(call(s, a, "POST", "/api/v1/admins", {"dn": "CN=doc-admin,O=uPKI"}),
            "/api/v1/admins", "post", 200)
    v.check(call(s, a, "POST", "/api/v1/admins", {"dn": ""}), "/api/v1/admins", "post", 400)
    admins = v.check(call(s, a, "GET", "/api/v1/admins"), "/api/v1/admins", "get", 200)
    health = v.check(call(s, a, "GET", "/api/v1/health"), "/api/v1/health", "get", 200)
    assert health["data"]["certificates"]["ra.crt"]["status"] == "ok", health
    assert any(x["dn"] == "/O=uPKI/CN=doc-admin" for x in admins["data"]), admins
    dn = urllib.parse.quote("CN=doc-admin,O=uPKI", safe="")
    v.check(call(s, a, "DELETE", f"/api/v1/admins/{dn}"), "/api/v1/admins/{dn}", "delete", 200)
    me = urllib.parse.quote(a.rfc2253, safe="")
    v.check(call(s, a, "DELETE", f"/api/v1/admins/{me}"), "/api/v1/admins/{dn}", "delete", 409)
    v.check(call(s, a, "POST", "/api/v1/crl/generate"), "/api/v1/crl/generate", "post", 200)
    v.check(call(s, a, "GET", "/api/v1/config"), "/api/v1/config", "get", 200)
    v.check(call(s, a, "GET", "/api/v1/options"), "/api/v1/options", "get", 200)
    v.check(call(s, a, "POST", "/api/v1/eab"), "/api/v1/eab", "post", 201)
    v.check(call(s, a, "GET", "/api/v1/eab"), "/api/v1/eab", "get", 200)


def test_refusals(api):
    """Who may call: nginx's 403 without a certificate, the worker's 403 for
    a certificate that is not an admin's, the 415 of a body of another type."""
    s, v = api.stack, api.v
    v.check(call(s, None, "GET", "/api/v1/nodes"), "/api/v1/nodes", "get", 403)
    v.check(call(s, None, "GET", "/api/client/status"), "/api/client/status", "get", 403)
    user = enrol(s, api.admin, api.dir, "notadmin.example.test", "user")
    v.check(call(s, user, "GET", "/api/v1/nodes"), "/api/v1/nodes", "get", 403)
    v.check(call(s, api.admin, "POST", "/api/v1/admins", "dn=x",
                 headers={"Content-Type": "text/plain"}), "/api/v1/admins", "post", 415)


def test_client_answers(api):
    s, v = api.stack, api.v
    me = enrol(s, api.admin, api.dir, "docnode.example.test", "user")
    v.check(call(s, me, "GET", "/api/client/certificate"), "/api/client/certificate", "get",
            200)
    status = v.check(call(s, me, "GET", "/api/client/status"), "/api/client/status", "get",
                     200)["data"]
    assert status["serial"] == me.serial
    key = new_key()
    renewed = v.check(call(s, me, "POST", "/api/client/renew",
                           {"csr": make_csr(key, me.cn, [me.cn])}),
                      "/api/client/renew", "post", 201)["data"]
    assert renewed["serial"] != me.serial
    other = enrol(s, api.admin, api.dir, "docnode2.example.test", "user")
    v.check(call(s, other, "POST", "/api/client/renew",
                 {"csr": make_csr(new_key(), me.cn, [me.cn])}),
            "/api/client/renew", "post", 403)
    v.check(call(s, other, "POST", "/api/client/revoke", {"reason": "superseded"}),
            "/api/client/revoke", "post", 200)


def test_answers_with_the_ca_down(api):
    """The 503s of a CA that does not answer, health's with its report."""
    s, v = api.stack, api.v
    s.stop_devca()
    try:
        report = v.check(get(s, "/api/v1/public/health"), "/api/v1/public/health", "get", 503)
        assert report["data"]["ca"] == "unreachable", report
        v.check(get(s, "/api/v1/public/profiles"), "/api/v1/public/profiles", "get", 503)
        v.check(call(s, api.admin, "GET", "/api/v1/options"), "/api/v1/options", "get", 503)
    finally:
        s.start_devca()
        assert wait_until(lambda: get(s, "/api/v1/public/health").status == 200, 30)


@pytest.fixture(autouse=True)
def _record_run(request):
    """Which tests of the stack ran, for the check below."""
    yield
    if "api" in request.fixturenames:
        request.getfixturevalue("api").ran.add(request.node.name)


def test_every_rest_route_was_answered(api):
    """Runs last: each REST route of the table gave at least one real answer
    that was checked above (the ACME routes have their own tests)."""
    mine = sys._getframe().f_code.co_name
    wanted = {n for n, f in globals().items() if n.startswith("test_") and n != mine
              and "api" in inspect.signature(f).parameters}
    if not wanted <= api.ran:
        pytest.skip(f"needs the whole module; did not run: {sorted(wanted - api.ran)}")
    done = {(m, re.sub(r"\{[^}/]+\}", "*", p)) for m, p, _ in api.v.seen}
    missing = [f"{m.upper()} {p}" for p, methods, auth in router_routes()
               if auth != "AUTH_ACME" for m in methods if (m, p) not in done]
    assert not missing, "no real answer checked for: " + ", ".join(missing)


# -- the installed document --------------------------------------------------------

def fcgi_get(sock, uri, secret):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REQUEST_METHOD": "GET",
           "REQUEST_URI": uri, "SERVER_NAME": "localhost", "SERVER_PORT": "443",
           "SERVER_PROTOCOL": "HTTP/1.1", "UPKI_RA_SECRET": secret}
    r = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert r.returncode == 0, r
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in
                   (line.partition(":") for line in head.decode().split("\r\n")))
    return int(headers.get("status", "200").split()[0]), headers, body


def test_installed_program_serves_the_installed_document(tmp_path):
    """`make install PREFIX=/usr` puts the document beside the man page, and
    the installed program finds it there with no setting."""
    dest = tmp_path / "root"
    cmd = ["make", "-s", "-C", ROOT, f"BUILD={BUILD}", "install", f"DESTDIR={dest}",
           "PREFIX=/usr"]
    if "asan" in os.path.basename(BUILD.rstrip("/")):
        cmd.append("SAN=1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPKI_")
           and k not in ("DESTDIR", "PREFIX", "BINDIR", "MANDIR", "SHAREDIR")}
    r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r
    installed = dest / "usr/share/upki-ra/openapi.yaml"
    assert installed.read_bytes() == open(DOC_PATH, "rb").read()
    secret = "c" * 64
    (tmp_path / "secret.conf").write_text(f"fastcgi_param UPKI_RA_SECRET {secret};\n")
    sock = str(tmp_path / "fcgi.sock")
    env.update({"UPKI_DATA_DIR": str(tmp_path / "data"), "UPKI_RA_LISTEN": sock,
                "UPKI_RA_FCGI_AUTH_FILE": str(tmp_path / "secret.conf"),
                "UPKI_CA_PORT": str(free_port_pair()), "UPKI_CA_TIMEOUT_MS": "1000",
                "UPKI_RA_WORKERS": "2",
                "UPKI_RA_VALIDATORS": "1"})
    log_path = tmp_path / "ra.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(dest / "usr/bin/upki-ra"), "serve"], env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    try:
        assert wait_until(lambda: os.path.exists(sock) or proc.poll() is not None), \
            log_path.read_text()
        status, headers, body = fcgi_get(sock, "/api/v1/public/openapi", secret)
        assert status == 200, (headers, body, log_path.read_text())
        assert headers["content-type"] == "application/yaml"
        assert body == installed.read_bytes()
        # Not installed: a JSON 404 that names no path.
        installed.unlink()
        status, headers, body = fcgi_get(sock, "/api/v1/public/openapi", secret)
        assert status == 404, (headers, body)
        doc = load_doc()
        jsonschema.Draft202012Validator(doc["components"]["schemas"]["Error"],
                                        resolver=jsonschema.RefResolver.from_schema(doc)
                                        ).validate(json.loads(body))
        assert b"/share/" not in body, body
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
