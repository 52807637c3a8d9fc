"""vitsd on Colab's versions: the wheel installed alone into Colab's Python, TensorFlow,
Keras and NumPy, and the chapters run as Colab meets them.

    python tools/check_colab.py                          # a new venv, chapters 1-8
    python tools/check_colab.py --venv /tmp/colab-venv   # create it there, or reuse it
    python tools/check_colab.py --venv /tmp/colab-venv --chapters 1 7 --timeout 900

The versions live in one place, ``tools/colab-versions.txt`` (a pip requirements file;
its ``# python: X.Y`` line names the interpreter): bump them there when Colab's change.

1. Builds the wheel from a clean copy of the checkout and checks its contents
   (``tools/check_install.py``'s functions).
2. Creates a venv with Colab's interpreter (``python3.13`` on the PATH, or
   ``--python``) and ``pip install -r tools/colab-versions.txt`` -- or, with
   ``--venv PATH`` where one exists, reuses it after checking that every pinned version
   is the one installed there. Then installs the wheel (any vitsd there is removed
   first): pip must find every dependency satisfied and install nothing but vitsd.
3. The installed-package check of ``check_install.py`` in that venv: every published run
   loaded from a server on 127.0.0.1 (``VITSD_RESULTS_URL``), one model per dataset
   scored on its test split against its run record.
4. Runs each chapter with its default parameters as Colab meets it: the notebook copied
   alone into an empty folder (no ``../results``, no ``shared/``), a Keras cache of its
   own holding the data as ``keras.datasets`` leaves it (the CIFAR-10 JPEG archive in
   ``$VITSD_DATA``), the published runs from the 127.0.0.1 server -- each with a time
   limit (``--timeout``, seconds per chapter).

Prints, and with ``--json FILE`` writes, per step and per chapter: passed or failed,
seconds, and for a failure the error. Exits non-zero when a step or a chapter failed.
Where the data is not on this machine (no ``../shared/data``), the chapters that need it
are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import check_install  # noqa: E402
from check_install import (  # noqa: E402
    build,
    check_contents,
    clean_copy,
    data_as_a_reader_has_it,
    fail,
    run,
    say,
)
from localserver import serve  # noqa: E402

VERSIONS = TOOLS / "colab-versions.txt"
BOOK = ROOT / "book"
#: The chapters run by default: those a reader opens on Colab to run (9 is about
#: running the book itself, 0 is the introduction -- both still run with ``--chapters``).
DEFAULT_CHAPTERS = list(range(1, 9))
KERNEL = "vitsd-colab"


# ----------------------------------------------------------------- versions
def colab_versions(path: Path = VERSIONS) -> tuple[str, dict]:
    """``(python, pins)``: the interpreter version of the ``# python: X.Y`` line and the
    ``name==version`` pins of the requirements file."""
    python, pins = None, {}
    for line in path.read_text().splitlines():
        text = line.strip()
        if text.startswith("#"):
            key, _, value = text[1:].partition(":")
            if key.strip() == "python" and value.strip():
                python = value.strip()
            continue
        if "==" in text:
            name, version = (s.strip() for s in text.split("#")[0].split("=="))
            pins[name] = version
    if python is None:
        fail(f"{path} has no '# python: X.Y' line naming Colab's interpreter: add one")
    if not pins:
        fail(f"{path} pins no package (name==version): add Colab's versions")
    return python, pins


def installed_versions(python: Path, names) -> dict:
    code = ("import json, sys\nfrom importlib import metadata\nout = {}\n"
            "for n in sys.argv[1:]:\n    try: out[n] = metadata.version(n)\n"
            "    except metadata.PackageNotFoundError: out[n] = None\n"
            "import platform\nout['python'] = platform.python_version()\nprint(json.dumps(out))")
    return json.loads(run([str(python), "-c", code, *names]).stdout)


def colab_venv(where: Path, interpreter: str | None) -> tuple[Path, float | None]:
    """The venv with Colab's versions at ``where``: reused when it exists (its versions
    checked), else created. Returns its python and the seconds an install took
    (``None`` when reused)."""
    want_python, pins = colab_versions()
    python = where / "bin" / "python"
    seconds = None
    if not python.is_file():
        exe = interpreter or shutil.which(f"python{want_python}")
        if not exe:
            fail(f"no python{want_python} on the PATH for Colab's interpreter: install it, "
                 f"pass --python PATH, or --venv PATH of an existing venv")
        start = time.perf_counter()
        run([exe, "-m", "venv", str(where)])
        run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([str(python), "-m", "pip", "install", "--quiet", "-r", str(VERSIONS)])
        seconds = time.perf_counter() - start
    found = installed_versions(python, pins)
    wrong = {n: (v, found[n]) for n, v in pins.items() if found[n] != v}
    if not found["python"].startswith(want_python + "."):
        wrong["python"] = (want_python, found["python"])
    if wrong:
        fail(f"the venv {where} does not hold Colab's versions of {VERSIONS.name} "
             f"(wanted, found): {wrong}; remove it or pass another --venv")
    return python, seconds


def install_wheel(python: Path, wheel: Path) -> None:
    """The wheel alone: pip must install nothing but vitsd."""
    subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "vitsd"],
                   capture_output=True)
    result = run([str(python), "-m", "pip", "install", "--no-input", str(wheel)])
    installed = [line for line in result.stdout.splitlines()
                 if line.startswith("Successfully installed")]
    if installed != ["Successfully installed vitsd-" + wheel.name.split("-")[1]]:
        fail(f"installing the wheel on Colab's versions installed more than vitsd: "
             f"{installed}\n{result.stdout[-3000:]}")


# ------------------------------------------------------------------ chapters
def chapter_paths(selection) -> list[Path]:
    found = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
    chosen = []
    for item in selection:
        match = [p for p in found if int(p.name[:2]) == int(item)]
        if not match:
            fail(f"--chapters: no chapter {item}; chapters are "
                 f"{', '.join(p.name[:2] for p in found)}")
        chosen += match
    return chosen


def chapter_dataset(notebook: Path) -> str | None:
    """The DATASET default of a chapter's parameters cell, ``None`` when it has none."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    for line in (cell.source if cell else "").splitlines():
        if line.startswith("DATASET ="):
            return line.split("=", 1)[1].split("#")[0].strip().strip("\"'")
    return None


