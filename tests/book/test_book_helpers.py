"""vitsd.book: the helpers of the book's chapters (run cards, source display, records,
tables, the runs of chapters 6 and 7)."""

import importlib.util
import inspect
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import vitsd
from vitsd import book
from vitsd.book import display
from vitsd.book import runs as book_runs
from vitsd.config import Config

ENV = {"vitsd": "0.1.0", "keras": "3.99.0", "backend": "tensorflow", "backend_version": "2.99",
       "device": "CPU: Test CPU (2 cores)", "python": "3.11.7", "platform": "Linux",
       "cpu_count": 2}


@pytest.fixture
def shell(monkeypatch):
    """An IPython shell whose displayed outputs are captured in ``shell.display_pub.outputs``."""
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config as TraitletsConfig

    config = TraitletsConfig()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    monkeypatch.setattr(shell, "display_pub", CapturingDisplayPublisher())
    png = shell.display_formatter.formatters["image/png"]
    saved = dict(png.type_printers)
    yield shell
    png.type_printers.clear()
    png.type_printers.update(saved)


def _notebook(outputs):
    """A notebook JSON dict with one code cell per group of display outputs."""
    cells = [{"cell_type": "code", "source": "", "metadata": {}, "execution_count": i,
              "outputs": [{"output_type": "display_data", "data": o["data"],
                           "metadata": o["metadata"]} for o in group]}
             for i, group in enumerate(outputs, 1)]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


# ------------------------------------------------------------------------ tables
def test_table_formats_numbers_and_renders_text_and_html():
    t = book.table([{"model": "vit", "parameters": 21759019, "top-1": 0.53104, "ok": True,
                     "note": None},
                    {"model": "<sl-vit>", "parameters": 7, "top-1": np.float32(0.5611),
                     "ok": False, "note": "x"}],
                   title="Results", digits={"top-1": 2})
    assert t.columns == ["model", "parameters", "top-1", "ok", "note"]
    lines = repr(t).splitlines()
    assert lines[0] == "Results"
    assert lines[1].split() == ["model", "parameters", "top-1", "ok", "note"]
    assert lines[3].split() == ["vit", "21,759,019", "0.53", "yes", "–"]
    assert lines[4].split() == ["<sl-vit>", "7", "0.56", "no", "x"]
    # numbers are right-aligned under their header
    right_edge = lines[1].index("parameters") + len("parameters")
    assert lines[3].index("21,759,019") + len("21,759,019") == right_edge
    html = t._repr_html_()
    assert "<caption>Results</caption>" in html and "&lt;sl-vit&gt;" in html
    assert html.count("<tr>") == 3
    assert '<td style="padding:0.2em 0.7em;text-align:right">21,759,019</td>' in html
    assert '<td style="padding:0.2em 0.7em;text-align:left">&lt;sl-vit&gt;</td>' in html


def test_table_with_sequences_needs_matching_columns():
    t = book.table([(1, 2.5)], columns=["a", "b"], digits=1)
    assert repr(t).splitlines()[-1].split() == ["1", "2.5"]
    with pytest.raises(ValueError, match="row 0 has 3 values but there are 2 columns"):
        book.table([(1, 2, 3)], columns=["a", "b"])
    with pytest.raises(ValueError, match="columns are required"):
        book.table([(1, 2)])


# --------------------------------------------------------------------- run card
def test_run_card_shows_parameters_environment_and_sample_note():
    card = book.run_card(environment=ENV, DATASET="sample", EPOCHS=6, LIMIT=1500,
                         BATCH_SIZE=64, SEED=42, SIZE="tiny")
    text = repr(card)
    for expected in ("dataset", "sample", "epochs", "1500", "tensorflow 2.99", "CPU: Test CPU",
                     "keras", "3.99.0", "vitsd", "0.1.0", "model size", "tiny"):
        assert expected in text, expected
    assert any("synthetic 'sample' dataset" in n and "not from real photographs" in n
               for n in card.notes)
    reduced = [n for n in card.notes if n.startswith("Reduced run")]
    assert len(reduced) == 1
    assert "DATASET='sample', EPOCHS=6, LIMIT=1500, BATCH_SIZE=64, SIZE='tiny'" in reduced[0]
    assert "SEED" not in reduced[0]  # unchanged parameters are not listed
    html = card._repr_html_()
    assert "Run card" in html and ">sample</td>" in html
    assert "not from real photographs" in html


