"""Faults: what the RA does when the things it stands on fail.

Each test starts a stack of its own (dev CA, upki-ra, nginx, and the
pebble-challtestsrv resolver plus an http-01 responder of
test_acme_protocol), breaks one thing, and checks that the client gets a
clear answer, that nothing stored is lost or left half done, and that the
service comes back without help.

Every loop and wait here is bounded; all traffic stays on 127.0.0.1.
"""

import contextlib
import functools
import json
import os
import platform
import random
import re
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import threading
import time
import http.client

import pytest
import zmq
from cryptography import x509

from acme_client import Client, NoNonce, b64u, load_chain, make_csr
from conftest import finish_stack, make_stack, request
from conftest import wait_until as wait_until_every
from mtls_helpers import db_path, db_query
from acme_flow import acme_world, err, ready_order

# The fault tests watch processes come and go: look often.
wait_until = functools.partial(wait_until_every, interval=0.02)

# epoll_wait and epoll_pwait by architecture: a worker waiting in one waits
# for a connection (fcgi/worker.c); poll and ppoll: for the next request on
# a kept connection.
ACCEPT_SYSCALLS = {"x86_64": ("232", "281", "7", "271"), "aarch64": ("22", "73")}.get(
    platform.machine(), ("232", "281", "7", "271"))


# -- a stack with an ACME client's world around it -------------------------------------

@contextlib.contextmanager
def acme_stack(tmp_path_factory, name, *, workers=2, ca_timeout_ms=1000, before_start=None,
               after_stop=None, env=None, **kw):
    """acme_world's (stack, dns, http01) for names under example.test, with
    the RA's CA timeout given; after_stop(stack) runs after everything
    stopped, whatever happened."""
    full_env = {
        "UPKI_RA_ALLOWED_NAMES": "example.test",
        "UPKI_CA_TIMEOUT_MS": str(ca_timeout_ms),
    }
    full_env.update(env or {})
    made = []

    def start(stack):
        made.append(stack)
        if before_start is not None:
            before_start(stack)

    try:
        with acme_world(tmp_path_factory, name, full_env, before_start=start,
                        workers=workers, **kw) as world:
            yield world
    finally:
        if after_stop is not None and made:
            after_stop(made[0])


def new_client(stack):
    c = Client(stack.base_url, stack.ca_cert)
    r = c.new_account(["mailto:faults@example.test"])
    assert r.status == 201, r
    return c


# -- processes ----------------------------------------------------------------------------

def children(stack):
    """The RA master's children (workers and validators), by pid."""
    pid = stack.ra.pid
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def listen_inode(stack):
    """The inode of the FastCGI listening socket (/proc/net/unix)."""
    with open("/proc/net/unix") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == stack.fcgi_socket and fields[3] == "00010000":
                return fields[6]
    raise AssertionError(f"no listening socket {stack.fcgi_socket}")


def holds(pid, target):
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
    except OSError:
        pass
    return False


def workers(stack):
    """The children that serve requests: the ones holding the listening
    socket (validators close it)."""
    target = f"socket:[{listen_inode(stack)}]"
    return [p for p in children(stack) if holds(p, target)]


def syscall(pid):
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return "gone"


def process_state(pid):
    """The state letter of /proc/PID/stat (R, S, T...): after the command
    name, which may hold spaces and parentheses."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def busy_workers(stack):
    """Workers that are not waiting for work: in the middle of a request."""
    return [p for p in workers(stack) if syscall(p) not in ACCEPT_SYSCALLS + ("gone",)]


def idle_workers(stack):
    return [p for p in workers(stack) if syscall(p) in ACCEPT_SYSCALLS]


def kill_ca(stack):
    """SIGKILL for the dev CA: no goodbye, no reply to what it holds."""
    stack.devca.kill()
    stack.devca.wait(10)
    stack.devca = None


def ra_log(stack, start=0):
    with open(stack.log_path("ra"), "rb") as f:
        f.seek(start)
        return f.read().decode(errors="replace")


def ra_log_size(stack):
    return os.path.getsize(stack.log_path("ra"))


# -- the store and the CA's journal ---------------------------------------------------------

def integrity(stack):
    return [row[0] for row in db_query(stack, "PRAGMA integrity_check")]


def wal_truncated(stack):
    """Copies the WAL back and truncates it to nothing.  SQLite writes a WAL
    it has started over into the space the file already has, so on a full
    disk a write may still fit there; with the WAL empty, every write needs
    new space."""
    con = sqlite3.connect(db_path(stack), timeout=30)
    try:
        busy, frames, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        con.close()
    assert busy == 0 and frames == 0, (busy, frames)
    assert os.path.getsize(db_path(stack) + "-wal") == 0


def processing_orders(stack):
    return db_query(stack, "SELECT id, processing_since, identifiers FROM orders "
                           "WHERE status = 'processing'")


def ca_tasks(stack, task, cn=None):
    """tasks.log lines of one task (and CN), as dicts."""
    path = os.path.join(stack.devca_dir, "tasks.log")
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if fields.get("task") == task and (cn is None or fields.get("cn") == cn):
                out.append(fields)
    return out


def ca_signs_ok(stack, cn):
    return [t for t in ca_tasks(stack, "sign", cn) if t.get("result") == "ok"]


def order_of(client, order_url):
    r = client.post(order_url, None)
    assert r.status == 200, r
    return r.json()


def serial_hex(cert):
    return format(cert.serial_number, "X")


def certificate_of(client, order, key, names):
    """The order's certificate: one chain, leaf for key and names."""
    r = client.post(order["certificate"], None)
    assert r.status == 200, r
    leaf = load_chain(r.body)[0]
    assert leaf.public_key().public_numbers() == key.priv.public_key().public_numbers()
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)
    return leaf


