"""A static file server on 127.0.0.1 for the tools that read what they built the way a
reader's machine would (tools/check_install.py: published runs downloaded over HTTP;
tools/browser_check.py: the HTML book in a browser)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path


@contextlib.contextmanager
def serve(folder: Path, requests: list | None = None):
    """Serve ``folder``; yields its base URL. The paths asked for are appended to
    ``requests`` when one is given (nothing is logged)."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            if requests is not None:
                requests.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