def test_run_card_of_the_defaults_has_no_notes_and_says_all_images():
    card = book.run_card(environment=ENV, **book.DEFAULTS)
    assert card.notes == []
    assert "none (the whole dataset)" in repr(card)


def test_run_card_records_itself_in_the_output_metadata(shell):
    card = book.run_card(environment=ENV, DATASET="sample", EPOCHS=2)
    data, metadata = card._repr_mimebundle_()
    assert set(data) == {"text/html", "text/plain"}
    stored = metadata[book.RECORD_KEY]["run_card"]
    assert stored["parameters"] == {"DATASET": "sample", "EPOCHS": 2}
    assert stored["environment"] == ENV
    assert json.loads(json.dumps(stored)) == stored
    # displayed through IPython, the record lands where read_records finds it
    from IPython.display import display

    display(card)
    (output,) = shell.display_pub.outputs
    assert book.read_records(_notebook([[output]]))["run_card"]["parameters"]["EPOCHS"] == 2


def test_run_card_lists_the_run_records_used():
    record = {"model": "sl-vit", "status": "complete", "epochs_completed": 3,
              "config": {"epochs": 3}, "dataset": {"name": "sample", "limit": 300},
              "timing": {"train_seconds": 12.34},
              "book": {"run_dir": "runs/x/sl-vit", "reused": True}}
    card = book.run_card({"sl-vit": record}, environment=ENV, DATASET="sample")
    (run,) = card.runs
    assert run["run_dir"] == "runs/x/sl-vit" and run["reused"] is True
    text = repr(card)
    assert "Run records used" in text and "runs/x/sl-vit" in text
    assert "reused a finished run" in text and "3/3" in text
    assert run["dataset"] == "sample (limit 300)"
    assert "12.3" not in text  # wall time of a shared machine: in the record only
    assert '<div class="vitsd-run-records">' in card._repr_html_()  # wraps on a phone
    running = book.run_card({"sl-vit": {**record, "status": "running"}}, environment=ENV)
    assert "3/3 (running)" in repr(running)


def test_run_card_reads_the_current_environment():
    import keras

    card = book.run_card(DATASET="sample")
    assert card.environment["keras"] == keras.__version__
    assert card.environment["backend"] == keras.backend.backend()
    assert card.environment["device"]


# ----------------------------------------------------------------- source display
def test_show_source_displays_the_real_source_with_its_location():
    from vitsd.layers.spt import ShiftedPatchTokenization

    shown = book.show_source(ShiftedPatchTokenization)
    lines, start = inspect.getsourcelines(ShiftedPatchTokenization)
    assert shown.code == inspect.getsource(ShiftedPatchTokenization)
    assert shown.location == f"vitsd/layers/spt.py, lines {start}-{start + len(lines) - 1}"
    assert repr(shown).startswith(f"# {shown.location}\n@keras.saving")
    html = shown._repr_html_()
    assert shown.location in html
    assert 'class="highlight"' in html and '<span class="k">class</span>' in html
    assert "\\begin{Verbatim}" in shown._repr_latex_()


def test_show_source_of_a_function_and_a_method():
    from vitsd.training.compile import make_schedule
    from vitsd.training.schedules import WarmUpCosine

    assert book.show_source(make_schedule).code.startswith("def make_schedule(")
    assert book.show_source(WarmUpCosine.__call__).code.lstrip().startswith("def __call__(")


def test_show_source_refuses_objects_without_source():
    with pytest.raises(ValueError, match="no source available"):
        book.show_source(len)


