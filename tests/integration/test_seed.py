"""The registration seed never enters a serving process.

`upki-ra start` registers in a child process that exits before the master
serves; the master only wipes the seed from its environment and command
line, and the workers and validators are forked after that.  Each test
starts a stack whose RA registers on its start, with the seed from one
source, then looks for the seed's bytes in every readable mapping of the
master and of each child (/proc/PID/mem), in their environment and command
line, and in every file of the data directory and the RA's log.
"""

import os
import subprocess

import pytest

from conftest import BUILD, child_pids, finish_stack, make_stack
from stack import unix_socket_open, wait_for
from mtls_helpers import RA

# Mappings larger than this are the sanitizers' reserved shadow, untouched.
SCAN_LIMIT = 1 << 30
# The sanitizer runtime reads /proc/self/environ into a mapping of its own
# before main() runs, where the program cannot reach it; the plain build
# (the one installed) has no such copy.
SANITIZED = "asan" in os.path.basename(BUILD.rstrip("/"))


def readable_mappings(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if fields[1][0] != "r" or name in ("[vvar]", "[vsyscall]") or hi - lo > SCAN_LIMIT:
                continue
            yield lo, hi, name


def where_in_memory(pid, needle, env_block=None):
    """The mappings of pid that hold needle; under the sanitizers, not one
    that holds it only inside a verbatim copy of env_block (the process's
    environment as it was started)."""
    found = []
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for lo, hi, name in readable_mappings(pid):
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            if data and SANITIZED and env_block is not None and env_block in data:
                data = data.replace(env_block, b"")
            if data and needle in data:
                found.append(f"{lo:x}-{hi:x} {name}")
    return found


def assert_no_seed(stack, master, seed, env, cred_dir=None):
    needle = seed.encode()
    block = b"\0".join(f"{k}={v}".encode() for k, v in env.items())
    pids = [master] + child_pids(master)
    assert len(pids) == 1 + stack.children, pids
    # The control: the scan does see what these processes do hold.
    for pid in pids:
        assert where_in_memory(pid, stack.front_secret.encode()), pid
    for pid in pids:
        assert not where_in_memory(pid, needle, block), (pid, where_in_memory(pid, needle))
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
        assert needle not in env, pid
        assert b"UPKI_CA_SEED=" + needle[:4] not in env, pid
        if cred_dir is not None:
            assert cred_dir.encode() not in env, pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert needle not in f.read(), pid
    for dirpath, _, names in os.walk(stack.data_dir):
        for name in names:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    assert needle not in f.read(), path
    with open(stack.log_path("ra"), "rb") as f:
        log = f.read()
    assert b"registered with the CA" in log
    assert needle not in log


def started(stack, argv, env):
    log = open(stack.log_path("ra"), "ab")
    stack.ra = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=env, start_new_session=True)
    wait_for(lambda: unix_socket_open(stack.fcgi_socket), 30, "upki-ra", stack.ra)
    wait_for(lambda: len(child_pids(stack.ra.pid)) == stack.children, 10, "the children")
    return stack.ra.pid


@pytest.fixture
def seed_stack(tmp_path_factory):
    s = make_stack(tmp_path_factory, "seed", workers=2, spare_workers=1, validators=1)
    try:
        s.start_devca()
        yield s
    finally:
        finish_stack(s)


def test_no_seed_in_any_process_after_start_registered_from_the_environment(seed_stack):
    s = seed_stack
    env = s.ra_env()
    master = started(s, [RA, "start"], env)
    assert_no_seed(s, master, s.seed, env)


def test_no_seed_in_any_process_after_start_registered_from_the_credential(seed_stack, tmp_path):
    s = seed_stack
    cred = tmp_path / "credentials"
    cred.mkdir()
    (cred / "seed").write_text(s.seed + "\n")
    env = s.ra_env(CREDENTIALS_DIRECTORY=str(cred))
    del env["UPKI_CA_SEED"]
    master = started(s, [RA, "start"], env)
    assert_no_seed(s, master, s.seed, env, cred_dir=str(cred))


def test_no_seed_in_any_process_after_start_registered_from_the_command_line(seed_stack):
    s = seed_stack
    env = s.ra_env()
    del env["UPKI_CA_SEED"]
    master = started(s, [RA, "start", "--seed", s.seed], env)
    assert_no_seed(s, master, s.seed, env)


@pytest.mark.parametrize("command", ["serve", "crl", "init", "admin"])
def test_seed_option_only_for_register_and_start(seed_stack, command):
    argv = [RA, command, "--seed", "x" * 32] + (["list"] if command == "admin" else [])
    r = subprocess.run(argv, env=seed_stack.ra_env(), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "--seed" in r.stderr and "register" in r.stderr, r.stderr
    assert "x" * 32 not in r.stderr
