#!/usr/bin/env python
"""Pin every chapter's Colab install cell and badge to one release of vitsd.

    python tools/pin_release.py            # the version in pyproject.toml: v<version>
    python tools/pin_release.py --check    # exit 1 if a chapter points elsewhere
    python tools/pin_release.py --check --check-tag   # and the tag names this commit

The release is set in one place, ``version`` in ``pyproject.toml``; the release
process bumps it, tags the commit ``v<version>`` and runs this script, which rewrites

* the hidden install cell of every chapter: ``pip install git+<repo>@v<version>``;
* the *Open in Colab* badge: ``.../blob/v<version>/book/<chapter>.ipynb``;
* Colab's accelerator metadata of the training chapters (6, 7, 8: a GPU runtime), and
  no accelerator for the others;
* ``repository.branch`` in ``_config.yml``, which the rendered book's launch button
  (Colab) and repository link use: the same release as the badges.

``vitsd.sharing.published`` downloads published runs from the same tag (``v<version>``).

``tests/book/test_book.py`` checks that all of them agree with ``pyproject.toml``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
REPOSITORY = "github.com/vitsd/vitsd"
#: Chapters that train (or load trained) models: Colab should offer a GPU runtime.
GPU_CHAPTERS = ("06_training", "07_looking_inside", "08_going_further")

INSTALL = re.compile(r"(git\+https://github\.com/vitsd/vitsd)(@[\w.\-]+)?")
BADGE = re.compile(r"(https://colab\.research\.google\.com/github/vitsd/vitsd/blob/)([\w.\-]+)(/book/)")


def release() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("pyproject.toml has no version = \"...\" line")
    return f"v{match.group(1)}"


def pinned(nb, tag: str, stem: str):
    """``nb`` with its install cell, badge and Colab metadata pinned to ``tag``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and INSTALL.search(cell.source):
            cell.source = INSTALL.sub(rf"\g<1>@{tag}", cell.source)
        if cell.cell_type == "markdown" and BADGE.search(cell.source):
            cell.source = BADGE.sub(rf"\g<1>{tag}\g<3>", cell.source)
    if stem in GPU_CHAPTERS:
        nb.metadata["accelerator"] = "GPU"
        nb.metadata["colab"] = {"gpuType": "T4", "provenance": []}
    else:
        nb.metadata.pop("accelerator", None)
        nb.metadata.pop("colab", None)
    return nb


CONFIG = ROOT / "_config.yml"
BRANCH = re.compile(r"^(repository:\n(?:  .*\n)*?  branch: )(\S+)$", re.M)


def config_branch(text: str) -> str:
    """The ``repository.branch`` of ``_config.yml``'s text."""
    match = BRANCH.search(text)
    if not match:
        raise SystemExit("_config.yml has no repository: / branch: entry")
    return match.group(2)


def targets(nb) -> set:
    """Every version a chapter's install cell and badge point at."""
    found = set()
    for cell in nb.cells:
        found |= {m.group(2).lstrip("@") if m.group(2) else "(unpinned)"
                  for m in INSTALL.finditer(cell.source)}
        found |= {m.group(2) for m in BADGE.finditer(cell.source)}
    return found


def tag_problem(tag: str, commit: str | None = None) -> str | None:
    """Why ``tag`` cannot be released from ``commit`` (default ``$GITHUB_SHA`` or HEAD),
    or None: the tag must exist and name that commit, since the badges, the install
    cell and the downloads of published runs all point at the tag."""
    import os
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    commit = commit or os.environ.get("GITHUB_SHA") or git("rev-parse", "HEAD").stdout.strip()
    tagged = git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}")
    if tagged.returncode != 0:
        return (f"the tag {tag} does not exist: tag the release commit "
                f"(git tag -a {tag} -m 'vitsd {tag}') and push it")
    if tagged.stdout.strip() != commit:
        return (f"the tag {tag} names {tagged.stdout.strip()[:12]}, not the commit being "
                f"released ({commit[:12]}): bump the version in pyproject.toml for a new "
                "release, or release the tagged commit")
    return None


def main(argv=None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--check-tag", action="store_true",
                        help="also require the git tag v<version> to exist at the commit "
                             "being released (HEAD, or $GITHUB_SHA in a workflow)")
    args = parser.parse_args(argv)
    tag = release()
    bad = []
    if args.check_tag:
        problem = tag_problem(tag)
        if problem:
            bad.append(problem)
    for path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if args.check:
            if targets(nb) != {tag}:
                bad.append(f"{path.name}: {sorted(targets(nb))}")
            continue
        nbformat.write(pinned(nb, tag, path.stem), path)
        print(f"{path.name}: pinned to {tag}")
    text = CONFIG.read_text()
    if args.check:
        if config_branch(text) != tag:
            bad.append(f"_config.yml: repository.branch {config_branch(text)}")
    else:
        CONFIG.write_text(BRANCH.sub(rf"\g<1>{tag}", text))
        print(f"_config.yml: repository.branch {tag}")
    if bad:
        print(f"files not pinned to {tag} (run python tools/pin_release.py):\n  "
              + "\n  ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