def in_thread(fn):
    """Runs fn() in a thread; .join() gives its (result, seconds)."""
    box = {}

    def run():
        t0 = time.monotonic()
        try:
            box["result"] = fn()
        except BaseException as e:     # noqa: B902 - handed to the test
            box["error"] = e
        box["ended"] = time.monotonic()
        box["seconds"] = box["ended"] - t0

    th = threading.Thread(target=run, daemon=True)
    th.start()

    class Handle:
        thread = th

        @staticmethod
        def ended():
            return box["ended"]

        @staticmethod
        def join(timeout=60):
            th.join(timeout)
            assert not th.is_alive(), "the request did not come back"
            if "error" in box:
                raise box["error"]
            return box["result"], box["seconds"]

    return Handle


def assert_ca_down_problem(r):
    assert r.status == 500, r
    assert r.problem["type"] == err("serverInternal"), r.problem
    assert r.problem.get("detail"), r.problem
    assert int(r.header("retry-after")) > 0, r.headers


# -- the CA dies while the RA waits on `sign` ---------------------------------------------------

CA_TIMEOUT_MS = 5000


def _finalize_through_a_ca_death(tmp_path_factory, name, cn, before, kill):
    """The two CA-death tests: a ready order; before(stack); a finalize in
    a thread; kill(stack), which kills the CA while the RA waits on it.
    Then: 500 serverInternal with Retry-After after about the CA timeout,
    the order ready again (retryable) and nothing left processing; the CA
    restarted (normal speed, same directory); the same finalize succeeds;
    exactly one certificate for the order at the RA, the one the client
    got.  Returns (stack, leaf certificate) for the caller's last checks."""
    with acme_stack(tmp_path_factory, name, ca_timeout_ms=CA_TIMEOUT_MS) as env:
        s = env[0]
        c = new_client(s)
        order, order_url = ready_order(env, c, [cn])
        der, key = make_csr([cn])
        before(s)
        try:
            pending = in_thread(lambda: c.post(order["finalize"], {"csr": b64u(der)}))
            kill(s)
        finally:
            if s.devca is not None:
                kill_ca(s)
        r, seconds = pending.join(CA_TIMEOUT_MS / 1000 + 60)

        # The client hears a clear "try again", after about the CA timeout.
        assert_ca_down_problem(r)
        assert seconds < CA_TIMEOUT_MS / 1000 + 10, seconds
        # The order is retryable, not spoiled and not stuck.
        assert order_of(c, order_url)["status"] == "ready"
        assert processing_orders(s) == []

        # The CA comes back (normal speed, same directory): the same
        # finalize succeeds.
        s.start_devca()
        r = c.post(order["finalize"], {"csr": b64u(der)})
        assert r.status == 200, r
        done = r.json()
        assert done["status"] == "valid" and done["certificate"], done
        leaf = certificate_of(c, done, key, [cn])
        # Exactly one certificate for that order at the RA, the one it gave.
        rows = db_query(s, "SELECT serial FROM certificates WHERE cn = ?", (cn,))
        assert rows == [(serial_hex(leaf),)], rows
        assert done["certificate"].endswith("/" + serial_hex(leaf)), done
        return s, leaf


def test_ca_killed_while_it_holds_the_sign(tmp_path_factory):
    """The CA (--slow-ms 2000) has taken the `sign` and dies (SIGKILL)
    before it answers (RA's UPKI_CA_TIMEOUT_MS 5000): the RA answers 500
    serverInternal with Retry-After, the order is ready again, the same
    finalize succeeds once the CA is back, and the CA signed exactly once
    for that name (tasks.log): the client has one certificate, and no other
    valid certificate for its key and names exists that nobody knows of."""
    cn = "held.example.test"

    def slow_ca(s):
        s.stop_devca()
        s.start_devca(["--slow-ms", "2000"])

    def kill_once_the_ca_has_the_sign(s):
        # The CA journals a task before it sleeps on the answer: once the
        # sign is in tasks.log, the CA holds it and the RA waits.
        assert wait_until(lambda: ca_tasks(s, "sign", cn), 20), "the CA never got the sign"
        kill_ca(s)

    s, leaf = _finalize_through_a_ca_death(tmp_path_factory, "cakill-held", cn, slow_ca,
                                           kill_once_the_ca_has_the_sign)
    signs = ca_signs_ok(s, cn)
    assert len(signs) == 1, (
        f"the CA signed {len(signs)} certificates for {cn}; the client has one "
        f"(serial {serial_hex(leaf)}), the RA knows one; tasks.log: {signs}")


def test_ca_killed_before_it_reads_the_sign(tmp_path_factory):
    """The CA is frozen (SIGSTOP) when finalize comes, and killed (SIGKILL)
    while the RA waits: the `sign` never reached it.  Same answers as
    above, and exactly one successful sign for the name once the CA is
    back."""
    cn = "queued.example.test"

    def freeze(s):
        s.devca.send_signal(signal.SIGSTOP)

    def kill_once_the_ra_waits(s):
        # finalize marks the order processing just before it sends the
        # sign; the frozen CA cannot read it.
        assert wait_until(lambda: processing_orders(s), 20), "finalize never started"
        time.sleep(0.5)
        kill_ca(s)
        assert ca_tasks(s, "sign", cn) == [], "the frozen CA read the sign"

    s, leaf = _finalize_through_a_ca_death(tmp_path_factory, "cakill-queued", cn, freeze,
                                           kill_once_the_ra_waits)
    signs = ca_signs_ok(s, cn)
    # Compared as numbers: the CA's journal writes 40 hex digits, zeros
    # first; the RA writes the serial without them.
    assert [int(t["serial"], 16) for t in signs] == [leaf.serial_number], signs


