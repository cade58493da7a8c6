"""`make install` / `make uninstall`, the systemd units, socket activation,
the man page and the default environment file.

CI runs these as root in a container where systemd is not PID 1, so every
check here is offline: units are verified with systemd-analyze against an
installed tree, never started; socket activation is exercised with
systemd-socket-activate, which passes a socket exactly as systemd does
(LISTEN_FDS=1, LISTEN_PID, fd 3).
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import BUILD, SANITIZER_REPORT, child_pids, free_port_pair  # noqa: E402
from stack import ChallTestSrv, Stack, unix_socket_open, wait_for  # noqa: E402
from acme_flow import Http01Responder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RA_BIN = os.path.join(ROOT, BUILD, "upki-ra") if not os.path.isabs(BUILD) else \
    os.path.join(BUILD, "upki-ra")
UNITS = ["upki-ra.socket", "upki-ra.service", "upki-ra-crl.service", "upki-ra-crl.timer",
         "upki-ra-nginx-reload.path", "upki-ra-nginx-reload.service"]
SOCKET_PATH = "/run/upki-ra/fcgi.sock"
PLACEHOLDER = re.compile(r"@[A-Z_]+@")   # nginx's own @names are lower case

# Every path `make install DESTDIR=d PREFIX=/usr` lays down under d, with its
# type and mode.  Nothing more, nothing less.
EXPECTED_TREE = {
    "etc": ("d", 0o755),
    "etc/nginx": ("d", 0o755),
    "etc/nginx/sites-available": ("d", 0o755),
    "etc/nginx/sites-available/upki-ra": ("f", 0o644),
    "etc/nginx/snippets": ("d", 0o755),
    "etc/nginx/snippets/upki-ra-fastcgi.conf": ("f", 0o644),
    "etc/nginx/snippets/upki-ra-secret.conf": ("f", 0o600),
    "etc/upki-ra": ("d", 0o755),
    "etc/upki-ra/upki-ra.env": ("f", 0o640),
    "lib": ("d", 0o755),
    "lib/systemd": ("d", 0o755),
    "lib/systemd/system": ("d", 0o755),
    "lib/systemd/system/upki-ra.socket": ("f", 0o644),
    "lib/systemd/system/upki-ra.service": ("f", 0o644),
    "lib/systemd/system/upki-ra-crl.service": ("f", 0o644),
    "lib/systemd/system/upki-ra-crl.timer": ("f", 0o644),
    "lib/systemd/system/upki-ra-nginx-reload.path": ("f", 0o644),
    "lib/systemd/system/upki-ra-nginx-reload.service": ("f", 0o644),
    "usr": ("d", 0o755),
    "usr/bin": ("d", 0o755),
    "usr/bin/upki-ra": ("f", 0o755),
    "usr/share": ("d", 0o755),
    "usr/share/man": ("d", 0o755),
    "usr/share/man/man8": ("d", 0o755),
    "usr/share/man/man8/upki-ra.8": ("f", 0o644),
    "usr/share/upki-ra": ("d", 0o755),
    "usr/share/upki-ra/openapi.yaml": ("f", 0o644),
    "var": ("d", 0o755),
    "var/lib": ("d", 0o755),
    "var/lib/upki-ra": ("d", 0o750),
}
DATA_DIR = "var/lib/upki-ra"
# What may stay after `make uninstall`: the data directory and the
# directories above our files, which are not ours (usr/bin, etc/nginx ...).
OURS = {p for p, (t, _) in EXPECTED_TREE.items() if t == "f"} | {"etc/upki-ra"}


# -- helpers -------------------------------------------------------------------

def clean_env(**extra):
    """The environment without anything that would change what make renders."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("UPKI_") and k not in (
               "DESTDIR", "PREFIX", "BINDIR", "MANDIR", "UNITDIR", "SYSCONFDIR",
               "LOCALSTATEDIR", "NGINXDIR", "SERVER_NAME")}
    env.update(extra)
    return env


