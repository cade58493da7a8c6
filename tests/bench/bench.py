#!/usr/bin/python3
"""`make bench`: upki-ra against Pebble and against the nginx and FastCGI
ceilings, on loopback, in one run, printed as one table.

What runs (docs/PERFORMANCE.md explains the method):
  - a stack of tests/stack.py (development CA, `upki-ra start`, nginx) whose
    nginx also has a location that only returns 204 (the nginx ceiling), one
    passing to tests/bench/fcgi204 (a prefork libfcgi pool that answers 204:
    the FastCGI ceiling), and a second server that is the same site with a
    new FastCGI connection per ACME request (for the upstream comparison);
  - Pebble with its own TLS certificate, validating http-01 for real;
  - pebble-challtestsrv as the DNS server of both (every name is 127.0.0.1);
  - build/tests/bench/acmebench for the load, which also answers http-01;
  - wrk (2 threads, the tool of the issue's reference figures) against the
    same GET targets, to check that acmebench is not what bounds them.

Each cell of the matrix (scenario x concurrency) runs the ceilings, upki-ra
and Pebble back to back, so that the ratios come from the same minute.

Knobs (environment):
  BENCH_SECONDS       measured seconds per run (10); BENCH_WARMUP (1)
  BENCH_CONCURRENCY   "1,8,32,64"
  BENCH_SCENARIOS     comma-separated subset of: nonce,directory,authz-ES256,
                      authz-RS256,new-order-ES256,new-order-RS256,issue
  BENCH_PARTS         comma-separated subset of: matrix,wrk,rounds,upstream,growth
                      (all; wrk and rounds need matrix)
  BENCH_ROUNDS        paired rounds of upki-ra and Pebble after the matrix's
                      one (3), for BENCH_ROUND_SCENARIOS ("authz-ES256")
  BENCH_RA_WORKERS    upki-ra FastCGI workers (its default: one per CPU, at
                      least 2), BENCH_RA_SPARE_WORKERS (1),
                      BENCH_RA_VALIDATORS (2);
                      the FastCGI ceiling gets as many workers
  BENCH_ORDERS        orders in the store for the growth check (1000000)
  BENCH_GROWTH_CONCURRENCY  "8,32"
  BENCH_POLL_MS       polling interval of the issuance flow (50)
  BENCH_PEBBLE_ATTEMPTS  runs of one Pebble measurement, each with a fresh
                      Pebble, while Pebble deadlocks in them (3)
  BENCH_NOTE          a line about the machine's other load, for the report
Results: <build>/bench/results.json and <build>/bench/table.md.

Only the Python standard library.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from stack import ChallTestSrv, Stack, free_port, port_open, unix_socket_open, wait_for  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_list(name, default):
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "1"))
CONCURRENCY = [int(x) for x in env_list("BENCH_CONCURRENCY", "1,8,32,64")]
# upki-ra's default: one worker per CPU, at least 2
RA_WORKERS = int(os.environ.get("BENCH_RA_WORKERS", str(max(2, os.cpu_count() or 2))))
RA_SPARES = int(os.environ.get("BENCH_RA_SPARE_WORKERS", "1"))
RA_VALIDATORS = int(os.environ.get("BENCH_RA_VALIDATORS", "2"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "1000000"))
GROWTH_C = [int(x) for x in env_list("BENCH_GROWTH_CONCURRENCY", "8,32")]
POLL_MS = int(os.environ.get("BENCH_POLL_MS", "50"))
PARTS = set(env_list("BENCH_PARTS", "matrix,wrk,rounds,upstream,growth"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PEBBLE_ATTEMPTS = max(1, int(os.environ.get("BENCH_PEBBLE_ATTEMPTS", "3")))
ROUND_SCENARIOS = env_list("BENCH_ROUND_SCENARIOS", "authz-ES256")
# Kept upstream connections need a worker each: at most one per client.
KA_WORKERS = max(CONCURRENCY + [8]) + 8

# The targets of issue 7 that are ratios: new-nonce and directory against the
# FastCGI ceiling, authz and new-order against min(FastCGI, verify), and full
# issuance against Pebble.
TARGET_GET_CEILING = 0.8
TARGET_JWS_CEILING = 0.7
TARGET_ISSUE_PEBBLE = 1.5

# name, acmebench scenario, account key alg, has nginx/FastCGI ceilings
SCENARIOS = [
    ("nonce", "nonce", "ES256", True),
    ("directory", "directory", "ES256", True),
    ("authz-ES256", "authz", "ES256", False),
    ("authz-RS256", "authz", "RS256", False),
    ("new-order-ES256", "new-order", "ES256", False),
    ("new-order-RS256", "new-order", "RS256", False),
    ("issue", "issue", "ES256", False),
]
WANT = env_list("BENCH_SCENARIOS", ",".join(s[0] for s in SCENARIOS))
SCENARIOS = [s for s in SCENARIOS if s[0] in WANT]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- /proc ----------------------------------------------------------------------

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])     # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# -- the parts ----------------------------------------------------------------------

class Fcgi204:
    """tests/bench/fcgi204: a prefork libfcgi pool answering 204."""

    def __init__(self, build, work, name, workers):
        self.sock = os.path.join(work, f"{name}.sock")
        self.workers = workers
        self.proc = subprocess.Popen(
            [os.path.join(build, "tests", "bench", "fcgi204"), self.sock, str(workers)],
            stdout=open(os.path.join(work, f"{name}.log"), "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: unix_socket_open(self.sock), 10, name, self.proc)
        wait_for(lambda: len(children(self.proc.pid)) == workers, 10, name, self.proc)

    def pids(self):
        return children(self.proc.pid)

    def stop(self):
        Stack._stop(self.proc)


class Pebble:
    def __init__(self, work, dns_port, http01_port):
        self.dir = os.path.join(work, "pebble")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.cafile = os.path.join(self.dir, "ca.pem")
        key, cert = os.path.join(self.dir, "key.pem"), os.path.join(self.dir, "cert.pem")
        cakey = os.path.join(self.dir, "ca.key")
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", cakey, "-out", self.cafile, "-days", "2",
            "-subj", "/CN=bench Pebble TLS CA")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", cert + ".csr", "-subj", "/CN=localhost")
        ext = os.path.join(self.dir, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", cert + ".csr", "-CA", self.cafile,
            "-CAkey", cakey, "-CAcreateserial", "-out", cert, "-days", "2",
            "-extfile", ext)
        cfg = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{free_port()}",
            "certificate": cert, "privateKey": key,
            "httpPort": http01_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
        }}
        self.config = os.path.join(self.dir, "pebble-config.json")
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=2)
        self.dns_port = dns_port
        self.restarts = 0
        self.suspect = False
        self.start()

    def start(self):
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        env.pop("PEBBLE_VA_ALWAYS_VALID", None)
        self.proc = subprocess.Popen(
            ["pebble", "-config", self.config, "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            stdout=open(os.path.join(self.dir, "pebble.log"), "ab"),
            stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        wait_for(lambda: port_open("127.0.0.1", self.port), 20, "pebble", self.proc)

    def healthy(self):
        """Pebble 2.4 can deadlock under concurrent issuance (its memory
        store's RWMutex, taken recursively while a writer waits): then
        even the directory hangs."""
        import http.client
        import ssl
        ctx = ssl.create_default_context(cafile=self.cafile)
        try:
            c = http.client.HTTPSConnection("localhost", self.port, context=ctx, timeout=3)
            c.request("GET", "/dir")
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except (OSError, http.client.HTTPException):
            return False

    def ensure(self):
        """A fresh Pebble when the last one hung; its goroutines go to the log.
        The directory alone is no health check: it does not take the memory
        store's lock, so a deadlocked Pebble still serves it."""
        if self.proc.poll() is None and not self.suspect and self.healthy():
            return False
        self.suspect = False
        log("Pebble does not answer: goroutine dump to pebble.log, then a fresh Pebble")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.restarts += 1
        self.start()
        return True

    @property
    def directory(self):
        return f"https://localhost:{self.port}/dir"

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        Stack._stop(self.proc)


class BenchStack(Stack):
    """The test stack, with the bench locations in the same nginx."""

    def __init__(self, root, bench, **kw):
        super().__init__(root, **kw)
        self.bench = bench          # sockets of the fcgi204 pools
        self.pr_port = free_port()

    @property
    def per_request_base_url(self):
        return f"https://localhost:{self.pr_port}"

    def render_nginx(self):
        conf = super().render_nginx()
        site_path = os.path.join(self.nginx_dir, "upki-ra.conf")
        with open(site_path) as f:
            site = f.read()
        ra_pass = f"fastcgi_pass unix:{self.fcgi_socket};"
        params = os.path.join(ROOT, "nginx", "fastcgi-params.conf")
        b = self.bench
        extra = f"""
    # -- tests/bench: the ceilings --
    location = /bench/nginx204 {{ return 204; }}
    location = /bench/fcgi204 {{
        include {params};
        fastcgi_pass unix:{b['fcgi']};
    }}
    location = /bench/fcgi204-ka {{
        include {params};
        fastcgi_pass bench_fcgi204_ka;
        fastcgi_keep_conn on;
    }}
    location = /bench/fcgi204-starved {{
        include {params};
        fastcgi_pass bench_fcgi204_starved;
        fastcgi_keep_conn on;
    }}
"""
        end = site.rstrip().rfind("}")
        main_server = site[:end] + extra + site[end:]
        # The same site, on another port, with a new FastCGI connection per
        # ACME request (the template before kept connections).
        pr_server = site[site.index("server {"):]
        pr_server = pr_server.replace(f"listen {self.ra_host}:{self.ra_port} ",
                                      f"listen {self.ra_host}:{self.pr_port} ")
        pr_server = re.sub(r"fastcgi_pass upki_ra_acme;\s*fastcgi_keep_conn on;\s*"
                           r"fastcgi_next_upstream [^;]*;", ra_pass, pr_server)
        upstreams = f"""
# -- tests/bench: kept FastCGI connections (keepalive = idle ones per nginx worker) --
upstream bench_fcgi204_ka {{ server unix:{b['fcgi_ka']}; keepalive 64; }}
upstream bench_fcgi204_starved {{ server unix:{b['fcgi_starved']}; keepalive 64; }}
"""
        with open(site_path, "w") as f:
            f.write(upstreams + main_server + "\n# -- the same site, a connection per request --\n"
                    + pr_server)
        with open(conf) as f:
            main = f.read()
        main = re.sub(r"access_log [^;]+;", "access_log off;", main)
        # One keep-alive connection per virtual client for the whole run.
        main = main.replace("http {", "http {\n    keepalive_requests 10000000;\n"
                            "    keepalive_timeout 300s;", 1)
        with open(conf, "w") as f:
            f.write(main)
        return conf

    def start_nginx(self):
        super().start_nginx()
        wait_for(lambda: port_open(self.ra_host, self.pr_port), 20, "nginx", self.nginx)

    def nginx_pids(self):
        return children(self.nginx.pid)

    def ra_children(self):
        return children(self.ra.pid)

    def ra_pids(self):
        pids = self.nginx_pids() + self.ra_children()
        if self.devca is not None:
            pids.append(self.devca.pid)
        return pids


# -- running acmebench -----------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) \
            else args.build
        self.gen = os.path.join(self.build, "tests", "bench", "acmebench")
        self.out = os.path.join(self.build, "bench")
        self.work = os.path.join(self.out, "work")
        self.keys = os.path.join(self.out, "keys")
        self.results = []
        self.meta = {}
        self.responder_port = free_port()

    def run(self, server, label, scenario, alg, c, url, cafile, pids, seconds=None,
            timeout_ms=15000, extra=()):
        seconds = SECONDS if seconds is None else seconds
        cmd = [self.gen, "--scenario", scenario, "--url", url, "--concurrency", str(c),
               "--seconds", str(seconds), "--warmup", str(WARMUP), "--alg", alg,
               "--keys", self.keys, "--poll-ms", str(POLL_MS),
               "--timeout-ms", str(timeout_ms), "--label", label, *extra]
        if cafile:
            cmd += ["--cafile", cafile]
        if scenario == "issue":
            cmd += ["--responder-port", str(self.responder_port)]
        cpu0 = None
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        # The server's CPU over the whole run (set-up included) is read
        # around it; the per-request figure uses the measured window only
        # as an approximation, see PERFORMANCE.md.
        cpu0 = cpu_seconds(pids())
        t0 = time.monotonic()
        try:
            out, err = proc.communicate(timeout=WARMUP + seconds + 300)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        wall = time.monotonic() - t0
        cpu1 = cpu_seconds(pids())
        try:
            res = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = {"ok": 0, "errors": -1, "rps": 0, "p50_ms": 0, "p99_ms": 0,
                   "first_error": (err or out).strip()[-400:]}
        res.update(server=server, name=label, c=c, srv_cpu_s=round(cpu1 - cpu0, 3),
                   wall_s=round(wall, 2), load=loadavg())
        # CPU per operation, over the whole run: set-up and warm-up included,
        # so it is an upper bound, good for comparing servers.
        ops = res.get("ok", 0)
        if ops:
            res["srv_cpu_us_per_op"] = round((cpu1 - cpu0) / ops * 1e6 *
                                             (seconds / (seconds + WARMUP)), 1)
        self.results.append(res)
        flag = "" if not res.get("errors") else f"  errors={res.get('errors')}: " \
            f"{res.get('first_error', '')[:160]}"
        log(f"{server:<16} {label:<18} c={c:<3} {res.get('rps', 0):9.1f}/s "
            f"p50 {res.get('p50_ms', 0):7.2f} ms  p99 {res.get('p99_ms', 0):7.2f} ms{flag}")
        return res

    def run_wrk(self, label, c, url, pids):
        """The same GET as acmebench's, from wrk: as many connections as
        clients, two threads (one per CPU here) or one for one connection."""
        cmd = ["wrk", "--latency", "-t", str(min(2, c)), "-c", str(c), "--timeout", "15s"]
        subprocess.run(cmd + ["-d", f"{max(1, round(WARMUP))}s", url], capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0 = cpu_seconds(pids())
        out = subprocess.run(cmd + ["-d", f"{round(SECONDS)}s", url], capture_output=True,
                             text=True).stdout
        cpu1 = cpu_seconds(pids())
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = wrk_parse(out)
        res.update(server="wrk", name=label, c=c, seconds=round(SECONDS),
                   srv_cpu_s=round(cpu1 - cpu0, 3),
                   gen_cpu_s=round(after.ru_utime + after.ru_stime - before.ru_utime -
                                   before.ru_stime, 3), load=loadavg())
        if res["ok"]:
            res["srv_cpu_us_per_op"] = round((cpu1 - cpu0) / res["ok"] * 1e6, 1)
        self.results.append(res)
        log(f"{'wrk':<16} {label:<18} c={c:<3} {res['rps']:9.1f}/s "
            f"p50 {res['p50_ms']:7.2f} ms  p99 {res['p99_ms']:7.2f} ms"
            + (f"  errors={res['errors']}" if res["errors"] else ""))
        return res

    def find(self, server, name, c):
        for r in reversed(self.results):
            if r["server"] == server and r["name"] == name and r["c"] == c:
                return r
        return None


def wrk_ms(value):
    """wrk's "454.00us", "1.82ms", "1.05s" in ms."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", value)
    if m is None:
        return 0.0
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def wrk_parse(out):
    """Requests/s, percentiles and errors from `wrk --latency`'s report.
    A response other than 2xx or 3xx, and every socket error, is an
    error."""
    res = {"ok": 0, "errors": 0, "rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    requests = 0
    for line in out.splitlines():
        f = line.split()
        if line.startswith("Requests/sec:"):
            res["rps"] = float(f[1])
        elif re.fullmatch(r"\s+(50|99)%\s+\S+", line):
            res[f"p{f[0][:-1]}_ms"] = wrk_ms(f[1])
        elif line.strip().startswith("Latency") and len(f) >= 4:
            res["max_ms"] = wrk_ms(f[3])
        elif re.match(r"\s*\d+ requests in ", line):
            requests = int(f[0])
        elif line.startswith("Non-2xx or 3xx responses:"):
            res["errors"] += int(f[-1])
        elif line.strip().startswith("Socket errors:"):
            res["errors"] += sum(int(x.strip(",")) for x in f[3::2])
    res["ok"] = max(0, requests - res["errors"])
    return res


def openssl_speed():
    """verify/s of one core: `openssl speed -seconds 3 ecdsap256 rsa2048`."""
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "ecdsap256", "rsa2048"],
                         capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        m = re.match(r"\s*rsa\s+2048 bits\s+\S+s?\s+\S+s?\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            res["RS256"] = {"sign": float(m.group(1)), "verify": float(m.group(2))}
        m = re.match(r"\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)",
                     line)
        if m:
            res["ES256"] = {"sign": float(m.group(1)), "verify": float(m.group(2))}
    return res


def rollup_kib(pid):
    """Pss and private (USS) memory: what one more process really costs,
    where VmRSS also counts every shared library page it has touched."""
    out = {"pss_kib": None, "uss_kib": None}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            vals = {line.split(":")[0]: int(line.split()[1]) for line in f
                    if line.split(":")[0] in ("Pss", "Private_Clean", "Private_Dirty")}
        out["pss_kib"] = vals.get("Pss")
        out["uss_kib"] = vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0)
    except (OSError, ValueError, IndexError):
        pass
    return out


def worker_rss(stack):
    rows = []
    for pid in stack.ra_children():
        role = "worker" if any(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
                               for fd in os.listdir(f"/proc/{pid}/fd")
                               if os.path.exists(f"/proc/{pid}/fd/{fd}")) else "validator"
        rows.append({"pid": pid, "role": role, "vmrss_kib": status_kib(pid, "VmRSS"),
                     "rss_anon_kib": status_kib(pid, "RssAnon"),
                     "rss_file_kib": status_kib(pid, "RssFile"), **rollup_kib(pid)})
    return rows


# -- the store for the growth check ------------------------------------------------

FILL_SQL = """
-- upki-ra is stopped: load without WAL and with a large cache (random keys
-- make every insert touch a random page), then give the store back in WAL.
PRAGMA journal_mode = DELETE;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TEMP TABLE fill_base AS
  SELECT coalesce(max(id), 0) AS acc, CAST(strftime('%s','now') AS INTEGER) AS now
  FROM accounts;
-- ids of 22 characters as the RA's (random, as the RA made them before its ids began
-- with the time: a store from before; hex is within base64url)
CREATE TEMP TABLE fill(x INTEGER PRIMARY KEY, oid TEXT, aid TEXT, acc INTEGER, st INTEGER);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {orders})
INSERT INTO fill
  SELECT x, substr(lower(hex(randomblob(11))), 1, 22), substr(lower(hex(randomblob(11))), 1, 22),
         (SELECT acc FROM fill_base) + 1 + (x % {accounts}), x % 10
  FROM n;
