"""vitsd as readers install it: a wheel from a clean copy, without the checkout.

    python tools/check_install.py            # part of tools/test.sh
    python tools/check_install.py --keep     # keep the temporary folder, print its path

1. Copies the tree as a clean clone has it (tracked and not-ignored files only), builds
   the wheel and the sdist from the copy (``python -m build``), and checks their
   contents: every module of ``vitsd/`` and every data file it reads at run time
   (``published.json``), no tests, results or notebooks in the wheel.
2. Installs the wheel -- not editable -- into a fresh virtual environment whose other
   packages (Keras, TensorFlow, papermill...) come from the current one, as Colab's
   come preinstalled: pip must find every dependency satisfied and install nothing but
   vitsd.
3. From an empty folder outside the checkout, with ``VITSD_RESULTS_URL`` pointing at a
   server on 127.0.0.1 that serves ``results/`` and an empty Keras cache
   (``KERAS_HOME``): loads every published run with :func:`vitsd.sharing.published.load_model`
   (downloaded and checksum-checked) and scores one model per dataset on its test split
   against its run record.
4. Executes chapter 7 with papermill as Colab meets it: the notebook copied alone into an
   empty folder -- no ``../results``, no ``shared/`` -- its data where a reader would
   have it (CIFAR-100 unpacked into the Keras cache, as ``keras.datasets`` leaves it; the
   CIFAR-10 JPEG archive in ``$VITSD_DATA``), and checks that it loaded the published
   models and rendered its figures.

Exits non-zero with a message on the first failure. Where the data of step 3 or 4 is
not on this machine (no ``../shared/data``), that step says so and is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from localserver import serve  # noqa: E402

CHAPTER = "07_looking_inside.ipynb"


def say(message: str) -> None:
    print(f"-- {message}", flush=True)


def fail(message: str) -> None:
    raise SystemExit(f"check_install: FAILED: {message}")


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        fail(f"{' '.join(map(str, cmd))} exited {result.returncode}:\n"
             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


# ---------------------------------------------------------------- 1. build
def clean_copy(target: Path) -> Path:
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    return target


def package_files(tree: Path) -> set:
    """What the wheel must hold: every module and data file under ``vitsd/``."""
    return {p.relative_to(tree).as_posix() for p in (tree / "vitsd").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".json")}


def build(tree: Path, dist: Path) -> tuple[Path, Path]:
    run([sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", str(dist), str(tree)])
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {dist}, got {wheels + sdists}")
    return wheels[0], sdists[0]


def check_contents(tree: Path, wheel: Path, sdist: Path) -> list:
    expected = package_files(tree)
    with zipfile.ZipFile(wheel) as z:
        in_wheel = {n for n in z.namelist() if not n.split("/")[0].endswith(".dist-info")}
    missing = sorted(expected - in_wheel)
    extra = sorted(n for n in in_wheel - expected if not n.startswith("vitsd/"))
    if missing:
        fail(f"the wheel lacks {missing}: declare them in pyproject.toml")
    if extra:
        fail(f"the wheel holds files outside vitsd/: {extra}")
    with tarfile.open(sdist) as t:
        top = t.getnames()[0].split("/")[0]
        in_sdist = {n[len(top) + 1:] for n in t.getnames()}
    missing = sorted(expected - in_sdist)
    if missing:
        fail(f"the sdist lacks {missing}")
    if "pyproject.toml" not in in_sdist or "README.md" not in in_sdist:
        fail("the sdist lacks pyproject.toml or README.md")
    return sorted(in_wheel)


# -------------------------------------------------------------- 2. install
def fresh_venv(where: Path, wheel: Path) -> Path:
    """A new venv that sees the current environment's packages (but not its editable
    vitsd) through a .pth file, with the wheel installed into it."""
    run([sys.executable, "-m", "venv", "--without-pip", str(where)])
    python = where / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
               ).stdout.strip()
    import sysconfig

    # Plain path lines: the current environment's own .pth files (among them the
    # editable install's finder) are not processed from here.
    Path(site, "_preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = run([str(python), "-m", "pip", "install", "--no-input", str(wheel)])
    installed = [line for line in result.stdout.splitlines()
                 if line.startswith("Successfully installed")]
    if installed != ["Successfully installed vitsd-" + wheel.name.split("-")[1]]:
        fail(f"installing the wheel installed more than vitsd: {installed}\n{result.stdout}")
    return python


# ------------------------------------------------------ 3. published runs
#: The paths the local server was asked for (chapter 7 must download the models).
REQUESTS: list = []


LOAD_EVERY_RUN = r"""
import json, os, sys
import numpy as np
import vitsd
from vitsd import published
from vitsd.data import DatasetError, load_dataset
from vitsd.training.runner import evaluate_model
from vitsd.config import Config