# ------------------------------------------------------------------------ records
def test_record_stores_json_ready_values_in_the_output_metadata(shell, tmp_path):
    book.record(patches=np.int64(144), shape=(1, 144, 108), ratio=np.float32(0.5),
                array=np.arange(3), flag=np.bool_(True), path=Path("runs/x"),
                nested={"a": [np.float64(1.5)]}, bad=float("nan"))
    book.record(patches=145)
    first, second = shell.display_pub.outputs
    assert first["data"] == {"text/html": "", "text/plain": ""}  # nothing visible
    assert first["metadata"][book.RECORD_KEY] == {
        "patches": 144, "shape": [1, 144, 108], "ratio": 0.5, "array": [0, 1, 2],
        "flag": True, "path": "runs/x", "nested": {"a": [1.5]}, "bad": "nan",
    }
    path = tmp_path / "executed.ipynb"
    path.write_text(json.dumps(_notebook([[first], [second]])))
    merged = book.read_records(path)
    assert merged["patches"] == 145  # later records win
    assert merged["shape"] == [1, 144, 108]


def test_read_records_ignores_other_outputs():
    nb = _notebook([[{"data": {"text/plain": "x"}, "metadata": {}},
                     {"data": {"image/png": "..."}, "metadata": {"image/png": {"width": 3}}}]])
    nb["cells"].append({"cell_type": "markdown", "source": "# t", "metadata": {}})
    assert book.read_records(nb) == {}


# ------------------------------------------------------------------------- setup
def test_setup_registers_a_png_formatter_for_figures(shell, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1])
    book.setup()
    data, _ = shell.display_formatter.format(fig)
    assert "image/png" in data
    import base64

    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_setup_outside_ipython_only_sets_the_log_level(monkeypatch):
    monkeypatch.setattr(display, "_ipython", lambda: None)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    book.setup()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"  # an explicit setting is kept


# -------------------------------------------------------------------------- runs
def test_variants_and_their_switches():
    assert book.VARIANTS == ("vit", "spt", "lsa", "sl-vit")
    assert [book.variant_switches(v) for v in book.VARIANTS] == [
        (False, False), (True, False), (False, True), (True, True)]
    with pytest.raises(ValueError, match="variant must be one of"):
        book.variant_switches("resnet")


def test_config_for_sizes():
    assert book.config_for("reference") == Config()
    tiny = book.config_for("tiny")
    assert tiny == Config(**book.TINY)
    assert (tiny.image_size, tiny.patch_size, tiny.num_layers, tiny.batch_size) == (32, 4, 2, 64)
    assert book.config_for("tiny", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="SIZE must be one of"):
        book.config_for("huge")


def test_run_folder_names_every_parameter_of_the_run():
    folder = book.run_folder("runs/book", "sl-vit", dataset="sample", size="tiny", epochs=6,
                             limit=1500, batch_size=64, seed=42)
    assert folder.parent.parent == Path("runs/book") and folder.name == "sl-vit"
    assert re.fullmatch(r"sample-tiny-e6-1500-b64-s42-c[0-9a-f]{8}", folder.parent.name)
    default_batch = book.run_folder("r", "vit", dataset="cifar100", size="reference", epochs=50)
    assert default_batch.parent.name.startswith("cifar100-reference-e50-all-b256-s42-c")
    # the configuration's fingerprint: another default configuration, another folder
    assert default_batch.parent.name[-8:] != folder.parent.name[-8:]
    again = book.run_folder("elsewhere", "vit", dataset="sample", size="tiny", epochs=6,
                            limit=1500, batch_size=64, seed=42)
    assert again.parent.name == folder.parent.name
    folder_data = book.run_folder("r", "vit", dataset="/data/my photos/", size="tiny", epochs=1)
    assert folder_data.parent.name.startswith("my_photos-tiny-e1-all-b64")
    variants = {book.run_folder("r", "vit", dataset="sample", size="tiny", epochs=e, limit=n,
                                seed=s) for e in (1, 2) for n in (None, 10) for s in (0, 1)}
    assert len(variants) == 8
    with pytest.raises(ValueError):
        book.run_folder("r", "resnet", dataset="sample", size="tiny", epochs=1)
    with pytest.raises(ValueError, match="SIZE"):
        book.run_folder("r", "vit", dataset="sample", size="big", epochs=1)