-- {accounts} accounts of {per} orders each; the JWK is a well-formed
-- P-256 key of nobody: no request is ever signed for these accounts.
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {accounts})
INSERT INTO accounts (id, kid, thumbprint, jwk, contact, status, tos_agreed, created_at)
  SELECT (SELECT acc FROM fill_base) + x, 'fill' || hex(randomblob(8)),
         'fill' || hex(randomblob(16)),
         '{{"crv":"P-256","kty":"EC","x":"' || hex(randomblob(16)) || '","y":"'
           || hex(randomblob(16)) || '"}}',
         '["mailto:fill' || x || '@bench.test"]', 'valid', 1,
         (SELECT now FROM fill_base) - 30 * 86400
  FROM n;
-- Orders as a store sees them: half failed (invalid, with the problem), the
-- rest pending (3/10) or ready (2/10); all unexpired, so that the sweep has
-- nothing to change during the measurement.  created_at spreads over a week.
INSERT INTO orders (id, account_id, status, expires, identifiers, not_before, not_after,
                    profile, error, certificate_id, processing_since, replaces, created_at)
  SELECT oid, acc,
         CASE WHEN st < 5 THEN 'invalid' WHEN st < 8 THEN 'pending' ELSE 'ready' END,
         (SELECT now FROM fill_base) + 86400 + (x % 518400),
         '[{{"type":"dns","value":"f' || x || '.fill.bench.test"}}]', NULL, NULL, 'server',
         CASE WHEN st < 5 THEN '{{"type":"urn:ietf:params:acme:error:incorrectResponse",'
              || '"detail":"the key authorization does not match","status":403}}' END,
         NULL, NULL, NULL, (SELECT now FROM fill_base) - (x % 604800)
  FROM fill;
