"""Cutting a release: the tag check of tools/pin_release.py, in a throwaway git
repository, and the release workflow's steps (README: "How to release")."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pin(root):
    spec = importlib.util.spec_from_file_location("pin_release", ROOT / "tools" / "pin_release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ROOT = root
    return module


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_SHA", raising=False)

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "f").write_text("1")
    git("add", "f")
    git("commit", "-qm", "one")
    return tmp_path, git


def test_a_missing_tag_is_refused_with_the_command_that_makes_it(repo):
    root, _ = repo
    problem = _pin(root).tag_problem("v9.9.9")
    assert "does not exist" in problem and "git tag -a v9.9.9" in problem


def test_the_tag_must_name_the_commit_being_released(repo, monkeypatch):
    root, git = repo
    pin = _pin(root)
    git("tag", "-a", "v1.0.0", "-m", "r")
    assert pin.tag_problem("v1.0.0") is None
    (root / "f").write_text("2")
    git("commit", "-qam", "two")
    assert "not the commit being released" in pin.tag_problem("v1.0.0")
    first = git("rev-parse", "v1.0.0^{commit}").strip()
    monkeypatch.setenv("GITHUB_SHA", first)  # the workflow releases the tagged commit
    assert pin.tag_problem("v1.0.0") is None


def test_the_release_workflow_checks_builds_and_deploys_the_book():
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "tags:" in text and '"v*"' in text
    for step in ("pin_release.py --check --check-tag", "check_install.py --build-only",
                 "build_book.py --html-only", "actions/upload-pages-artifact",
                 "actions/deploy-pages", "pages: write", "id-token: write"):
        assert step in text, step
