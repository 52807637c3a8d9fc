"""Without ``huggingface_hub`` (an optional extra): the model card renders as chapter 7
shows it, and only pushing and pulling stop, with the one-line error that says how to
install it. Its absence is simulated: ``sys.modules["huggingface_hub"] = None`` makes
``import huggingface_hub`` raise ImportError."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitsd.sharing import hub, model_card

ROOT = Path(__file__).resolve().parents[2]
#: A published run record of the repository (chapter 7's SL-ViT).
RECORD = ROOT / "results" / "cifar100" / "cpu-sl-vit-s1.json"
INSTALL = 'huggingface_hub is not installed: pip install "vitsd[hub]"'


@pytest.fixture
def no_hub(monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "huggingface_hub"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError):
        import huggingface_hub  # noqa: F401


@pytest.fixture(scope="module")
def record():
    return json.loads(RECORD.read_text())


def test_the_card_renders_without_huggingface_hub(no_hub, record):
    html = model_card.card_summary_html(record, "USER/vitsd-sl-vit")
    assert "160,527" in html and "top-1 39.54%" in html and "hf://USER/vitsd-sl-vit" in html
    card = model_card.model_card(record, "USER/vitsd-sl-vit")
    front = card.split("---\n")[1]
    assert front.startswith("datasets:\n- uoft-cs/cifar100\nlibrary_name: keras\n")
    assert "- name: vitsd-sl-vit\n" in front and "      value: 0.3954\n" in front
    assert "## Intended uses & limitations" in card


def test_the_front_matter_is_yaml_that_reads_back(record):
    """Bare where YAML reads a string back unchanged, quoted where it would not (a
    colon and a space, a '#', a word YAML 1.1 reads as a boolean, a long line)."""
    yaml = pytest.importorskip("yaml")
    folder = "yes: a folder, # with on and off" + " and more" * 8
    odd = {**record, "model": "vit", "dataset": {**record["dataset"], "name": f"/data/{folder}/"}}
    meta = yaml.safe_load(model_card.card_metadata(odd))
    [result] = meta["model-index"][0]["results"]
    assert result["dataset"] == {"name": f"the image folder {folder}",
                                 "type": f"vitsd-{folder}", "split": "test"}
    assert meta["tags"][3] == "vit" and "datasets" not in meta
    assert [m["value"] for m in result["metrics"]] == [round(record["test"]["top1"], 4),
                                                        round(record["test"]["top5"], 4)]
    for word in ("on", "No", "null"):
        assert yaml.safe_load(model_card.card_metadata({**record, "model": word}))[
            "model-index"][0]["name"] == word


def test_a_repository_id_is_checked_without_huggingface_hub(no_hub):
    assert hub.check_repo_id("someone/tiny-sl-vit") == "someone/tiny-sl-vit"
    for bad in ("someone", "a/b/c", "-a/b", "a/b.git", "a--b/c", "café/x", "a/" + "x" * 97):
        with pytest.raises(ValueError, match="must be a Hub repository id USER/NAME"):
            hub.check_repo_id(bad)


def test_push_and_pull_say_how_to_install_it(no_hub, record, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({**record, "status": "complete"}))
    (run / "model.keras").write_bytes(b"")  # push stops before reading it
    with pytest.raises(hub.HubError, match=INSTALL.replace("[", r"\[").replace("]", r"\]")):
        hub.push(run, "someone/tiny-sl-vit", token="not-used")
    for pull in (hub.download, hub.load, hub.locate):
        with pytest.raises(hub.HubError, match="huggingface_hub is not installed"):
            pull("someone/tiny-sl-vit")
    with pytest.raises(hub.HubError, match="huggingface_hub is not installed"):
        hub.load("hf://someone/tiny-sl-vit")


def test_cli_push_without_huggingface_hub_is_one_line(tmp_path, record):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({**record, "status": "complete"}))
    (run / "model.keras").write_bytes(b"")
    code = ("import sys; sys.modules['huggingface_hub'] = None; from vitsd.cli import main; "
            f"sys.exit(main(['push', '--run', {str(run)!r}, '--repo', 'someone/x']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"vitsd: error: {INSTALL} (or pip install huggingface_hub).", lines