# -- the CA answers later than the RA waits -------------------------------------------

def test_slow_ca_fails_cleanly_and_blocks_nobody_else(tmp_path_factory):
    """The CA answers after 5 s, the RA waits 2 s (UPKI_CA_TIMEOUT_MS).

    finalize (ACME) gets 500 serverInternal with Retry-After after about
    the timeout; GET /api/v1/public/profiles (REST, an idempotent read the
    RA retries once, docs/CA-PROTOCOL.md) gets 503 with Retry-After after about
    twice the timeout.  Meanwhile the other two workers keep answering
    directory, new-nonce and new-order (which need no CA).  Afterwards every
    worker is back waiting for work, and with the CA fast again everything
    works: CA-bound requests on every worker at once, and the finalize."""
    timeout_s, slow_ms = 2.0, 5000
    with acme_stack(tmp_path_factory, "slowca", workers=4,
                    ca_timeout_ms=int(timeout_s * 1000)) as env:
        s = env[0]
        c = new_client(s)
        cn = "slow.example.test"
        order, order_url = ready_order(env, c, [cn])
        der, key = make_csr([cn])
        other = new_client(s)
        before = sorted(workers(s))
        assert len(before) == s.servers
        s.stop_devca()
        s.start_devca(["--slow-ms", str(slow_ms)])

        fin = in_thread(lambda: c.post(order["finalize"], {"csr": b64u(der)}))
        prof = in_thread(lambda: request(s, "GET", "/api/v1/public/profiles", timeout=60))
        served = []                      # (kind, status, seconds, finished at)
        kinds = [("directory", lambda: other.get("/acme/directory"), 200),
                 ("new-nonce", lambda: other.request("HEAD", "/acme/new-nonce"), 200),
                 ("new-order", lambda: other.new_order([f"o{len(served)}.example.test"]), 201)]
        deadline = time.monotonic() + 4 * timeout_s + 20
        i = 0
        while (fin.thread.is_alive() or prof.thread.is_alive()) and time.monotonic() < deadline:
            kind, send, want = kinds[i % len(kinds)]
            i += 1
            t0 = time.monotonic()
            r = send()
            served.append((kind, r.status, time.monotonic() - t0, time.monotonic()))
            assert r.status == want, (kind, r)
            time.sleep(0.05)
        r_fin, t_fin = fin.join(4 * timeout_s + 20)
        r_prof, t_prof = prof.join(4 * timeout_s + 20)

        print(f"\nslow CA: finalize {r_fin.status} after {t_fin:.2f} s, profiles "
              f"{r_prof.status} after {t_prof:.2f} s; {len(served)} other requests served, "
              f"slowest {max(sec for _, _, sec, _ in served) * 1000:.0f} ms")
        assert_ca_down_problem(r_fin)
        assert 0.9 * timeout_s <= t_fin < timeout_s + 10, t_fin
        assert r_prof.status == 503, (r_prof.status, r_prof.body)
        body = r_prof.json()
        assert body["status"] == "error" and "CA" in body["message"], body
        assert int(r_prof.header("retry-after")) > 0
        assert 0.9 * timeout_s <= t_prof < 2 * timeout_s + 10, t_prof

        # Served while the CA-bound requests waited: every kind, several
        # times, each finished before the first CA-bound answer came back.
        first_ca_answer = min(fin.ended(), prof.ended())
        for kind in ("directory", "new-nonce", "new-order"):
            n = sum(1 for k, _, _, end in served if k == kind and end < first_ca_answer)
            assert n >= 2, (kind, first_ca_answer, served)

        # The order is retryable; no worker hangs: every one is back in
        # accept(), the same processes as before (none died).
        assert order_of(c, order_url)["status"] == "ready"
        kill_ca(s)                        # its queue of stale requests goes with it
        s.start_devca()
        assert wait_until(lambda: len(idle_workers(s)) == s.servers, 4 * timeout_s + 10), [
            (p, syscall(p)) for p in workers(s)]
        assert sorted(workers(s)) == before

        # CA-bound requests on all four workers at once: every one answers
        # (a worker stuck on the old CA would time out: 503).
        many = [in_thread(lambda: request(s, "GET", "/api/v1/public/profiles", timeout=60))
                for _ in range(8)]
        for h in many:
            r, _ = h.join(60)
            assert r.status == 200, (r.status, r.body)
        r = c.post(order["finalize"], {"csr": b64u(der)})
        assert r.status == 200 and r.json()["status"] == "valid", r
        certificate_of(c, r.json(), key, [cn])


# -- load: clients that record every request they make ---------------------------------------

TRANSPORT_ERRORS = (OSError, http.client.HTTPException, ssl.SSLError)


class Broken(Exception):
    """A request did not give what the flow needs: the flow starts over."""