assert "site-packages" in vitsd.__file__, vitsd.__file__
runs = published.published_runs()
assert runs, "the installed package lists no published runs"
scored, out = set(), {"vitsd": vitsd.__file__, "runs": {}}
for key in runs:
    dataset, name = key.split("/", 1)
    model, record = published.load_model(name, dataset)
    entry = {"parameters": int(model.count_params())}
    if dataset not in scored and not record.get("campaign", {}).get("pilot"):
        try:
            data = load_dataset(dataset)
        except DatasetError as err:
            entry["scored"] = f"no data here: {err}"[:120]
        else:
            config = Config.from_dict(record["config"])
            got = evaluate_model(model, config, data, verbose=0)["top1"]
            entry.update(top1=got, record_top1=record["test"]["top1"])
            # float16 weights can flip the odd image
            assert abs(got - record["test"]["top1"]) <= 0.003, (key, got, record["test"])
            scored.add(dataset)
    out["runs"][key] = entry
print(json.dumps(out))
"""


def check_published(python: Path, work: Path, url: str, env: dict) -> dict:
    script = work / "load_every_run.py"
    script.write_text(LOAD_EVERY_RUN)
    data = work / "data-for-scoring"
    for dataset in ("cifar100", "cifar10-jpeg"):
        data_as_a_reader_has_it(dataset, Path(env["KERAS_HOME"]), data)
    result = run([str(python), str(script)], cwd=work,
                 env={**env, "VITSD_RESULTS_URL": url, "VITSD_DATA": str(data)})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report


# ------------------------------------------------------------ 4. chapter 7
def chapter_dataset(notebook: Path) -> str:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for line in cell.source.splitlines():
        if line.startswith("DATASET ="):
            return line.split("=", 1)[1].split("#")[0].strip().strip("\"'")
    fail(f"no DATASET in the parameters cell of {notebook.name}")


#: Datasets this run has unpacked already: {name: folder}.
_UNPACKED: dict = {}


def data_as_a_reader_has_it(dataset: str, home: Path, data_dir: Path) -> bool:
    """Put ``dataset`` where a reader's machine would hold it; False if not here."""
    from vitsd.data.shared import find_data_file

    if dataset == "cifar100":
        target = home / "datasets" / "cifar-100-python-target"  # keras.datasets' layout
        # Unpacking the .tar.xz takes ~15 s: it is done once, and copied after that --
        # or copied from an unpacked folder beside the project (tools/test.sh leaves
        # one in $VITSD_DATA for this script and nbval).
        unpacked = _UNPACKED.get(dataset) or find_data_file("cifar-100-python")
        if unpacked is not None and Path(unpacked, "train").is_file():
            shutil.copytree(unpacked, target / "cifar-100-python")
            return True
        archive = find_data_file("cifar-100-python.tar.xz")
        if archive is None:
            return False
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(target, filter="data")
        _UNPACKED[dataset] = target / "cifar-100-python"
        return True
    if dataset == "cifar10-jpeg":
        archive = find_data_file("cifar10_jpeg_train.npz")
        if archive is None:
            return False
        data_dir.mkdir(parents=True, exist_ok=True)
        os.symlink(archive, data_dir / Path(archive).name)
        return True
    return dataset == "sample"


