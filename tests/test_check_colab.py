"""tools/check_colab.py: Colab's versions live in one file, tools/colab-versions.txt,
and pyproject.toml's classifiers name the Python it checks."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def check_colab(load_tool):
    return load_tool("check_colab")


def test_colab_versions_are_read_from_the_one_file(check_colab):
    python, pins = check_colab.colab_versions()
    assert python == "3.13"
    assert {"tensorflow-cpu", "keras", "numpy"} <= set(pins)
    assert all(v[0].isdigit() for v in pins.values())


def test_the_classifiers_name_the_tested_pythons(check_colab):
    python, _ = check_colab.colab_versions()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = {c.rsplit("::", 1)[1].strip() for c in project["classifiers"]
             if c.startswith("Programming Language :: Python :: 3.")}
    assert {"3.11", python} <= named
    low = project["requires-python"].removeprefix(">=")
    assert low == min(named, key=lambda v: tuple(map(int, v.split("."))))


def test_a_versions_file_without_its_python_says_what_to_add(check_colab, tmp_path):
    path = tmp_path / "versions.txt"
    path.write_text("keras==3.13.2\n")
    with pytest.raises(SystemExit, match="no '# python: X.Y' line"):
        check_colab.colab_versions(path)
    path.write_text("# python: 3.13\nmatplotlib\n")
    with pytest.raises(SystemExit, match="pins no package"):
        check_colab.colab_versions(path)
