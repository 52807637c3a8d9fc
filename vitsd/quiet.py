"""Start Keras without TensorFlow's start-up chatter (used by the command line and the
book's :func:`vitsd.book.setup`; chapter 0 says why).

When TensorFlow loads it writes lines such as "oneDNN custom operations are on" and
"This TensorFlow binary is optimized to use available CPU instructions" straight to
the process's standard error, before its logging honours ``TF_CPP_MIN_LOG_LEVEL``.
The usual advice, ``TF_ENABLE_ONEDNN_OPTS=0``, silences the first line by switching
off oneDNN -- which made training on a 2-core CPU 1.6x slower. Here the lines are
dropped instead: file descriptor 2 points at ``os.devnull`` while Keras and its backend
are imported, then comes back. Errors are unaffected (they are Python exceptions,
raised after the descriptor is restored).
"""

from __future__ import annotations

import os
import sys


def import_keras_quietly():
    """Import and return ``keras`` (and so its backend) with stderr silenced during the
    import. A no-op when Keras is already imported."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2: nothing to silence
        import keras

        return keras
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow  # noqa: F401 - loaded now, while stderr is silenced
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return keras
