"""What an operator sees (issue 19): the ACME directory's CAA identity, the
CRL in DER, the reference RA's command line, a data directory of another
CA, the environment file, and what the logs and health say when the CA goes
away and comes back.
"""

import json
import os
import subprocess
import time

import pytest

from conftest import finish_stack, get, make_stack
from mtls_helpers import RA


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    s = make_stack(tmp_path_factory, "operator")
    try:
        s.start()
        yield s
    finally:
        finish_stack(s)


def directory(stack):
    r = get(stack, "/acme/directory")
    assert r.status == 200, r.body
    return r.json()


# -- caaIdentities ------------------------------------------------------------------

def test_caa_identity_is_omitted_without_a_domain_name(op):
    # No base URL, and the CN "RA" is no domain name: no port-carrying guess.
    assert "caaIdentities" not in directory(op)["meta"]


def test_caa_identity_is_a_domain_name(tmp_path_factory):
    for env, want in (({"UPKI_RA_CAA_IDENTITY": "pki.example.test"}, "pki.example.test"),
                      ({"UPKI_RA_CN": "ra.example.test"}, "ra.example.test")):
        s = make_stack(tmp_path_factory, "caa", env=env)
        try:
            s.start()
            assert directory(s)["meta"]["caaIdentities"] == [want]
        finally:
            finish_stack(s)


# -- the CRL in DER ------------------------------------------------------------------

def test_crl_in_der(op, tmp_path):
    r = get(op, "/api/v1/public/crl.der")
    assert r.status == 200, r.body
    assert r.header("content-type") == "application/pkix-crl"
    der = tmp_path / "crl.der"
    der.write_bytes(r.body)
    out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(der), "-noout",
                          "-issuer"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "uPKI Dev CA" in out.stdout
    # The same CRL as the PEM route's.
    pem = get(op, "/api/v1/public/crl").body
    conv = subprocess.run(["openssl", "crl", "-inform", "PEM", "-outform", "DER"],
                          input=pem, capture_output=True)
    assert conv.stdout == r.body


# -- the reference RA's command line --------------------------------------------------

def bare_env(stack):
    """The stack's environment without the settings the flags give."""
    env = stack.ra_env()
    for k in ("UPKI_DATA_DIR", "UPKI_CA_HOST", "UPKI_CA_PORT", "UPKI_RA_HOST",
              "UPKI_RA_PORT", "UPKI_CA_SEED", "UPKI_LOG_LEVEL"):
        env.pop(k, None)
    return env


def directory_base(stack):
    """The base of the ACME URLs when the request names no host: the
    address the settings say nginx listens on."""
    from mtls_helpers import fcgi
    r = fcgi(stack, "GET", "/acme/directory", params={"HTTP_HOST": ""})
    assert r.status == 200, r.body
    return json.loads(r.body)["newNonce"].rsplit("/acme/", 1)[0]


