"""Sharing a model on the Hugging Face Hub, all offline: the generated card read back,
export, push (HfApi faked at its boundary), load from a folder laid out as the Hub's
cache lays it out, Keras finding vitsd's layers after a bare ``import vitsd``, the
errors and the command line."""

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

pytest.importorskip("huggingface_hub")
import huggingface_hub  # noqa: E402
import huggingface_hub.constants  # noqa: E402  (patched by the tests)
import huggingface_hub.errors  # noqa: E402  (raised by the fakes)

import vitsd  # noqa: E402
from vitsd.config import MODELS, Config  # noqa: E402
from vitsd.data import load_dataset  # noqa: E402
from vitsd.sharing import hub, model_card  # noqa: E402
from vitsd.training.records import read_record  # noqa: E402
from vitsd.training.runner import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REPO = "someone/tiny-sl-vit"
#: Two blocks of width 16 on 40 images per split: seconds on a CPU.
TINY = dict(image_size=32, patch_size=8, projection_dim=16, num_layers=2, num_heads=2,
            key_dim=8, mlp_units=(32, 16), head_units=(32,), batch_size=16,
            attention_dropout=0.0, mlp_dropout=0.0, head_dropout=0.0, rotation=0.0, zoom=0.0,
            epochs=2)
LIMIT = 40
#: What a Hub repository of a run holds (the module docstring of vitsd.sharing.hub).
HUB_FILES = {"README.md", "run.json", "curves.png", "model.keras", "config.json",
             "metadata.json", "model.weights.h5"}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """huggingface_hub in offline mode, with an empty cache, no token and no login."""
    constants = huggingface_hub.constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hub") / "sl-vit"
    record = train("sl-vit", dataset="sample", limit=LIMIT, out=out, config=Config(**TINY),
                   verbose=0)
    return out, record


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out, _ = run
    folder = tmp_path_factory.mktemp("export") / "repo"
    files = hub.export(out, folder, repo_id=REPO)
    return folder, files


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("sample", limit=LIMIT).x_test


# --------------------------------------------------------------------- helpers
def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "the card starts with YAML front matter"
    return yaml.safe_load(match.group(1))