def make(*args, check=True):
    """`make -C ROOT args` for the build under test (installing an ASan
    build needs SAN=1, so that nothing is rebuilt without the sanitizers)."""
    cmd = ["make", "-s", "-C", ROOT, f"BUILD={BUILD}", *args]
    if "asan" in os.path.basename(BUILD.rstrip("/")):
        cmd.append("SAN=1")
    r = subprocess.run(cmd, env=clean_env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, f"{' '.join(cmd)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def install(destdir, *args):
    return make("install", f"DESTDIR={destdir}", *args)


def tree(root):
    """{relative path: (type, mode)} of everything under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            kind = "d" if stat.S_ISDIR(st.st_mode) else "f" if stat.S_ISREG(st.st_mode) \
                else "l" if stat.S_ISLNK(st.st_mode) else "?"
            out[os.path.relpath(path, root)] = (kind, stat.S_IMODE(st.st_mode))
    return out


def fmt_tree(t):
    return "\n".join(f"  {k} {oct(m)} {p}" for p, (k, m) in sorted(t.items()))


def unit_settings(path):
    """[(section, key, value)] of a unit file, in order (keys repeat)."""
    out, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.append((section, key.strip(), value.strip()))
    return out


def unit_values(path, section, key):
    return [v for s, k, v in unit_settings(path) if s == section and k == key]


def unit_value(path, section, key):
    values = unit_values(path, section, key)
    assert len(values) == 1, f"{path}: [{section}] {key}= {values}"
    return values[0]


def help_flags_and_vars():
    """The options and variables `upki-ra --help` lists."""
    out = subprocess.run([RA_BIN, "--help"], capture_output=True, text=True,
                         check=True).stdout
    flags = re.findall(r"^\s+--([a-z0-9-]+)\s+(UPKI_[A-Z0-9_]+)", out, re.M)
    assert len(flags) >= 20, out
    return flags


# -- the installed tree ----------------------------------------------------------

@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """One `make install DESTDIR=... PREFIX=/usr`, for reading only."""
    dest = str(tmp_path_factory.mktemp("install") / "root")
    install(dest, "PREFIX=/usr")
    return dest


def test_install_lays_down_exactly_the_expected_tree(installed):
    got = tree(installed)
    missing = {p: v for p, v in EXPECTED_TREE.items() if got.get(p) != v}
    unexpected = {p: v for p, v in got.items() if EXPECTED_TREE.get(p) != v}
    assert got == EXPECTED_TREE, (f"missing or different:\n{fmt_tree(missing)}\n"
                                  f"unexpected or different:\n{fmt_tree(unexpected)}")


def test_installed_binary_is_the_build(installed):
    with open(os.path.join(installed, "usr/bin/upki-ra"), "rb") as a, open(RA_BIN, "rb") as b:
        assert a.read() == b.read()
    r = subprocess.run([os.path.join(installed, "usr/bin/upki-ra"), "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("upki-ra "), r


def test_nginx_site_is_rendered_for_an_installed_host(installed):
    site = open(os.path.join(installed, "etc/nginx/sites-available/upki-ra")).read()
    code = "\n".join(line for line in site.splitlines() if not line.lstrip().startswith("#"))
    assert not PLACEHOLDER.search(code), "a placeholder was left:\n" + code
    assert re.search(r"^\s*listen 443 ssl;$", code, re.M), code
    assert re.search(r"^\s*server_name _;$", code, re.M), code
    for name in ("ra.crt", "ra.key", "ca.crt", "crl.pem"):
        assert f"/var/lib/upki-ra/{name};" in code
    includes = set(re.findall(r"include (\S+);", code))
    assert includes == {"/etc/nginx/snippets/upki-ra-fastcgi.conf",
                        "/etc/nginx/snippets/upki-ra-secret.conf"}, includes
    # Every location that passes to the workers sends the FastCGI secret.
    for block in re.split(r"\n\s*location ", code)[1:]:
        if "fastcgi_pass" in block:
            assert "include /etc/nginx/snippets/upki-ra-secret.conf;" in block, block
    # Every route reaches the one socket: directly, or (ACME, over kept
    # connections) through the upstream whose only server it is.
    passes = set(re.findall(r"fastcgi_pass (\S+);", code))
    assert passes == {f"unix:{SOCKET_PATH}", "upki_ra_acme"}, passes
    upstream = re.search(r"upstream upki_ra_acme \{([^}]*)\}", code)
    assert upstream, code
    assert re.findall(r"server (\S+);", upstream.group(1)) == [f"unix:{SOCKET_PATH}"], upstream
    # The socket nginx talks to is the one systemd makes.
    sock = os.path.join(installed, "lib/systemd/system/upki-ra.socket")
    assert unit_value(sock, "Socket", "ListenStream") == SOCKET_PATH
    with open(os.path.join(ROOT, "nginx/fastcgi-params.conf")) as f:
        assert open(os.path.join(
            installed, "etc/nginx/snippets/upki-ra-fastcgi.conf")).read() == f.read()


def test_make_variables_port_server_name_tls_and_prefix(tmp_path):
    dest = str(tmp_path / "root")
    install(dest, "UPKI_RA_PORT=8443", "SERVER_NAME=ra.example.net", "UPKI_RA_TLS=false")
    site = open(os.path.join(dest, "etc/nginx/sites-available/upki-ra")).read()
    assert re.search(r"^\s*listen 8443 ;$", site, re.M), site
    assert re.search(r"^\s*server_name ra.example.net;$", site, re.M), site
    code = "\n".join(line for line in site.splitlines() if not line.lstrip().startswith("#"))
    assert "ssl_certificate" not in code and "ssl_crl" not in code, code
    assert not PLACEHOLDER.search(code), code
    env = open(os.path.join(dest, "etc/upki-ra/upki-ra.env")).read()
    assert re.search(r"^UPKI_RA_PORT=8443$", env, re.M)
    assert re.search(r"^UPKI_RA_TLS=false$", env, re.M)
    # The default PREFIX: binary and man page under /usr/local, units in
    # /usr/local/lib/systemd/system (in systemd's search path).
    assert os.path.isfile(os.path.join(dest, "usr/local/bin/upki-ra"))
    assert os.path.isfile(os.path.join(dest, "usr/local/share/man/man8/upki-ra.8"))
    units = os.path.join(dest, "usr/local/lib/systemd/system")
    assert sorted(os.listdir(units)) == sorted(UNITS)
    for unit in ("upki-ra.service", "upki-ra-crl.service"):
        assert unit_value(os.path.join(units, unit), "Service", "ExecStart").startswith(
            "/usr/local/bin/upki-ra ")
    assert not os.path.exists(os.path.join(dest, "lib"))


def nginx_test(tmp_path, site_text, tls):
    """`nginx -t` on the installed site, its absolute paths moved into tmp_path."""
    data = tmp_path / "data"
    data.mkdir()
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    shutil.copy(os.path.join(ROOT, "nginx/fastcgi-params.conf"),
                snippets / "upki-ra-fastcgi.conf")
    (snippets / "upki-ra-secret.conf").write_text(f"fastcgi_param UPKI_RA_SECRET {'a' * 64};\n")
    if tls:
        make_test_pki(str(data))
    site_text = site_text.replace("/var/lib/upki-ra/", f"{data}/").replace(
        "/etc/nginx/snippets/", f"{snippets}/")
    (tmp_path / "site.conf").write_text(site_text)
    logs = tmp_path / "logs"
    logs.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""error_log {logs}/error.log;
pid {tmp_path}/nginx.pid;
events {{ }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/cb;
    fastcgi_temp_path {tmp_path}/fc;
    proxy_temp_path {tmp_path}/px;
    uwsgi_temp_path {tmp_path}/uw;
    scgi_temp_path {tmp_path}/sc;
    include {tmp_path}/site.conf;
}}
""")
    return subprocess.run(["/usr/sbin/nginx", "-t", "-p", str(tmp_path), "-c", str(conf)],
                          capture_output=True, text=True)