def listen(stack, argv, log):
    with open(log, "ab") as f:
        p = subprocess.Popen([RA, *argv], env=bare_env(stack), stdout=f, stderr=f,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    from stack import unix_socket_open, wait_for
    wait_for(lambda: unix_socket_open(stack.fcgi_socket), 30, "listen", p)
    return p


def test_reference_cli_forms(fresh_stack):
    s = fresh_stack
    s.start_devca()
    ca = ["-d", s.data_dir, "-i", s.ca_host, "-p", str(s.ca_port)]

    def run(*argv):
        r = subprocess.run([RA, *argv], env=bare_env(s), capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, (argv, r.stdout, r.stderr)
        return r

    run(*ca, "init")
    assert os.path.exists(os.path.join(s.data_dir, "acme.db"))
    run(*ca, "register", "-s", s.seed)
    assert os.path.exists(os.path.join(s.data_dir, "ra.crt"))
    os.unlink(os.path.join(s.data_dir, "ra.crt"))
    run("--dir", s.data_dir, "--ip", s.ca_host, "--port", str(s.ca_port), "register",
        "--seed", s.seed)
    run(*ca, "crl")
    assert os.path.exists(os.path.join(s.data_dir, "crl.pem"))

    # circle-rd's: the web address as --web-ip/--web-port, before the command.
    log = s.log_path("ra")
    p = listen(s, [*ca, "--web-ip", "127.0.0.3", "--web-port", "8765", "--debug", "listen"],
               log)
    try:
        assert directory_base(s) == "https://127.0.0.3:8765"
        assert ": debug: " in open(log).read()
    finally:
        s._stop(p)
    # proh4cktive's: -i/-p after `listen` are the web address.
    p = listen(s, [*ca, "listen", "-i", "127.0.0.4", "-p", "8766"], log)
    try:
        assert directory_base(s) == "https://127.0.0.4:8766"
    finally:
        s._stop(p)


def test_reference_cli_unknown_short_option(fresh_stack):
    r = subprocess.run([RA, "-z", "init"], env=bare_env(fresh_stack), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "-z" in r.stderr


# -- a data directory of another CA ------------------------------------------------------

def tree(path):
    """Every file under path: its bytes and mtime."""
    out = {}
    for d, _, files in os.walk(path):
        for f in files:
            p = os.path.join(d, f)
            st = os.stat(p)
            out[p] = (open(p, "rb").read(), st.st_mtime_ns, st.st_mode)
    return out


def test_start_refuses_a_data_directory_of_another_ca(fresh_stack):
    s = fresh_stack
    s.start_devca()
    s.start_ra()
    s.stop_ra()
    s.stop_devca()
    # Another CA (a new key) where the first one was.
    s.devca_dir = s.devca_dir + "-other"
    s.start_devca()
    before = tree(s.data_dir)
    p = subprocess.Popen([RA, "start"], env=s.ra_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        raise
    assert p.returncode == 1, err
    assert "another CA" in err, err
    assert s.data_dir in err
    assert tree(s.data_dir) == before


def test_start_accepts_its_own_ca(fresh_stack):
    s = fresh_stack
    s.start_devca()
    s.start_ra()
    s.stop_ra()
    s.start_ra()        # the same CA: serves
    assert "another CA" not in open(s.log_path("ra")).read()


# -- the CA away and back: health, the admin list, the log ----------------------------------

def ca_lines(stack):
    """(pid, kind) of the log lines about the CA going away and coming back."""
    out = []
    for line in open(stack.log_path("ra"), errors="replace"):
        if "upki-ra[" not in line:
            continue
        pid = line.split("upki-ra[", 1)[1].split("]", 1)[0]
        if "does not answer" in line and "the CA at" in line:
            out.append((pid, "down"))
        elif "answers again" in line:
            out.append((pid, "up"))
    return out


def test_ca_outage_health_admins_and_log(fresh_stack, tmp_path):
    from mtls_helpers import call, generate_identity, ra_admin
    s = fresh_stack
    timeout = 1.0       # make_stack's UPKI_CA_TIMEOUT_MS
    s.start()
    admin = generate_identity(s, str(tmp_path), "outage-admin", "admin")
    ra_admin(s, "add", admin.dn)
    assert get(s, "/api/v1/public/health").status == 200
    body = call(s, admin, "GET", "/api/v1/admins").json()
    assert "partial" not in body, body

    s.stop_devca()
    for _ in range(8):
        t0 = time.monotonic()
        r = get(s, "/api/v1/public/health")
        took = time.monotonic() - t0
        assert r.status == 503, r.body
        assert took < timeout + 0.5, took
    r = call(s, admin, "GET", "/api/v1/admins")
    assert r.status == 200, r.body
    body = r.json()
    assert body["partial"] is True and "CA" in body["message"], body
    assert any(a["dn"] == admin.dn for a in body["data"])

    s.start_devca()
    for _ in range(8):
        assert get(s, "/api/v1/public/health").status == 200
    lines = ca_lines(s)
    down = [pid for pid, kind in lines if kind == "down"]
    up = [pid for pid, kind in lines if kind == "up"]
    assert down and up, lines
    # Once per outage and process, not once per request.
    assert len(down) == len(set(down)) and len(up) == len(set(up)), lines
    assert set(up) <= set(down), lines


def test_a_csr_the_ca_refuses_is_logged_with_its_reason(tmp_path_factory, tmp_path):
    from mtls_helpers import (certify, generate_identity, make_csr, new_key, ra_admin,
                              register_node)
    s = make_stack(tmp_path_factory, "refused", devca_args=("--reserved", "taken.test"))
    try:
        s.start()
        admin = generate_identity(s, str(tmp_path), "refusal-admin", "admin")
        ra_admin(s, "add", admin.dn)
        node = register_node(s, admin, "taken.test")
        r = certify(s, make_csr(new_key(), "taken.test", node["sans"]), node["token"])
        assert r.status >= 400, r.body
        warns = [line for line in open(s.log_path("ra"), errors="replace")
                 if ": warn: " in line and "Reserved name: taken.test" in line]
        assert len(warns) == 1, open(s.log_path("ra")).read()[-3000:]
        assert "taken.test" in warns[0].split("Reserved name")[0]   # names the CSR
    finally:
        finish_stack(s)


# -- commands run by hand: the service's environment file, the data directory's owner -------

def test_commands_read_the_environment_file(op, tmp_path):
    env_file = tmp_path / "upki-ra.env"
    env_file.write_text(
        "# as the installed file\n"
        f"UPKI_DATA_DIR={op.data_dir}\n"
        f"UPKI_CA_HOST=\"{op.ca_host}\"\n"
        f"UPKI_CA_PORT={op.ca_port}\n"
        "PATH=/nonexistent\n")
    env = bare_env(op)
    crl = os.path.join(op.data_dir, "crl.pem")
    os.unlink(crl)
    r = subprocess.run([RA, "--env-file", str(env_file), "crl"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(crl)
    os.unlink(crl)
    r = subprocess.run([RA, "crl"], env=dict(env, UPKI_RA_ENV_FILE=str(env_file)),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(crl)
    # The environment wins over the file, as over systemd's EnvironmentFile=.
    other = tmp_path / "other"
    r = subprocess.run([RA, "--env-file", str(env_file), "init"],
                       env=dict(env, UPKI_DATA_DIR=str(other)), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert (other / "acme.db").exists()
    # A file asked for must be there.
    r = subprocess.run([RA, "--env-file", str(tmp_path / "missing"), "init"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "missing" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_leaves_no_root_owned_file_in_another_users_data_directory(op, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    for name in ("ra.crt", "ca.crt"):
        with open(os.path.join(op.data_dir, name), "rb") as f:
            (d / name).write_bytes(f.read())
    os.chown(d, 65534, 65534)
    for f in d.iterdir():
        os.chown(f, 65534, 65534)
    env = dict(op.ra_env(), UPKI_DATA_DIR=str(d))
    for argv in (["admin", "list"], ["crl"], ["init"]):
        r = subprocess.run([RA, *argv], env=env, capture_output=True, text=True, timeout=60)
        owners = {p.name: p.stat().st_uid for p in d.iterdir()}
        assert all(uid == 65534 for uid in owners.values()), (argv, owners, r.stderr)
        if r.returncode != 0:
            assert "runuser" in r.stderr, r.stderr


def test_start_notices_that_the_ca_certificate_changed(fresh_stack):
    """The same CA with another certificate (renewed on its key): start
    takes the CA's current one into ca.crt, and says so."""
    import datetime
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from mtls_helpers import stack_ca
    s = fresh_stack
    s.start_devca()
    s.start_ra()
    s.stop_ra()
    ca_cert, ca_key = stack_ca(s)
    now = datetime.datetime.now(datetime.timezone.utc)
    older = (cx509.CertificateBuilder().subject_name(ca_cert.subject)
             .issuer_name(ca_cert.subject).public_key(ca_key.public_key())
             .serial_number(cx509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=2))
             .not_valid_after(now + datetime.timedelta(days=20))
             .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(ca_key, hashes.SHA256()))
    with open(s.ca_cert, "wb") as f:
        f.write(older.public_bytes(serialization.Encoding.PEM))
    s.start_ra()
    with open(s.ca_cert, "rb") as f:
        assert cx509.load_pem_x509_certificate(f.read()) == ca_cert
    assert "certificate changed" in open(s.log_path("ra")).read()