def section(card: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", card, re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


def table(text: str) -> list:
    """The first Markdown table in ``text`` as a list of rows (lists of cells)."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    rows = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", ln)[1:-1]]
            for ln in lines]
    assert rows and set("".join(rows[1])) <= {"-", ":"}, "a header and a separator line"
    return [rows[0]] + rows[2:]


def cell_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def hub_cache(cache: Path, repo_id: str, folder: Path, commit: str = "a" * 40) -> Path:
    """Lay ``folder`` out as huggingface_hub caches a downloaded repository."""
    storage = cache / ("models--" + repo_id.replace("/", "--"))
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(commit)
    shutil.copytree(folder, storage / "snapshots" / commit)
    return storage / "snapshots" / commit


def predictions(model, images):
    return keras.ops.convert_to_numpy(model.predict(images, verbose=0))


# ------------------------------------------------------------------------ card
def test_card_front_matter_is_what_the_hub_reads(run, exported):
    _, record = run
    folder, _ = exported
    card = (folder / "README.md").read_text()
    meta = front_matter(card)
    license_ = re.search(r'^license = "([^"]+)"', (ROOT / "pyproject.toml").read_text(),
                         re.M).group(1)
    assert meta["library_name"] == "keras" and meta["license"] == license_.lower()
    tokenizer, lsa = MODELS[record["model"]]
    assert record["model"] in meta["tags"]
    assert ("shifted-patch-tokenization" in meta["tags"]) == (tokenizer == "spt")
    assert ("locality-self-attention" in meta["tags"]) == lsa
    assert "datasets" not in meta, "the synthetic sample is not a Hub dataset"
    [entry] = meta["model-index"]
    [result] = entry["results"]
    assert result["task"]["type"] == "image-classification"
    assert result["dataset"]["split"] == "test"
    assert "sample" in result["dataset"]["name"]
    values = {m["name"]: m["value"] for m in result["metrics"]}
    assert values["Test top-1 accuracy"] == pytest.approx(record["test"]["top1"], abs=5e-5)
    assert values["Test top-5 accuracy"] == pytest.approx(record["test"]["top5"], abs=5e-5)
    # huggingface_hub's own parser reads the same results back.
    parsed = huggingface_hub.ModelCard(card).data
    assert parsed.library_name == "keras"
    assert {r.metric_name: r.metric_value for r in parsed.eval_results} == values


def test_card_sections_come_from_the_record(run, exported):
    _, record = run
    folder, _ = exported
    card = (folder / "README.md").read_text()
    config, params, env = record["config"], record["parameters"], record["environment"]

    model = dict(table(section(card, "Model description"))[1:])
    tokenizer, lsa = MODELS[record["model"]]
    assert model["Variant"] == f"`{record['model']}`"
    assert model["Shifted Patch Tokenization (SPT)"] == ("on" if tokenizer == "spt" else "off")
    assert model["Locality Self-Attention (LSA)"] == ("on" if lsa else "off")
    assert model["Parameters"].startswith(f"{params['total']:,} ")

    hyper = {name.strip("`"): cell_value(value)
             for name, value in table(section(card, "Training procedure"))[1:]}
    assert hyper == record["config"], "every hyperparameter, as the record holds it"

    header, *rows = table(section(card, "Results"))
    results = {row[0]: dict(zip(header, row)) for row in rows}
    test = results["test"]
    assert int(test["Images"].replace(",", "")) == record["splits"]["test"]
    for column, key in (("Top-1 accuracy", "top1"), ("Top-5 accuracy", "top5"), ("Loss", "loss")):
        assert float(test[column]) == pytest.approx(record["test"][key], abs=5e-5)
    best = record["best_epoch"]
    validation = results[f"validation (epoch {best})"]
    assert float(validation["Top-1 accuracy"]) == pytest.approx(
        record["history"]["val_accuracy"][best - 1], abs=5e-5)
    assert f"Best epoch: {best} of {record['epochs_completed']}" in section(card, "Results")

    uses = section(card, "Intended uses & limitations")
    assert f"seed {config['seed']}" in uses and "single seed" in uses.lower()
    assert f"{record['epochs_completed']} epochs" in uses and env["device"] in uses
    assert f"at most {record['dataset']['limit']} images per split" in uses
    assert "synthetic" in uses

    environment = dict(table(section(card, "Environment"))[1:])
    assert environment["Device"] == env["device"]
    assert environment["Backend"] == f"{env['backend']} {env['backend_version']}"
    assert environment["Keras"] == env["keras"] and environment["vitsd"] == env["vitsd"]

    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section(card, "Training curves"))
    assert images and all((folder / name).is_file() for name in images)

    usage = section(card, "How to use")
    code = re.findall(r"```python\n(.*?)```", usage, re.S)[0].strip().splitlines()
    assert code == ["import keras, vitsd  # importing vitsd registers its layers with Keras",
                    f'model = keras.saving.load_model("hf://{REPO}")']

    bibtex = re.search(r"```bibtex\n(.*?)```", section(card, "Citation"), re.S).group(1)
    references = (ROOT / "book" / "references.bib").read_text()
    entry = re.search(r"@misc\{lee2021vision,.*?\n\}", references, re.S).group(0)
    assert bibtex.strip() == entry and "2112.13492" in bibtex


def test_card_follows_the_variant_and_the_dataset(run):
    _, record = run
    vit = {**record, "model": "vit", "dataset": {**record["dataset"], "name": "cifar100"}}
    meta = front_matter(model_card.model_card(vit, "someone/vit"))
    assert meta["datasets"] == ["uoft-cs/cifar100"]
    assert "shifted-patch-tokenization" not in meta["tags"]
    assert "locality-self-attention" not in meta["tags"]
    assert meta["model-index"][0]["name"] == "vit"
    # An older record names the CIFAR-10 JPEG archive by its file: scored on a hold-out
    # of CIFAR-10's training images, and the card says so.
    jpeg = {**record, "dataset": {**record["dataset"], "name": "cifar10_jpeg_train.npz"}}
    card = model_card.model_card(jpeg)
    [result] = front_matter(card)["model-index"][0]["results"]
    assert front_matter(card)["datasets"] == ["uoft-cs/cifar10"]
    assert result["dataset"]["split"] == "train"
    assert "hold-out" in section(card, "Results")
    assert 'load_model("hf://USER/NAME")' in card, "a placeholder without a repository"


@pytest.mark.parametrize("dataset", ["sample", "cifar100", "cifar10", "cifar10_jpeg_train.npz",
                                     "/data/my-photos/"])
@pytest.mark.parametrize("repo_id", [None, REPO])
def test_card_front_matter_is_what_huggingface_hub_writes(run, dataset, repo_id):
    """vitsd writes the front matter itself (huggingface_hub is needed only to push and
    pull): byte for byte the block of huggingface_hub.ModelCardData."""
    _, record = run
    record = {**record, "dataset": {**record["dataset"], "name": dataset}}
    hub_id, name, split = model_card.hub_dataset(record)
    result = dict(task_type="image-classification", task_name="Image Classification",
                  dataset_type=hub_id or f"vitsd-{model_card._folder_name(dataset)}",
                  dataset_name=name, dataset_split=split)
    tokenizer, lsa = MODELS[record["model"]]
    data = huggingface_hub.ModelCardData(
        library_name="keras", license=model_card.LICENSE, pipeline_tag="image-classification",
        tags=["vitsd", "vision-transformer", "image-classification", record["model"],
              "arxiv:2112.13492", "shifted-patch-tokenization", "locality-self-attention"],
        datasets=[hub_id] if hub_id else None, metrics=["accuracy"],
        model_name=repo_id.split("/")[-1] if repo_id else record["model"],
        eval_results=[
            huggingface_hub.EvalResult(**result, metric_type="accuracy",
                                       metric_value=round(record["test"]["top1"], 4),
                                       metric_name="Test top-1 accuracy"),
            huggingface_hub.EvalResult(**result, metric_type="top_5_accuracy",
                                       metric_value=round(record["test"]["top5"], 4),
                                       metric_name="Test top-5 accuracy")])
    assert (tokenizer, lsa) == ("spt", True)
    assert model_card.card_metadata(record, repo_id) == data.to_yaml()


# ---------------------------------------------------------------------- export
def test_export_writes_the_hub_folder(run, exported):
    out, _ = run
    folder, files = exported
    assert set(files) == HUB_FILES
    assert {p.name for p in folder.iterdir()} == HUB_FILES
    for name in ("run.json", "model.keras"):
        assert (folder / name).read_bytes() == (out / name).read_bytes()
    with zipfile.ZipFile(out / "model.keras") as zf:
        for member in zf.namelist():
            assert (folder / member).read_bytes() == zf.read(member)
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_refuses_a_folder_with_files_and_a_folder_that_is_not_a_run(run, tmp_path):
    out, _ = run
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("x")
    with pytest.raises(ValueError, match="is not empty"):
        hub.export(out, tmp_path / "full")
    with pytest.raises(FileNotFoundError, match="has no run.json"):
        hub.export(tmp_path / "full", tmp_path / "new")
    with pytest.raises(ValueError, match="repo_id must be a Hub repository id USER/NAME"):
        hub.export(out, tmp_path / "new", repo_id="no-namespace")


# ------------------------------------------------------------------------ load
def test_load_from_the_hub_cache_gives_the_original_predictions(run, exported, tmp_path,
                                                                  test_images):
    out, record = run
    folder, _ = exported
    hub_cache(Path(huggingface_hub.constants.HF_HUB_CACHE), REPO, folder)
    original = predictions(vitsd.load_model(out / "model.keras"), test_images)
    for source in (REPO, f"hf://{REPO}", folder, folder / "model.keras", out / "model.keras"):
        model, loaded = hub.load(source)
        np.testing.assert_array_equal(predictions(model, test_images), original)
        assert loaded == read_record(out) == json.loads(json.dumps(record))
    # Keras' own hf:// loader reads the unpacked copy, through the same cache. (Compared
    # with Keras' loader on the run's file: on JAX, a model loaded compiled predicts
    # within float32 rounding of one loaded uncompiled, not bit for bit.)
    model = keras.saving.load_model(f"hf://{REPO}")
    expected = predictions(keras.saving.load_model(out / "model.keras"), test_images)
    np.testing.assert_array_equal(predictions(model, test_images), expected)


def test_load_without_a_record_returns_none(exported, tmp_path):
    folder, _ = exported
    shutil.copyfile(folder / "model.keras", tmp_path / "model.keras")
    model, record = hub.load(tmp_path / "model.keras")
    assert record is None and isinstance(model, keras.Model)


def test_load_a_repository_that_keras_itself_saved(run, exported, tmp_path, test_images):
    """``model.save("hf://...")`` uploads the unpacked layout only, without run.json."""
    out, _ = run
    folder, _ = exported
    keras_only = tmp_path / "keras-only"
    keras_only.mkdir()
    for name in hub.KERAS_MEMBERS:
        shutil.copyfile(folder / name, keras_only / name)
    hub_cache(Path(huggingface_hub.constants.HF_HUB_CACHE), "someone/keras-saved", keras_only)
    expected = predictions(vitsd.load_model(out / "model.keras"), test_images)
    for source in (keras_only, "hf://someone/keras-saved"):
        model, record = hub.load(source)
        assert record is None
        np.testing.assert_array_equal(predictions(model, test_images), expected)


def test_evaluate_a_shared_model_gives_the_recorded_test_metrics(run, exported):
    _, record = run
    folder, _ = exported
    result = hub.evaluate(folder, verbose=0)  # the dataset and limit of its record
    assert result["dataset"] == "sample" and result["limit"] == LIMIT
    for key in ("top1", "top5", "loss"):
        assert result["test"][key] == pytest.approx(record["test"][key], abs=1e-5)


def test_a_run_folder_evaluates_as_before(run):
    from vitsd.training.runner import evaluate

    out, record = run
    again = evaluate(out, verbose=0)
    for key in ("top1", "top5", "loss"):
        assert again[key] == pytest.approx(record["test"][key], abs=1e-5)


def test_evaluate_refuses_a_dataset_the_model_was_not_trained_for(exported):
    folder, _ = exported
    data = load_dataset("sample", limit=20)
    data.class_names = data.class_names[:5]
    with pytest.raises(ValueError, match="has 5 classes but the model predicts 10"):
        hub.evaluate(folder, dataset="other", data=data, verbose=0)
    data = load_dataset("sample", limit=20)
    data.class_names = [f"class {i}" for i in range(len(data.class_names))]
    with pytest.raises(ValueError, match="names its classes differently"):
        hub.evaluate(folder, dataset="other", data=data, verbose=0)


# ------------------------------------------------------------------------ push
class FakeHub:
    """HfApi.create_repo and HfApi.upload_folder, recording what they were given."""

    def __init__(self, monkeypatch):
        self.created, self.uploads = [], []
        fake = self

        def create_repo(api, repo_id, **kwargs):
            fake.created.append({"repo_id": repo_id, "token": api.token, **kwargs})
            return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

        def upload_folder(api, *, repo_id, folder_path, **kwargs):
            root = Path(folder_path)
            files = {p.relative_to(root).as_posix(): p.read_bytes()
                     for p in root.rglob("*") if p.is_file()}
            fake.uploads.append({"repo_id": repo_id, "files": files, **kwargs})
            return huggingface_hub.CommitInfo(
                commit_url=f"https://huggingface.co/{repo_id}/commit/{'b' * 40}",
                commit_message=kwargs.get("commit_message"), commit_description="", oid="b" * 40)

        def refuse(api, *args, **kwargs):
            raise AssertionError("push writes to the Hub with upload_folder only")

        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
        for name in dir(huggingface_hub.HfApi):  # every other way to write to the Hub
            if name.startswith(("upload_", "delete_", "create_commit", "preupload")) and \
                    name != "upload_folder":
                monkeypatch.setattr(huggingface_hub.HfApi, name, refuse)


def test_push_uploads_the_export_and_nothing_else(run, exported, monkeypatch):
    out, record = run
    folder, _ = exported
    fake = FakeHub(monkeypatch)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    result = hub.push(out, REPO)
    [created] = fake.created
    assert created["repo_id"] == REPO and created["exist_ok"]
    assert created["token"] == "hf_test_token"
    [upload] = fake.uploads
    assert upload["repo_id"] == REPO
    assert not {"allow_patterns", "ignore_patterns", "delete_patterns", "path_in_repo"} & {
        k for k, v in upload.items() if v is not None}, "the whole folder, as it is"
    assert set(upload["files"]) == HUB_FILES == set(result["files"])
    assert upload["files"]["README.md"].decode() == (folder / "README.md").read_text()
    for name in ("run.json", "model.keras"):
        assert upload["files"][name] == (out / name).read_bytes()
    assert result["repo_id"] == REPO and result["url"] == f"https://huggingface.co/{REPO}"
    assert record["model"] in upload["commit_message"]


def test_push_without_a_token_says_how_to_give_one(run, monkeypatch):
    out, _ = run
    fake = FakeHub(monkeypatch)
    with pytest.raises(hub.HubError, match=r"no Hugging Face token.*HF_TOKEN.*hf auth login"):
        hub.push(out, REPO)
    assert not fake.created and not fake.uploads


def test_push_reports_the_hub_refusing_or_unreachable(run, monkeypatch):
    out, _ = run
    # Offline mode (the autouse fixture): the real create_repo stops before the network.
    with pytest.raises(hub.HubError, match="HF_HUB_OFFLINE is set"):
        hub.push(out, REPO, token="hf_test_token")

    def refused(api, repo_id, **kwargs):
        response = _Response(401)
        raise huggingface_hub.errors.HfHubHTTPError("401 Client Error", response=response)

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", refused)
    with pytest.raises(hub.HubError, match=r"refused the token \(HTTP 401\).*HF_TOKEN"):
        hub.push(out, REPO, token="hf_bad_token")


def test_push_refuses_a_folder_that_is_not_a_finished_run(run, tmp_path, monkeypatch):
    out, record = run
    FakeHub(monkeypatch)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    with pytest.raises(FileNotFoundError, match="has no run.json"):
        hub.push(tmp_path, REPO)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "run.json").write_text(json.dumps({**record, "status": "running"}))
    with pytest.raises(FileNotFoundError, match=r"has no model.keras of a finished run"):
        hub.push(unfinished, REPO)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        hub.push(out / "model.keras", REPO)
    with pytest.raises(ValueError, match="repo_id must be"):
        hub.push(out, "a/b/c")


# --------------------------------------------------------------- load errors
class _Response:
    def __init__(self, status_code):
        self.status_code = status_code
        self.headers = {}
        self.request = None


def test_load_a_missing_repository(monkeypatch):
    def not_found(api, repo_id, **kwargs):
        raise huggingface_hub.errors.RepositoryNotFoundError(
            "404 Client Error. Repository Not Found", response=_Response(404))

    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", not_found)
    with pytest.raises(hub.HubError, match="no model repository someone/missing on the"):
        hub.load("hf://someone/missing")


def test_load_offline_and_not_cached_or_not_there():
    with pytest.raises(hub.HubError, match="not in the local cache"):
        hub.load("someone/not-cached")
    with pytest.raises(FileNotFoundError, match="neither a file or folder here"):
        hub.load("no/such/folder")
    with pytest.raises(ValueError, match="source must be a Hub repository id"):
        hub.load("hf://no-namespace")


# --------------------------------------------- registration on a bare import
def registered_classes() -> dict:
    """``{module: [class names]}`` of every class vitsd decorates with
    ``keras.saving.register_keras_serializable``, read from the source files; modules
    named by their path below ``vitsd`` (``layers.spt``), as in
    :data:`vitsd.SERIALIZABLE_MODULES`."""
    found = {}
    package = ROOT / "vitsd"
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    "register_keras_serializable" in ast.unparse(d) for d in node.decorator_list):
                found.setdefault(module, []).append(node.name)
    return found


def test_every_module_that_registers_keras_objects_is_imported_with_keras():
    classes = registered_classes()
    assert "ShiftedPatchTokenization" in classes["layers.spt"] and len(classes) >= 8
    assert set(classes) == set(vitsd.SERIALIZABLE_MODULES) | set(
        vitsd.SERIALIZABLE_WITH_TENSORFLOW)


@pytest.mark.parametrize("first", ["vitsd", "keras"])
def test_keras_loads_a_vitsd_model_after_a_bare_import(run, test_images, tmp_path, first):
    out, _ = run
    np.save(tmp_path / "images.npy", test_images)
    classes = registered_classes()
    code = "\n".join([
        "import json, sys",
        f"import {first}",
        f"assert ('keras' in sys.modules) == ({first!r} == 'keras')",
        "import vitsd, keras, numpy as np",
        "model = keras.saving.load_model(sys.argv[1])",
        "p = model.predict(np.load(sys.argv[3]), verbose=0)",
        "np.save(sys.argv[2], keras.ops.convert_to_numpy(p))",
        "get = keras.saving.get_registered_object",
        "missing = [n for n in json.loads(sys.argv[4]) if get('vitsd>' + n) is None]",
        "print(json.dumps({'missing': missing, 'tensorflow': 'tensorflow' in sys.modules}))",
    ])
    names = [name for names in classes.values() for name in names]
    result = subprocess.run(
        [sys.executable, "-c", code, str(out / "model.keras"), str(tmp_path / "p.npy"),
         str(tmp_path / "images.npy"), json.dumps(names)],
        capture_output=True, text=True, timeout=600, env=_env(tmp_path), cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The tf.data pipeline's layers register when TensorFlow is loaded (always on the
    # TensorFlow backend), the model's layers always.
    assert report["tensorflow"] or keras.backend.backend() != "tensorflow"
    expected_missing = [] if report["tensorflow"] else [
        n for m in vitsd.SERIALIZABLE_WITH_TENSORFLOW for n in classes[m]]
    assert report["missing"] == expected_missing
    expected = predictions(keras.saving.load_model(out / "model.keras"), test_images)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected)


def test_a_bare_import_and_the_hub_module_load_no_backend(tmp_path):
    code = ("import sys, vitsd, vitsd.sharing.hub, vitsd.cli; "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=_env(tmp_path), cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------------- CLI
def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", HF_HOME=str(tmp_path / "hf-home"),
               HF_HUB_CACHE=str(tmp_path / "hf-cache"), HF_HUB_OFFLINE="1",
               HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def _cli(tmp_path, *args, **env):
    return subprocess.run([sys.executable, "-m", "vitsd", *args], capture_output=True,
                          text=True, timeout=600, env=_env(tmp_path, **env), cwd=ROOT)


def _one_error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(r"vitsd( push| evaluate)?: error: ", lines[0]), \
        result.stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _main(capsys, *args) -> subprocess.CompletedProcess:
    """``python -m vitsd ARGS`` run in this process (no interpreter and TensorFlow start-up
    per call), as a CompletedProcess; the offline fixture's Hub settings apply."""
    from vitsd.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["vitsd", *args], code, captured.out, captured.err)


