"""The book: the committed chapters, the build script, the chapters that load or train
on the dataset executed with papermill on the ``sample`` dataset (into a temporary
folder; SAMPLE_EPOCHS), and the HTML build.

The slow tests are marked ``book`` (``pytest -m book``; ``-m "not book"`` skips them).
The committed outputs themselves are checked by re-execution with nbval::

    pytest --nbval-lax book/ -p no:cacheprovider
"""

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from vitsd import book

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO = CONFIG["repository"]["url"]

#: The reduced run of the papermill test: small, but enough for SL-ViT to beat chance.
TEST_EPOCHS, TEST_LIMIT = 4, 1000
#: The chapters the papermill test executes on ``sample`` (the offline reader's path), with
#: their EPOCHS: the data chapter and those that train (4 and 6 train the four variants,
#: 7 reads them, 8 trains the paper recipe -- two epochs suffice for its checks, and each
#: of its epochs is three augmented passes). The others do not depend on the dataset
#: beyond one photo: their numbers are checked on the committed chapters below, which
#: nbval re-executes on the real data (their checked cells show the same numbers).
SAMPLE_EPOCHS = {"01_data": TEST_EPOCHS, "04_locality_self_attention": TEST_EPOCHS,
                 "06_training": TEST_EPOCHS, "07_looking_inside": TEST_EPOCHS,
                 "08_going_further": 2}


@pytest.fixture(scope="module")
def build_book(load_tool):
    return load_tool("build_book")


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _tags(cell):
    return cell.metadata.get("tags", [])


def _assignments(source: str, env: dict | None = None) -> dict:
    """The names a parameters cell assigns, evaluated."""
    namespace = {}
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        exec(compile(source, "<cell>", "exec"), {}, namespace)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {k: v for k, v in namespace.items() if k.isupper()}


def test_there_are_ten_chapters_all_in_the_toc():
    assert [p.stem[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(10)]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc["chapters"]]
    assert files == [f"book/{p.stem}" for p in CHAPTERS] + ["book/references"]


def test_config_renders_committed_outputs_with_colab_and_bibliography():
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["html"]["use_repository_button"] is True
    assert CONFIG["bibtex_bibfiles"] == ["book/references.bib"]
    for excluded in ("_build", "runs", "tests", "README.md"):
        assert excluded in CONFIG["exclude_patterns"]
    assert "{bibliography}" in (BOOK / "references.md").read_text()


def test_every_cited_key_is_in_the_bibliography():
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    cited = set()
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", cell.source):
                    cited |= {k.strip() for k in group.split(",")}
    assert cited and cited <= keys, cited - keys
    assert keys <= cited, f"uncited entries: {keys - cited}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_chapter_is_colab_ready_parameterised_and_clean(build_book, path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    title = nb.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    badge = re.compile(r"https://colab\.research\.google\.com/github/vitsd/vitsd/blob/"
                       r"[\w.\-]+/book/" + re.escape(path.name))
    assert badge.search(title.source) and "colab-badge.svg" in title.source
    assert REPO == "https://github.com/vitsd/vitsd"

    code = _code_cells(nb)
    install = code[0]
    assert _tags(install) == ["remove-cell"]
    assert 'if "google.colab" in sys.modules:' in install.source
    assert f'"git+{REPO}@' in install.source  # tests/test_colab_install.py runs it
    assert not install.outputs

    params = code[1]
    assert _tags(params) == ["parameters"]
    defaults = _assignments(params.source)
    assert {"DATASET", "EPOCHS", "LIMIT", "BATCH_SIZE", "SEED"} <= set(defaults)
    real = {**book.DEFAULTS, **book.CHAPTER_DEFAULTS.get(path.stem, {})}
    assert defaults == {k: real[k] for k in defaults}  # the real thing

    # The recorded execution: metadata, and the hidden cell that replays its parameters.
    run = nb.metadata["vitsd"]["run"]
    assert run["command"].startswith("python tools/build_book.py")
    # The build passes its run parameters; a chapter's extra ones keep their defaults.
    extra = set(book.CHAPTER_DEFAULTS.get(path.stem, {})) - set(book.DEFAULTS)
    assert set(run["parameters"]) == set(defaults) - extra
    assert run["environment"]["keras"] and run["environment"]["device"]
    injected = code[2]
    assert _tags(injected) == ["injected-parameters", "remove-cell"]
    assert _assignments(injected.source) == {}  # opened anywhere else: the defaults apply
    assert _assignments(injected.source, {build_book.REPLAY_VARIABLE: "1"}) == run["parameters"]

    # One clean execution: no papermill metadata, no errors, no stderr, no stale outputs.
    assert "papermill" not in nb.metadata
    counts = []
    for cell in code:
        assert not {"execution", "papermill"} & set(cell.metadata), cell.id
        for output in cell.outputs:
            assert output.output_type != "error", cell.source
            assert not (output.output_type == "stream" and output.name == "stderr"), output.text
        if cell is not install:
            assert cell.execution_count is not None, cell.source
            counts.append(cell.execution_count)
    assert counts == sorted(counts) and len(set(counts)) == len(counts)

    card = book.read_records(nb)["run_card"]
    assert card["parameters"].items() <= run["parameters"].items()
    assert card["environment"] == run["environment"]
    if path.stem[:2] != "01":
        assert any("nbval-check-output" in _tags(c) for c in code), "no nbval-checked cell"
    # nbval reads the cell tag; the comment form would show in the rendered code.
    assert not any("NBVAL_CHECK_OUTPUT" in c.source for c in code)


