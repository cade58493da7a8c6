"""The first admin, made on the RA host (issue 19): `upki-ra admin enrol CN`
has the CA sign an `admin` certificate with the RA's own access, writes the
key, the certificate and a PKCS#12, puts the DN on the admin list, and the
certificate then opens the admin API through nginx.  `admin add` takes the
DN in the forms `openssl x509 -subject` prints, or from the certificate.
"""

import os
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from conftest import finish_stack, make_stack
from mtls_helpers import RA, call, error_json, generate_identity, success_json


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    s = make_stack(tmp_path_factory, "enrol")
    try:
        s.start()
        yield s
    finally:
        finish_stack(s)


def ra(stack, *argv, cwd=None):
    return subprocess.run([RA, *argv], env=stack.ra_env(), capture_output=True, text=True,
                          timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)


class Ident:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key


def test_enrol_writes_a_working_admin_identity(st, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    pw = tmp_path / "pw"
    pw.write_text("s3cret pass\n")
    r = ra(st, "admin", "enrol", "alice", "--out", str(out), "--password-file", str(pw))
    assert r.returncode == 0, (r.stdout, r.stderr)
    key, crt, p12 = out / "alice.key", out / "alice.crt", out / "alice.p12"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert "s3cret" not in r.stdout + r.stderr
    # The PKCS#12 opens with the password (without the newline of the file).
    k, c, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), b"s3cret pass")
    assert k is not None and c is not None
    assert c.public_bytes(pkcs12.serialization.Encoding.PEM).decode() == crt.read_text()
    # The one curl command, and it works.
    curl = [line for line in r.stdout.splitlines() if line.startswith("curl ")]
    assert len(curl) == 1, r.stdout
    assert "/api/v1/admins" in curl[0] and str(crt) in curl[0]
    # No base URL: the host is a name of ra.crt (its first SAN), not UPKI_RA_HOST.
    assert f"https://localhost:{st.ra_port}/" in curl[0], curl[0]
    data = success_json(call(st, Ident(str(crt), str(key)), "GET", "/api/v1/admins"))
    assert any(a["dn"].endswith("CN=alice") or "CN=alice/" in a["dn"] for a in data)
    c2 = subprocess.run(curl[0] + " -s -o /dev/null -w '%{http_code}'", shell=True,
                        capture_output=True, text=True, timeout=30)
    assert c2.stdout == "200", (c2.stdout, c2.stderr)


def test_enrol_in_the_current_directory(st, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("another")
    r = ra(st, "admin", "enrol", "bob", "--password-file", str(pw), cwd=str(tmp_path))
    assert r.returncode == 0, (r.stdout, r.stderr)
    for name in ("bob.key", "bob.crt", "bob.p12"):
        assert (tmp_path / name).exists()


def test_enrol_refuses_a_password_on_the_command_line(st, tmp_path):
    r = ra(st, "admin", "enrol", "carol", "--password", "x", cwd=str(tmp_path))
    assert r.returncode == 1
    assert not (tmp_path / "carol.key").exists()


def test_enrol_without_a_terminal_or_a_password_file_fails_clearly(st, tmp_path):
    r = subprocess.run(["setsid", RA, "admin", "enrol", "dave"], env=st.ra_env(),
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "password" in r.stderr
    assert not (tmp_path / "dave.key").exists()


def test_enrol_refuses_to_overwrite(st, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("x")
    (tmp_path / "erin.key").write_text("mine")
    r = ra(st, "admin", "enrol", "erin", "--password-file", str(pw), cwd=str(tmp_path))
    assert r.returncode == 1
    assert (tmp_path / "erin.key").read_text() == "mine"


# -- admin add: the DN as openssl prints it, or from the certificate ---------------

def openssl_subject(ident, *nameopt):
    r = subprocess.run(["openssl", "x509", "-noout", "-subject", *nameopt, "-in", ident.cert],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def is_admin(stack, ident):
    return call(stack, ident, "GET", "/api/v1/admins").status == 200


@pytest.mark.parametrize("form", ["default", "default-bare", "rfc2253", "rfc2253-bare",
                                  "slash", "cert"])
def test_admin_add_matches_the_certificate(st, tmp_path, form):
    ident = generate_identity(st, str(tmp_path), f"dn-{form}", "admin")
    assert ident.dn.startswith("/CN="), ident.dn     # certificate order: CN first
    assert not is_admin(st, ident)
    if form == "cert":
        argv = ["admin", "add", "--cert", ident.cert]
    else:
        given = {"default": openssl_subject(ident),
                 "default-bare": openssl_subject(ident).split("=", 1)[1],
                 "rfc2253": openssl_subject(ident, "-nameopt", "RFC2253"),
                 "rfc2253-bare": openssl_subject(ident, "-nameopt", "RFC2253").split("=", 1)[1],
                 "slash": ident.dn}[form]
        argv = ["admin", "add", given]
    r = ra(st, *argv)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    assert ident.dn in r.stdout, r.stdout     # says the form it stored
    assert is_admin(st, ident), (argv, r.stdout)


@pytest.mark.parametrize("given", ["CN=amb, O=uPKI", "CN = amb,O=uPKI",
                                   "subject=CN=amb, O = uPKI"])
def test_admin_add_refuses_an_ambiguous_dn(st, given):
    before = ra(st, "admin", "list").stdout
    r = ra(st, "admin", "add", given)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "ambiguous" in r.stderr, r.stderr
    assert ra(st, "admin", "list").stdout == before


def test_admin_add_cert_needs_a_certificate(st, tmp_path):
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    r = ra(st, "admin", "add", "--cert", str(bad))
    assert r.returncode == 1
    assert "certificate" in r.stderr


def test_enrol_asks_the_password_on_the_terminal_without_echo(st, tmp_path):
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(str(tmp_path))
        os.execve(RA, [RA, "admin", "enrol", "frank"], st.ra_env())
    out = b""

    def read_until(text):
        nonlocal out
        while text not in out:
            chunk = os.read(fd, 1024)
            assert chunk, out
            out += chunk

    read_until(b"password for")
    os.write(fd, b"tty secret\n")
    read_until(b"the same again")
    os.write(fd, b"tty secret\n")
    try:
        while True:
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass            # the child closed the terminal
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"tty secret" not in out         # no echo
    k, c, _ = pkcs12.load_key_and_certificates((tmp_path / "frank.p12").read_bytes(),
                                               b"tty secret")
    assert k is not None and c is not None
