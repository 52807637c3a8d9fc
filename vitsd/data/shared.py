"""Where data kept *beside* the project is found (chapter 1, "Data").

The project's own machines have no network; the archives that stand in for downloads
lie in a ``shared/data/`` folder beside the checkout. :func:`data_folders` lists, most
specific first, ``$VITSD_DATA`` and every ``shared/data/`` found by walking up from the
working directory and from this package. Users' machines have neither, and then the
loaders fall back to the Keras cache or a download.
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
