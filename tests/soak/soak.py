#!/usr/bin/python3
"""Soak: many ACME clients issuing certificates against one stack for a long
time, to show what does not stay flat: memory, the store, errors.

    make soak                                   # 64 clients, 600 s
    SOAK_SECONDS=60 SOAK_CLIENTS=16 make soak   # the quick mode

It starts its own stack (dev CA, `upki-ra start`, nginx; tests/stack.py) on
free loopback ports, and pebble-challtestsrv as the RA's resolver (every
name is 127.0.0.1) and as the http-01 server the clients put their answers
in.  SOAK_CLIENTS clients, spread over SOAK_PROCS processes, each with an
account of its own, loop on a full issuance (new-order, http-01, finalize,
certificate download) until SOAK_SECONDS have passed.

After a warm-up (SOAK_WARMUP seconds, by default a tenth of the run, at
most 30 s, and until the store holds as many certificates as there are
clients, at most half the run) it samples the VmRSS of every child of the RA master (workers
and validators) and the size of acme.db (and its WAL); it samples them
again when the time is up, before the clients stop.  The report (stdout,
and SOAK_REPORT as JSON when set) gives issuances, requests by status, 5xx,
transport errors, the samples, worker restarts, and the store's
integrity_check.  The exit status is 1 when there was a 5xx, a transport
error, a worker restart, an order left "processing", a store that fails
integrity_check, or no issuance at all.

The dev CA keeps its registry in SQLite with a sync on every certificate;
on a shared disk one sync can take seconds, which the RA rightly reports as
"CA unavailable" (500) once its 5 s CA timeout passes.  The dev CA is not
what is soaked: as root, its directory goes on a tmpfs (SOAK_CA_TMPFS=0
keeps it on disk).  The RA's own data directory stays on disk.  A watchdog
thread measures how late a 100 ms sleep wakes up, and the report gives the
worst: a machine that stalls for seconds explains timeouts the RA did not
cause.

Knobs: SOAK_CLIENTS (64), SOAK_SECONDS (600), SOAK_PROCS (min(clients, 4)),
SOAK_WORKERS (upki-ra's default: one per CPU, at least 2), SOAK_VALIDATORS (2),
SOAK_WARMUP, SOAK_RATE_ORDERS (0: the RA's per-account order rate limit is off,
so that the soak measures the RA and not its limiter), SOAK_DIR (where the stack lives; kept afterwards),
SOAK_REPORT, UPKI_TEST_BUILD (build).
"""

import http.client
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "integration"))

from stack import ChallTestSrv, Stack, challtestsrv_post, free_port  # noqa: E402
from acme_client import Client, b64u, make_csr  # noqa: E402


def env_int(name, default):
    return int(os.environ.get(name, default))