INSERT INTO authorizations (id, account_id, type, value, wildcard, status, expires, created_at)
  SELECT aid, acc, 'dns', 'f' || x || '.fill.bench.test', 0,
         CASE WHEN st < 5 THEN 'invalid' WHEN st < 8 THEN 'pending' ELSE 'valid' END,
         (SELECT now FROM fill_base) + 86400 + (x % 518400),
         (SELECT now FROM fill_base) - (x % 604800)
  FROM fill;
INSERT INTO order_authorizations (order_id, authz_id) SELECT oid, aid FROM fill;
INSERT INTO challenges (authz_id, type, token, status, validated, error, attempts)
  SELECT aid, t.type, substr(lower(hex(randomblob(22))), 1, 43),
         CASE WHEN t.type = 'http-01' AND st < 5 THEN 'invalid'
              WHEN t.type = 'http-01' AND st >= 8 THEN 'valid' ELSE 'pending' END,
         CASE WHEN t.type = 'http-01' AND st >= 8 THEN (SELECT now FROM fill_base) END,
         CASE WHEN t.type = 'http-01' AND st < 5 THEN
           '{{"type":"urn:ietf:params:acme:error:incorrectResponse","status":403}}' END,
         CASE WHEN t.type = 'http-01' AND st != 5 AND st != 6 AND st != 7 THEN 1 ELSE 0 END
  FROM fill, (SELECT 'http-01' AS type UNION ALL SELECT 'dns-01' UNION ALL
              SELECT 'tls-alpn-01') t
  ORDER BY fill.x, t.type;