def test_train_variant_trains_once_then_reuses_the_finished_run(tmp_path):
    from vitsd.data import load_dataset

    data = load_dataset("sample", limit=200)
    kwargs = dict(dataset="sample", size="tiny", epochs=1, limit=200, batch_size=64, seed=3,
                  runs_dir=tmp_path, verbose=0, data=data)
    first = book.train_variant("lsa", **kwargs)
    folder = book.run_folder(tmp_path, "lsa", dataset="sample", size="tiny", epochs=1,
                             limit=200, batch_size=64, seed=3)
    assert folder.parent.name.startswith("sample-tiny-e1-200-b64-s3-c")
    assert first["book"] == {"run_dir": folder.as_posix(), "reused": False}
    assert first["status"] == "complete" and first["epochs_completed"] == 1
    assert first["config"]["num_layers"] == book.TINY["num_layers"]
    assert first["dataset"]["limit"] == 200
    stamp = (folder / "model.keras").stat().st_mtime_ns
    again = book.train_variant("lsa", **kwargs)
    assert again["book"]["reused"] is True
    assert {k: v for k, v in again.items() if k != "book"} == json.loads(
        json.dumps({k: v for k, v in first.items() if k != "book"}))
    assert (folder / "model.keras").stat().st_mtime_ns == stamp
    card = book.run_card({"lsa": again}, environment=ENV, DATASET="sample")
    assert card.runs[0]["reused"] and "reused a finished run" in repr(card)


