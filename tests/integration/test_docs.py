"""The repository documents itself: no file points outside it, every
relative link of README.md and docs/*.md reaches a file of the repository,
the README stays a first read, and the settings the documents name are the
RA's.  Needs no stack.
"""

import glob
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Spelled in two pieces, so that this file does not hold what it looks for.
OUTSIDE = "../" + "shared"
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def tracked_files():
    r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True, check=True)
    return [p for p in r.stdout.decode().split("\0") if p]


def documents():
    return [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs",
                                                                            "*.md")))


def links(path):
    """The link targets of a Markdown file, code blocks left out."""
    text = FENCE.sub("", open(path, encoding="utf-8").read())
    return LINK.findall(text)


def test_no_tracked_file_points_outside_the_repository():
    files = tracked_files()
    assert len(files) > 50, files
    found = []
    for rel in files:
        path = os.path.join(ROOT, rel)
        if not os.path.isfile(path):
            continue        # deleted in the work tree, not yet in the index
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                if OUTSIDE.encode() in line:
                    found.append(f"{rel}:{n}: {line.decode(errors='replace').strip()}")
    assert not found, f"files that point at {OUTSIDE}:\n" + "\n".join(found)


def test_every_relative_link_reaches_a_file_of_the_repository():
    bad = []
    checked = 0
    for doc in documents():
        for target in links(doc):
            rel = os.path.relpath(doc, ROOT)
            if target.startswith("#"):
                continue
            if SCHEME.match(target):
                bad.append(f"{rel}: {target}: a link out of the repository")
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(doc), target.split("#")[0]))
            checked += 1
            if os.path.commonpath([ROOT, path]) != ROOT:
                bad.append(f"{rel}: {target}: outside the repository")
            elif not os.path.exists(path):
                bad.append(f"{rel}: {target}: no such file")
    assert checked >= 20, checked
    assert not bad, "\n".join(bad)


def test_the_link_check_catches_a_broken_link(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("[a](docs/DESIGN.md) [b](nowhere.md#x) `[c](in-code.md)`\n"
                   "```\n[d](in-fence.md)\n```\n[e](https://example.net/)\n")
    assert links(str(doc)) == ["docs/DESIGN.md", "nowhere.md#x", "in-code.md",
                               "https://example.net/"]


def test_readme_is_a_first_read():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    lines = text.splitlines()
    assert len(lines) <= 160, len(lines)
    # It starts with the two commands.
    first = FENCE.search(text).group(0).splitlines()
    assert first[1].startswith("make run"), first
    assert first[2].startswith("make test"), first
    for doc in ("docs/DEPLOY.md", "docs/CLIENTS.md", "docs/DESIGN.md", "docs/openapi.yaml",
                "man/upki-ra.8"):
        assert f"]({doc})" in text, f"README.md does not link {doc}"


def test_documents_name_only_the_ras_settings():
    """Every UPKI_* name in README.md and docs/*.md is a setting of
    common/config.c, or one of the few names that are not settings."""
    config = open(os.path.join(ROOT, "common", "config.c")).read()
    settings = set(re.findall(r'"(UPKI_[A-Z0-9_]+)"', config))
    assert {"UPKI_CA_HOST", "UPKI_RA_HTTP01_PORT", "UPKI_RA_DNS_SERVER"} <= settings
    others = {"UPKI_CA_SEED",       # read at registration only, never a setting
              "UPKI_RA_SECRET",     # the FastCGI param of the secret
              "UPKI_TEST_BUILD"}    # the tests' build directory
    unknown = []
    for doc in documents():
        for name in set(re.findall(r"\bUPKI_[A-Z0-9_]*[A-Z0-9]\b", open(doc).read())):
            if name not in settings and name not in others:
                unknown.append(f"{os.path.relpath(doc, ROOT)}: {name}")
    assert not unknown, "\n".join(sorted(unknown))
