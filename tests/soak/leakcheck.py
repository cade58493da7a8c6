#!/usr/bin/python3
"""Memory leaks that grow with requests: one worker under valgrind memcheck.

Runs the stack (dev CA, nginx) with `upki-ra serve` under valgrind, one
worker and one validator, drives N ACME requests of every common kind (nonce,
account, order, authorization, challenge, finalize, certificate download)
through nginx, stops the RA, and reads the worker's leak summary.  Done for
two values of N: a leak that grows with requests shows as a difference
between the two; what is lost once (at start-up) is the same in both.

Usage: python3 tests/soak/leakcheck.py [build] [small] [large]
(make leakcheck).  Not part of `make test`: it takes a few minutes.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from stack import ChallTestSrv, Stack, unix_socket_open, wait_for  # noqa: E402
from acme_client import Client, b64u, make_csr  # noqa: E402
from test_acme_protocol import Http01Responder  # noqa: E402

LOST = re.compile(r"(definitely|indirectly) lost: ([\d,]+) bytes")


def run(build, rounds):
    root = tempfile.mkdtemp(prefix="upki-leak-")
    dns, http01 = ChallTestSrv(root), Http01Responder()
    s = Stack(root, build=build, workers=1, validators=1, env={
        "UPKI_RA_DNS_SERVER": f"127.0.0.1:{dns.dns_port}",
        "UPKI_RA_HTTP01_PORT": str(http01.port), "UPKI_RA_RATE_ORDERS": "0",
        "UPKI_CA_TIMEOUT_MS": "20000"})
    vg = None
    try:
        s.start_devca()
        s.start_ra()            # registers, then serves: replaced below
        s.stop_ra()
        log = os.path.join(root, "vg.%p.log")
        vg = subprocess.Popen(
            ["valgrind", "--leak-check=full", "--trace-children=yes",
             "--child-silent-after-fork=no", f"--log-file={log}",
             os.path.join(s.build, "upki-ra"), "serve"],
            env=s.ra_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: unix_socket_open(s.fcgi_socket), 120, "upki-ra under valgrind", vg)
        s.start_nginx()
        c = Client(s.base_url, s.ca_cert)
        c.new_account(["mailto:leak@example.test"])
        for i in range(rounds):
            r = c.new_order([f"leak{i}.example.test"])
            order_url = r.header("location")
            authz_url = r.json()["authorizations"][0]
            ch = next(x for x in c.post(authz_url, None).json()["challenges"]
                      if x["type"] == "http-01")
            http01.answers[ch["token"]] = c.key_authorization(ch["token"])
            c.post(ch["url"], {})
            deadline = time.monotonic() + 60
            while c.post(order_url, None).json()["status"] != "ready":
                assert time.monotonic() < deadline, "order never ready"
                time.sleep(0.2)
            der, _ = make_csr([f"leak{i}.example.test"])
            done = c.post(r.json()["finalize"], {"csr": b64u(der)}).json()
            c.post(done["certificate"], None)
            c.get("/acme/directory")
        vg.send_signal(signal.SIGTERM)
        vg.wait(120)
        return worker_leaks(root)
    finally:
        if vg is not None and vg.poll() is None:
            vg.kill()
        s.stop()
        dns.stop()
        http01.stop()


def worker_leaks(root):
    """(bytes lost, memcheck errors, log) per log, largest first.  A forked
    child writes to its parent's log: one log holds the master, the worker
    and the validator, one summary each, and all of them are counted."""
    found = []
    for name in os.listdir(root):
        if not name.startswith("vg."):
            continue
        text = open(os.path.join(root, name)).read()
        if "LEAK SUMMARY" not in text and "ERROR SUMMARY" not in text:
            continue
        lost = sum(int(m.group(2).replace(",", "")) for m in LOST.finditer(text))
        errors = sum(int(n) for n in re.findall(r"ERROR SUMMARY: (\d+) errors", text))
        found.append((lost, errors, name))
    assert found, "valgrind wrote no summary"
    return sorted(found, reverse=True)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    small = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    large = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    results = {n: run(build, n) for n in (small, large)}
    print(json.dumps({str(k): v for k, v in results.items()}, indent=1))
    worst_small = max(r[0] for r in results[small])
    worst_large = max(r[0] for r in results[large])
    errors = sum(r[1] for v in results.values() for r in v if r[1] > 0)
    print(f"lost bytes, worst process: {small} rounds {worst_small}, "
          f"{large} rounds {worst_large}; memcheck errors {errors}")
    if worst_large > worst_small or errors:
        print("leakcheck: FAILED: a leak grows with requests, or memcheck found errors")
        return 1
    print("leakcheck: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