def test_importing_vitsd_book_does_not_import_a_backend():
    import subprocess
    import sys

    code = ("import sys, vitsd.book; "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_paper_config_sizes_and_its_run_folder():
    from vitsd.training.recipes import recipe

    assert book.paper_config("reference") == recipe("paper")
    tiny = book.paper_config("tiny", epochs=3)
    assert tiny.num_layers == 2 and tiny.pooling == "class_token" and tiny.epochs == 3
    with pytest.raises(ValueError, match="SIZE must be one of"):
        book.paper_config("huge")
    a = book.run_folder("runs", "sl-vit", dataset="sample", size="paper-tiny", epochs=3,
                        config=tiny)
    b = book.run_folder("runs", "sl-vit", dataset="sample", size="paper-tiny", epochs=3,
                        config=tiny.replace(stochastic_depth=0.0))
    assert a.name == "sl-vit" and "paper-tiny-e3" in a.parent.name and a != b


def test_run_card_notes_use_the_chapters_own_defaults():
    env = {"backend": "tensorflow", "device": "CPU"}
    card = book.run_card(environment=env, defaults={"EPOCHS": 100, "BATCH_SIZE": 128},
                         DATASET="cifar100", EPOCHS=100, BATCH_SIZE=128, LIMIT=None, SEED=42,
                         SIZE="reference")
    assert not any("Reduced run" in n for n in card.notes)
    card = book.run_card(environment=env, defaults={"EPOCHS": 100}, DATASET="cifar100",
                         EPOCHS=50)
    assert any("EPOCHS=50 instead of the defaults (EPOCHS=100)" in n for n in card.notes)


# ------------------------------------------------------ published: load, else train
def _summary_record(model, seed, top1, top5=0.9, seconds=600.0):
    return {"model": model, "config": {"seed": seed}, "test": {"top1": top1, "top5": top5},
            "parameters": {"total": 1000}, "timing": {"train_seconds": seconds}}


@pytest.fixture
def published_site(tmp_path, monkeypatch):
    """A tiny run published as ``cpu-vit-s3`` of dataset 'sample' in a temporary site."""
    from vitsd.config import Config
    from vitsd.data import load_dataset
    from vitsd.sharing import published
    from vitsd.training.runner import train

    tiny = dict(book.TINY, num_layers=1, projection_dim=16, key_dim=8, mlp_units=(32, 16),
                epochs=1)
    data = load_dataset("sample", limit=200)
    train("vit", out=tmp_path / "run", config=Config(**tiny), data=data, verbose=0)
    monkeypatch.setattr(published, "MANIFEST", tmp_path / "published.json")
    monkeypatch.setattr(published, "RESULTS_DIR", tmp_path / "results")
    published.publish_run(tmp_path / "run", "cpu-vit-s3", "sample")
    return tmp_path, data


def test_variant_runs_loads_what_is_published_and_trains_only_when_asked(published_site,
                                                                         monkeypatch):
    tmp_path, data = published_site
    calls = []
    monkeypatch.setattr(book_runs, "train_variant", lambda model, **kw: calls.append(model) or
                        {"model": model, "book": {"run_dir": "x", "reused": False}})
    assert book.published_seeds("vit", dataset="sample", size="cpu") == [3]
    runs = book.variant_runs("vit", dataset="sample", size="cpu", epochs=1)
    assert calls == [] and len(runs) == 1
    assert runs[0]["book"] == {"source": "published", "name": "cpu-vit-s3", "reused": True}
    model = book.variant_model(runs[0])
    assert model.predict(data.x_test[:4], verbose=0).shape == (4, len(data.class_names))
    # asked to train, or nothing published for that model/size: train
    assert book.variant_runs("vit", dataset="sample", size="cpu", epochs=1, train=True)[0][
        "book"]["source"] == "trained"
    book.variant_runs("sl-vit", dataset="sample", size="cpu", epochs=1)
    book.variant_runs("vit", dataset="sample", size="tiny", epochs=1)
    assert calls == ["vit", "sl-vit", "vit"]


def test_load_data_falls_back_to_keras_cifar10_without_the_jpeg_archive(monkeypatch, capsys):
    from vitsd import data as data_module

    seen = []

    def fake_load(name, limit=None, seed=42, **kw):
        seen.append(name)
        if name == "cifar10-jpeg":
            raise data_module.DatasetError("not found")
        return name

    monkeypatch.setattr(data_module, "load_dataset", fake_load)
    assert book.load_data("cifar10-jpeg") == "cifar10"
    assert seen == ["cifar10-jpeg", "cifar10"] and "keras.datasets" in capsys.readouterr().out
    with pytest.raises(data_module.DatasetError):
        monkeypatch.setattr(data_module, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(
            data_module.DatasetError("nope")))
        book.load_data("cifar100")


def test_example_index_prefers_a_horse_and_falls_back_to_the_first_image():
    from types import SimpleNamespace

    data = SimpleNamespace(class_names=["cat", "horse"], y_train=np.array([0, 0, 1, 1]))
    assert book.example_index(data) == 2
    assert book.example_index(SimpleNamespace(class_names=["a"], y_train=np.array([0]))) == 0
    # ("fox", 2): the third fox, or the last one where there are fewer.
    foxes = SimpleNamespace(class_names=["fox", "horse"], y_train=np.array([1, 0, 1, 0, 0, 0]))
    assert book.example_index(foxes) == 4
    assert book.example_index(foxes, prefer=(("fox", 9),)) == 5
    assert book.example_index(foxes, prefer=("fox",)) == 1


def test_chapter_timings_read_the_recorded_runs(tmp_path):
    meta = {"vitsd": {"run": {"seconds": 12.5, "date": "2026-11-21",
                              "parameters": {"DATASET": "cifar10-jpeg", "SIZE": "cpu",
                                             "EPOCHS": 10},
                              "environment": {"device": "CPU: X (2 cores)",
                                              "backend": "tensorflow",
                                              "backend_version": "2.21.0"}}}}
    (tmp_path / "01_data.ipynb").write_text(json.dumps({"metadata": meta, "cells": []}))
    (tmp_path / "02_patches.ipynb").write_text(json.dumps({"metadata": {}, "cells": []}))
    (tmp_path / "notes.ipynb").write_text("{}")
    rows = book.chapter_timings(tmp_path)
    assert [r["chapter"] for r in rows] == ["01_data", "02_patches"]
    assert rows[0] == {"chapter": "01_data", "seconds": 12.5, "dataset": "cifar10-jpeg",
                       "size": "cpu", "epochs": 10, "device": "CPU: X (2 cores)",
                       "backend": "tensorflow 2.21.0", "date": "2026-11-21"}
    assert rows[1]["seconds"] is None


def test_glue_stores_the_value_for_the_prose_and_is_a_no_op_without_myst_nb(monkeypatch):
    import builtins
    import sys

    calls = []
    fake = type(sys)("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    book.glue("tokens", 64)
    assert calls == [("tokens", 64, False)]
    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name == "myst_nb":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "myst_nb")
    monkeypatch.setattr(builtins, "__import__", no_myst)
    assert book.glue("tokens", 64) is None and len(calls) == 1


def test_figures_carry_their_smallest_font_for_the_browser_check(tmp_path):
    """The PNG a chapter shows records its smallest text (points) and dpi, which
    tools/browser_check.py turns into CSS pixels on the page."""
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.set_title("title", fontsize=12)
    ax.tick_params(labelsize=7.5)
    ax.text(0.5, 0.5, "", fontsize=3)  # empty text is not text a reader sees
    hidden = fig.add_subplot(2, 2, 4)
    hidden.set_title("hidden", fontsize=2)
    hidden.set_visible(False)
    png = display.figure_png(fig, dpi=120)
    info = Image.open(io.BytesIO(png)).text
    assert info["vitsd:dpi"] == "120" and info["vitsd:min_font_pt"] == "7.5"
    path = tmp_path / "f.png"
    path.write_bytes(png)
    spec = importlib.util.spec_from_file_location(
        "browser_check", Path(__file__).resolve().parents[2] / "tools" / "browser_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    width = Image.open(path).size[0]
    assert check.figure_text_px(path, width, width) == pytest.approx(7.5 * 120 / 72)


def test_show_source_can_leave_out_the_docstring_and_keeps_line_numbers_true():
    import re

    from vitsd.layers.lsa import LocalitySelfAttention

    method = LocalitySelfAttention  # a class: its docstring follows the class line
    full = book.show_source(method)
    short = book.show_source(method, docstring=False)
    doc = inspect.getdoc(method)
    assert doc and doc.splitlines()[0] in full.code and doc.splitlines()[0] not in short.code
    start, end = map(int, re.search(r"lines (\d+)-(\d+)", full.location).groups())
    first, last = map(int, re.search(r"docstring, lines (\d+)-(\d+)", short.location).groups())
    file_lines = Path(inspect.getsourcefile(method)).read_text().splitlines()
    # What is shown is the file's lines start..end minus first..last, verbatim.
    expected = file_lines[start - 1:first - 1] + file_lines[last:end]
    assert short.code.splitlines() == expected
    assert full.url == (f"https://github.com/vitsd/vitsd/blob/v{vitsd.__version__}/"
                        f"vitsd/layers/lsa.py#L{start}-L{end}")
    assert f'href="{full.url}"' in full._repr_html_()
    # An object without a docstring is shown whole, and says nothing about one.
    def plain():
        return 1
    assert "docstring" not in book.show_source(plain, docstring=False).location


def _one_line_doc():
    """One line."""
    return 1


def test_show_source_names_a_single_line_as_one_line():
    shown = book.show_source(_one_line_doc, docstring=False)
    start = inspect.getsourcelines(_one_line_doc)[1]
    assert shown.location.endswith(f", lines {start}-{start + 2} (docstring, line {start + 1}, "
                                   "left out)"), shown.location
    assert shown.code.splitlines() == ["def _one_line_doc():", "    return 1"]