def check_chapter(python: Path, work: Path, url: str, env: dict) -> dict:
    folder = work / "colab"
    folder.mkdir()
    # A new reader: nothing downloaded yet.
    env = {**env, "KERAS_HOME": str(work / "colab_keras_home")}
    Path(env["KERAS_HOME"]).mkdir()
    notebook = folder / CHAPTER
    shutil.copy2(ROOT / "book" / CHAPTER, notebook)
    dataset = chapter_dataset(notebook)
    if not data_as_a_reader_has_it(dataset, Path(env["KERAS_HOME"]), work / "colab_data"):
        say(f"chapter 7 skipped: its dataset {dataset!r} is not on this machine")
        return {"skipped": dataset}
    run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "vitsd-installed"],
        env=env)
    REQUESTS.clear()
    executed = folder / "executed.ipynb"
    start = time.perf_counter()
    run([str(python), "-m", "papermill", "--kernel", "vitsd-installed", "--cwd", str(folder),
         str(notebook), str(executed)],
        cwd=folder, env={**env, "VITSD_RESULTS_URL": url, "VITSD_DATA": str(work / "colab_data")})
    seconds = time.perf_counter() - start
    import nbformat

    def shown(path):
        """The outputs of a notebook, its figures and its tables."""
        nb = nbformat.read(path, as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        figures = sum("image/png" in o.get("data", {}) for o in outputs)
        tables = sum("<table" in "".join(o.get("data", {}).get("text/html", ""))
                     for o in outputs)
        return outputs, figures, tables

    outputs, figures, tables = shown(executed)
    _, committed_figures, committed_tables = shown(ROOT / "book" / CHAPTER)
    errors = [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    if errors:
        fail(f"chapter 7 raised: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    # As installed, the chapter shows what the committed one shows (same code, same data).
    if (figures, tables) != (committed_figures, committed_tables) or figures + tables < 3:
        fail(f"chapter 7 rendered {figures} figures and {tables} tables where the committed "
             f"chapter shows {committed_figures} and {committed_tables}")
    if "Epoch 1/" in text:
        fail("chapter 7 trained instead of loading the published runs")
    weights = [p for p in REQUESTS if p.endswith(".weights.h5")]
    if len(weights) < 2:
        fail(f"chapter 7 did not download the published models (requests: "
             f"{REQUESTS})")
    return {"dataset": dataset, "figures": figures, "tables": tables,
            "seconds": round(seconds, 1),
            "downloaded": sorted(set(weights))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--build-only", metavar="DIST",
                        help="build and check the wheel and sdist into DIST, then stop "
                             "(the release workflow)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="vitsd-install-"))
    start = time.perf_counter()
    try:
        tree = clean_copy(work / "clone")
        wheel, sdist = build(tree, Path(args.build_only) if args.build_only else work / "dist")
        files = check_contents(tree, wheel, sdist)
        say(f"built {wheel.name} ({len(files)} files, published.json included) and "
            f"{sdist.name} from a clean copy")
        if args.build_only:
            print("\n".join(files))
            return 0
        python = fresh_venv(work / "venv", wheel)
        say("installed the wheel alone into a fresh venv (every dependency was satisfied)")
        home = work / "keras_home"
        home.mkdir()
        outside = work / "elsewhere"
        outside.mkdir()
        env = {k: v for k, v in os.environ.items()
               if k not in ("VITSD_DATA", "PYTHONPATH", "VIRTUAL_ENV")}
        env.update(KERAS_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg",
                   PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")
        with serve(ROOT / "results", REQUESTS) as url:
            report = check_published(python, outside, url, env)
            scored = {k: v for k, v in report["runs"].items() if "top1" in v}
            say(f"loaded all {len(report['runs'])} published runs from {url} into "
                f"{home}; scored " + ", ".join(
                    f"{k} {v['top1']:.4f} (record {v['record_top1']:.4f})"
                    for k, v in scored.items()))
            chapter = check_chapter(python, outside, url, env)
        if "skipped" not in chapter:
            say(f"chapter 7 ran alone in an empty folder on {chapter['dataset']} in "
                f"{chapter['seconds']} s: {chapter['figures']} figures and {chapter['tables']} "
                f"tables as committed, downloaded "
                f"{', '.join(Path(p).name for p in chapter['downloaded'])}")
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    say(f"installed-package check passed in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