COMMIT;
PRAGMA journal_mode = WAL;
SELECT (SELECT count(*) FROM orders) || ' orders, ' ||
       (SELECT count(*) FROM authorizations) || ' authorizations, ' ||
       (SELECT count(*) FROM challenges) || ' challenges, ' ||
       (SELECT count(*) FROM accounts) || ' accounts';
"""


def fill_store(db, orders):
    accounts = max(1, orders // 1000)
    sql = FILL_SQL.format(orders=orders, accounts=accounts, per=orders // accounts)
    t0 = time.monotonic()
    r = subprocess.run(["sqlite3", "-batch", "-bail", db], input=sql, text=True,
                       capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"filling the store failed: {r.stderr.strip()}")
    return r.stdout.strip().splitlines()[-1], time.monotonic() - t0


# -- the report ------------------------------------------------------------------------

def fmt_rate(r):
    if r is None:
        return "-"
    if r.get("pebble_hung"):
        return "hung"
    s = f"{r['rps']:.0f}" if r["rps"] >= 100 else f"{r['rps']:.1f}"
    return s + ("!" if r.get("errors") else "")


def fmt_ms(r, key):
    if r is None:
        return "-"
    v = r.get(key, 0)
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}"


def ceiling_of(b, speed, scenario, alg, has_ceiling, c):
    """The FastCGI ceiling of a GET scenario; for authz and new-order the
    lower of it and the verifications per second of one core."""
    if has_ceiling:
        fc = b.find("fcgi204", scenario, c)
        return fc["rps"] if fc else None
    if scenario not in ("authz", "new-order"):
        return None
    fcg = b.find("fcgi204", "directory", c) or b.find("fcgi204", "nonce", c)
    v = speed.get(alg, {}).get("verify")
    cands = [x for x in (fcg["rps"] if fcg else None, v) if x]
    return min(cands) if cands else None


def pebble_finished(b, name, c):
    """Pebble's run of name at c, or None when there is none or Pebble
    deadlocked in it: a run it hung in served part of the window, and no
    figure of it stands beside upki-ra's."""
    pb = b.find("pebble", name, c)
    return pb if pb is not None and not pb.get("pebble_hung") else None


def build_table(b, speed):
    head = ["scenario", "c", "upki-ra/s", "p50 ms", "p99 ms", "Pebble/s", "p50 ms",
            "p99 ms", "nginx204/s", "fcgi204/s", "ceiling/s", "RA/Pebble", "RA/ceiling",
            "RA CPU us/op", "Pebble CPU us/op", "worker RSS MiB"]
    rows, checks = [], []
    for name, scenario, alg, has_ceiling in SCENARIOS:
        for c in CONCURRENCY:
            ra = b.find("upki-ra", name, c)
            pb = b.find("pebble", name, c)
            ng = b.find("nginx204", name, c) if has_ceiling else None
            fc = b.find("fcgi204", name, c) if has_ceiling else None
            ceiling = ceiling_of(b, speed, scenario, alg, has_ceiling, c)
            pb_ok = pebble_finished(b, name, c)
            r_pb = ratio(ra and ra["rps"], pb_ok and pb_ok["rps"])
            r_ce = ratio(ra and ra["rps"], ceiling)
            rss = ra.get("rss_max_kib") if ra else None
            rows.append([name, str(c), fmt_rate(ra), fmt_ms(ra, "p50_ms"), fmt_ms(ra, "p99_ms"),
                         fmt_rate(pb), fmt_ms(pb_ok, "p50_ms"), fmt_ms(pb_ok, "p99_ms"),
                         fmt_rate(ng), fmt_rate(fc),
                         "-" if ceiling is None else f"{ceiling:.0f}",
                         fmt_ratio(r_pb), fmt_ratio(r_ce),
                         "-" if not ra or "srv_cpu_us_per_op" not in ra
                         else f"{ra['srv_cpu_us_per_op']:.0f}",
                         "-" if not pb_ok or "srv_cpu_us_per_op" not in pb_ok
                         else f"{pb_ok['srv_cpu_us_per_op']:.0f}",
                         "-" if rss is None else f"{rss / 1024:.1f}"])
            # the targets of issue 7
            if ra is None:
                continue
            if scenario in ("nonce", "directory") and r_ce is not None:
                checks.append((f"{name} c={c}: >= {TARGET_GET_CEILING:.0%} of the FastCGI "
                               "ceiling", r_ce >= TARGET_GET_CEILING, f"{r_ce:.0%}"))
            if scenario in ("authz", "new-order"):
                if r_pb is not None:
                    checks.append((f"{name} c={c}: >= Pebble", r_pb >= 1.0, f"{r_pb:.2f}x"))
                if r_ce is not None:
                    checks.append((f"{name} c={c}: >= {TARGET_JWS_CEILING:.0%} of "
                                   "min(FastCGI, verify)", r_ce >= TARGET_JWS_CEILING,
                                   f"{r_ce:.0%}"))
            if scenario == "issue" and r_pb is not None:
                checks.append((f"{name} c={c}: >= {TARGET_ISSUE_PEBBLE}x Pebble",
                               r_pb >= TARGET_ISSUE_PEBBLE, f"{r_pb:.2f}x"))
            if c == 32 and ra.get("p50_ms"):
                q = ra["p99_ms"] / ra["p50_ms"]
                checks.append((f"{name} c=32: p99 <= 3x p50", q <= 3.0, f"{q:.1f}x"))
    return head, rows, checks


