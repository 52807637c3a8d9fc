"""Where data kept *beside* the project is found (chapter 1, "Data").

The project's own machines have no network; the archives that stand in for downloads
lie in a ``shared/data/`` folder beside the checkout. :func:`data_folders` lists, most
specific first, ``$VITSD_DATA`` and every ``shared/data/`` found by walking up from the
working directory and from this package. Users' machines have neither, and then the
loaders fall back to the Keras cache or a download. :func:`keras_cache_dir` is that
cache, as Keras finds it.
"""

from __future__ import annotations

import os


def data_folders() -> list[str]:
    """``$VITSD_DATA`` (if set), then each existing ``shared/data`` above the working
    directory or this package, without repeats."""
    folders = []
    if os.environ.get("VITSD_DATA"):
        folders.append(os.path.abspath(os.path.expanduser(os.environ["VITSD_DATA"])))
    for start in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        folder = os.path.abspath(start)
        while True:
            candidate = os.path.join(folder, "shared", "data")
            if os.path.isdir(candidate) and candidate not in folders:
                folders.append(candidate)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return folders


def find_data_file(*names: str) -> str | None:
    """The first of ``names`` (files or folders) in :func:`data_folders`, or None."""
    for folder in data_folders():
        for name in names:
            path = os.path.join(folder, name)
            if os.path.exists(path):
                return path
    return None


def keras_cache_dir(cache_dir=None) -> str:
    """The Keras cache directory as Keras itself resolves it: ``cache_dir`` if given,
    else ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` where the home folder is
    not writable), as ``keras.utils.get_file`` does."""
    if cache_dir is None:
        home = os.path.expanduser("~")
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join(
            home if os.access(home, os.W_OK) else "/tmp", ".keras"
        )
    return os.path.abspath(os.path.expanduser(os.fspath(cache_dir)))