def test_committed_chapters_record_the_expected_numbers():
    records = {p.stem[:2]: book.read_records(p) for p in CHAPTERS}
    assert records["02"]["num_patches"] == 144 and records["02"]["patch_values"] == 108
    assert records["03"]["spt_patch_values"] == 540
    assert records["04"]["lsa_diagonal_max"] == 0.0
    params = records["05"]["parameters"]
    assert params["vit"] == {"trainable": 21759012, "non_trainable": 7, "total": 21759019}
    assert params["sl-vit"] == {"trainable": 21787748, "non_trainable": 7, "total": 21787755}
    offline = nbformat.read(BOOK / "06_training.ipynb", as_version=4).metadata["vitsd"]["run"]
    assert set(records["06"]["epochs"].values()) == {offline["parameters"]["EPOCHS"]}
    assert records["07"]["same_predictions"] is True
    # LSA masks the diagonal: every block of every seed gives itself nothing
    assert {v for seed in records["07"]["self_share"]["sl-vit"] for v in seed} == {0.0}
    assert records["08"]["paper_parameters"]["sl-vit"] == 2747248  # the official code's, 2.75M
    assert records["08"]["token_shapes"] == {"patches": [1, 64, 192], "spt": [1, 64, 192],
                                             "conv": [1, 64, 192]}


def _resolve(name: str, cell_source: str):
    """The object ``name`` (dotted, or imported in the cell with ``from M import name``)."""
    imported = dict((n, m) for m, n in re.findall(r"from ([\w.]+) import (\w+)", cell_source))
    first = name.split(".")[0]
    if first in imported:  # `from vitsd.training import runner`, then runner.train
        name = f"{imported[first]}.{name}"
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(name)


def test_the_source_the_chapters_show_is_the_current_source():
    """Chapters display vitsd's real source: the committed outputs must show today's
    code. If this fails, re-execute the chapter: python tools/build_book.py --chapters N"""
    shown, stale = 0, []
    for path in CHAPTERS:
        cells = _code_cells(nbformat.read(path, as_version=4))
        for index, cell in enumerate(cells):
            match = re.search(r"^book\.show_source\(([\w.]+)(?:, docstring=(True|False))?"
                              r"(?:, statement=\"([^\"]+)\")?\)$", cell.source, re.M)
            if not match:
                continue
            shown += 1
            earlier = "\n".join(c.source for c in cells[:index + 1])  # imports above it
            current = repr(book.show_source(_resolve(match.group(1), earlier),
                                            docstring=match.group(2) != "False",
                                            statement=match.group(3)))
            output = cell.outputs[0]["data"]["text/plain"]
            if output.rstrip() != current.rstrip():
                stale.append(f"{path.stem}: {match.group(1)}")
    assert shown >= 12
    assert not stale, "stale source in the committed chapters (rebuild them): " + ", ".join(stale)


# ------------------------------------------------------------------ build script
def test_bigger_recorded_runs_are_protected(build_book):
    offline = {"DATASET": "sample", "EPOCHS": 6, "LIMIT": 1500, "SIZE": "tiny"}
    assert build_book.bigger_reasons(offline, offline) == []
    assert build_book.bigger_reasons(offline, {**offline, "EPOCHS": 10, "LIMIT": None}) == []
    assert build_book.bigger_reasons(offline, {**offline, "DATASET": "cifar100"}) == []
    real = {"DATASET": "cifar100", "EPOCHS": 50, "LIMIT": None, "SIZE": "reference"}
    reasons = build_book.bigger_reasons(real, offline)
    assert len(reasons) == 4 and "DATASET='cifar100'" in reasons[0]
    assert build_book.bigger_reasons(real, {**real, "EPOCHS": 49}) == [
        "it ran EPOCHS=50, this build 49"]
    assert build_book.bigger_reasons(offline, {**offline, "LIMIT": 1000}) == [
        "it used LIMIT=1500, this build 1000"]