class Recorder:
    """Every request a load thread makes: (kind, started, ended, outcome),
    outcome the HTTP status or the name of the transport error."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.issued = 0

    def send(self, kind, fn, want):
        t0 = time.monotonic()
        try:
            r = fn()
        except TRANSPORT_ERRORS as e:
            with self.lock:
                self.requests.append((kind, t0, time.monotonic(), type(e).__name__, str(e)))
            raise Broken(kind) from e
        except NoNonce as e:
            # The client's own HEAD new-nonce before the JWS failed: that is
            # the request which met the dying worker, so it is the one counted.
            with self.lock:
                self.requests.append(("new-nonce", t0, time.monotonic(), e.status, str(e)))
            raise Broken("new-nonce") from e
        with self.lock:
            self.requests.append((kind, t0, time.monotonic(), r.status,
                                  r.body[:200] if r.status != want else b""))
        if r.status != want:
            raise Broken(kind)
        return r

    def unexpected(self, wants):
        """The requests whose outcome is not what their kind expects."""
        return [q for q in self.requests if q[3] != wants[q[0]]]


ISSUANCE_WANTS = {"new-nonce": 200, "new-order": 201, "authz": 200, "challenge": 200,
                  "poll": 200, "finalize": 200, "certificate": 200}


def issue_once(env, client, name, rec, stop):
    """new-order, http-01, finalize, certificate; every step recorded.
    Raises Broken when a step fails: the caller starts a new order."""
    http01 = env[2]
    r = rec.send("new-order", lambda: client.new_order([name]), 201)
    order_url, order = r.header("location"), r.json()
    authz_url = order["authorizations"][0]
    authz = rec.send("authz", lambda: client.post(authz_url, None), 200).json()
    ch = next(c for c in authz["challenges"] if c["type"] == "http-01")
    http01.answers[ch["token"]] = client.key_authorization(ch["token"])
    rec.send("challenge", lambda: client.post(ch["url"], {}), 200)
    deadline = time.monotonic() + 30
    while True:
        status = rec.send("poll", lambda: client.post(order_url, None), 200).json()["status"]
        if status == "ready":
            break
        if status != "pending" or time.monotonic() > deadline:
            raise Broken(f"order {order_url} is {status}")
        time.sleep(0.05)
    der, _ = make_csr([name])
    r = rec.send("finalize", lambda: client.post(order["finalize"], {"csr": b64u(der)}), 200)
    if r.json()["status"] != "valid":
        raise Broken(f"finalize gave {r.json()}")
    rec.send("certificate", lambda: client.post(r.json()["certificate"], None), 200)
    with rec.lock:
        rec.issued += 1


def issuance_loop(env, client, tag, rec, stop):
    i = 0
    while not stop.is_set():
        i += 1
        try:
            issue_once(env, client, f"{tag}-{i}.example.test", rec, stop)
        except Broken:
            time.sleep(0.05)


def start_load(env, rec, stop, n, tag):
    threads = []
    for k in range(n):
        c = new_client(env[0])
        t = threading.Thread(target=issuance_loop, args=(env, c, f"{tag}{k}", rec, stop),
                             daemon=True)
        t.start()
        threads.append(t)
    return threads


def stop_load(threads, stop, timeout=90):
    """Stops the load and waits for the requests in flight: every loop and
    every poll in it is bounded, so this ends."""
    stop.set()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a load thread did not stop"


# -- workers killed under load ------------------------------------------------------------------

KILLS = 20


def test_workers_killed_under_load_lose_nothing(tmp_path_factory):
    """Four threads issue certificates (new-order, http-01, finalize,
    download) while a worker is SIGKILLed 20 times, every 0.3 s: a busy one
    (not in accept()) when there is one, else any.  The CA answers after
    150 ms, so kills land inside finalize too, while the worker waits on
    the CA.

    Afterwards: the master has restarted every worker; each kill cost at
    most the one request that worker was serving, and that one got a 502
    from nginx or, when it came on a kept connection that nginx sent it
    again on, badNonce (the dead worker had used its nonce: it cannot run
    twice), nothing else; acme.db passes PRAGMA integrity_check; a new
    issuance works; and, once the load is stopped and its requests are
    done, no order is left "processing" (the RA's own recovery takes 300 s,
    which no client waits for)."""
    with acme_stack(tmp_path_factory, "killworkers", workers=4, ca_timeout_ms=5000,
                    devca_args=["--slow-ms", "150"]) as env:
        s = env[0]
        log_start = ra_log_size(s)
        rec, stop = Recorder(), threading.Event()
        threads = start_load(env, rec, stop, 4, "kill")
        kills = []
        rng = random.Random(8555)
        try:
            time.sleep(1.0)
            deadline = time.monotonic() + 60
            while len(kills) < KILLS and time.monotonic() < deadline:
                time.sleep(0.3)
                busy = busy_workers(s)
                pool = busy or workers(s)
                if not pool:
                    continue
                victim = rng.choice(pool)
                state = syscall(victim)
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                kills.append((time.monotonic(), victim, "busy" if busy else "idle", state))
        finally:
            stop_load(threads, stop)
        assert len(kills) == KILLS, kills

        # The master restarted them all.
        assert wait_until(lambda: len(workers(s)) == s.servers, 15), workers(s)
        assert ra_log(s, log_start).count("killed by signal 9") >= KILLS

        # Each kill cost at most one request: 502 from nginx, or badNonce
        # when nginx sent it again (fastcgi_next_upstream non_idempotent).
        bad = rec.unexpected(ISSUANCE_WANTS)
        assert all(q[3] == 502 or (q[3] == 400 and b":badNonce" in q[4]) for q in bad), \
            [q for q in bad if q[3] != 502]
        assert len(bad) <= KILLS, (len(bad), bad)
        assert rec.issued > 0, rec.requests[-20:]

        assert integrity(s) == ["ok"]
        c = new_client(s)
        issue_rec = Recorder()
        issue_once(env, c, "after-kills.example.test", issue_rec, threading.Event())

        stuck = processing_orders(s)
        finalize_502 = [q for q in bad if q[0] == "finalize"]
        print(f"\nkills: {len(kills)} ({sum(1 for k in kills if k[2] == 'busy')} busy), "
              f"requests: {len(rec.requests)}, certificates: {rec.issued}, "
              f"502: {len(bad)} ({len(finalize_502)} finalize), stuck processing: {len(stuck)}")
        assert stuck == [], (
            f"{len(stuck)} order(s) stuck in processing after the load stopped: {stuck}; "
            f"finalize requests answered 502: {len(finalize_502)}; kills: {len(kills)} "
            f"({sum(1 for k in kills if k[2] == 'busy')} of busy workers)")


# -- the store's disk is full --------------------------------------------------------------------

TMPFS_SIZE = "4m"


def tmpfs_unavailable():
    """Why a tmpfs cannot be mounted here, or None when it can."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    probe = f"/tmp/upki-ra-tmpfs-probe-{os.getpid()}"
    os.makedirs(probe, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return f"mount -t tmpfs is not permitted here: {r.stderr.strip()}"
        subprocess.run(["umount", probe], capture_output=True, timeout=30)
        return None
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(probe)


def fill(directory):
    """Writes a file until the file system has no byte left; returns it."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 16, 4096, 512, 1):
            for _ in range(100000):
                try:
                    os.write(fd, b"\0" * size)
                except OSError as e:
                    assert e.errno == 28, e      # ENOSPC
                    break
    finally:
        os.close(fd)
    st = os.statvfs(directory)
    assert st.f_bavail == 0, st
    return path


def ca_generate(stack, cn, profile):
    """A certificate and key the dev CA makes (task generate)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    try:
        sock.connect(f"tcp://{stack.ca_host}:{stack.ca_port}")
        sock.send_string(json.dumps({"TASK": "generate", "params": {
            "cn": cn, "profile": profile, "sans": [], "local": True}}))
        reply = json.loads(sock.recv_string())
    finally:
        sock.close()
    assert reply.get("EVENT") == "ANSWER", reply
    return reply["DATA"]


def admin_identity(stack, directory):
    """(cert path, key path) of an admin: made by the dev CA, added to the
    RA's list with `upki-ra admin add`."""
    data = ca_generate(stack, "faults-admin", "admin")
    crt, key = os.path.join(directory, "admin.crt"), os.path.join(directory, "admin.key")
    with open(crt, "w") as f:
        f.write(data["certificate"])
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data["private_key"])
    dn = x509.load_pem_x509_certificate(data["certificate"].encode()).subject.rfc4514_string()
    r = subprocess.run([os.path.join(stack.build, "upki-ra"), "admin", "add", dn],
                       env=stack.ra_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return crt, key


def snapshot(stack):
    out = {}
    for table in ("accounts", "orders", "authorizations", "challenges", "certificates",
                  "nodes", "admins"):
        out[table] = sorted(repr(row) for row in db_query(stack, f"SELECT * FROM {table}"))
    return out


def test_full_disk_fails_writes_cleanly_and_recovers(tmp_path_factory):
    """The data directory is a 4 MiB tmpfs, filled to the last byte while
    the RA runs, its WAL emptied first.  Then every write fails with a clear answer (ACME 500
    serverInternal with Retry-After, REST 503 with Retry-After), reads
    keep working, nothing stored is damaged (integrity_check, every row
    as before), no process dies; once space is freed, the same requests
    succeed, without a restart."""
    why = tmpfs_unavailable()
    if why is not None:
        pytest.skip(why)
    mounted = []

    def mount(s):
        os.makedirs(s.data_dir, mode=0o700)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs",
                        s.data_dir], check=True, timeout=30)
        mounted.append(s.data_dir)

    def umount(s):
        for d in mounted:
            subprocess.run(["umount", d], check=True, timeout=30)

    with acme_stack(tmp_path_factory, "diskfull", before_start=mount, after_stop=umount) as env:
        s = env[0]
        admin = admin_identity(s, s.root)

        # What is stored before: an account with a certificate, an order
        # left pending, a node.
        c = new_client(s)
        order, order_url = ready_order(env, c, ["full1.example.test"])
        der, key = make_csr(["full1.example.test"])
        r = c.post(order["finalize"], {"csr": b64u(der)})
        assert r.status == 200, r
        issued = r.json()
        pem = c.post(issued["certificate"], None).body
        pending = c.new_order(["full2.example.test"])
        assert pending.status == 201, pending
        pending_url = pending.header("location")
        r = request(s, "POST", "/api/v1/nodes", {"cn": "node1.example.test", "profile": "server"},
                    cert=admin[0], key=admin[1])
        assert r.status == 201, (r.status, r.body)
        before = snapshot(s)
        pids = sorted(children(s))
        log_start = ra_log_size(s)

        wal_truncated(s)
        filler = fill(s.data_dir)
        try:
            # Writes: refused, clearly, every time.
            for i in range(3):
                fresh = Client(s.base_url, s.ca_cert)
                r = fresh.new_account()
                assert_ca_down_problem(r)
                r = c.new_order([f"full-{i}.example.test"])
                assert_ca_down_problem(r)
                r = request(s, "POST", "/api/v1/nodes",
                            {"cn": f"node-full{i}.example.test", "profile": "server"},
                            cert=admin[0], key=admin[1])
                assert r.status == 503, (r.status, r.body)
                assert r.json()["status"] == "error" and r.json()["message"], r.body
                assert int(r.header("retry-after")) > 0
            # Reads that need no write still work.
            assert c.get("/acme/directory").status == 200
            assert c.request("HEAD", "/acme/new-nonce").status == 200
            r = request(s, "GET", "/api/v1/nodes", cert=admin[0], key=admin[1])
            assert r.status == 200 and "node1.example.test" in r.body.decode(), r.body
            # Nothing stored is damaged, no process died.
            assert integrity(s) == ["ok"]
            assert snapshot(s) == before
            assert sorted(children(s)) == pids
            log = ra_log(s, log_start)
            assert "full" in log, log[-2000:]
        finally:
            os.unlink(filler)

        # Space again: the same requests work, on the same processes.
        r = c.post(c.kid, None)
        assert r.status == 200 and r.json()["status"] == "valid", r
        assert order_of(c, order_url)["status"] == "valid"
        assert order_of(c, pending_url)["status"] == "pending"
        assert c.post(issued["certificate"], None).body == pem
        fresh = Client(s.base_url, s.ca_cert)
        assert fresh.new_account().status == 201
        r = c.new_order(["full3.example.test"])
        assert r.status == 201, r
        r = request(s, "POST", "/api/v1/nodes", {"cn": "node2.example.test", "profile": "server"},
                    cert=admin[0], key=admin[1])
        assert r.status == 201, (r.status, r.body)
        after = snapshot(s)
        for table, rows in before.items():
            if table not in ("orders", "authorizations", "challenges"):
                assert set(rows) <= set(after[table]), table
        assert {r.split(",")[0] for r in before["orders"]} <= \
            {r.split(",")[0] for r in after["orders"]}
        assert integrity(s) == ["ok"]
        assert sorted(children(s)) == pids