def text_table(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths)))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(x.rjust(w) if i else x.ljust(w)
                             for i, (x, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(
        " --- " if i == 0 else " ---: " for i in range(len(head))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def section_rows(b, server_names, names, cs):
    rows = []
    for name in names:
        for c in cs:
            for server in server_names:
                r = b.find(server, name, c)
                if r is None:
                    continue
                rows.append([server, name, str(c), fmt_rate(r), fmt_ms(r, "p50_ms"),
                             fmt_ms(r, "p99_ms"), fmt_ms(r, "max_ms"), str(r.get("errors", 0)),
                             str(r.get("timeouts", 0)),
                             f"{r.get('min_client_ops', 0)}/{r.get('max_client_ops', 0)}",
                             "-" if "srv_cpu_us_per_op" not in r
                             else f"{r['srv_cpu_us_per_op']:.0f}"])
    return ["setup", "scenario", "c", "ops/s", "p50 ms", "p99 ms", "max ms", "errors",
            "timeouts", "ops/client min/max", "server CPU us/op"], rows


def gen_cpu_us(r):
    return r["gen_cpu_s"] / r["ok"] * 1e6 if r and r.get("ok") and \
        r.get("gen_cpu_s") is not None else None


def gen_us_per_op(r):
    v = gen_cpu_us(r)
    return "-" if v is None else f"{v:.0f}"


def budget_rows(b, speed):
    """What the machine allows.  The generator runs on the same CPUs as the
    servers, so a CPU-bound run can reach at most cpus / (server CPU +
    generator CPU per operation).  The target's rate, less the generator's
    share, leaves the server CPU per operation the target asks for; a
    figure below nginx's own share is out of reach of anything behind
    nginx, and a negative one out of reach of any server."""
    cpus = b.meta["cpus"]
    rows = []
    for name, scenario, alg, has_ceiling in SCENARIOS:
        for c in CONCURRENCY:
            ra = b.find("upki-ra", name, c)
            pb = pebble_finished(b, name, c)
            ceiling = ceiling_of(b, speed, scenario, alg, has_ceiling, c)
            if scenario in ("nonce", "directory"):
                target = TARGET_GET_CEILING * ceiling if ceiling else None
            elif scenario == "issue":
                target = TARGET_ISSUE_PEBBLE * pb["rps"] if pb else None
            else:
                target = max([x for x in (TARGET_JWS_CEILING * ceiling if ceiling else None,
                                          pb and pb["rps"]) if x], default=None)
            cells = []
            for r in (ra, pb):
                gen, srv = gen_cpu_us(r), r and r.get("srv_cpu_us_per_op")
                bound = cpus * 1e6 / (srv + gen) if gen and srv else None
                cells += ["-" if srv is None else f"{srv:.0f}",
                          "-" if gen is None else f"{gen:.0f}",
                          "-" if bound is None else f"{bound:.0f}",
                          "-" if bound is None else f"{r['rps'] / bound:.0%}"]
            gen = gen_cpu_us(ra)
            leaves = cpus * 1e6 / target - gen if target and gen else None
            rows.append([name, str(c), *cells, "-" if target is None else f"{target:.0f}",
                         "-" if leaves is None else f"{leaves:.0f}"])
    return ["scenario", "c", "upki-ra server us/op", "generator us/op", "bound/s",
            "rate/bound", "Pebble server us/op", "generator us/op", "bound/s", "rate/bound",
            "target/s", "server us/op the target leaves"], rows


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if n == 0 else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def round_rows(b, checks):
    """The matrix's run and the paired rounds of a scenario: the ratio to
    Pebble of each, and its median; at 32 clients, p99/p50 of each."""
    rows = []
    for name in ROUND_SCENARIOS:
        for c in CONCURRENCY:
            pairs = [(b.find("upki-ra", name, c), b.find("pebble", name, c))]
            pairs += [(b.find(f"upki-ra #{rnd}", name, c), b.find(f"pebble #{rnd}", name, c))
                      for rnd in range(1, ROUNDS + 1)]
            pairs = [(ra, pb) for ra, pb in pairs if ra and pb and not pb.get("pebble_hung")]
            if len(pairs) < 2:
                continue
            qs = [ra["rps"] / pb["rps"] for ra, pb in pairs if pb["rps"]]
            tails = [ra["p99_ms"] / ra["p50_ms"] for ra, _ in pairs if ra.get("p50_ms")]
            q, t = median(qs), median(tails)
            rows.append([name, str(c), " ".join(f"{ra['rps']:.0f}" for ra, _ in pairs),
                         " ".join(f"{pb['rps']:.0f}" for _, pb in pairs),
                         " ".join(f"{x:.2f}" for x in qs), f"{q:.2f}",
                         " ".join(f"{x:.1f}" for x in tails), f"{t:.1f}"])
            checks.append((f"{name} c={c}: >= Pebble, median of {len(qs)} paired rounds",
                           q >= 1.0, f"{q:.2f}x"))
            if c == 32:
                checks.append((f"{name} c=32: p99 <= 3x p50, median of {len(tails)} rounds",
                               t <= 3.0, f"{t:.1f}x"))
    return ["scenario", "c", "upki-ra/s by round", "Pebble/s by round", "RA/Pebble by round",
            "median", "RA p99/p50 by round", "median"], rows


def step_rows(b):
    """Where an issuance's time goes, for upki-ra and Pebble: the mean of
    each step over the issuances counted (acmebench's steps_ms)."""
    rows, names = [], []
    for c in CONCURRENCY:
        for server in ("upki-ra", "pebble"):
            r = b.find(server, "issue", c)
            if r is None or not r.get("steps_ms") or r.get("pebble_hung"):
                continue
            names = names or list(r["steps_ms"])
            rows.append([server, str(c), fmt_rate(r), fmt_ms(r, "p50_ms"),
                         *(f"{r['steps_ms'].get(n, 0):.1f}" for n in names)])
    return ["server", "c", "issuances/s", "p50 ms", *names], rows


def wrk_rows(b):
    """wrk beside acmebench's matrix run of the same GET, same minute."""
    twins = {"nginx204": "nginx204", "fcgi204": "fcgi204", "directory": "upki-ra"}
    rows = []
    for label, server in twins.items():
        for c in CONCURRENCY:
            w, a = b.find("wrk", label, c), b.find(server, "directory", c)
            if w is None:
                continue
            q = ratio(w["rps"], a["rps"] if a else None)
            rows.append([label, str(c), fmt_rate(a), fmt_ms(a, "p50_ms"), fmt_ms(a, "p99_ms"),
                         gen_us_per_op(a), fmt_rate(w), fmt_ms(w, "p50_ms"),
                         fmt_ms(w, "p99_ms"), gen_us_per_op(w),
                         "-" if q is None else f"{q:.2f}"])
    return ["GET", "c", "acmebench/s", "p50 ms", "p99 ms", "gen CPU us/op", "wrk/s", "p50 ms",
            "p99 ms", "gen CPU us/op", "wrk/acmebench"], rows


def write_report(b, speed, extra):
    """Prints the table and the targets, and writes results.json and
    table.md."""
    head, rows, checks = build_table(b, speed)
    report = []
    report.append(f"upki-ra bench, commit {b.meta['commit']}, {b.meta['started']}; "
                  f"{b.meta['cpus']} x {b.meta['cpu_model']}; load before "
                  f"{b.meta['load_before']}, after {b.meta['load_after']}"
                  + (f"; {b.meta['note']}" if b.meta["note"] else ""))
    report.append(f"{SECONDS:g} s per run after {WARMUP:g} s warm-up; upki-ra "
                  f"{RA_WORKERS} workers + {RA_SPARES} spare + {RA_VALIDATORS} validators; "
                  "rates are "
                  "operations/s (issue: whole issuances/s); '!' marks a run with errors")
    hung = [r for r in b.results if r.get("pebble_hung")]
    if hung:
        report.append(f"Pebble deadlocked in {len(hung)} runs (at most {PEBBLE_ATTEMPTS} "
                      "per measurement, each with a fresh Pebble): "
                      + ", ".join(f"{r['name']} c={r['c']}" for r in hung))
    v = {k: x.get("verify") for k, x in speed.items()}
    report.append(f"signature verification ceiling (openssl speed, one core): "
                  f"ES256 {v.get('ES256', 0):.0f}/s, RS256 {v.get('RS256', 0):.0f}/s")
    text = [*report, "", text_table(head, rows)]
    md = [*("- " + x for x in report), "", md_table(head, rows)]
    if "rss" in extra:
        rss = [x["vmrss_kib"] for x in extra["rss"] if x["vmrss_kib"]]
        line = (f"RSS of the upki-ra master's children after the matrix "
                f"({extra['ra_requests']} upki-ra requests), VmRSS (anon, Pss, private): "
                + ", ".join(f"{x['role']} {x['vmrss_kib'] / 1024:.1f} MiB "
                            f"({x['rss_anon_kib'] / 1024:.1f}, {(x['pss_kib'] or 0) / 1024:.1f}, "
                            f"{(x['uss_kib'] or 0) / 1024:.1f})" for x in extra["rss"]))
        text += ["", line]
        md += ["", line]
        if rss:
            checks.append(("worker RSS <= 8 MiB", max(rss) <= 8 * 1024,
                           f"max {max(rss) / 1024:.1f} MiB"))
    for title, (h, rs) in (
            ("The machine's budget: CPU per operation of the server and of the generator "
             f"(same {b.meta['cpus']} CPUs), the most they allow, and what the target leaves",
             budget_rows(b, speed)),
            ("Issuance: the mean ms of each step (validation includes the client's polls)",
             step_rows(b)),
            ("Paired rounds: the matrix's run, then upki-ra and Pebble in turns "
             "(the order swapped every round)", round_rows(b, checks)),
            ("Load generators: wrk (2 threads) and acmebench on the same GET targets",
             wrk_rows(b))):
        if rs:
            text += ["", title, text_table(h, rs)]
            md += ["", title, "", md_table(h, rs)]
    up = [r["server"] for r in b.results if " per-request" in r["server"] or
          " keep-conn" in r["server"]]
    if up:
        servers = list(dict.fromkeys(up))
        h, rs = section_rows(b, servers, ["get", "directory", "authz-ES256"],
                             sorted({r["c"] for r in b.results}))
        text += ["", "FastCGI upstream: a new connection per request, or kept "
                 "(fastcgi_keep_conn on)", text_table(h, rs)]
        md += ["", "FastCGI upstream: a new connection per request, or kept", "",
               md_table(h, rs)]
    if "growth" in extra:
        g = extra["growth"]
        labels = ["empty store", f"{ORDERS // 1000}k orders"]
        servers = [f"upki-ra {lab} #{rnd}" for rnd in (1, 2) for lab in labels]
        h, rs = section_rows(b, servers, ["authz-ES256", "new-order-ES256"], GROWTH_C)
        text += ["", f"growth: {g['store']} ({g['db_bytes'] / 2**20:.0f} MiB)",
                 text_table(h, rs)]
        md += ["", f"Growth: {g['store']} ({g['db_bytes'] / 2**20:.0f} MiB)", "",
               md_table(h, rs)]
        for c in GROWTH_C:
            for name in ("authz-ES256", "new-order-ES256"):
                runs = {lab: [b.find(f"upki-ra {lab} #{rnd}", name, c) for rnd in (1, 2)]
                        for lab in labels}
                if not all(runs[lab] and all(runs[lab]) for lab in labels):
                    continue
                e = sum(r["rps"] for r in runs[labels[0]])
                f = sum(r["rps"] for r in runs[labels[1]])
                ce = sum(r.get("srv_cpu_us_per_op", 0) for r in runs[labels[0]])
                cf = sum(r.get("srv_cpu_us_per_op", 0) for r in runs[labels[1]])
                if e:
                    q = f / e
                    checks.append((f"growth {name} c={c}: full store >= 80% of empty "
                                   f"(mean of 2 rounds; server CPU per op "
                                   f"{'+' if cf >= ce else ''}{(cf / ce - 1) if ce else 0:.0%})",
                                   q >= 0.8, f"{q:.0%}"))
    if checks:
        text += ["", "targets (issue 7):"]
        md += ["", "Targets (issue 7):", ""]
        for what, ok, val in checks:
            text.append(f"  {'met ' if ok else 'MISS'}  {what}: {val}")
            md.append(f"- {'met' if ok else '**missed**'}: {what}: {val}")
    print("\n".join(text))
    os.makedirs(b.out, exist_ok=True)
    with open(os.path.join(b.out, "results.json"), "w") as f:
        json.dump({"meta": b.meta, "results": b.results, "extra": extra}, f, indent=1)
    with open(os.path.join(b.out, "table.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    log(f"results: {b.out}/results.json, {b.out}/table.md")


def report_again(args):
    """--report: the report of an earlier run, from its results.json, with
    this version of the report code.  The run's own settings come from the
    file; BENCH_ORDERS must be what the run used (the default) for the
    growth rows to be found."""
    global SECONDS, WARMUP, CONCURRENCY, RA_WORKERS, RA_SPARES, RA_VALIDATORS, ROUNDS
    global ROUND_SCENARIOS, PEBBLE_ATTEMPTS
    with open(args.report) as f:
        data = json.load(f)
    b = Bench(args)
    b.meta, b.results = data["meta"], data["results"]
    b.out = os.path.dirname(os.path.abspath(args.report))
    SECONDS, WARMUP = b.meta["seconds"], b.meta["warmup"]
    CONCURRENCY = b.meta["concurrency"]
    RA_WORKERS, RA_VALIDATORS = b.meta["ra_workers"], b.meta["ra_validators"]
    RA_SPARES = b.meta.get("ra_spare_workers", 0)
    ROUNDS = b.meta.get("rounds", 0)
    PEBBLE_ATTEMPTS = b.meta.get("pebble_attempts", 1)
    ROUND_SCENARIOS = b.meta.get("round_scenarios", [])
    write_report(b, b.meta.get("openssl_speed", {}), data.get("extra", {}))
    return 0


# -- main ----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--report", metavar="RESULTS_JSON",
                    help="print and write the report of an earlier run again, run nothing")
    args = ap.parse_args()
    if args.report:
        return report_again(args)
    b = Bench(args)
    if not os.access(b.gen, os.X_OK):
        sys.exit(f"bench: {b.gen} is missing: run `make bench`")
    shutil.rmtree(b.work, ignore_errors=True)
    os.makedirs(b.work)
    os.makedirs(b.keys, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    started = datetime.datetime.now(datetime.timezone.utc)
    b.meta = {
        "started": started.isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                                 capture_output=True, text=True).stdout.strip(),
        "cpus": os.cpu_count(),
        "cpu_model": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name")), "?"),
        "kernel": platform.release(),
        "load_before": loadavg(),
        "seconds": SECONDS, "warmup": WARMUP, "concurrency": CONCURRENCY,
        "ra_workers": RA_WORKERS, "ra_spare_workers": RA_SPARES,
        "ra_validators": RA_VALIDATORS, "poll_ms": POLL_MS,
        "rounds": ROUNDS, "round_scenarios": ROUND_SCENARIOS,
        "pebble_attempts": PEBBLE_ATTEMPTS,
        "note": os.environ.get("BENCH_NOTE", ""),
        "versions": {
            "nginx": subprocess.run(["nginx", "-v"], capture_output=True,
                                    text=True).stderr.strip(),
            "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                      text=True).stdout.strip(),
            "pebble": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "pebble"],
                                     capture_output=True, text=True).stdout.strip(),
            "sqlite": subprocess.run(["sqlite3", "--version"], capture_output=True,
                                     text=True).stdout.split(" ")[0],
        },
    }
    log(f"commit {b.meta['commit']}, {b.meta['cpus']} CPUs, load {b.meta['load_before']}")
    log("openssl speed -seconds 3 ecdsap256 rsa2048 ...")
    speed = openssl_speed()
    b.meta["openssl_speed"] = speed
    log(f"verify/s (one core): ES256 {speed.get('ES256', {}).get('verify')}, "
        f"RS256 {speed.get('RS256', {}).get('verify')}")

    dns = pebble = stack = None
    pools = {}
    extra = {}
    try:
        dns = ChallTestSrv(b.work)
        pools["fcgi"] = Fcgi204(b.build, b.work, "fcgi204", RA_WORKERS)
        pools["fcgi_ka"] = Fcgi204(b.build, b.work, "fcgi204-ka", KA_WORKERS)
        pools["fcgi_starved"] = Fcgi204(b.build, b.work, "fcgi204-starved", RA_WORKERS)
        stack = BenchStack(os.path.join(b.work, "stack"),
                           {k: p.sock for k, p in pools.items()},
                           build=b.build, workers=RA_WORKERS, spare_workers=RA_SPARES,
                           validators=RA_VALIDATORS,
                           env={"UPKI_RA_DNS_SERVER": f"127.0.0.1:{dns.dns_port}",
                                "UPKI_RA_HTTP01_PORT": str(b.responder_port),
                                "UPKI_RA_TLSALPN01_PORT": str(free_port()),
                                "UPKI_CA_TIMEOUT_MS": "10000",
                                # A handful of accounts make all the orders
                                # here: the per-account limit would refuse
                                # them (Pebble has none).
                                "UPKI_RA_RATE_ORDERS": "0",
                                # Nor may they wait for one another's checks.
                                "UPKI_RA_RATE_INFLIGHT": "0",
                                "UPKI_RA_RATE_PENDING_AUTHZ": "0",
                                "UPKI_RA_RATE_FAILED": "0",
                                "UPKI_RA_VALIDATORS_PER_ACCOUNT": str(RA_VALIDATORS)})
        stack.start()
        pebble = Pebble(b.work, dns.dns_port, b.responder_port)
        ra_dir = f"{stack.base_url}/acme/directory"
        ra_ca = stack.ca_cert
        ng_pids = stack.nginx_pids
        ceil_pids = lambda: ng_pids() + pools["fcgi"].pids()  # noqa: E731
        log(f"upki-ra {ra_dir} ({RA_WORKERS} workers), Pebble {pebble.directory}, "
            f"http-01 responder 127.0.0.1:{b.responder_port}")

        def pebble_run(name, scenario, alg, c, server="pebble"):
            # A run Pebble deadlocked in tells nothing of its speed: a fresh
            # Pebble runs it again.  The report counts the runs it hung in.
            for attempt in range(1, PEBBLE_ATTEMPTS + 1):
                pebble.ensure()
                r = b.run(server, name, scenario, alg, c, pebble.directory, pebble.cafile,
                          pebble.pids)
                r["attempt"] = attempt
                if not (r.get("timeouts") or r.get("setup_failed") or (
                        r.get("errors") and not pebble.healthy())):
                    return r
                r["pebble_hung"] = True
                pebble.suspect = True
                log(f"Pebble stopped answering during this run, attempt {attempt} of "
                    f"{PEBBLE_ATTEMPTS} (its goroutines go to pebble.log)")
            return r

        def ra_run(name, scenario, alg, c, server="upki-ra"):
            r = b.run(server, name, scenario, alg, c, ra_dir, ra_ca, stack.ra_pids)
            rss = [x["vmrss_kib"] for x in worker_rss(stack) if x["vmrss_kib"]]
            r["rss_max_kib"] = max(rss) if rss else None
            return r

        # -- 1. the matrix ----------------------------------------------------------
        if "matrix" in PARTS:
            for name, scenario, alg, has_ceiling in SCENARIOS:
                for c in CONCURRENCY:
                    if has_ceiling:
                        method = "head" if scenario == "nonce" else "get"
                        base = stack.base_url
                        b.run("nginx204", name, method, alg, c, base + "/bench/nginx204",
                              ra_ca, ng_pids)
                        b.run("fcgi204", name, method, alg, c, base + "/bench/fcgi204",
                              ra_ca, ceil_pids)
                    ra_run(name, scenario, alg, c)
                    pebble_run(name, scenario, alg, c)
            extra["rss"] = worker_rss(stack)
            extra["ra_requests"] = sum(int(r.get("http_rps", 0) * r.get("seconds", 0))
                                       for r in b.results if r["server"] == "upki-ra")
            log(f"worker RSS after {extra['ra_requests']} measured upki-ra requests: "
                + ", ".join(f"{x['pid']}: {x['vmrss_kib']} KiB" for x in extra["rss"]))

        # -- paired rounds: where upki-ra and Pebble are level ----------------------
        # One 10 s run each moves by 10 to 20 % on this machine: more rounds,
        # in turns, the order swapped every round so that a drift of the
        # machine's speed favours neither.
        if "rounds" in PARTS and "matrix" in PARTS:
            for name, scenario, alg, _ in SCENARIOS:
                if name not in ROUND_SCENARIOS:
                    continue
                for c in CONCURRENCY:
                    for rnd in range(1, ROUNDS + 1):
                        turns = [lambda: ra_run(name, scenario, alg, c, f"upki-ra #{rnd}"),
                                 lambda: pebble_run(name, scenario, alg, c, f"pebble #{rnd}")]
                        for turn in turns if rnd % 2 == 0 else turns[::-1]:
                            turn()

        # -- wrk against the GET targets of the matrix ------------------------------
        # The issue's reference figures come from wrk; where wrk gets no more
        # from a target than acmebench did, acmebench is not its bound.
        if "wrk" in PARTS and "matrix" in PARTS and shutil.which("wrk"):
            base = stack.base_url
            for c in CONCURRENCY:
                b.run_wrk("nginx204", c, base + "/bench/nginx204", ng_pids)
                b.run_wrk("fcgi204", c, base + "/bench/fcgi204", ceil_pids)
                b.run_wrk("directory", c, ra_dir, stack.ra_pids)

        # -- 2. new FastCGI connection per request, or kept ones -------------------
        # GET and POST only: after a HEAD response nginx closes even a kept
        # FastCGI connection (it does not read the rest of the record), so
        # HEAD new-nonce is a new connection per request either way.
        if "upstream" in PARTS:
            base = stack.base_url
            ka_pids = lambda: ng_pids() + pools["fcgi_ka"].pids()  # noqa: E731
            st_pids = lambda: ng_pids() + pools["fcgi_starved"].pids()  # noqa: E731
            cs = [c for c in CONCURRENCY if c > 1] or CONCURRENCY
            for c in cs:
                b.run(f"fcgi204 per-request W={RA_WORKERS}", "get", "get", "ES256", c,
                      base + "/bench/fcgi204", ra_ca, ceil_pids)
                b.run(f"fcgi204 keep-conn W={KA_WORKERS}", "get", "get", "ES256", c,
                      base + "/bench/fcgi204-ka", ra_ca, ka_pids)
            ra_pr_dir = f"{stack.per_request_base_url}/acme/directory"
            for c in cs:
                for name, scenario, alg in (("directory", "directory", "ES256"),
                                            ("authz-ES256", "authz", "ES256")):
                    b.run(f"upki-ra per-request W={RA_WORKERS}", name, scenario, alg, c,
                          ra_pr_dir, ra_ca, stack.ra_pids)
                    b.run(f"upki-ra keep-conn W={RA_WORKERS}", name, scenario, alg, c,
                          ra_dir, ra_ca, stack.ra_pids)
            # A plain libfcgi pool with fewer workers than kept connections:
            # each worker reads only its one kept connection, and the
            # connections nginx opens beyond the workers wait in the listen
            # queue until nginx ends one (keepalive_requests, 1000, or an
            # idle timeout).  upki-ra's workers serve all of theirs.
            c = 32 if 32 in cs else max(cs)
            b.run(f"fcgi204 keep-conn W={RA_WORKERS}", "get", "get", "ES256", c,
                  base + "/bench/fcgi204-starved", ra_ca, st_pids, timeout_ms=5000)

        # -- 3. growth: 1,000,000 orders in the store --------------------------------
        # The empty and the full store take turns (two rounds), each copied
        # into place before its run, so that a change in the machine's other
        # load does not pass for an effect of the store's size.
        if "growth" in PARTS:
            db = os.path.join(stack.data_dir, "acme.db")
            empty, full = db + ".empty", db + ".full"

            def install(src):
                stack.stop_ra()
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(db + suffix):
                        os.unlink(db + suffix)
                if src is not None:
                    shutil.copyfile(src, db)
                    os.chmod(db, 0o600)
                stack.start_ra()

            gnames = (("authz-ES256", "authz", "ES256"), ("new-order-ES256", "new-order", "ES256"))
            install(None)           # a new store: the RA makes it at start
            stack.stop_ra()         # the last connection checkpoints the WAL away
            shutil.copyfile(db, empty)
            log(f"filling a copy of the store with {ORDERS} orders ...")
            shutil.copyfile(db, full)
            counts, took = fill_store(full, ORDERS)
            size = os.path.getsize(full)
            extra["growth"] = {"store": counts, "fill_s": round(took, 1), "db_bytes": size}
            log(f"store: {counts}; {size / 2**20:.0f} MiB, filled in {took:.0f} s")
            for rnd in (1, 2):
                for label, src in (("empty store", empty), (f"{ORDERS // 1000}k orders", full)):
                    install(src)
                    for c in GROWTH_C:
                        for name, scenario, alg in gnames:
                            b.run(f"upki-ra {label} #{rnd}", name, scenario, alg, c, ra_dir,
                                  ra_ca, stack.ra_pids)
            stack.stop_ra()
            for f in (empty, full):
                os.unlink(f)
            stack.start_ra()
    except KeyboardInterrupt:
        log("interrupted")
    except Exception:           # report what was measured before it
        import traceback
        log("failed:\n" + traceback.format_exc())
        b.meta["failed"] = traceback.format_exc().strip().splitlines()[-1]
    finally:
        for p in (pebble, stack, dns, *pools.values()):
            if p is not None:
                try:
                    p.stop()
                except Exception as e:      # keep stopping the others
                    log(f"stopping: {e}")

    b.meta["load_after"] = loadavg()
    b.meta["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    write_report(b, speed, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
