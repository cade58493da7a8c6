"""make check-layers (tests/check_layers.sh): the tree keeps its layers, and
the check says so when a file breaks them."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def check(root):
    return subprocess.run(["sh", os.path.join(root, "tests", "check_layers.sh")],
                          capture_output=True, text=True, timeout=60)


def test_the_tree_keeps_its_layers():
    r = check(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("path,line,what", [
    ("fcgi/admin.c", "int probe(void) { return sqlite3_exec(0, 0, 0, 0, 0); }",
     "SQL outside the store"),
    ("fcgi/public.c", "#include <zmq.h>", "ZeroMQ outside the CA client"),
    ("fcgi/acme_revoke.c", "int probe(void) { return ca_call(0, 0, 0, 0, 0, 0, 0); }",
     "a raw CA request"),
    ("common/cert.c", '#include "router.h"', "common/ includes a header of fcgi/"),
])
def test_a_breach_is_named(tmp_path, path, line, what):
    root = tmp_path / "tree"
    for d in ("common", "fcgi", "tests"):
        (root / d).mkdir(parents=True)
    shutil.copytree(os.path.join(ROOT, "common"), root / "common", dirs_exist_ok=True)
    shutil.copytree(os.path.join(ROOT, "fcgi"), root / "fcgi", dirs_exist_ok=True)
    shutil.copy(os.path.join(ROOT, "tests", "check_layers.sh"), root / "tests")
    with open(root / path, "a") as f:
        f.write("\n" + line + "\n")
    r = check(str(root))
    assert r.returncode == 1, r.stdout
    assert f"{path}:" in r.stdout and what in r.stdout, r.stdout