# -- reloads under load -----------------------------------------------------------------

SIMPLE_WANTS = {"directory": 200, "new-nonce": 200, "new-order": 201, "account": 200,
                "health": 200, "profiles": 200}
SIMPLE_WANTS.update(ISSUANCE_WANTS)


def simple_loop(stack, client, rec, stop):
    kinds = [
        ("directory", lambda: client.get("/acme/directory")),
        ("new-nonce", lambda: client.request("HEAD", "/acme/new-nonce")),
        ("account", lambda: client.post(client.kid, None)),
        ("health", lambda: request(stack, "GET", "/api/v1/public/health")),
        ("new-order", lambda: client.new_order([f"r{secrets_token()}.example.test"])),
        ("profiles", lambda: request(stack, "GET", "/api/v1/public/profiles")),
    ]
    i = 0
    while not stop.is_set():
        kind, fn = kinds[i % len(kinds)]
        i += 1
        with contextlib.suppress(Broken):
            rec.send(kind, fn, SIMPLE_WANTS[kind])
        time.sleep(0.01)


def secrets_token():
    return os.urandom(6).hex()


def test_reloads_under_load_fail_no_request(tmp_path_factory):
    """nginx (SIGHUP) and the upki-ra master (SIGHUP) reload, 5 times
    each, every 0.5 s, while 4 threads send directory, new-nonce, account,
    new-order, health and profiles requests and 2 threads issue
    certificates.  Every request gets the answer its kind expects (2xx),
    except, at most, a request that was in flight at a reload: one whose
    connection was opened before the signal and whose outcome came after
    it; such a request may lose its connection (reset or closed without an
    answer, a transport error) but never gets an HTTP error.  Afterwards
    the RA runs exactly its workers and validators again."""
    with acme_stack(tmp_path_factory, "reload", workers=4) as env:
        s = env[0]
        rec, stop = Recorder(), threading.Event()
        threads = start_load(env, rec, stop, 2, "reload")
        for _ in range(4):
            c = new_client(s)
            t = threading.Thread(target=simple_loop, args=(s, c, rec, stop), daemon=True)
            t.start()
            threads.append(t)
        signals = []
        try:
            time.sleep(1.0)
            for _ in range(5):
                signals.append((time.monotonic(), "nginx"))
                s.reload_nginx()
                time.sleep(0.5)
                signals.append((time.monotonic(), "upki-ra"))
                os.kill(s.ra.pid, signal.SIGHUP)
                time.sleep(0.5)
            time.sleep(1.0)
        finally:
            stop_load(threads, stop)

        def in_flight(q):
            return any(q[1] < t < q[2] for t, _ in signals)

        print(f"\nreload: {len(rec.requests)} requests, {rec.issued} certificates, "
              f"{sum(1 for q in rec.requests if in_flight(q))} in flight at one of "
              f"{len(signals)} reloads, {len(rec.unexpected(SIMPLE_WANTS))} failed")

        bad = rec.unexpected(SIMPLE_WANTS)
        http_errors = [q for q in bad if isinstance(q[3], int)]
        lost_outside = [q for q in bad if not isinstance(q[3], int) and not in_flight(q)]
        assert http_errors == [], http_errors
        assert lost_outside == [], lost_outside
        # The reloads did meet requests (how many depends on the machine).
        assert sum(1 for q in rec.requests if in_flight(q)) >= len(signals), len(rec.requests)
        assert rec.issued > 0
        assert wait_until(lambda: len(children(s)) == s.children, 15), children(s)
        assert wait_until(lambda: len(idle_workers(s)) == s.servers, 15), [
            (p, syscall(p)) for p in workers(s)]


