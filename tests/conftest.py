import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]


def _load_tool(name: str):
    """``tools/<name>.py`` loaded by its path as a new module (the tools are scripts,
    not a package): each call executes the script afresh."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_tool():
    """A function: ``load_tool("campaign")`` is ``tools/campaign.py`` as a new module."""
    return _load_tool