def outcome(executed: Path) -> dict:
    """The first error of an executed notebook and its stderr outputs."""
    import nbformat

    if not executed.is_file():
        return {}
    nb = nbformat.read(executed, as_version=4)
    error, stderr = None, []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error" and error is None:
                error = f"{output.get('ename')}: {output.get('evalue')}"[:500]
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                stderr.append(output.get("text", "").strip()[:300])
    return {"error": error, "stderr": stderr}


def run_chapter(python: Path, notebook: Path, work: Path, keras_template: Path,
                data_dir: Path, url: str, env: dict, timeout: int) -> dict:
    """One chapter, defaults, alone in an empty folder, within ``timeout`` seconds."""
    folder = work / notebook.stem
    folder.mkdir()
    home = work / f"{notebook.stem}_keras_home"  # a runtime of its own, data in its cache
    shutil.copytree(keras_template, home, copy_function=os.link)
    shutil.copy2(notebook, folder / notebook.name)
    executed = folder / "executed.ipynb"
    cmd = [str(python), "-m", "papermill", "--kernel", KERNEL, "--cwd", str(folder),
           "--no-progress-bar", str(folder / notebook.name), str(executed)]
    start = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # the kernel too is stopped on a timeout
        env={**env, "KERAS_HOME": str(home), "VITSD_RESULTS_URL": url,
             "VITSD_DATA": str(data_dir)})
    try:
        log, _ = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            log, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            log, _ = process.communicate()
        timed_out = True
    seconds = time.perf_counter() - start
    result = {"chapter": notebook.stem, "seconds": round(seconds, 1), **outcome(executed)}
    if timed_out:
        result.update(passed=False, error=f"time limit: still running after {timeout} s")
    elif process.returncode != 0:
        result.update(passed=False, error=result.get("error") or
                      f"papermill exited {process.returncode}: {log.strip()[-500:]}")
    else:
        result["passed"] = result.get("error") is None
    return result