# -- a reload while a worker holds a connection whose request has not come yet -------------

def fcgi_record(rtype, content, request_id=1):
    pad = -len(content) % 8
    return struct.pack(">BBHHBx", 1, rtype, request_id, len(content), pad) + content + \
        b"\0" * pad


def fcgi_pairs(params):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return b"".join(length(len(k)) + length(len(v)) + k + v
                    for k, v in ((k.encode(), v.encode()) for k, v in params.items()))


def fcgi_exchange(sock, params, keep=False):
    """Sends one FastCGI request on a connected socket (with FCGI_KEEP_CONN
    when keep, as nginx's fastcgi_keep_conn does); returns the response's
    stdout, or raises OSError when the connection is dropped."""
    flags = 1 if keep else 0
    sock.sendall(fcgi_record(1, struct.pack(">HB5x", 1, flags)) +    # BEGIN_REQUEST, RESPONDER
                 fcgi_record(4, fcgi_pairs(params)) + fcgi_record(4, b"") +
                 fcgi_record(5, b""))                                  # no body
    out = b""
    while True:
        head = sock.recv(8, socket.MSG_WAITALL)
        if len(head) < 8:
            raise ConnectionResetError("connection closed before FCGI_END_REQUEST")
        _, rtype, _, clen, pad = struct.unpack(">BBHHBx", head)
        content = sock.recv(clen + pad, socket.MSG_WAITALL)[:clen] if clen + pad else b""
        if rtype == 6:                                                 # STDOUT
            out += content
        elif rtype == 3:                                               # END_REQUEST
            return out