def make_test_pki(directory):
    """ca.crt, ra.crt, ra.key and an empty crl.pem, as registration leaves them."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    crt = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RA")]))
           .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
           .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
           .sign(ca_key, hashes.SHA256()))
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name)
           .last_update(now).next_update(now + datetime.timedelta(days=1))
           .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    files = {
        "ca.crt": ca.public_bytes(pem),
        "ra.crt": crt.public_bytes(pem),
        "ra.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()),
        "crl.pem": crl.public_bytes(pem),
    }
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def test_nginx_accepts_the_installed_site(installed, tmp_path):
    site = open(os.path.join(installed, "etc/nginx/sites-available/upki-ra")).read()
    r = nginx_test(tmp_path, site, tls=True)
    assert r.returncode == 0, r.stderr


def test_nginx_accepts_the_site_without_tls(tmp_path):
    dest = str(tmp_path / "root")
    install(dest, "PREFIX=/usr", "UPKI_RA_TLS=no", "UPKI_RA_PORT=8080")
    site = open(os.path.join(dest, "etc/nginx/sites-available/upki-ra")).read()
    work = tmp_path / "nginx"
    work.mkdir()
    r = nginx_test(work, site, tls=False)
    assert r.returncode == 0, r.stderr


# -- the environment file ---------------------------------------------------------

def test_env_file_has_no_seed_and_no_key_material(installed):
    text = open(os.path.join(installed, "etc/upki-ra/upki-ra.env")).read()
    assert not re.search(r"UPKI_CA_SEED\s*=", text), "a seed setting in the env file"
    assert "-----BEGIN" not in text and "PRIVATE KEY" not in text
    # Nothing that looks like a secret: no long run of hex or base64.
    assert not re.search(r"[A-Za-z0-9+/]{32,}", text), "a token-like string"
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"UPKI_[A-Z0-9_]+=[^\s]*", line), line
            assert not line.startswith("UPKI_CA_SEED")


def test_env_file_settings(installed):
    text = open(os.path.join(installed, "etc/upki-ra/upki-ra.env")).read()
    active = dict(line.split("=", 1) for line in text.splitlines()
                  if line and not line.startswith("#"))
    assert active == {"UPKI_RA_PORT": "443", "UPKI_RA_TLS": "true"}, active
    # Every setting is there, commented, so the administrator sees them all;
    # but UPKI_DATA_DIR, which is the units' (the sandbox's writable path),
    # and UPKI_RA_NGINX_PID, which the units unset (see upki-ra-crl.service).
    for flag, var in help_flags_and_vars():
        if var in ("UPKI_DATA_DIR", "UPKI_RA_NGINX_PID") or var in active:
            continue
        assert re.search(rf"^#{var}=", text, re.M), f"{var} is not in the env file"
    assert not PLACEHOLDER.search(text)


def test_install_keeps_an_edited_env_file_and_uninstall_too(tmp_path):
    dest = str(tmp_path / "root")
    install(dest, "PREFIX=/usr")
    env = os.path.join(dest, "etc/upki-ra/upki-ra.env")
    with open(env, "a") as f:
        f.write("UPKI_CA_HOST=ca.example.net\n")
    r = install(dest, "PREFIX=/usr")
    assert "keeping the existing" in r.stdout
    assert "UPKI_CA_HOST=ca.example.net" in open(env).read()
    r = make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
    assert "edited since install" in r.stdout
    assert open(env).read().endswith("UPKI_CA_HOST=ca.example.net\n")
    assert not os.path.exists(os.path.join(dest, "usr/bin/upki-ra"))


# -- the FastCGI secret ------------------------------------------------------------------

SECRET_LINE = re.compile(r"^fastcgi_param UPKI_RA_SECRET ([0-9a-f]{64});\n\Z")


def test_install_makes_a_random_fastcgi_secret_once(tmp_path):
    secrets_made = []
    for name in ("a", "b"):
        dest = str(tmp_path / name)
        install(dest, "PREFIX=/usr")
        path = os.path.join(dest, "etc/nginx/snippets/upki-ra-secret.conf")
        m = SECRET_LINE.match(open(path).read())
        assert m, open(path).read()
        secrets_made.append(m.group(1))
    assert secrets_made[0] != secrets_made[1]
    # A second install keeps it: nginx and the running RA share it.
    install(dest, "PREFIX=/usr")
    assert SECRET_LINE.match(open(path).read()).group(1) == secrets_made[1]
    # The RA reads that very file.
    r = subprocess.run([RA_BIN, "serve", "--data-dir", str(tmp_path / "d"),
                        "--listen", str(tmp_path / "s.sock"), "--fcgi-auth-file", "/nonexistent"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "FastCGI secret" in r.stderr, r


@pytest.mark.parametrize("text", [
    "", "# only a comment\n", "fastcgi_param UPKI_RA_SECRET short;\n",
    f"fastcgi_param UPKI_RA_SECRET {'a' * 64}\n",
    f"fastcgi_param UPKI_RA_SECRET {'a' * 64};\nfastcgi_param UPKI_RA_SECRET {'b' * 64};\n",
    f"fastcgi_param OTHER {'a' * 64};\n", f"fastcgi_param UPKI_RA_SECRET \"{'a' * 64}\";\n"],
    ids=["empty", "comment", "short", "no-semicolon", "twice", "other-param", "quoted"])
def test_serve_refuses_a_fastcgi_secret_file_it_cannot_read_as_one_token(tmp_path, text):
    path = tmp_path / "secret.conf"
    path.write_text(text)
    r = subprocess.run([RA_BIN, "serve", "--data-dir", str(tmp_path / "d"),
                        "--listen", str(tmp_path / "s.sock"), "--fcgi-auth-file", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "not one line" in r.stderr, r
    assert not os.path.exists(tmp_path / "s.sock")


# -- uninstall -----------------------------------------------------------------------

def test_uninstall_removes_everything_but_the_data_directory(tmp_path):
    dest = str(tmp_path / "root")
    install(dest, "PREFIX=/usr")
    with open(os.path.join(dest, DATA_DIR, "acme.db"), "w") as f:
        f.write("state")
    # An enabled site pointing at ours would stop nginx once ours is gone.
    os.makedirs(os.path.join(dest, "etc/nginx/sites-enabled"))
    os.symlink("/etc/nginx/sites-available/upki-ra",
               os.path.join(dest, "etc/nginx/sites-enabled/upki-ra"))
    os.symlink("/etc/nginx/sites-available/default",
               os.path.join(dest, "etc/nginx/sites-enabled/default"))
    make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
    got = tree(dest)
    left = {p for p in got if p in OURS or p.startswith("etc/upki-ra")}
    assert not left, f"uninstall left {sorted(left)}"
    assert got[DATA_DIR] == ("d", 0o750)
    assert got[f"{DATA_DIR}/acme.db"][0] == "f"
    files = {p for p, (t, _) in got.items() if t != "d"}
    assert files == {f"{DATA_DIR}/acme.db", "etc/nginx/sites-enabled/default"}, files


# -- the units ---------------------------------------------------------------------------

def verify_root(installed, tmp_path):
    """The installed tree plus what systemd-analyze needs around it offline:
    the host's own units (sysinit.target ...) and the other programs our
    units run (/bin/systemctl, /bin/kill).  upki-ra itself is the installed
    one, so a unit pointing at the wrong binary path fails."""
    root = tmp_path / "vroot"
    shutil.copytree(installed, root, symlinks=True)
    host_units = "/usr/lib/systemd/system" if os.path.isdir("/usr/lib/systemd/system") \
        else "/lib/systemd/system"
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True,
                    dirs_exist_ok=True)
    for unit in UNITS:
        for sec, key, value in unit_settings(root / "lib/systemd/system" / unit):
            if key.startswith("Exec") and value:
                prog = value.lstrip("-+!@:").split()[0]
                if "upki-ra" not in prog and not os.path.exists(f"{root}{prog}"):
                    os.makedirs(os.path.dirname(f"{root}{prog}"), exist_ok=True)
                    shutil.copy(prog, f"{root}{prog}")
    return root


def systemd_verify(root, units, man_root=None):
    """(ok, output): ok only with exit 0 AND no message at all, because
    systemd-analyze verify only warns about unknown keys or bad values."""
    env = clean_env()
    env["MANPATH"] = os.path.join(man_root or root, "usr/share/man")
    r = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                        *[str(u) for u in units]], capture_output=True, text=True, env=env)
    out = (r.stdout + r.stderr).strip()
    return r.returncode == 0 and out == "", f"exit {r.returncode}\n{out}"


@pytest.fixture(scope="module")
def vroot(installed, tmp_path_factory):
    return verify_root(installed, tmp_path_factory.mktemp("verify"))


def test_systemd_analyze_verify_passes_on_every_unit(vroot):
    units = [vroot / "lib/systemd/system" / u for u in UNITS]
    ok, out = systemd_verify(vroot, units)
    assert ok, out


BREAKAGES = {
    "unknown key": ("upki-ra.service", r"^(NoNewPrivileges=yes)$", r"\1\nNoNewPriviledges=yes"),
    "bad value": ("upki-ra.service", r"^UMask=.*$", "UMask=rw-------"),
    "wrong binary path": ("upki-ra.service", r"^ExecStart=/usr/bin/upki-ra",
                          "ExecStart=/usr/sbin/upki-ra"),
    "no ExecStart": ("upki-ra-crl.service", r"^ExecStart=.*$", ""),
    "socket without its service": ("upki-ra.service", None, None),
    "missing dependency": ("upki-ra.service", r"^Requires=upki-ra.socket$",
                           "Requires=upki-ra-fcgi.socket"),
    "bad credential": ("upki-ra.service", r"^SetCredential=.*$", "SetCredential=seed:"),
    "unknown syscall group": ("upki-ra-crl.service", r"^SystemCallFilter=@system-service$",
                              "SystemCallFilter=@system-services"),
    "bad timer": ("upki-ra-crl.timer", r"^OnCalendar=.*$", "OnCalendar=every hour"),
}


@pytest.mark.parametrize("what", sorted(BREAKAGES))
def test_systemd_analyze_verify_fails_on_a_broken_unit(vroot, tmp_path, what):
    """The check above can fail: the same check on a deliberately broken copy."""
    unit, pattern, repl = BREAKAGES[what]
    # systemd-analyze verify --root loads the units by name from the root,
    # so the broken one goes into a root of its own.
    root = tmp_path / "vroot"
    shutil.copytree(vroot, root, symlinks=True)
    units = root / "lib/systemd/system"
    path = units / unit
    if pattern is None:
        path.unlink()
    else:
        text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.M)
        assert n == 1, f"{what}: pattern not found in {unit}"
        path.write_text(text)
    given = [units / u for u in UNITS if (units / u).exists()]
    ok, out = systemd_verify(root, given)
    assert not ok, f"{what}: systemd-analyze verify did not notice:\n{out}"


def test_systemd_analyze_security_exposure_is_low(vroot):
    """Catches a hardening setting dropped by mistake: both services must
    stay at or below an exposure of 2.0 ("OK"; they are at 1.4)."""
    for unit in ("upki-ra.service", "upki-ra-crl.service"):
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={vroot}",
                            "--threshold=20", str(vroot / "lib/systemd/system" / unit)],
                           capture_output=True, text=True, env=clean_env())
        assert r.returncode == 0, f"{unit}:\n{r.stdout}\n{r.stderr}"


def test_socket_unit(installed):
    path = os.path.join(installed, "lib/systemd/system/upki-ra.socket")
    assert unit_value(path, "Socket", "ListenStream") == SOCKET_PATH
    assert unit_value(path, "Socket", "SocketUser") == "upki-ra"
    assert unit_value(path, "Socket", "SocketGroup") == "www-data"
    assert unit_value(path, "Socket", "SocketMode") == "0660"
    assert unit_value(path, "Install", "WantedBy") == "sockets.target"


HARDENING = {
    "User": "upki-ra", "Group": "upki-ra", "NoNewPrivileges": "yes",
    "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/upki-ra", "PrivateTmp": "yes",
    "ProtectHome": "yes", "CapabilityBoundingSet": "", "UMask": "0077",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes", "Environment": "UPKI_DATA_DIR=/var/lib/upki-ra",
    "EnvironmentFile": "-/etc/upki-ra/upki-ra.env",
}


@pytest.mark.parametrize("unit", ["upki-ra.service", "upki-ra-crl.service"])
def test_service_units_are_sandboxed(installed, unit):
    path = os.path.join(installed, "lib/systemd/system", unit)
    for key, want in HARDENING.items():
        assert unit_value(path, "Service", key) == want, key
    assert unit_values(path, "Service", "SystemCallFilter")[0] == "@system-service"


def test_service_unit(installed):
    path = os.path.join(installed, "lib/systemd/system/upki-ra.service")
    assert unit_value(path, "Service", "ExecStart") == "/usr/bin/upki-ra start"
    assert "upki-ra.socket" in unit_value(path, "Unit", "Requires").split()
    assert "upki-ra.socket" in unit_value(path, "Unit", "After").split()
    assert unit_values(path, "Service", "LoadCredential") == [
        "seed:/etc/upki-ra/seed", "fcgi-secret:/etc/nginx/snippets/upki-ra-secret.conf"]
    # The fallback that lets the service start once the seed file is gone:
    # a lone newline, which the program strips to "no seed".
    assert unit_value(path, "Service", "SetCredential") == r"seed:\n"
    assert unit_value(path, "Install", "WantedBy") == "multi-user.target"


def test_crl_units(installed):
    svc = os.path.join(installed, "lib/systemd/system/upki-ra-crl.service")
    assert unit_value(svc, "Service", "Type") == "oneshot"
    assert unit_value(svc, "Service", "ExecStart") == "/usr/bin/upki-ra crl"
    # "+": the reload runs with full privileges, outside the sandbox, since
    # the upki-ra user cannot signal root's nginx.
    assert unit_value(svc, "Service", "ExecStartPost").startswith("+/bin/systemctl ")
    assert "nginx" in unit_value(svc, "Service", "ExecStartPost")
    timer = os.path.join(installed, "lib/systemd/system/upki-ra-crl.timer")
    assert unit_value(timer, "Timer", "OnCalendar") == "hourly"
    assert unit_value(timer, "Timer", "Persistent") == "true"
    assert unit_value(timer, "Install", "WantedBy") == "timers.target"


# -- socket activation -------------------------------------------------------------------

def fcgi_request(sock, uri, method="GET", timeout=30, secret=None):
    """One request through cgi-fcgi, with the FastCGI secret when given;
    returns (status, headers, body)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REQUEST_METHOD": method,
           "REQUEST_URI": uri, "SERVER_NAME": "localhost", "SERVER_PORT": "443",
           "SERVER_PROTOCOL": "HTTP/1.1", "SSL_CLIENT_VERIFY": "NONE"}
    if secret is not None:
        env["UPKI_RA_SECRET"] = secret
    r = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    assert r.returncode == 0, r
    head, sep, body = r.stdout.partition(b"\r\n\r\n")
    assert sep, f"not a FastCGI/CGI response: {r.stdout!r}"
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