# ----------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path,
                        help="the venv with Colab's versions: reused where it exists (its "
                             "versions checked), created there otherwise (default: a new "
                             "one in the temporary folder)")
    parser.add_argument("--python", help="Colab's interpreter to create the venv with "
                                         "(default: python<X.Y> of colab-versions.txt)")
    parser.add_argument("--chapters", nargs="+", type=int, default=DEFAULT_CHAPTERS,
                        metavar="N", help="chapter numbers (default: 1 to 8)")
    parser.add_argument("--timeout", type=int, default=900,
                        help="seconds one chapter may run (default 900)")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    sys.path.insert(0, str(ROOT))
    notebooks = chapter_paths(args.chapters)
    work = Path(tempfile.mkdtemp(prefix="vitsd-colab-"))
    report = {"versions": VERSIONS.read_text().splitlines(), "steps": {}, "chapters": []}
    start = time.perf_counter()
    try:
        clock = time.perf_counter()
        tree = clean_copy(work / "clone")
        wheel, sdist = build(tree, work / "dist")
        check_contents(tree, wheel, sdist)
        report["steps"]["build"] = round(time.perf_counter() - clock, 1)
        say(f"built {wheel.name} from a clean copy in {report['steps']['build']} s")

        python, install = colab_venv(args.venv or work / "venv", args.python)
        found = installed_versions(python, colab_versions()[1])
        report["environment"] = found
        report["steps"]["venv_install"] = None if install is None else round(install, 1)
        say(("reused" if install is None else f"created in {install:.0f} s:") +
            f" a venv with Colab's versions at {python.parent.parent} ({json.dumps(found)})")
        clock = time.perf_counter()
        install_wheel(python, wheel)
        run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL])
        report["steps"]["wheel_install"] = round(time.perf_counter() - clock, 1)
        say("installed the wheel alone (every dependency satisfied by Colab's versions)")

        env = {k: v for k, v in os.environ.items()
               if k not in ("VITSD_DATA", "PYTHONPATH", "VIRTUAL_ENV", "KERAS_BACKEND")}
        env.update(TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg",
                   PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")
        # The data as a reader's runtime holds it, made once and linked into each chapter's.
        keras_template, data_dir = work / "keras_home", work / "data"
        keras_template.mkdir()
        have = {d: data_as_a_reader_has_it(d, keras_template, data_dir)
                for d in ("cifar100", "cifar10-jpeg")}
        data_dir.mkdir(exist_ok=True)
        with serve(ROOT / "results", check_install.REQUESTS) as url:
            clock = time.perf_counter()
            outside = work / "elsewhere"
            outside.mkdir()
            home = work / "published_keras_home"  # check_install puts the data there
            home.mkdir()
            published = check_install.check_published(
                python, outside, url, {**env, "KERAS_HOME": str(home)})
            report["steps"]["installed_package_check"] = round(time.perf_counter() - clock, 1)
            scored = {k: v for k, v in published["runs"].items() if "top1" in v}
            say(f"loaded all {len(published['runs'])} published runs and scored "
                + ", ".join(f"{k} {v['top1']:.4f} (record {v['record_top1']:.4f})"
                            for k, v in scored.items())
                + f" in {report['steps']['installed_package_check']} s")
            chapters = work / "chapters"
            chapters.mkdir()
            for notebook in notebooks:
                dataset = chapter_dataset(notebook)
                if dataset in have and not have[dataset]:
                    result = {"chapter": notebook.stem, "passed": None,
                              "skipped": f"its dataset {dataset!r} is not on this machine"}
                else:
                    result = run_chapter(python, notebook, chapters, keras_template,
                                         data_dir, url, env, args.timeout)
                report["chapters"].append(result)
                status = ("skipped: " + result["skipped"] if "skipped" in result else
                          f"{'passed' if result['passed'] else 'FAILED'} in "
                          f"{result['seconds']} s" +
                          ("" if result["passed"] else f": {result['error']}"))
                say(f"{notebook.stem}: {status}")
                for text in result.get("stderr") or []:
                    say(f"  stderr: {text.splitlines()[0] if text else ''}")
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    failed = [r["chapter"] for r in report["chapters"] if r.get("passed") is False]
    print(f"{'chapter':30} {'result':8} seconds")
    for r in report["chapters"]:
        state = "skipped" if r.get("passed") is None else "passed" if r["passed"] else "FAILED"
        print(f"{r['chapter']:30} {state:8} {r.get('seconds', '')}")
    if failed:
        print(f"check_colab: FAILED: {', '.join(failed)} on Colab's versions", file=sys.stderr)
        return 1
    say(f"Colab check passed in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