def directory_params(s):
    return {"REQUEST_METHOD": "GET", "REQUEST_URI": "/acme/directory", "HTTPS": "on",
            "HTTP_HOST": f"localhost:{s.ra_port}", "CONTENT_LENGTH": "",
            "UPKI_RA_SECRET": s.front_secret}


def fcgi_connect(s, timeout=10):
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(timeout)
    conn.connect(s.fcgi_socket)
    return conn


@contextlib.contextmanager
def fcgi_stack(tmp_path_factory, name, **kw):
    """A started stack for a test that speaks FastCGI to the workers itself:
    yields it and connect(timeout=10), which opens a connection to its
    FastCGI socket.  The connections are closed and the stack stopped at the
    end, whatever the test asserted."""
    s = make_stack(tmp_path_factory, name, **kw)
    conns = []

    def connect(timeout=10):
        conns.append(fcgi_connect(s, timeout))
        return conns[-1]

    try:
        s.start()
        yield s, connect
    finally:
        for conn in conns:
            conn.close()
        finish_stack(s)


def test_reload_keeps_a_connection_a_worker_accepted(tmp_path_factory):
    """nginx connects to the FastCGI socket and sends the request a moment
    later; a reload (master SIGHUP) can come in between.  Held open on
    purpose here: a worker accepts the connection, the master gets SIGHUP,
    then the request comes.  The worker that accepted the connection must
    answer it (it is a request in flight: nginx would answer 502 for it)
    and then exit like every replaced worker; no process may be left
    behind, let alone spinning."""
    s = make_stack(tmp_path_factory, "reload-accepted", workers=2)
    try:
        s.start()
        old = set(workers(s))
        conn = fcgi_connect(s, timeout=20)
        # Bounded: libfcgi drops a connection that stays silent for 2 s.
        assert wait_until(lambda: busy_workers(s), 1.5), "no worker took the connection"
        holder = busy_workers(s)[0]
        os.kill(s.ra.pid, signal.SIGHUP)
        assert wait_until(lambda: set(workers(s)) - old, 1.0), "no new worker"
        try:
            answer = fcgi_exchange(conn, directory_params(s))
        except OSError as e:
            answer = e
        finally:
            conn.close()
        gone = wait_until(lambda: holder not in children(s), 5)
        state = "gone" if gone else (
            f"still there after 5 s, in syscall {syscall(holder)}, state "
            f"{process_state(holder)}")
        assert isinstance(answer, bytes) and b"Status: 200" in answer, (
            f"the request on the accepted connection got {answer!r}; the worker "
            f"{holder} that held it is {state}")
        assert gone, f"replaced worker {holder} is {state}"
        assert wait_until(lambda: len(children(s)) == s.children, 5), children(s)
    finally:
        t0 = time.monotonic()
        finish_stack(s)
        stop = time.monotonic() - t0
    assert stop < 5, f"stopping the stack took {stop:.1f} s: a child ignored SIGTERM"


# -- kept FastCGI connections --------------------------------------------------------------

def closed_by_peer(conn, timeout):
    """True when the peer closes the connection within timeout seconds."""
    conn.settimeout(timeout)
    try:
        return conn.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def test_one_worker_serves_kept_connections_and_new_ones(tmp_path_factory):
    """nginx keeps its FastCGI connections for ACME (fastcgi_keep_conn) and
    opens more of them than there are workers.  With one worker: requests
    on a kept connection are answered one after another on it; a new
    connection is answered while the first stays open and idle (a worker
    that read only its kept connection would leave it in the listen queue
    until nginx closed the first); both then keep being answered; and a
    connection not kept is closed once answered."""
    with fcgi_stack(tmp_path_factory, "kept", workers=1, spare_workers=0) as (s, connect):
        a = connect()
        for _ in range(3):
            assert b"Status: 200" in fcgi_exchange(a, directory_params(s), keep=True)
        b = connect(timeout=5)
        assert b"Status: 200" in fcgi_exchange(b, directory_params(s), keep=True)
        for conn in (a, b, a, b):
            assert b"Status: 200" in fcgi_exchange(conn, directory_params(s), keep=True)
        once = connect()
        assert b"Status: 200" in fcgi_exchange(once, directory_params(s))
        assert closed_by_peer(once, 5)
        assert not closed_by_peer(a, 0.2) and not closed_by_peer(b, 0.2)
        assert len(workers(s)) == 1


