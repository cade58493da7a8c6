#!/usr/bin/python3
"""The development stack: dev CA, upki-ra and nginx, on loopback.

`make run` uses it in the foreground (python3 tests/stack.py run); the
integration tests use the Stack class to start a stack of their own on free
ports in a temporary directory, and stop it afterwards, and ChallTestSrv as
the RA's DNS server (so do the soak and the benchmarks).

Only the Python standard library: this runs on a fresh Debian machine.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Every port handed out by this process.  Once the probe socket is closed the
# kernel may give the same port again, and two parts of one test (a CA and a
# challenge port, say) were given the same one before they bound it.
_given_ports = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now and that
    this process has not handed out before."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p not in _given_ports:
            _given_ports.add(p)
            return p
    raise RuntimeError("no free port")


def free_port_pair():
    """Two consecutive free ports (the CA uses port and port + 1)."""
    for _ in range(100):
        p = free_port()
        if p >= 65535 or p + 1 in _given_ports:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p + 1))
        except OSError:
            continue
        _given_ports.add(p + 1)
        return p
    raise RuntimeError("no two consecutive free ports")


def wait_for(predicate, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def unix_socket_open(path):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            return True
    except OSError:
        return False


def dns_query(port, name, qtype=16, timeout=2.0):
    """One UDP query to 127.0.0.1:port; the raw answer (TXT = 16)."""
    qid = secrets.randbelow(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
    if data[:2] != q[:2]:
        raise OSError("DNS answer to another query")
    return data


def challtestsrv_post(mgmt_port, path, body):
    """A call to pebble-challtestsrv's management API ("set-txt", ...)."""
    req = urllib.request.Request(f"http://127.0.0.1:{mgmt_port}/{path}",
                                 data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        if r.status != 200:
            raise OSError(f"challtestsrv {path}: {r.status}")


class ChallTestSrv:
    """pebble-challtestsrv, started: the DNS server of the RA (and of
    Pebble) in the tests, which answers 127.0.0.1 for every name and serves
    the TXT records set through its management API; with http01=True also
    an http-01 responder (http_port).  Its log is log_dir/challtestsrv.log."""

    def __init__(self, log_dir, http01=False):
        binary = shutil.which("pebble-challtestsrv")
        if binary is None:
            raise RuntimeError("pebble-challtestsrv is not installed")
        self.log = os.path.join(log_dir, "challtestsrv.log")
        self.proc = None
        for _ in range(5):
            self.dns_port, self.mgmt_port = free_port(), free_port()
            self.http_port = free_port() if http01 else None
            http = f"127.0.0.1:{self.http_port}" if http01 else ""
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [binary, "-dns01", f"127.0.0.1:{self.dns_port}", "-management", self.mgmt,
                     "-http01", http, "-https01", "", "-tlsalpn01", "",
                     "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            if self._ours():
                return
            self.stop()
        raise RuntimeError(f"pebble-challtestsrv did not start; see {self.log}")

    @property
    def mgmt(self):
        return f"127.0.0.1:{self.mgmt_port}"

    def _ours(self):
        """True once its ports answer and are this process's: another program
        may hold one (challtestsrv logs the bind error and goes on running),
        so a probe record set here must come back from DNS."""
        try:
            wait_for(lambda: port_open("127.0.0.1", self.mgmt_port), 10,
                     "challtestsrv management", self.proc)
        except RuntimeError:
            return False
        probe, value = f"_probe-{secrets.token_hex(6)}.probe.test.", secrets.token_hex(8)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log, "rb") as log:
                if b"address already in use" in log.read():
                    return False
            try:
                self.set_txt(probe, value)
                if value.encode() in dns_query(self.dns_port, probe, timeout=0.5):
                    self.clear_txt(probe)
                    return self.http_port is None or port_open("127.0.0.1", self.http_port)
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def set_txt(self, host, value):
        challtestsrv_post(self.mgmt_port, "set-txt", {"host": host, "value": value})

    def clear_txt(self, host):
        challtestsrv_post(self.mgmt_port, "clear-txt", {"host": host})

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def render_site(template, values, tls):
    """Fills @NAME@ placeholders; keeps @TLS@ lines only when tls."""
    out = []
    for line in template.splitlines(keepends=True):
        if line.startswith("@TLS@"):
            if not tls:
                continue
            line = line[len("@TLS@"):]
        for k, v in values.items():
            line = line.replace(f"@{k}@", v)
        out.append(line)
    return "".join(out)


class Stack:
    """One dev CA (unless ca_host is given), one upki-ra, one nginx."""

    def __init__(self, root, build="build", ra_port=None, ca_host=None,
                 ca_port=None, seed=None, sans="localhost,127.0.0.1",
                 workers=2, spare_workers=1, validators=1, env=None, devca_args=(),
                 nginx_user_root=None):
        self.root = os.path.abspath(root)
        self.build = os.path.join(ROOT, build) if not os.path.isabs(build) else build
        self.data_dir = os.path.join(self.root, "ra")
        self.devca_dir = os.path.join(self.root, "devca")
        self.nginx_dir = os.path.join(self.root, "nginx")
        self.ra_host = "127.0.0.1"
        self.ra_port = ra_port or free_port()
        self.external_ca = ca_host is not None
        self.ca_host = ca_host or "127.0.0.1"
        self.ca_port = ca_port or free_port_pair()
        self.seed = seed if seed is not None else secrets.token_hex(16)
        self.sans = sans
        self.workers = workers
        self.spare_workers = spare_workers
        self.validators = validators
        self.extra_env = dict(env or {})
        self.devca_args = list(devca_args)
        self.nginx_user_root = (os.geteuid() == 0) if nginx_user_root is None else nginx_user_root
        self.devca = None
        self.ra = None
        self.nginx = None
        for d in (self.root, self.nginx_dir, os.path.join(self.nginx_dir, "logs")):
            os.makedirs(d, exist_ok=True)
        self.front_secret = self.write_front_secret()

    # -- paths and URLs ---------------------------------------------------
    @property
    def base_url(self):
        return f"https://localhost:{self.ra_port}"

    @property
    def children(self):
        """How many processes the RA master keeps running."""
        return self.workers + self.spare_workers + self.validators

    @property
    def servers(self):
        """How many of them answer requests: the workers and the spare ones."""
        return self.workers + self.spare_workers

    @property
    def ca_cert(self):
        return os.path.join(self.data_dir, "ca.crt")

    @property
    def fcgi_socket(self):
        return os.path.join(self.data_dir, "fcgi.sock")

    @property
    def front_secret_file(self):
        return os.path.join(self.nginx_dir, "fastcgi-secret.conf")

    def write_front_secret(self):
        """A new FastCGI secret, as `make install` makes it: the nginx include
        file, mode 0600; the RA reads it too (UPKI_RA_FCGI_AUTH_FILE)."""
        secret = secrets.token_hex(32)
        path = self.front_secret_file
        if os.path.exists(path):
            os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"fastcgi_param UPKI_RA_SECRET {secret};\n")
        return secret

    def log_path(self, name):
        return os.path.join(self.root, f"{name}.log")

    def ra_env(self, **overrides):
        env = dict(os.environ)
        env.update({
            "UPKI_DATA_DIR": self.data_dir,
            "UPKI_CA_HOST": self.ca_host,
            "UPKI_CA_PORT": str(self.ca_port),
            "UPKI_RA_HOST": self.ra_host,
            "UPKI_RA_PORT": str(self.ra_port),
            "UPKI_RA_SANS": self.sans,
            "UPKI_RA_WORKERS": str(self.workers),
            "UPKI_RA_SPARE_WORKERS": str(self.spare_workers),
            "UPKI_RA_VALIDATORS": str(self.validators),
            "UPKI_RA_LISTEN": self.fcgi_socket,
            "UPKI_CA_SEED": self.seed,
            "UPKI_RA_NGINX_PID": os.path.join(self.nginx_dir, "nginx.pid"),
            "UPKI_RA_FCGI_AUTH_FILE": self.front_secret_file,
            # The challenge responders of the tests and of `make run` are
            # on loopback, which validation may not reach otherwise.
            "UPKI_RA_VALIDATION_ALLOW": "127.0.0.0/8",
            # Every client of the tests comes from 127.0.0.1.
            "UPKI_RA_RATE_ACCOUNTS": "0",
            # The repository's copy: the build is not installed.
            "UPKI_RA_OPENAPI_FILE": os.path.join(ROOT, "docs", "openapi.yaml"),
            # Not the settings of an RA installed on this host.
            "UPKI_RA_ENV_FILE": "",
        })
        env.update(self.extra_env)
        env.update(overrides)
        return env

    # -- the parts --------------------------------------------------------
    def start_devca(self, extra_args=()):
        log = open(self.log_path("devca"), "ab")
        env = dict(os.environ, UPKI_CA_SEED=self.seed)
        self.devca = subprocess.Popen(
            [os.path.join(self.build, "upki-devca"), "--dir", self.devca_dir,
             "--host", self.ca_host, "--port", str(self.ca_port),
             "--reg-port", str(self.ca_port + 1), *self.devca_args, *extra_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        wait_for(lambda: b"ready" in open(self.log_path("devca"), "rb").read(),
                 20, "the development CA", self.devca)

    def stop_devca(self):
        self._stop(self.devca)
        self.devca = None

    def start_ra(self, **env):
        log = open(self.log_path("ra"), "ab")
        self.ra = subprocess.Popen(
            [os.path.join(self.build, "upki-ra"), "start"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.ra_env(**env),
            start_new_session=True)
        wait_for(lambda: unix_socket_open(self.fcgi_socket), 30, "upki-ra", self.ra)

    def stop_ra(self):
        self._stop(self.ra)
        self.ra = None

    def render_nginx(self):
        with open(os.path.join(ROOT, "nginx", "upki-ra.conf.in")) as f:
            site = render_site(f.read(), {
                "LISTEN": f"{self.ra_host}:{self.ra_port}",
                "TLS_FLAG": "ssl",
                "SERVER_NAME": "localhost",
                "DATA_DIR": self.data_dir,
                "PARAMS": os.path.join(ROOT, "nginx", "fastcgi-params.conf"),
                "SECRET": self.front_secret_file,
                "FCGI_SOCKET": self.fcgi_socket,
            }, tls=True)
        site_path = os.path.join(self.nginx_dir, "upki-ra.conf")
        with open(site_path, "w") as f:
            f.write(site)
        # Workers run as root only in this development stack, where the data
        # directory (0700, root) holds the socket; installed hosts give the
        # socket to nginx's group instead (systemd/upki-ra.socket).
        main = f"""{"user root root;" if self.nginx_user_root else ""}
worker_processes 2;
error_log {self.nginx_dir}/logs/error.log warn;
pid {self.nginx_dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log {self.nginx_dir}/logs/access.log;
    client_body_temp_path {self.nginx_dir}/client_body;
    fastcgi_temp_path {self.nginx_dir}/fastcgi;
    proxy_temp_path {self.nginx_dir}/proxy;
    uwsgi_temp_path {self.nginx_dir}/uwsgi;
    scgi_temp_path {self.nginx_dir}/scgi;
    default_type application/octet-stream;
    include {site_path};
}}
"""
        conf = os.path.join(self.nginx_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(main)
        return conf

    def start_nginx(self):
        conf = self.render_nginx()
        log = open(self.log_path("nginx"), "ab")
        self.nginx = subprocess.Popen(
            ["/usr/sbin/nginx", "-p", self.nginx_dir, "-c", conf, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_for(lambda: port_open(self.ra_host, self.ra_port), 20, "nginx", self.nginx)

    def reload_nginx(self):
        self.nginx.send_signal(signal.SIGHUP)

    def start(self):
        if not self.external_ca:
            self.start_devca()
        self.start_ra()
        self.start_nginx()

    def stop(self):
        for p in (self.nginx, self.ra, self.devca):
            self._stop(p)
        self.nginx = self.ra = self.devca = None

    @staticmethod
    def _stop(proc, timeout=15):
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(args):
    home = os.path.expanduser("~/.upki")
    ca_host = os.environ.get("UPKI_CA_HOST")
    seed = os.environ.get("UPKI_CA_SEED")
    # A real CA's registration apart from the development CA's: upki-ra
    # start refuses a data directory registered with another CA.
    data_dir = os.environ.get("UPKI_DATA_DIR") or os.path.join(
        home, f"ra-{ca_host}" if ca_host else "ra")
    if ca_host and not seed and not os.path.exists(os.path.join(data_dir, "ra.crt")):
        sys.exit("make run: UPKI_CA_HOST is set: set UPKI_CA_SEED to the CA's seed too")
    stack = Stack(
        home, build=args.build,
        ra_port=int(os.environ.get("UPKI_RA_PORT", "8000")),
        ca_host=ca_host,
        ca_port=int(os.environ.get("UPKI_CA_PORT", "5000")),
        seed=seed,
        sans=os.environ.get("UPKI_RA_SANS", "localhost,127.0.0.1"),
        workers=int(os.environ.get("UPKI_RA_WORKERS", "4")),
        validators=int(os.environ.get("UPKI_RA_VALIDATORS", "2")))
    stack.data_dir = data_dir

    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start()
        print(f"ACME directory: {stack.base_url}/acme/directory", flush=True)
        print(f"CA certificate: {stack.ca_cert}", flush=True)
        print(f"logs: {stack.root}/*.log; Ctrl-C stops everything", flush=True)
        while not stopping:
            for name, p in (("nginx", stack.nginx), ("upki-ra", stack.ra),
                            ("upki-devca", stack.devca)):
                if p is not None and p.poll() is not None:
                    print(f"{name} exited with {p.returncode}; stopping "
                          f"(see {stack.root}/*.log)", file=sys.stderr)
                    stopping.append(0)
            time.sleep(0.2)
    except RuntimeError as e:
        print(f"make run: {e}; see the logs in {stack.root}", file=sys.stderr)
        for name in ("devca", "ra", "nginx"):
            path = stack.log_path(name)
            if os.path.exists(path):
                tail = open(path, errors="replace").read().splitlines()[-5:]
                for line in tail:
                    print(f"  {name}: {line}", file=sys.stderr)
        stack.stop()
        return 1
    stack.stop()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--build", default="build")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