def test_cli_push_errors_are_one_line(run, tmp_path, monkeypatch, capsys):
    out, record = run
    # In a real process, with the Hub settings a user sets (read at import time): the
    # Hub that cannot be reached, and an argument error.
    line = _one_error_line(_cli(tmp_path, "push", "--run", str(out), "--repo", REPO,
                                HF_TOKEN="hf_test_token", HF_HUB_OFFLINE="0",
                                HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}"))
    assert "cannot be reached" in line and "network" in line
    line = _one_error_line(_cli(tmp_path, "push", "--repo", REPO))
    assert "the following arguments are required: --run" in line
    # The other errors through the same main(), in this process (offline, no token).
    line = _one_error_line(_main(capsys, "push", "--run", str(out), "--repo", REPO))
    assert "no Hugging Face token" in line and "HF_TOKEN" in line and "hf auth login" in line
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    line = _one_error_line(_main(capsys, "push", "--run", str(out), "--repo", REPO))
    assert "HF_HUB_OFFLINE" in line
    monkeypatch.delenv("HF_TOKEN")
    line = _one_error_line(_main(capsys, "push", "--run", str(tmp_path), "--repo", REPO))
    assert "has no run.json" in line
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "run.json").write_text(json.dumps({**record, "status": "running"}))
    line = _one_error_line(_main(capsys, "push", "--run", str(tmp_path / "unfinished"),
                                 "--repo", REPO))
    assert "has no model.keras" in line
    line = _one_error_line(_main(capsys, "push", "--run", str(out), "--repo", "nobody"))
    assert "repo_id must be a Hub repository id USER/NAME" in line