CLIENTS = env_int("SOAK_CLIENTS", 64)
SECONDS = env_int("SOAK_SECONDS", 600)
PROCS = max(1, min(CLIENTS, env_int("SOAK_PROCS", 4)))
WORKERS = env_int("SOAK_WORKERS", max(2, os.cpu_count() or 2))
VALIDATORS = env_int("SOAK_VALIDATORS", 2)
WARMUP = env_int("SOAK_WARMUP", min(30, max(5, SECONDS // 10)))
RATE_ORDERS = os.environ.get("SOAK_RATE_ORDERS", "0")
CA_TMPFS = os.environ.get("SOAK_CA_TMPFS", "1") == "1"
BUILD = os.environ.get("UPKI_TEST_BUILD", "build")

TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


# -- the clients ---------------------------------------------------------------------

class CountingClient(Client):
    """The test client, counting every answer by status (and every
    transport error) in a shared dict."""

    def __init__(self, base, cafile, counts, lock):
        self.counts, self.lock = counts, lock
        super().__init__(base, cafile)

    def request(self, method, url, body=None, headers=None):
        try:
            r = super().request(method, url, body, headers)
        except TRANSPORT_ERRORS as e:
            with self.lock:
                key = f"transport:{type(e).__name__}"
                self.counts[key] = self.counts.get(key, 0) + 1
            raise
        with self.lock:
            self.counts[r.status] = self.counts.get(r.status, 0) + 1
            if r.status >= 500:
                self.counts.setdefault("5xx_samples", []).append(
                    f"{method} {url} -> {r.status} {r.body[:200]!r}")
        return r


class Failed(Exception):
    pass


def issue(c, name, mport, deadline):
    r = c.new_order([name])
    if r.status == 429:
        time.sleep(min(5, int(r.header("retry-after") or 1)))
        raise Failed("rate limited")
    if r.status != 201:
        raise Failed(f"new-order {r.status}")
    order_url, order = r.header("location"), r.json()
    authz = c.post(order["authorizations"][0], None).json()
    ch = next(x for x in authz["challenges"] if x["type"] == "http-01")
    challtestsrv_post(mport, "add-http01", {"token": ch["token"], "content": c.key_authorization(ch["token"])})
    try:
        if c.post(ch["url"], {}).status != 200:
            raise Failed("challenge")
        limit = min(deadline + 60, time.monotonic() + 60)
        while True:
            status = c.post(order_url, None).json()["status"]
            if status == "ready":
                break
            if status != "pending" or time.monotonic() > limit:
                raise Failed(f"order {status}")
            time.sleep(0.2)
    finally:
        challtestsrv_post(mport, "del-http01", {"token": ch["token"]})
    der, _ = make_csr([name])
    r = c.post(order["finalize"], {"csr": b64u(der)})
    if r.status != 200 or r.json()["status"] != "valid":
        raise Failed(f"finalize {r.status}")
    if c.post(r.json()["certificate"], None).status != 200:
        raise Failed("certificate")


def client_process(idx, nclients, base, cafile, mport, start_at, deadline, out):
    """One process of clients: nclients threads until deadline."""
    counts, lock = {}, threading.Lock()
    done = []            # monotonic times of issuances
    failures = {}

    def one(k):
        try:
            c = CountingClient(base, cafile, counts, lock)
            if c.new_account().status != 201:
                raise Failed("new-account")
        except (Failed, *TRANSPORT_ERRORS) as e:
            with lock:
                failures[f"setup: {e}"] = failures.get(f"setup: {e}", 0) + 1
            return
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                issue(c, f"p{idx}c{k}n{i}.soak.example.test", mport, deadline)
                with lock:
                    done.append(time.monotonic())
            except (Failed, KeyError, ValueError, *TRANSPORT_ERRORS) as e:
                with lock:
                    key = f"{type(e).__name__}: {e}"[:120]
                    failures[key] = failures.get(key, 0) + 1
                time.sleep(0.2)

    while time.monotonic() < start_at:
        time.sleep(0.01)
    threads = [threading.Thread(target=one, args=(k,)) for k in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    samples = counts.pop("5xx_samples", [])
    out.put({"counts": {str(k): v for k, v in counts.items()}, "done": done,
             "failures": failures, "samples": samples[:20]})


# -- measurements ----------------------------------------------------------------------

def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def sample(stack):
    kids = children(stack.ra.pid)
    db = os.path.join(stack.data_dir, "acme.db")
    size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0  # noqa: E731
    return {"at": time.monotonic(),
            "master_rss_kb": rss_kb(stack.ra.pid),
            "children_rss_kb": {str(p): rss_kb(p) for p in kids},
            "acme_db_bytes": size(db), "acme_db_wal_bytes": size(db + "-wal")}


def certificates(stack):
    try:
        con = sqlite3.connect(f"file:{os.path.join(stack.data_dir, 'acme.db')}?mode=ro",
                              uri=True, timeout=30)
        try:
            return con.execute("SELECT count(*) FROM certificates").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def db_check(stack):
    con = sqlite3.connect(f"file:{os.path.join(stack.data_dir, 'acme.db')}?mode=ro", uri=True,
                          timeout=30)
    try:
        integrity = [r[0] for r in con.execute("PRAGMA integrity_check")]
        processing = con.execute("SELECT count(*) FROM orders WHERE status = 'processing'"
                                 ).fetchone()[0]
        orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        certs = con.execute("SELECT count(*) FROM certificates").fetchone()[0]
    finally:
        con.close()
    return {"integrity_check": integrity, "processing_orders": processing, "orders": orders,
            "certificates": certs}


class Watchdog(threading.Thread):
    """The worst lateness of a 100 ms sleep: how long the machine stalled."""

    def __init__(self):
        super().__init__(daemon=True)
        self.worst = 0.0
        self.over_1s = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            t0 = time.monotonic()
            time.sleep(0.1)
            late = time.monotonic() - t0 - 0.1
            self.worst = max(self.worst, late)
            self.over_1s += late > 1.0


def mount_tmpfs(path):
    """Mounts a tmpfs on path (as root); False when that is not possible."""
    if os.geteuid() != 0:
        return False
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m,mode=0700", "tmpfs", path],
                       capture_output=True, timeout=30)
    return r.returncode == 0


def main():
    root = os.environ.get("SOAK_DIR") or tempfile.mkdtemp(prefix="upki-ra-soak-")
    os.makedirs(root, exist_ok=True)
    chall = ChallTestSrv(root, http01=True)
    stack = Stack(root, build=BUILD, workers=WORKERS, validators=VALIDATORS, env={
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{chall.dns_port}",
        "UPKI_RA_HTTP01_PORT": str(chall.http_port),
        "UPKI_RA_TLSALPN01_PORT": str(free_port()),
        "UPKI_RA_ALLOWED_NAMES": "example.test",
        "UPKI_RA_RATE_ORDERS": RATE_ORDERS,
        # A few accounts make all the load: no per-account bound on it.
        "UPKI_RA_RATE_INFLIGHT": "0",
        "UPKI_RA_RATE_PENDING_AUTHZ": "0",
        "UPKI_RA_RATE_FAILED": "0",
        "UPKI_RA_VALIDATORS_PER_ACCOUNT": str(VALIDATORS),
        "UPKI_LOG_LEVEL": "warn",
    })
    procs = []
    ca_tmpfs = CA_TMPFS and mount_tmpfs(stack.devca_dir)
    watchdog = Watchdog()
    watchdog.start()
    report = {"ca_dir_on_tmpfs": ca_tmpfs, "clients": CLIENTS, "seconds": SECONDS,
              "procs": PROCS, "workers": WORKERS,
              "validators": VALIDATORS, "warmup": WARMUP, "build": BUILD, "dir": root,
              "cores": os.cpu_count()}
    try:
        stack.start()
        print(f"soak: {CLIENTS} clients in {PROCS} processes for {SECONDS} s against "
              f"{stack.base_url} ({WORKERS} workers, {VALIDATORS} validators, {BUILD}); "
              f"logs in {root}; dev CA on {'tmpfs' if ca_tmpfs else 'disk'}", flush=True)
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        start_at = time.monotonic() + 1.0
        deadline = start_at + SECONDS
        per = [CLIENTS // PROCS + (1 if i < CLIENTS % PROCS else 0) for i in range(PROCS)]
        for i, n in enumerate(per):
            p = ctx.Process(target=client_process, args=(
                i, n, stack.base_url, stack.ca_cert, chall.mgmt_port, start_at, deadline, out))
            p.start()
            procs.append(p)
        log_start = os.path.getsize(stack.log_path("ra"))

        # Warm-up: WARMUP seconds, and every client has had the time to
        # issue once (as many certificates in the store as clients), but
        # no longer than half the run.
        time.sleep(max(0.0, start_at + WARMUP - time.monotonic()))
        while (certificates(stack) < CLIENTS and
               time.monotonic() < start_at + SECONDS / 2):
            time.sleep(0.5)
        warmed = time.monotonic() - start_at
        first = sample(stack)
        print(f"soak: after {warmed:.0f} s of warm-up: worker RSS "
              f"{sorted(v for v in first['children_rss_kb'].values() if v)} kB, "
              f"acme.db {first['acme_db_bytes']} B (+ WAL {first['acme_db_wal_bytes']} B)",
              flush=True)
        periodic = [first]
        while time.monotonic() < deadline - 0.5:
            time.sleep(min(60, max(0.0, deadline - 0.5 - time.monotonic())))
            periodic.append(sample(stack))
            print(f"soak: t={periodic[-1]['at'] - start_at:.0f} s worker RSS "
                  f"{sorted(v for v in periodic[-1]['children_rss_kb'].values() if v)} kB, "
                  f"acme.db {periodic[-1]['acme_db_bytes']} B "
                  f"(+ WAL {periodic[-1]['acme_db_wal_bytes']} B)", flush=True)
        last = periodic[-1]

        results = [out.get(timeout=SECONDS + 300) for _ in procs]
        for p in procs:
            p.join(60)
        counts, done, failures, samples = {}, [], {}, []
        for r in results:
            for k, v in r["counts"].items():
                counts[k] = counts.get(k, 0) + v
            done += r["done"]
            for k, v in r["failures"].items():
                failures[k] = failures.get(k, 0) + v
            samples += r["samples"]
        five = sum(v for k, v in counts.items() if k.isdigit() and int(k) >= 500)
        transport = sum(v for k, v in counts.items() if k.startswith("transport:"))
        ra_log = open(stack.log_path("ra"), errors="replace").read()[log_start:] \
            if os.path.exists(stack.log_path("ra")) else ""
        restarts = ra_log.count("; restarting")
        store = db_check(stack)
        window = last["at"] - first["at"]
        in_window = sum(1 for t in done if first["at"] <= t <= last["at"])
        report.update({
            "issuances": len(done),
            "issuances_after_warmup": in_window,
            "issuances_per_second_after_warmup": round(in_window / window, 2) if window else None,
            "requests_by_status": counts, "5xx": five, "transport_errors": transport,
            "client_failures": failures, "5xx_samples": samples[:20],
            "worker_restarts": restarts, "warmup_seconds": round(warmed, 1),
            "rss_start": first, "rss_end": last,
            "samples": periodic, "store": store,
            "worst_stall_seconds": round(watchdog.worst, 3), "stalls_over_1s": watchdog.over_1s,
            "loadavg": open("/proc/loadavg").read().split()[:3],
        })
        start_rss = sorted(v for v in first["children_rss_kb"].values() if v)
        end_rss = sorted(v for v in last["children_rss_kb"].values() if v)
        print(f"""
soak report ({CLIENTS} clients, {SECONDS} s, {os.cpu_count()} cores, {BUILD})
  issuances              {len(done)} ({in_window} in the {window:.0f} s after warm-up,
                         {report['issuances_per_second_after_warmup']}/s)
  requests by status     {dict(sorted(counts.items()))}
  5xx                    {five}
  transport errors       {transport}
  client failures        {failures or 'none'}
  worker restarts        {restarts}
  children RSS, start    {start_rss} kB (after {warmed:.0f} s of warm-up)
  children RSS, end      {end_rss} kB
  master RSS start/end   {first['master_rss_kb']} / {last['master_rss_kb']} kB
  acme.db start/end      {first['acme_db_bytes']} / {last['acme_db_bytes']} B \
(WAL {first['acme_db_wal_bytes']} / {last['acme_db_wal_bytes']} B)
  store                  {store}
  machine                worst stall of a 100 ms sleep {watchdog.worst:.2f} s, \
{watchdog.over_1s} over 1 s; load average {report['loadavg']}
""", flush=True)
        ok = (five == 0 and transport == 0 and restarts == 0 and len(done) > 0
              and store["integrity_check"] == ["ok"] and store["processing_orders"] == 0)
        report["ok"] = ok
        if samples:
            print("5xx answers (first ones):\n  " + "\n  ".join(samples[:10]))
        if os.environ.get("SOAK_REPORT"):
            with open(os.environ["SOAK_REPORT"], "w") as f:
                json.dump(report, f, indent=1, default=str)
        print("soak: " + ("PASS" if ok else "FAIL"), flush=True)
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(10)
        stack.stop()
        chall.stop()
        watchdog.stopping.set()
        if ca_tmpfs:
            # Its journal outlives the tmpfs, for whoever reads the logs.
            journal = os.path.join(stack.devca_dir, "tasks.log")
            if os.path.exists(journal):
                with open(journal, "rb") as src, \
                        open(os.path.join(root, "devca-tasks.log"), "wb") as dst:
                    dst.write(src.read())
            subprocess.run(["umount", stack.devca_dir], capture_output=True, timeout=30)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