def test_build_refuses_to_overwrite_a_bigger_run_and_says_so(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    nb = nbformat.read(BOOK / "02_patches.ipynb", as_version=4)
    nb.metadata["vitsd"]["run"]["parameters"].update(DATASET="cifar100", EPOCHS=50, LIMIT=None)
    target = out / "02_patches.ipynb"
    nbformat.write(nb, target)
    before = target.read_bytes()
    result = subprocess.run(
        [sys.executable, "tools/build_book.py", "--chapters", "2", "--out", str(out),
         "--no-html"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Refusing to overwrite" in result.stderr and "--force" in result.stderr
    assert "DATASET='cifar100'" in result.stderr and "EPOCHS=50" in result.stderr
    assert target.read_bytes() == before


def test_build_options(build_book, tmp_path):
    args = build_book.parse_args(["--chapters", "6", "7", "--limit", "none", "--force",
                                  "--out", str(tmp_path), "--no-html", "--size", "reference"])
    assert args.chapters == ["6", "7"] and args.limit is None and args.force and args.no_html
    assert [p.name for p in build_book.chapters(["7", "06_training"])] == [
        "06_training.ipynb", "07_looking_inside.ipynb"]
    with pytest.raises(build_book.BuildError, match="no chapter '10'"):
        build_book.chapters(["10"])
    params = build_book.chapter_parameters(
        BOOK / "06_training.ipynb", {"DATASET": "sample", "EPOCHS": 1, "SIZE": "tiny"},
        BOOK, ROOT / "runs" / "x")
    assert params == {"DATASET": "sample", "EPOCHS": 1, "SIZE": "tiny", "RUNS_DIR": "../runs/x"}
    assert "SIZE" not in build_book.chapter_parameters(
        BOOK / "02_patches.ipynb", {"SIZE": "tiny"}, BOOK, ROOT / "runs")


def test_tensorflow_noise_is_stripped_and_other_stderr_kept(build_book):
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795265095.352320    9131 port.cc:153] oneDNN custom operations are on. "
        "You may see slightly different numerical results.\n"
        "I0000 00:00:1795265095.392227    9131 cpu_feature_guard.cc:227] This TensorFlow "
        "binary is optimized to use available CPU instructions in performance-critical "
        "operations.\n"
        "To enable the following instructions: AVX2 AVX512F FMA, in other operations, "
        "rebuild TensorFlow with the appropriate compiler flags.\n"
    )
    error = "E0000 00:00:1795265095.352320    9131 cuda.cc:12] real error\n"
    kept, removed = build_book.strip_noise(noise + "UserWarning: something real\n" + error)
    assert kept == "UserWarning: something real\n" + error
    assert len(removed) == 4
    assert build_book.strip_noise("I0000 00:00:1795265095.1 12 some_other.cc:7] info\n")[0] == ""


def test_clean_removes_papermill_metadata_and_noise_and_records_the_run(build_book):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 1.0}
    params = nbformat.v4.new_code_cell("DATASET = 'cifar100'")
    params.metadata.update(tags=["parameters"], papermill={"duration": 0.1})
    injected = nbformat.v4.new_code_cell("# Parameters\nDATASET = 'sample'\n")
    injected.metadata.update(tags=["injected-parameters"], execution={"iopub": "x"})
    work = nbformat.v4.new_code_cell("print(1)")
    work.metadata["tags"] = []
    work.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="W0000 00:00:1795265095.352320    9131 x.cc:12] y\n"
        ),
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "card"},
            metadata={book.RECORD_KEY: {"run_card": {"environment": {"keras": "3"}}}},
        ),
    ]
    nb.cells = [params, injected, work]
    kept = build_book.clean(nb, {"DATASET": "sample"}, "python tools/build_book.py", 12.34)
    assert kept == []
    assert "papermill" not in nb.metadata
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in nb.cells)
    assert "tags" not in work.metadata
    assert [o.get("text") for o in work.outputs[:1]] == ["a\nb\n"]  # noise gone, streams merged
    assert injected.id == "injected-parameters"
    assert injected.metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert 'if os.environ.get("VITSD_BOOK_REPLAY"):' in injected.source
    assert "    DATASET = 'sample'" in injected.source
    run = nb.metadata["vitsd"]["run"]
    assert run["parameters"] == {"DATASET": "sample"} and run["environment"] == {"keras": "3"}
    assert run["seconds"] == 12.3 and run["command"] == "python tools/build_book.py"


