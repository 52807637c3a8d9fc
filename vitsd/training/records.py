"""Run records (chapter 6, "Training and comparison"): the ``run.json`` a training run
writes into its folder -- config, dataset, per-epoch history, test metrics, the
environment (versions, backend, device) and timing -- read back one or many at a time.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import keras

import vitsd

#: The run record's file name in a run folder.
RECORD = "run.json"


def environment() -> dict:
    """Versions, backend and device: the run card of a record."""
    backend = keras.backend.backend()
    env = {
        "vitsd": vitsd.__version__,
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": None,
        "device": None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    if backend == "tensorflow":
        import tensorflow as tf

        env["backend_version"] = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            env["device"] = f"GPU: {details.get('device_name', gpus[0].name)}"
    elif backend == "jax":
        import jax

        env["backend_version"] = jax.__version__
        dev = jax.devices()[0]
        if dev.platform != "cpu":
            env["device"] = f"{dev.platform.upper()}: {dev.device_kind}"
    elif backend == "torch":
        import torch

        env["backend_version"] = torch.__version__
        if torch.cuda.is_available():
            env["device"] = f"GPU: {torch.cuda.get_device_name(0)}"
    if env["device"] is None:
        env["device"] = f"CPU: {_cpu_name()} ({os.cpu_count()} cores)"
    return env


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def read_record(run_dir) -> dict:
    """The run record of a run folder."""
    path = Path(run_dir) / RECORD
    if not path.is_file():
        raise FileNotFoundError(
            f"no run record at {path}: pass the --out folder of a `vitsd train` run."
        )
    with open(path) as f:
        return json.load(f)


def collect_records(folder) -> dict:
    """Every run record (``*.json`` with a ``history``) under ``folder``, recursively,
    keyed by its path relative to ``folder`` without the suffix, in sorted order --
    e.g. the committed ``results/`` (chapter 8). Other JSON files are skipped."""
    folder = Path(folder)
    records = {}
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and "history" in data and "config" in data:
            records[path.relative_to(folder).with_suffix("").as_posix()] = data
    return records


def write_json(path: Path, data: dict) -> None:
    """Write atomically: an interruption leaves either the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