def test_socket_activation_serves_fastcgi(tmp_path):
    """systemd-socket-activate passes a listening socket as systemd does
    (LISTEN_FDS=1, fd 3) and starts `upki-ra serve` on the first connection."""
    sock = str(tmp_path / "fcgi.sock")
    data = str(tmp_path / "data")
    log_path = tmp_path / "ra.log"
    secret = "b" * 64
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "fcgi-secret").write_text(f"fastcgi_param UPKI_RA_SECRET {secret};\n")
    env = {"UPKI_DATA_DIR": data, "UPKI_CA_HOST": "127.0.0.1",
           "CREDENTIALS_DIRECTORY": str(tmp_path / "creds"),
           "UPKI_CA_PORT": str(free_port_pair()), "UPKI_CA_TIMEOUT_MS": "500",
           "UPKI_RA_WORKERS": "2", "UPKI_RA_VALIDATORS": "1",
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", ""),
           "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "")}
    cmd = ["systemd-socket-activate", "-l", sock]
    for k, v in env.items():
        cmd += ["-E", f"{k}={v}"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd + [RA_BIN, "serve"], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        # Without the secret (from the credential): refused.
        status, _, body = fcgi_request(sock, "/api/v1/public/health")
        assert status == 403, body
        # No CA: health answers 503 with the JSON body saying so.
        status, headers, body = fcgi_request(sock, "/api/v1/public/health", secret=secret)
        assert status == 503, (headers, body)
        assert headers["content-type"].startswith("application/json")
        doc = json.loads(body)
        assert doc["status"] == "error"
        assert doc["data"]["service"] == "upki-ra"
        assert doc["data"]["store"] == "ok"
        assert doc["data"]["ca"] == "unreachable"
        # The same pool keeps serving on the passed socket.
        status, _, body = fcgi_request(sock, "/no/such/route", secret=secret)
        assert status == 404, body
        log = log_path.read_text()
        assert "serving FastCGI on systemd socket (fd 3)" in log, log
        assert os.path.isfile(os.path.join(data, "acme.db"))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
    log = log_path.read_bytes()
    assert not SANITIZER_REPORT.search(log), log.decode(errors="replace")
    assert rc == 0, log.decode(errors="replace")
    # A passed socket belongs to whoever passed it: serve leaves it alone.
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)


# -- the man page -------------------------------------------------------------------------

MAN = os.path.join(ROOT, "man/upki-ra.8")


def test_man_page_renders_without_warnings():
    r = subprocess.run(["groff", "-ww", "-man", "-Tutf8", MAN], capture_output=True,
                       text=True, env=clean_env(LC_ALL="C.UTF-8"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "upki-ra" in r.stdout
    r = subprocess.run(["man", "--warnings", "-l", MAN], capture_output=True, text=True,
                       env=clean_env(MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8", MANWIDTH="80"))
    assert r.returncode == 0 and r.stderr == "", r.stderr


def man_text():
    r = subprocess.run(["man", "-l", MAN], capture_output=True, text=True,
                       env=clean_env(MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8", MANWIDTH="200"))
    assert r.returncode == 0
    # Rendered text: no hyphenation (.nh), so names appear whole.
    return r.stdout


def test_man_page_sections():
    text = man_text()
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT",
                    "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), section


def test_man_page_documents_every_option_and_variable():
    text = man_text()
    options = text.split("\nOPTIONS\n", 1)[1].split("\nENVIRONMENT\n", 1)[0]
    environment = text.split("\nENVIRONMENT\n", 1)[1].split("\nFILES\n", 1)[0]
    for flag, var in help_flags_and_vars():
        assert re.search(rf"^\s+--{flag}\b", options, re.M), f"--{flag} not in OPTIONS"
        assert re.search(rf"^\s+{var}\b", environment, re.M), f"{var} not in ENVIRONMENT"
    for flag in ("seed", "help", "version"):
        assert f"--{flag}" in options
    assert re.search(r"^\s+UPKI_CA_SEED\b", environment, re.M)
    commands = text.split("\nCOMMANDS\n", 1)[1].split("\nOPTIONS\n", 1)[0]
    for cmd in ("init", "register", "serve", "start", "crl", "admin add", "admin list"):
        assert re.search(rf"^\s+{cmd}\b", commands, re.M), cmd


def test_installed_man_page_is_found_by_man(installed):
    r = subprocess.run(["man", "-w", "upki-ra"], capture_output=True, text=True,
                       env=clean_env(LC_ALL="C.UTF-8",
                                     MANPATH=os.path.join(installed, "usr/share/man")))
    assert r.stdout.strip() == os.path.join(installed, "usr/share/man/man8/upki-ra.8"), r


# -- the sandbox, checked offline ------------------------------------------------------------
#
# The units cannot be started here, so the RA runs as the service would run
# it (an unprivileged user, the seed from $CREDENTIALS_DIRECTORY, the data
# directory from the environment) under strace, through a real ACME
# issuance behind nginx, a SIGHUP, a SIGTERM and `upki-ra crl`.  Every
# system call, address family, mapping and path it used is then held
# against what the installed units allow.  This is what caught that
# SystemCallFilter=~@resources would kill libzmq: its threads call
# sched_setscheduler() and abort when that fails.

PLAIN_RA = os.path.join(ROOT, "build", "upki-ra")   # what `make install` installs
NOBODY = 65534


def syscall_groups():
    """{"@group": {members}} from systemd-analyze, members unexpanded."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                         text=True, check=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.add(line.strip())
    return groups


def expand(names, groups):
    out = set()
    for n in names:
        out |= expand(groups[n], groups) if n.startswith("@") else {n}
    return out


def allowed_syscalls(unit_path):
    """What SystemCallFilter= lines of a unit allow: the allow-list (plus
    @default, which systemd always adds to one) minus the ~ deny-lists."""
    groups = syscall_groups()
    allow, deny = {"@default"}, set()
    for value in unit_values(unit_path, "Service", "SystemCallFilter"):
        target = deny if value.startswith("~") else allow
        target.update(value.lstrip("~").split())
    return expand(allow, groups) - expand(deny, groups)


def traced(trace, argv):
    """argv under strace -f, as nobody when we are root (as the service's
    own user would run it: SQLite, for one, does more as root)."""
    cmd = ["strace", "-f", "-qq", "-o", trace, *argv]
    if os.geteuid() == 0:
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               "--", *cmd]
    return cmd


def issue_one_certificate(stack, http01, name):
    from acme_client import Client, b64u, make_csr
    c = Client(stack.base_url, stack.ca_cert)
    assert c.new_account(["mailto:sandbox@example.test"]).status == 201
    r = c.new_order([name])
    assert r.status == 201, r
    order_url = r.header("location")
    for authz_url in r.json()["authorizations"]:
        authz = c.post(authz_url, None).json()
        ch = next(x for x in authz["challenges"] if x["type"] == "http-01")
        http01.answers[ch["token"]] = c.key_authorization(ch["token"])
        assert c.post(ch["url"], {}).status == 200
        wait_for(lambda: c.post(authz_url, None).json()["status"] == "valid", 30,
                 "http-01 validation")
    order = c.post(order_url, None).json()
    der, _ = make_csr([name])
    r = c.post(order["finalize"], {"csr": b64u(der)})
    assert r.status == 200, r
    wait_for(lambda: c.post(order_url, None).json()["status"] == "valid", 30, "issuance")
    cert_url = c.post(order_url, None).json()["certificate"]
    pem = c.post(cert_url, None).body
    assert b"BEGIN CERTIFICATE" in pem
    return c, pem


@pytest.fixture(scope="module")
def sandbox_run(installed):
    """Traces of `upki-ra start` (with a whole ACME issuance) and `upki-ra
    crl`, run as the units run them."""
    for tool in ("strace", "pebble-challtestsrv", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not os.path.exists(PLAIN_RA):
        pytest.skip(f"{PLAIN_RA} is not built")
    if subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "true"]).returncode != 0:
        pytest.skip("ptrace is not permitted here")
    # Not under pytest's 0700 root-owned temporary tree: nobody must reach it.
    work = tempfile.mkdtemp(prefix="upki-ra-sandbox-", dir="/tmp")
    os.chmod(work, 0o755)
    dns = ChallTestSrv(work)
    http01 = Http01Responder()
    stack = Stack(work, build=BUILD, workers=1, validators=1, env={
        "UPKI_CA_TIMEOUT_MS": "3000",
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{dns.dns_port}",
        "UPKI_RA_HTTP01_PORT": str(http01.port),
        "UPKI_RA_ALLOWED_NAMES": "example.test"})
    ra = None
    try:
        stack.start_devca()
        os.makedirs(stack.data_dir, mode=0o750)
        cred = os.path.join(work, "credentials")
        os.makedirs(cred, mode=0o500)
        with open(os.path.join(cred, "seed"), "w") as f:
            f.write(stack.seed + "\n")
        # systemd's copy of the root-only nginx include file (LoadCredential).
        shutil.copy(stack.front_secret_file, os.path.join(cred, "fcgi-secret"))
        traces = os.path.join(work, "traces")
        os.makedirs(traces)
        if os.geteuid() == 0:
            for path in (stack.data_dir, cred, os.path.join(cred, "seed"),
                         os.path.join(cred, "fcgi-secret"), traces):
                os.chown(path, NOBODY, NOBODY)
        env = stack.ra_env(CREDENTIALS_DIRECTORY=cred)
        del env["UPKI_CA_SEED"]
        del env["UPKI_RA_NGINX_PID"]
        del env["UPKI_RA_FCGI_AUTH_FILE"]
        log = open(stack.log_path("ra"), "ab")
        ra = subprocess.Popen(traced(os.path.join(traces, "start"), [PLAIN_RA, "start"]),
                              env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                              start_new_session=True)
        wait_for(lambda: unix_socket_open(stack.fcgi_socket), 30, "upki-ra", ra)
        stack.start_nginx()
        issue_one_certificate(stack, http01, "sandbox.example.test")
        # strace -f is the child of setpriv's exec, upki-ra the child of strace.
        master = child_pids(ra.pid)
        assert len(master) == 1, master
        os.kill(master[0], signal.SIGHUP)
        time.sleep(1)
        status, _, body = fcgi_request(stack.fcgi_socket, "/api/v1/public/health",
                                       secret=stack.front_secret)
        assert status == 200, body
        os.kill(master[0], signal.SIGTERM)
        assert ra.wait(30) == 0, open(stack.log_path("ra")).read()
        ra = None
        r = subprocess.run(traced(os.path.join(traces, "crl"), [PLAIN_RA, "crl"]), env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        yield {"start": open(os.path.join(traces, "start")).read(),
               "crl": open(os.path.join(traces, "crl")).read(),
               "data_dir": stack.data_dir, "installed": installed}
    finally:
        if ra is not None and ra.poll() is None:
            for pid in child_pids(ra.pid):
                os.kill(pid, signal.SIGKILL)
            ra.wait(10)
        stack.stop()
        http01.stop()
        dns.stop()
        shutil.rmtree(work, ignore_errors=True)



SYSCALL_LINE = re.compile(r"^\d+\s+([a-z_0-9]+)\((.*)$", re.M)


def test_sandbox_allows_every_system_call_the_ra_makes(sandbox_run):
    for name, unit in (("start", "upki-ra.service"), ("crl", "upki-ra-crl.service")):
        allowed = allowed_syscalls(os.path.join(sandbox_run["installed"],
                                                "lib/systemd/system", unit))
        used = {m.group(1) for m in SYSCALL_LINE.finditer(sandbox_run[name])}
        assert len(used) > 20, used
        assert used <= allowed, \
            f"{unit} forbids {sorted(used - allowed)}, which `upki-ra {name}` uses"


def test_sandbox_allows_every_address_family_the_ra_uses(sandbox_run):
    for name, unit in (("start", "upki-ra.service"), ("crl", "upki-ra-crl.service")):
        allowed = set(unit_value(os.path.join(sandbox_run["installed"], "lib/systemd/system",
                                              unit), "Service", "RestrictAddressFamilies").split())
        used = set(re.findall(r"^\d+\s+socket\((AF_[A-Z0-9]+)", sandbox_run[name], re.M))
        assert used, name
        assert used <= allowed, f"{unit} forbids {sorted(used - allowed)}"


def test_no_writable_and_executable_memory(sandbox_run):
    """MemoryDenyWriteExecute=yes refuses W+X mappings and mprotect(PROT_EXEC)."""
    for name in ("start", "crl"):
        for m in SYSCALL_LINE.finditer(sandbox_run[name]):
            call, args = m.group(1), m.group(2)
            prot = re.findall(r"PROT_[A-Z]+", args)
            if call in ("mmap", "mmap2"):
                assert not ("PROT_WRITE" in prot and "PROT_EXEC" in prot), m.group(0)
            elif call in ("mprotect", "pkey_mprotect"):
                assert "PROT_EXEC" not in prot, m.group(0)


def test_ra_writes_only_where_the_sandbox_lets_it(sandbox_run):
    """ProtectSystem=strict + ReadWritePaths=<data dir>, PrivateTmp, PrivateDevices,
    ProtectHome, ProtectProc=invisible: the paths the RA touched must fit."""
    data = sandbox_run["data_dir"]
    devices = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
               "/dev/tty"}
    for name in ("start", "crl"):
        for m in SYSCALL_LINE.finditer(sandbox_run[name]):
            call, args = m.group(1), m.group(2)
            paths = re.findall(r'"(/[^"]*)"', args)
            for path in paths:
                assert not path.startswith(("/home/", "/root/", "/run/user/")), m.group(0)
                if path.startswith("/dev/"):
                    assert path in devices, m.group(0)
                if path.startswith("/proc/"):
                    assert path.startswith(("/proc/self/", "/proc/thread-self/")), m.group(0)
            writes = call in ("mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink",
                              "unlinkat", "rmdir", "chmod", "fchmodat", "link", "linkat",
                              "symlink", "symlinkat", "mknod", "mknodat", "truncate") or (
                call in ("open", "openat") and re.search(r"O_(WRONLY|RDWR|CREAT)", args))
            if writes and " = -1 " not in args:
                for path in paths:
                    if path.startswith("/proc/self/"):
                        continue
                    assert path == data or path.startswith((data + "/", "/tmp/", "/dev/")), \
                        f"writes outside the data directory: {m.group(0)}"


# -- as root on the host itself, in a private mount namespace ------------------------------
#
# `make install` without DESTDIR creates the upki-ra user and gives it the
# data directory.  That cannot be tried on the CI host itself, so it runs in
# a mount namespace of its own, with throw-away overlays over /etc, /usr and
# /var (and an empty /run): the host sees none of it.  Skipped where the
# container may not make namespaces or overlays.

NAMESPACE_SCRIPT = r"""
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   # root's, on Debian
mount -t tmpfs tmpfs "$WORK/scratch"
for d in etc usr var; do
    mkdir "$WORK/scratch/$d.up" "$WORK/scratch/$d.work"
    mount -t overlay overlay \
        -o "lowerdir=/$d,upperdir=$WORK/scratch/$d.up,workdir=$WORK/scratch/$d.work" "/$d"
done
mount -t tmpfs tmpfs /run
! getent passwd upki-ra >/dev/null || { echo "upki-ra exists already"; exit 1; }

make -s -C "$ROOT" BUILD="$BUILD" $SAN install >"$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log"; exit 1; }
echo "user: $(getent passwd upki-ra | cut -d: -f1,6,7)"
echo "group: $(getent group upki-ra | cut -d: -f1)"
echo "datadir: $(stat -c '%U:%G %a' /var/lib/upki-ra)"
echo "binary: $(stat -c '%U:%G %a' /usr/local/bin/upki-ra)"
echo "env: $(stat -c '%U:%G %a' /etc/upki-ra/upki-ra.env)"
echo "secret: $(stat -c '%U:%G %a' /etc/nginx/snippets/upki-ra-secret.conf)"
sum1=$(sha256sum /etc/nginx/snippets/upki-ra-secret.conf)
echo "units: $(ls /usr/local/lib/systemd/system | tr '\n' ' ')"
echo "man: $(MANPATH=/usr/local/share/man man -w upki-ra)"

# The units as installed, at their real paths, binary and all.
MANPATH=/usr/local/share/man systemd-analyze verify \
    /usr/local/lib/systemd/system/upki-ra.socket /usr/local/lib/systemd/system/upki-ra.service \
    /usr/local/lib/systemd/system/upki-ra-crl.service \
    /usr/local/lib/systemd/system/upki-ra-crl.timer >"$WORK/verify.log" 2>&1 &&
    [ ! -s "$WORK/verify.log" ] && echo "verify: ok" ||
    { echo "verify: failed"; cat "$WORK/verify.log"; }

# docs/DEPLOY.md: the first admin, added as the service's user.
runuser -u upki-ra -- upki-ra --data-dir /var/lib/upki-ra admin add 'CN=alice,O=Example' >/dev/null
echo "admins: $(runuser -u upki-ra -- upki-ra --data-dir /var/lib/upki-ra admin list)"
echo "store: $(stat -c '%U:%G %a' /var/lib/upki-ra/acme.db)"

# docs/DEPLOY.md: the site enabled as Debian's nginx has it, with what registration
# would have left in the data directory.
install -o upki-ra -g upki-ra -m 0644 "$WORK/pki/ra.crt" "$WORK/pki/ca.crt" \
    "$WORK/pki/crl.pem" /var/lib/upki-ra/
install -o upki-ra -g upki-ra -m 0600 "$WORK/pki/ra.key" /var/lib/upki-ra/
ln -s /etc/nginx/sites-available/upki-ra /etc/nginx/sites-enabled/upki-ra
rm -f /etc/nginx/sites-enabled/default
if nginx -t >"$WORK/nginx.log" 2>&1; then echo "nginx: ok"
else echo "nginx: failed"; cat "$WORK/nginx.log"; fi

# Again: nothing changes, the settings stay.
echo "UPKI_CA_HOST=ca.example.net" >>/etc/upki-ra/upki-ra.env
make -s -C "$ROOT" BUILD="$BUILD" $SAN install >"$WORK/install2.log" 2>&1 ||
    { cat "$WORK/install2.log"; exit 1; }
echo "reinstall env: $(grep -c '^UPKI_CA_HOST=ca.example.net$' /etc/upki-ra/upki-ra.env)"
echo "reinstall users: $(getent passwd | grep -c '^upki-ra:')"
[ "$(sha256sum /etc/nginx/snippets/upki-ra-secret.conf)" = "$sum1" ] &&
    echo "reinstall secret: kept" || echo "reinstall secret: changed"

make -s -C "$ROOT" BUILD="$BUILD" $SAN uninstall >"$WORK/uninstall.log" 2>&1 ||
    { cat "$WORK/uninstall.log"; exit 1; }
for f in /usr/local/bin/upki-ra /usr/local/share/man/man8/upki-ra.8 /usr/local/share/upki-ra \
         /usr/local/lib/systemd/system/upki-ra.service /etc/nginx/sites-available/upki-ra \
         /etc/nginx/sites-enabled/upki-ra /etc/nginx/snippets/upki-ra-fastcgi.conf \
         /etc/nginx/snippets/upki-ra-secret.conf; do
    if [ -e "$f" ] || [ -L "$f" ]; then echo "left: $f"; fi
done
echo "after: user=$(getent passwd upki-ra | cut -d: -f1)" \
    "data=$(stat -c '%U:%G %a' /var/lib/upki-ra)" \
    "db=$(test -f /var/lib/upki-ra/acme.db && echo kept)"
echo "after env: $(test -e /etc/upki-ra/upki-ra.env && echo kept || echo removed)"
"""


def test_root_install_creates_the_user_and_uninstall_keeps_it(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    probe = subprocess.run(
        ["unshare", "--mount", "--", "sh", "-c",
         "mount -t tmpfs tmpfs /mnt && mkdir /mnt/u /mnt/w && mount -t overlay overlay "
         "-o lowerdir=/etc,upperdir=/mnt/u,workdir=/mnt/w /etc"],
        capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace with overlays here: {probe.stderr.strip()}")
    work = tmp_path
    (work / "scratch").mkdir()
    (work / "pki").mkdir()
    make_test_pki(str(work / "pki"))
    env = clean_env(WORK=str(work), ROOT=ROOT, BUILD=BUILD,
                    SAN="SAN=1" if "asan" in os.path.basename(BUILD.rstrip("/")) else "")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--",
                        "sh", "-c", NAMESPACE_SCRIPT], env=env, capture_output=True,
                       text=True, timeout=600)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert lines["user"] == "upki-ra:/var/lib/upki-ra:/usr/sbin/nologin", out
    assert lines["group"] == "upki-ra", out
    assert lines["datadir"] == "upki-ra:upki-ra 750", out
    assert lines["binary"] == "root:root 755", out
    assert lines["env"] == "root:root 640", out
    assert lines["secret"] == "root:root 600", out
    assert lines["reinstall secret"] == "kept", out
    assert lines["units"].split() == sorted(UNITS), out
    assert lines["man"] == "/usr/local/share/man/man8/upki-ra.8", out
    assert lines["verify"] == "ok", out
    assert lines["admins"] == "/O=Example/CN=alice", out   # the canonical form
    assert lines["store"] == "upki-ra:upki-ra 600", out
    assert lines["nginx"] == "ok", out
    assert lines["reinstall env"] == "1" and lines["reinstall users"] == "1", out
    assert "left" not in lines, out
    assert lines["after"] == "user=upki-ra data=upki-ra:upki-ra 750 db=kept", out
    assert lines["after env"] == "kept", out     # edited since install
    # And the host saw none of it.
    assert subprocess.run(["getent", "passwd", "upki-ra"]).returncode != 0 or \
        pytest.fail("the upki-ra user leaked onto the host")