# ------------------------------------------------------------- executed chapters
def _digest(folder: Path) -> dict:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.ipynb"))
    }


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The chapters of SAMPLE_EPOCHS executed by the build script on `sample`, tiny
    model, into a temporary folder: ``(folder, seconds)``. book/ must stay untouched."""
    tmp = tmp_path_factory.mktemp("book")
    out, runs = tmp / "book", tmp / "runs"
    before = _digest(BOOK)
    start = time.perf_counter()
    by_epochs = {}
    for stem, epochs in SAMPLE_EPOCHS.items():
        by_epochs.setdefault(epochs, []).append(stem)
    for epochs, stems in by_epochs.items():
        result = subprocess.run(
            [sys.executable, "tools/build_book.py", "--chapters", *stems, "--out", str(out),
             "--runs-dir", str(runs), "--epochs", str(epochs), "--limit", str(TEST_LIMIT),
             "--no-html"],
            cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    seconds = time.perf_counter() - start
    assert _digest(BOOK) == before, "the test build wrote into book/"
    return out, seconds


def _records(executed, stem):
    return book.read_records(executed[0] / f"{stem}.ipynb")


@pytest.mark.book
def test_sample_chapters_ran_cleanly_with_the_test_parameters(executed):
    out, seconds = executed
    assert sorted(p.stem for p in out.glob("*.ipynb")) == sorted(SAMPLE_EPOCHS)
    assert set(SAMPLE_EPOCHS) <= {p.stem for p in CHAPTERS}
    for path in sorted(out.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        run = nb.metadata["vitsd"]["run"]
        assert run["parameters"]["DATASET"] == "sample"
        assert run["parameters"]["EPOCHS"] == SAMPLE_EPOCHS[path.stem]
        card = book.read_records(nb)["run_card"]
        assert card["parameters"]["DATASET"] == "sample"
        assert any("synthetic 'sample' dataset" in n for n in card["notes"])
        for cell in _code_cells(nb):
            for output in cell.outputs:
                assert output.output_type != "error"
                assert not (output.output_type == "stream" and output.name == "stderr"), output.text
    print(f"papermill: {len(SAMPLE_EPOCHS)} chapters in {seconds:.0f} s")


@pytest.mark.book
def test_chapter_1_data(executed):
    r = _records(executed, "01_data")
    assert r["num_classes"] == 10 and r["train_size"] == TEST_LIMIT
    assert r["test_size"] == min(TEST_LIMIT, 1000) and r["image_shape"] == [32, 32, 3]
    assert r["preprocessed_shape"] == [72, 72, 3] and r["augmented_shape"] == [72, 72, 3]
    # A stratified 10% for validation; sample has no superclasses: one photo per class.
    assert r["fit_size"] + r["validation_size"] == r["train_size"]
    assert r["validation_size"] == round(0.1 * r["train_size"])
    assert r["superclasses"] == 0 and r["gallery_size"] == 10


# Chapters 2, 3 and 5 use the dataset for one photo only: their numbers are checked on
# the committed chapters (whose checked cells nbval compares after re-executing them).
def _committed_records(stem):
    return book.read_records(BOOK / f"{stem}.ipynb")


def test_chapter_2_patches():
    r = _committed_records("02_patches")
    assert (r["num_patches"], r["patch_values"], r["grid_size"]) == (144, 108, 12)
    assert r["token_shape"] == [1, 144, 64] and r["patch0_is_top_left"] is True
    assert r["encoder_parameters"] == 108 * 64 + 64 + 144 * 64


def test_chapter_3_shifted_patch_tokenization():
    r = _committed_records("03_shifted_patch_tokenization")
    assert r["views_shape"] == [1, 72, 72, 15]
    assert (r["spt_patch_values"], r["vanilla_patch_values"], r["num_patches"]) == (540, 108, 144)
    assert r["spt_tokens"] == r["vanilla_tokens"] == "(1, 144, 64)"
    assert r["spt_parameters"] == 540 * 2 + 540 * 64 + 64 and r["vanilla_parameters"] == 6976


@pytest.mark.book
def test_chapter_4_locality_self_attention(executed):
    r = _records(executed, "04_locality_self_attention")
    assert r["num_tokens"] == 64 and r["heads"] == 4  # the CPU preset: 8x8 patches
    assert r["same_weights"] is True
    assert r["lsa_diagonal_max"] == 0.0 and r["sharp_diagonal_max"] == 0.0
    assert r["lsa_row_sum_max_error"] < 1e-5
    assert r["plain_diagonal_min"] > 0.0
    e = r["entropies"]
    assert e["lsa_sharp"] < e["lsa_initial"] < 4.1432  # log 63: uniform over the others


def test_chapter_5_model():
    from vitsd.inspection import budget

    r = _committed_records("05_model")
    assert r["parameters"]["vit"] == {"trainable": 21759012, "non_trainable": 7, "total": 21759019}
    assert r["parameters"]["sl-vit"] == {"trainable": 21787748, "non_trainable": 7,
                                         "total": 21787755}
    assert r["spt_extra"] == (540 - 108) * 64 + 2 * 540 and r["lsa_extra"] == 8
    # The model of chapters 6 and 7 at the test's SIZE, counted by Keras and by hand.
    config = book.config_for(r["size"])
    for name in book.VARIANTS:
        assert r["run_parameters"][name]["total"] == budget.parameter_budget(config, name)["total"]
    blocks = [row for row in r["layer_rows"] if row["copies"] > 1]
    assert blocks == [{"layer": f"block_0 to block_{config.num_layers - 1}",
                       "copies": config.num_layers,
                       "parameters": budget.parameter_budget(config, "sl-vit")["blocks"]}]
    total = r["run_parameters"]["sl-vit"]["total"]
    assert sum(row["parameters"] for row in r["layer_rows"]) == total
    assert r["same_as_predict"] == {"model(images)": True, "model(images, training=False)": True,
                                    "model(images, training=True)": False}


@pytest.mark.book
def test_chapter_6_training(executed):
    r = _records(executed, "06_training")
    assert r["models"] == list(book.VARIANTS) and r["dataset"] == "sample"
    assert r["epochs"] == dict.fromkeys(book.VARIANTS, TEST_EPOCHS)
    assert r["history_lengths"] == dict.fromkeys(book.VARIANTS, TEST_EPOCHS)
    assert r["status"] == dict.fromkeys(book.VARIANTS, "complete")
    assert r["test_top1"]["sl-vit"] > 1 / r["num_classes"], r["test_top1"]
    for name, folder in r["run_dirs"].items():
        assert (executed[0] / folder / "run.json").is_file(), name
    # no published CNN baseline on sample; every variant against vanilla ViT, with an
    # interval around its difference (one trained seed each: the test images' noise)
    assert r["baseline"] == {}
    assert set(r["differences"]) == {"spt", "lsa", "sl-vit"}
    for name, (difference, low, high) in r["differences"].items():
        assert low <= difference <= high and high - low > 0, name
    assert [row[0] for row in r["sizes"]["sample (synthetic)"]] == [r["train_images"]]


@pytest.mark.book
def test_chapter_7_looking_inside(executed):
    r = _records(executed, "07_looking_inside")
    assert r["reused"] is True  # the sl-vit run of chapter 6, found by its parameters
    assert r["seeds"] == {"vit": [42], "sl-vit": [42]} and r["shown_seed"] == 42
    assert r["agreement"] == {"vit": 1.0, "sl-vit": 1.0}  # correctness from predictions
    assert r["same_predictions"] is True and r["max_abs_logit_difference"] < 1e-5
    assert abs(r["loaded_top1"] - r["record_top1"]) < 1e-3
    gap = r["gap"]
    assert gap["low"] <= gap["difference"] <= gap["high"] and gap["seeds_a"] == 1
    assert r["pair_gaps"] == {"42": pytest.approx(100 * gap["difference"])}
    # sample has no superclasses: one group per class, each with its interval
    assert len(r["groups"]) == 10 and sum(g["images"] for g in r["groups"]) == gap["images"]
    assert all(g["low"] <= g["difference"] <= g["high"] for g in r["groups"])
    assert 1 <= r["shown"] <= 4  # one image per kind of (dis)agreement
    assert r["maps_shape"] == [r["shown"], 8, 8]  # tiny model: 32 / 4 = 8x8 patches
    assert r["flat_images"] == 500
    assert all(10 <= v <= 100 for vs in r["flatness"].values() for v in vs)  # 10%: flat
    layers = book.TINY["num_layers"]
    assert len(r["temperatures"]["42"]) == layers
    assert r["decay_only"]["42"] < book.TINY["key_dim"] ** 0.5  # decay only ever shrinks it
    assert r["self_share"]["sl-vit"] == [[0.0] * layers]  # LSA's mask
    assert all(v > 0 for v in r["self_share"]["vit"][0])


@pytest.mark.book
def test_chapter_8_going_further(executed):
    r = _records(executed, "08_going_further")
    assert r["paper_parameters"]["sl-vit"] == 2747248  # trainable, as the official code
    run = r["paper_run"]
    assert run["status"] == "complete" and run["epochs"] == SAMPLE_EPOCHS["08_going_further"]
    assert run["soft_labels"] is True and 0.0 <= run["test_top1"] <= 1.0
    # the built model and training code agree with the official code but for the protocol
    assert r["recipe_disagrees"] == ["Evaluation"]
    assert len(set(r["demo_classes"])) == len(r["demo_classes"]) == 3  # different classes
    from vitsd.sharing import published

    assert r["published"] == {d: len(published.published_runs(d))
                              for d in {n.split("/")[0] for n in published.published_runs()}}


# ------------------------------------------------------------------------- HTML
@pytest.fixture(scope="module")
def html_book(tmp_path_factory):
    """The committed chapters built into HTML (nothing executed), in a temporary folder:
    ``(html_dir, seconds)``. Built once for the HTML test and the browser check."""
    out = tmp_path_factory.mktemp("html")
    start = time.perf_counter()
    result = subprocess.run(
        ["jupyter-book", "build", str(ROOT), "-W", "--keep-going", "--path-output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out / "_build" / "html", seconds


@pytest.mark.book
def test_html_build_has_every_chapter_with_its_figures(html_book, load_tool):
    html_dir, seconds = html_book
    release = load_tool("pin_release").release()
    for path in CHAPTERS:
        page = (html_dir / "book" / f"{path.stem}.html").read_text(encoding="utf-8")
        images = re.findall(r'<img[^>]+src="(?:data:image/png;base64,|\.\./_images/)', page)
        if path.stem[:2] not in ("00", "09"):  # the introduction and the running page
            assert images, f"{path.stem}: no figure"
        # the Colab launch button of Jupyter Book (at the release the badges pin, see
        # tools/pin_release.py), and the hidden cells stay hidden
        assert f"colab.research.google.com/github/vitsd/vitsd/blob/{release}/book/{path.name}" \
            in page
        assert "google.colab" not in page and "VITSD_BOOK_REPLAY" not in page
        # no test plumbing on the page: nbval comments, record lines, replay cells (cell
        # tags such as nbval-check-output only become CSS classes, which nobody sees)
        for plumbing in ("NBVAL_CHECK_OUTPUT", "recorded for the book's tests",
                         "Parameters of the recorded execution"):
            assert plumbing not in page, (path.stem, plumbing)
        assert "Run card" in page
    references = (html_dir / "book" / "references.html").read_text(encoding="utf-8")
    assert "Vision Transformer for Small-Size Datasets" in references  # cited, title kept
    assert (html_dir / "index.html").is_file()
    print(f"jupyter-book build: {seconds:.0f} s")


#: Where the browser check's screenshots of the built book are kept (ignored by git;
#: CI uploads the folder as an artifact).
SCREENSHOTS = ROOT / "_build" / "screenshots"


@pytest.mark.book
def test_the_built_book_reads_well_in_a_real_browser(html_book, load_tool):
    """tools/browser_check.py on the committed book's HTML: every chapter page at 1280
    and 390 CSS px in headless Chromium -- no output, table or figure wider than the
    content column, no empty toggle, figure text >= 9 CSS px. The screenshots are kept
    in _build/screenshots/. Without Chromium (or selenium) the test skips, except in CI
    (``CI`` set), where .ci/run installs it and a missing browser fails."""
    html_dir, _ = html_book
    browser_check = load_tool("browser_check")
    if not (browser_check.find(browser_check.CHROMIUM) and browser_check.find(browser_check.DRIVER)
            and importlib.util.find_spec("selenium")):
        reason = ("the browser check needs Chromium, its driver and selenium "
                  "(apt-get install chromium chromium-driver; pip install selenium)")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: .ci/run and requirements.txt install them in CI")
        pytest.skip(reason)
    shots = html_dir.parent / "screenshots"
    start = time.perf_counter()
    problems = browser_check.check(html_dir, shots)
    seconds = time.perf_counter() - start
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    for shot in sorted(shots.glob("*.png")):
        shutil.copy2(shot, SCREENSHOTS / shot.name)
    pages = len(browser_check.pages(html_dir))
    assert not problems, (
        f"{len(problems)} problems a reader meets on {pages} pages at 1280 and 390 px "
        f"(page@width: what, where; screenshots in {SCREENSHOTS}):\n  " + "\n  ".join(problems))
    print(f"browser check: {pages} pages x 2 widths in {seconds:.0f} s; screenshots in "
          f"{SCREENSHOTS}")


def test_every_chapter_is_pinned_to_the_release_and_training_chapters_ask_for_a_gpu(load_tool):
    """Install cell and Colab badge point at the one release set in pyproject.toml
    (tools/pin_release.py writes them); chapters 6-8 ask Colab for a GPU runtime."""
    pin = load_tool("pin_release")
    tag = pin.release()
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag)
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        assert pin.targets(nb) == {tag}, path.name
        wants_gpu = path.stem in pin.GPU_CHAPTERS
        assert (nb.metadata.get("accelerator") == "GPU") == wants_gpu, path.name
    assert set(pin.GPU_CHAPTERS) <= {p.stem for p in CHAPTERS}
    # the launch button and the published-run downloads follow the same release
    assert pin.config_branch((ROOT / "_config.yml").read_text()) == tag
    from vitsd.sharing import published

    assert f"/{tag}/results/" in published.BASE_URL


def test_committed_real_chapters_load_published_runs_with_seeds():
    """Chapters 6 and 7, when recorded on a real dataset (CIFAR-100, or the CIFAR-10
    photos), show the published runs, nothing retrained in the notebook: every variant
    with at least two seeds (the spread) wherever two are published, and the CNN
    baseline wherever it is published."""
    run = nbformat.read(BOOK / "06_training.ipynb", as_version=4).metadata["vitsd"]["run"]
    dataset, size = run["parameters"]["DATASET"], run["parameters"]["SIZE"]
    if dataset not in ("cifar100", "cifar10-jpeg"):
        pytest.skip("chapter 6 is recorded on another dataset")
    six = book.read_records(BOOK / "06_training.ipynb")
    assert six["models"] == list(book.VARIANTS)
    for name in book.VARIANTS:
        assert set(six["sources"][name]) == {"published"}, name
        published_seeds = book.published_seeds(name, dataset=dataset, size=size)
        assert set(six["seeds"][name]) <= set(published_seeds), name
        if len(published_seeds) >= 2:
            assert len(six["seeds"][name]) >= 2, f"{name}: re-render, more seeds are published"
    if book.published_seeds("resnet20", dataset=dataset, size=size):
        assert six["baseline"].get("resnet20"), "the published CNN baseline is not shown"
    seven = book.read_records(BOOK / "07_looking_inside.ipynb")
    assert seven["source"] == "published" and seven["same_predictions"] is True
    assert abs(seven["loaded_top1"] - seven["record_top1"]) < 2e-3  # float16 weights
    for name in ("vit", "sl-vit"):  # every published seed, its published correctness
        assert seven["seeds"][name] == book.published_seeds(name, dataset=dataset, size=size)
        assert seven["agreement"][name] > 0.999  # the files match the models' predictions


def test_chapter_7_prose_matches_its_recorded_numbers():
    """Chapter 7's prose reads its numbers (written by someone who read them); a
    re-render on other runs must not leave it saying the opposite. Each claim of the
    text, checked against what the chapter recorded -- and the overall interval against
    the published per-image files themselves."""
    run = nbformat.read(BOOK / "07_looking_inside.ipynb", as_version=4).metadata["vitsd"]["run"]
    if run["parameters"]["DATASET"] != "cifar100":
        pytest.skip("chapter 7 is recorded on another dataset")
    seven = book.read_records(BOOK / "07_looking_inside.ipynb")
    gap = seven["gap"]
    names = {m: [book.published_name(m, "cpu", s) for s in seven["seeds"][m]]
             for m in ("vit", "sl-vit")}
    ci = book.difference_ci(book.load_correctness("cifar100", names["sl-vit"]),
                            book.load_correctness("cifar100", names["vit"]))
    assert ci["difference"] == pytest.approx(gap["difference"])
    assert ci["low"] == pytest.approx(gap["low"]) and ci["high"] == pytest.approx(gap["high"])
    assert gap["high"] < 0  # "behind, by an interval that excludes zero"
    pairs = seven["pair_gaps"]
    shown = pairs[str(seven["shown_seed"])]
    assert abs(shown) == max(abs(v) for v in pairs.values())  # "the widest of the pairs"
    assert 1.8 < shown / (100 * gap["difference"]) < 2.3  # "twice the mean gap"
    overall = 100 * gap["difference"]
    groups = seven["groups"]  # sorted, SL-ViT ahead first
    misses = [g["group"] for g in groups if not g["low"] <= overall <= g["high"]]
    assert len(misses) == 3 and len(groups) == 20  # "most contain it", "three miss it"
    assert groups[-1]["high"] < overall  # the worst group: "wholly below the overall gap"
    for top in groups[:2]:  # "wholly above the overall gap, though both include zero"
        assert overall < top["low"] < 0 < top["high"]
    assert groups[-2]["low"] < overall < groups[-2]["high"] < 0  # "excludes zero but not"
    flat = seven["flatness"]
    assert max(flat["sl-vit"]) < min(flat["vit"])  # "every SL-ViT seed below every ViT"
    means = {m: sum(v) / len(v) for m, v in flat.items()}
    assert 0.5 < means["vit"] - means["sl-vit"] < 2  # "small"
    first = [seed[0] for seed in seven["self_share"]["vit"]]
    last = [seed[-1] for seed in seven["self_share"]["vit"]]
    assert min(first) > 1.5 and 0.8 < min(last) <= max(last) < 1.1  # "about like any other"
    start = 4.0  # sqrt(key_dim = 16)
    for seed, values in seven["temperatures"].items():
        decay = seven["decay_only"][seed]
        assert max(values) < start and decay < start
        beyond = [t - decay for t in values]
        assert beyond.index(min(beyond)) == len(beyond) - 1  # "largest in the last block"
        assert abs(min(beyond)) < (start - decay) / 2  # "most of the fall is decay"
    beyond = [t - seven["decay_only"][s] for s, v in seven["temperatures"].items() for t in v]
    assert sum(b < 0 for b in beyond) > len(beyond) / 2  # "mostly negative"


def test_chapter_6_prose_matches_its_recorded_intervals():
    """Chapter 6's prose states what each interval says (written by someone who read
    them); a re-render on other runs must not leave it saying the opposite. Each claim
    of the text, checked against the intervals the chapter recorded."""
    run = nbformat.read(BOOK / "06_training.ipynb", as_version=4).metadata["vitsd"]["run"]
    if run["parameters"]["DATASET"] != "cifar100":
        pytest.skip("chapter 6 is recorded on another dataset")
    six = book.read_records(BOOK / "06_training.ipynb")
    diff = six["differences"]
    assert diff["spt"][2] < 0 and diff["sl-vit"][2] < 0  # "both intervals exclude zero"
    assert diff["lsa"][1] < 0 < diff["lsa"][2]  # "cannot tell it apart from vanilla ViT"
    assert diff["resnet20"][1] > 5  # "far ahead", "use a CNN"
    zero = book.read_records(BOOK / "00_introduction.ipynb")  # chapter 0 says the same
    found = zero["findings"]
    assert found["spt"][2] < 0 and found["sl-vit"][2] < 0 and found["resnet20"][1] > 5
    assert found["lsa"][1] < 0 < found["lsa"][2]
    assert zero["cifar10_smallest"][0] == 4050 and zero["cifar10_smallest"][2] > 0
    c100 = six["sizes"]["CIFAR-100"]
    assert c100[0][0] == 9000 and c100[0][2] > 0  # a fifth of the images: "SL-ViT is ahead"
    assert six["smallest_seeds"] == {"vit": 1, "sl-vit": 1}  # "one seed of each so far"
    assert c100[-1][0] == 45000 and c100[-1][3] < 0  # all of them: "behind"
    assert zero["cifar100_smallest"][0] == 9000 and zero["cifar100_smallest"][2] > 0
    c10 = six["sizes"]["CIFAR-10 (JPEG)"]
    assert [row[0] for row in c10] == [4050, 12150, 40500]
    assert c10[0][2] > 0  # smallest: "SL-ViT is ahead"
    assert c10[1][2] < 0 < c10[1][3]  # middle: "cannot be told apart"
    assert c10[2][1] < 0 and c10[2][2] < 0  # whole pool: "behind, or at best level"


def test_every_glued_number_in_the_prose_is_an_output_of_its_chapter():
    """Numbers in the prose come from outputs: each {glue:...}`name` role of a chapter's
    markdown names a value its code cells glued, whose recorded text is not empty."""
    used = 0
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        glued = {}
        for cell in _code_cells(nb):
            for output in cell.outputs:
                scrap = output.get("metadata", {}).get("scrapbook")
                if scrap:
                    glued[scrap["name"]] = "".join(
                        v for k, v in output.get("data", {}).items() if k.endswith("text/plain"))
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for name in re.findall(r"\{glue(?::\w+)?\}`([^`:]+)", cell.source):
                used += 1
                assert name in glued, f"{path.stem}: {name} is used in the prose, never glued"
                assert glued[name].strip(), f"{path.stem}: {name} was glued empty"
    assert used >= 50
