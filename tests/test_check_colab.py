"""tools/check_colab.py: Colab's versions live in one file, tools/colab-versions.txt,
and pyproject.toml's classifiers name the Python it checks."""

import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("check_colab", ROOT / "tools" / "check_colab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_colab_versions_are_read_from_the_one_file():
    python, pins = _tool().colab_versions()
    assert python == "3.13"
    assert {"tensorflow-cpu", "keras", "numpy"} <= set(pins)
    assert all(v[0].isdigit() for v in pins.values())


def test_the_classifiers_name_the_tested_pythons():
    python, _ = _tool().colab_versions()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = {c.rsplit("::", 1)[1].strip() for c in project["classifiers"]
             if c.startswith("Programming Language :: Python :: 3.")}
    assert {"3.11", python} <= named
    low = project["requires-python"].removeprefix(">=")
    assert low == min(named, key=lambda v: tuple(map(int, v.split("."))))


def test_a_versions_file_without_its_python_says_what_to_add(tmp_path):
    tool = _tool()
    path = tmp_path / "versions.txt"
    path.write_text("keras==3.13.2\n")
    with pytest.raises(SystemExit, match="no '# python: X.Y' line"):
        tool.colab_versions(path)
    path.write_text("# python: 3.13\nmatplotlib\n")
    with pytest.raises(SystemExit, match="pins no package"):
        tool.colab_versions(path)
