"""The hidden install cell of every chapter, as Colab runs it (its pip line cannot run
offline: the test runs the cell with ``google.colab`` faked and pip intercepted, and
checks what it would install). tools/check_install.py installs a real wheel."""

import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
RELEASE = "v" + tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _install_cell(path):
    nb = nbformat.read(path, as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


def _run_cell(source, monkeypatch, returncode=0, stderr=""):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append((cmd, kwargs))
        return subprocess.CompletedProcess(cmd, returncode, "", stderr)

    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    exec(compile(source, "install-cell", "exec"), {})
    return calls


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_install_cell_installs_the_pinned_release_and_nothing_else(path, monkeypatch,
                                                                       capsys):
    calls = _run_cell(_install_cell(path), monkeypatch)
    assert len(calls) == 1
    cmd, kwargs = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    requirements = [a for a in cmd[4:] if not a.startswith("-")]
    assert requirements == [f"git+https://github.com/vitsd/vitsd@{RELEASE}"]  # no extras
    assert not {"--upgrade", "-U", "--force-reinstall"} & set(cmd)
    assert kwargs.get("capture_output") is True
    assert capsys.readouterr().out == ""  # silent when it works


def test_a_failed_install_says_so_in_one_line(monkeypatch, capsys):
    _run_cell(_install_cell(CHAPTERS[0]), monkeypatch, returncode=1,
              stderr="Collecting git+https://github.com/vitsd/vitsd@v0.1.0\n"
                     "ERROR: Could not resolve host: github.com\n")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("Could not install vitsd:")
    assert "Could not resolve host: github.com" in out


def test_off_colab_the_cell_does_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    called = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: called.append(a))
    exec(compile(_install_cell(CHAPTERS[0]), "install-cell", "exec"), {})
    assert called == []


def test_installing_vitsd_never_brings_a_second_tensorflow():
    """What the git install resolves: vitsd's own dependencies, which name no backend
    (Colab's TensorFlow stays); TensorFlow and JAX are extras, chosen on purpose."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [re.match(r"[A-Za-z0-9_.\-]+", d).group(0).lower() for d in project["dependencies"]]
    assert names == ["keras", "numpy", "matplotlib", "pillow"]
    assert not any(n.startswith(("tensorflow", "jax", "torch")) for n in names)
    assert set(project["optional-dependencies"]) >= {"tensorflow", "jax"}