def test_a_head_request_does_not_keep_its_connection(tmp_path_factory):
    """nginx drops a kept FastCGI connection after a HEAD (it stops reading
    once it has the answer's header, so it never sees FCGI_END_REQUEST), and
    every ACME client starts with HEAD new-nonce.  The worker closes such a
    connection once it has answered, rather than watch it until nginx's
    close: a GET's kept connection stays open, a HEAD's is closed at once
    even though it asked to be kept."""
    with fcgi_stack(tmp_path_factory, "kept-head", workers=1, spare_workers=0) as (s, connect):
        get = connect()
        assert b"Status: 200" in fcgi_exchange(get, directory_params(s), keep=True)
        head = connect()
        params = dict(directory_params(s), REQUEST_METHOD="HEAD",
                      REQUEST_URI="/acme/new-nonce")
        answer = fcgi_exchange(head, params, keep=True)
        assert b"Status: 200" in answer and b"Replay-Nonce: " in answer, answer
        assert closed_by_peer(head, 5)
        assert not closed_by_peer(get, 0.2)
        assert b"Status: 200" in fcgi_exchange(get, directory_params(s), keep=True)


def test_a_ca_call_hands_kept_connections_back(tmp_path_factory):
    """A worker about to wait for the CA closes its other kept connections
    first, so that nginx sends what would have waited behind the call to
    other workers.  One worker, a CA that answers after 3 s: a connection
    kept from an earlier request is closed at once when the worker starts a
    CA-bound request on another connection, long before the CA answers;
    that request is answered when it does."""
    with fcgi_stack(tmp_path_factory, "kept-ca", workers=1, spare_workers=0,
                    env={"UPKI_CA_TIMEOUT_MS": "10000"}) as (s, connect):
        kept = connect()
        assert b"Status: 200" in fcgi_exchange(kept, directory_params(s), keep=True)
        s.stop_devca()
        s.start_devca(["--slow-ms", "3000"])
        ca_bound = connect(timeout=30)
        profiles = dict(directory_params(s), REQUEST_URI="/api/v1/public/profiles")
        t0 = time.monotonic()
        answer = in_thread(lambda: fcgi_exchange(ca_bound, profiles))
        assert closed_by_peer(kept, 2.5), "the kept connection stayed open during the CA call"
        released = time.monotonic() - t0
        out, took = answer.join(30)
        assert b"Status: 200" in out, out
        assert released < 2.5 <= took, (released, took)


def started_roles(stack):
    """pid -> role ("worker", "spare worker", "validator") of the children
    the master started, from its log (UPKI_LOG_LEVEL=debug)."""
    return {int(m.group(2)): m.group(1) for m in
            re.finditer(r"started (spare worker|worker|validator) (\d+)", ra_log(stack))}


def test_a_spare_worker_answers_while_the_worker_waits_on_the_ca(tmp_path_factory):
    """One worker and one spare, a CA that answers after 3 s.  The worker
    takes a CA-bound request (the spare stopped meanwhile, so that it cannot
    take it instead).  A request on a new connection is then answered while
    the worker still waits on the CA, where one worker alone would leave it
    in the listen queue until the CA answers; and the spare closes that
    connection although nginx would keep it: a spare keeps none, so that
    nothing queues behind it."""
    env = {"UPKI_CA_TIMEOUT_MS": "10000", "UPKI_LOG_LEVEL": "debug"}
    with fcgi_stack(tmp_path_factory, "spare", workers=1, spare_workers=1,
                    env=env) as (s, connect):
        assert wait_until(lambda: len(started_roles(s)) == s.children, 10), ra_log(s)
        roles = started_roles(s)
        (worker,) = [p for p, r in roles.items() if r == "worker"]
        (spare,) = [p for p, r in roles.items() if r == "spare worker"]
        s.stop_devca()
        s.start_devca(["--slow-ms", "3000"])
        profiles = dict(directory_params(s), REQUEST_URI="/api/v1/public/profiles")
        os.kill(spare, signal.SIGSTOP)
        try:
            # Stopped, not only signalled: a spare still in epoll_wait could
            # be the one woken for the connection, and take it after SIGCONT.
            assert wait_until(lambda: process_state(spare) == "T", 5), process_state(spare)
            asked = len(ca_tasks(s, "list_profiles"))
            ca_bound = connect(timeout=30)
            answer = in_thread(lambda: fcgi_exchange(ca_bound, profiles))
            # The CA journals a request before it sleeps on it: from that
            # line on, the worker waits on the CA (in poll, like an idle
            # worker on a kept connection, so its syscall cannot tell).
            assert wait_until(lambda: len(ca_tasks(s, "list_profiles")) > asked, 5), \
                "the CA never got the request"
            assert worker in workers(s), "the worker is gone"
        finally:
            os.kill(spare, signal.SIGCONT)
        other = connect()
        assert b"Status: 200" in fcgi_exchange(other, directory_params(s), keep=True)
        answered = time.monotonic()
        out, took = answer.join(30)
        assert b"Status: 200" in out and took >= 2.5, (took, out)
        assert answered < answer.ended(), "answered only after the CA call"
        assert closed_by_peer(other, 5), "the spare kept the connection"
