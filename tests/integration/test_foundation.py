"""The foundation: bootstrap, the pool, nginx, and the public API (issue 2)."""

import os
import signal
import socket
import ssl
import stat
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from conftest import BUILD, child_pids, get, request
from stack import free_port_pair, wait_for

RA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), BUILD, "upki-ra")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def count_tasks(stack, task):
    with open(os.path.join(stack.devca_dir, "tasks.log")) as f:
        return sum(1 for line in f if f"task={task} " in line + " ")


# -- bootstrap ----------------------------------------------------------------

def test_ra_certificate_verifies_and_has_the_sans(stack):
    ctx = ssl.create_default_context(cafile=stack.ca_cert)
    with socket.create_connection(("127.0.0.1", stack.ra_port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            der = tls.getpeercert(binary_form=True)
    crt = x509.load_der_x509_certificate(der)
    sans = crt.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # The same certificate verifies when reached by IP address.
    with socket.create_connection(("127.0.0.1", stack.ra_port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_identity_files_and_modes(stack):
    key = os.stat(os.path.join(stack.data_dir, "ra.key"))
    assert stat.S_IMODE(key.st_mode) == 0o600
    for name in ("ra.crt", "ca.crt", "crl.pem", "acme.db"):
        assert os.path.exists(os.path.join(stack.data_dir, name)), name


def test_seed_is_nowhere_on_disk_or_in_worker_environment(stack):
    seed = stack.seed.encode()
    for dirpath, _, files in os.walk(stack.data_dir):
        for name in files:
            path = os.path.join(dirpath, name)
            if stat.S_ISSOCK(os.stat(path).st_mode):
                continue
            with open(path, "rb") as f:
                assert seed not in f.read(), path
    for pid in [stack.ra.pid] + child_pids(stack.ra.pid):
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert seed not in f.read(), f"seed in the environment of {pid}"
    with open(stack.log_path("ra"), "rb") as f:
        assert seed not in f.read()


def test_second_start_does_not_register_again(stack):
    assert count_tasks(stack, "register") == 1
    before = open(os.path.join(stack.data_dir, "ra.crt")).read()
    stack.stop_ra()
    stack.start_ra()
    assert get(stack, "/api/v1/public/health").status == 200
    assert count_tasks(stack, "register") == 1
    assert open(os.path.join(stack.data_dir, "ra.crt")).read() == before


def test_wrong_seed_exits_1_with_a_clear_message(stack, tmp_path):
    env = stack.ra_env(UPKI_DATA_DIR=str(tmp_path / "ra"), UPKI_CA_SEED="not-the-seed")
    r = subprocess.run([RA, "register"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, r.stderr
    assert "Invalid registration seed" in errors[0]
    assert r.stderr.strip().splitlines()[-1] == errors[0]
    assert not os.path.exists(tmp_path / "ra" / "ra.crt")
    assert not os.path.exists(tmp_path / "ra" / "ra.key")


def test_ca_down_at_first_start_is_a_clear_error(tmp_path):
    port = free_port_pair()
    env = dict(os.environ, UPKI_DATA_DIR=str(tmp_path / "ra"), UPKI_CA_PORT=str(port),
               UPKI_CA_SEED="s", UPKI_CA_TIMEOUT_MS="500")
    r = subprocess.run([RA, "start"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, r.stderr
    assert "registration with the CA" in errors[0]
    assert f"no answer from tcp://127.0.0.1:{port + 1}" in errors[0]
    assert not os.path.exists(tmp_path / "ra" / "ra.crt")
    assert not os.path.exists(tmp_path / "ra" / "ra.key")
    assert [f for f in os.listdir(tmp_path / "ra") if ".tmp." in f] == []


def test_cli_help_version_and_errors():
    r = subprocess.run([RA, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "register" in r.stdout and "UPKI_CA_HOST" in r.stdout
    r = subprocess.run([RA, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("upki-ra ")
    for argv in (["frobnicate"], ["serve", "--no-such-flag", "1"], ["serve", "--ca-port", "x"], []):
        r = subprocess.run([RA, *argv], capture_output=True, text=True)
        assert r.returncode == 1, argv
        assert len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)


# -- public API -----------------------------------------------------------------

def test_health(stack):
    r = get(stack, "/api/v1/public/health")
    assert r.status == 200
    body = r.json()
    assert body["status"] == "success"
    assert body["data"]["store"] == "ok" and body["data"]["ca"] == "ok"


@pytest.mark.parametrize("path", ["/api/v1/public/ca", "/api/v1/ca"])
def test_ca_certificate(stack, path):
    r = get(stack, path)
    assert r.status == 200
    assert r.header("content-type") == "application/x-pem-file"
    ca = x509.load_pem_x509_certificate(r.body)
    assert r.body == open(stack.ca_cert, "rb").read()
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize("path", ["/api/v1/public/crl", "/api/v1/crl"])
def test_crl(stack, path):
    r = get(stack, path)
    assert r.status == 200
    crl = x509.load_pem_x509_crl(r.body)
    ca = x509.load_pem_x509_certificate(open(stack.ca_cert, "rb").read())
    assert crl.issuer == ca.subject
    assert crl.is_signature_valid(ca.public_key())


def test_crl_fetched_from_the_ca_when_the_file_is_absent(stack):
    os.unlink(os.path.join(stack.data_dir, "crl.pem"))
    r = get(stack, "/api/v1/public/crl")
    assert r.status == 200
    x509.load_pem_x509_crl(r.body)
    assert os.path.exists(os.path.join(stack.data_dir, "crl.pem"))


def test_profiles(stack):
    r = get(stack, "/api/v1/public/profiles")
    assert r.status == 200
    names = r.json()["data"]
    for p in ("server", "webapp", "ra", "admin", "user", "laptop", "ca"):
        assert p in names
    r = get(stack, "/api/v1/public/profiles/server")
    assert r.status == 200
    prof = r.json()["data"]
    assert prof["keyType"] and prof["duration"] and "serverAuth" in str(prof["extendedKeyUsage"])


@pytest.mark.parametrize("name,status", [("nope", 404), ("bad%20name", 400),
                                         ("a%2Fb", 404), ("x" * 65, 400)])
def test_unknown_or_bad_profile(stack, name, status):
    r = get(stack, f"/api/v1/public/profiles/{name}")
    assert r.status == status
    body = r.json()
    assert body["status"] == "error" and body["message"]


def test_magic_commands_make_a_fitting_csr(stack, tmp_path):
    r = get(stack, "/api/v1/public/magic/server?cn=node1.example.test")
    assert r.status == 200
    data = r.json()["data"]
    assert data["cn"] == "node1.example.test"
    for cmd in data["commands"]:
        subprocess.run(cmd, shell=True, cwd=tmp_path, check=True, capture_output=True)
    csr = x509.load_pem_x509_csr(open(tmp_path / "node1.example.test.csr", "rb").read())
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=node1.example.test"
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["node1.example.test"]


def test_magic_refuses_shell_metacharacters(stack):
    r = get(stack, "/api/v1/public/magic/server?cn=x;rm%20-rf")
    assert r.status == 200
    assert "rm" not in " ".join(r.json()["data"]["commands"])


def test_unknown_path_and_method(stack):
    r = get(stack, "/api/v1/public/nothing-here")
    assert r.status == 404 and r.json()["status"] == "error"
    r = request(stack, "POST", "/api/v1/public/health", body={})
    assert r.status == 405 and r.json()["status"] == "error"
    assert "GET" in r.header("allow")


def test_oversized_body_refused(stack):
    r = request(stack, "POST", "/api/v1/public/health", body="x" * (65 * 1024),
                headers={"Content-Type": "application/json"})
    assert r.status == 413


# -- the pool -------------------------------------------------------------------

def test_killed_worker_is_replaced_and_requests_keep_succeeding(stack):
    master = stack.ra.pid
    wait_for(lambda: len(child_pids(master)) == stack.children, 10, "the children")
    workers = child_pids(master)
    os.kill(workers[0], signal.SIGKILL)
    for _ in range(40):
        assert get(stack, "/api/v1/public/profiles").status == 200
    wait_for(lambda: len(child_pids(master)) == stack.children, 10, "the replacement worker")
    assert workers[0] not in child_pids(master)


def test_sighup_replaces_workers_without_failing_requests(stack):
    master = stack.ra.pid
    before = set(child_pids(master))
    os.kill(master, signal.SIGHUP)
    for _ in range(40):
        assert get(stack, "/api/v1/public/health").status == 200
    wait_for(lambda: not (set(child_pids(master)) & before), 15, "old workers to exit")
    assert len(child_pids(master)) == stack.children


def test_health_503_when_the_ca_is_down(stack):
    stack.stop_devca()
    try:
        r = get(stack, "/api/v1/public/health")
        assert r.status == 503
        body = r.json()
        assert body["status"] == "error"
        assert body["data"]["ca"] == "unreachable" and body["data"]["store"] == "ok"
        # Anyone may ask: the CA's address is not told.
        assert body["message"] == "CA unreachable", body
        assert str(stack.ca_port) not in r.body.decode() and stack.ca_host not in r.body.decode()
        r = get(stack, "/api/v1/public/profiles")
        assert r.status == 503 and r.header("retry-after")
        assert str(stack.ca_port) not in r.body.decode(), r.body
    finally:
        stack.start_devca()
    assert get(stack, "/api/v1/public/health").status == 200


def test_sigterm_leaves_no_process_behind(fresh_stack):
    fresh_stack.start_devca()
    fresh_stack.start_ra()
    master = fresh_stack.ra.pid
    wait_for(lambda: len(child_pids(master)) == fresh_stack.children, 10, "the children")
    workers = child_pids(master)
    os.kill(master, signal.SIGTERM)
    assert fresh_stack.ra.wait(20) == 0
    time.sleep(0.2)
    assert [p for p in workers if alive(p)] == []


def test_seed_from_the_systemd_credential(stack, tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "seed").write_text(stack.seed + "\n")
    env = stack.ra_env(UPKI_DATA_DIR=str(tmp_path / "ra"), CREDENTIALS_DIRECTORY=str(creds),
                       UPKI_RA_CN="RA-credential")
    del env["UPKI_CA_SEED"]
    r = subprocess.run([RA, "register"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ra" / "ra.crt").exists()
    # Without any seed at all: one clear error.
    env["CREDENTIALS_DIRECTORY"] = str(tmp_path / "none")
    env["UPKI_DATA_DIR"] = str(tmp_path / "ra2")
    r = subprocess.run([RA, "register"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "no registration seed" in r.stderr