class _RepoNotFound(BaseHTTPRequestHandler):
    """A Hub that has no repositories: every request gets the Hub's 404 RepoNotFound."""

    def _answer(self):
        body = b'{"error": "Repository not found"}'
        self.send_response(404)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("X-Error-Message", "Repository not found")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, *args):
        pass


def test_cli_evaluate_errors_are_one_line(tmp_path, capsys):
    # Through main() in this process (offline, an empty cache: the autouse fixture).
    line = _one_error_line(_main(capsys, "evaluate", "--model", "hf://someone/not-cached"))
    assert "not in the local cache" in line and "network" in line
    line = _one_error_line(_main(capsys, "evaluate", "--model", "no/such/thing/here"))
    assert "neither a file or folder here" in line
    # In real processes: a Hub that answers 404 (HF_ENDPOINT is read at import time),
    # and the argument errors (argparse's, before Keras is imported).
    server = HTTPServer(("127.0.0.1", 0), _RepoNotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        line = _one_error_line(_cli(tmp_path, "evaluate", "--model", "hf://someone/missing",
                                    HF_HUB_OFFLINE="0",
                                    HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()
    assert "no model repository someone/missing" in line
    for args, reason in (
        (["evaluate"], "the following arguments are required: --run or --model"),
        (["evaluate", "--run", "r", "--model", "m"], "not allowed with argument --run"),
        (["evaluate", "--run", "r", "--dataset", "sample"], "go with --model"),
    ):
        assert reason in _one_error_line(_cli(tmp_path, *args))


def test_cli_evaluates_a_model_from_the_hub_cache_as_its_card_says(run, exported, tmp_path,
                                                                  capsys):
    _, record = run
    folder, _ = exported
    hub_cache(Path(huggingface_hub.constants.HF_HUB_CACHE), REPO, folder)
    card = (folder / "README.md").read_text()
    command = re.search(r"`python -m vitsd (evaluate [^`]+)`", card).group(1).split()
    assert command[:3] == ["evaluate", "--model", f"hf://{REPO}"]
    # The card's command through main(), in this process (offline, the cache above).
    result = _main(capsys, *command, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["model"] == f"hf://{REPO}" and summary["dataset"] == "sample"
    assert summary["test"]["top1"] == pytest.approx(record["test"]["top1"], abs=1e-5)
    assert summary["test"]["top5"] == pytest.approx(record["test"]["top5"], abs=1e-5)


def test_card_summary_html_gives_key_lines_and_folds_the_whole_card(run):
    from html import escape

    _, record = run
    html = model_card.card_summary_html(record, "someone/model")
    head, details = html.split("<details>", 1)
    assert "<h1" not in html and "<h2" not in html  # no heading enters the page
    assert f"{record['parameters']['total']:,}" in head and "hf://someone/model" in head
    assert f"{record['epochs_completed']} epochs" in head
    assert head.count("<tr>") == 5
    # the whole card, folded: its Markdown source, front matter included
    assert escape(model_card.model_card(record, "someone/model")) in details
    assert details.startswith("<summary>") and "</details>" in details


def test_card_html_renders_the_card_for_a_notebook_without_the_image(run):
    _, record = run
    html = model_card.card_html(record, "someone/model")
    assert html.startswith("<pre>---\nlibrary_name: keras")
    assert "<table>" in html and "<h2>Intended uses &amp; limitations</h2>" in html
    assert "<img" not in html and "![" not in html  # the image is a file of the repo
