"""pytest configuration for re-executing the committed chapters with nbval:

    pytest --nbval-lax book/ -p no:cacheprovider

nbval runs every notebook of book/ in a fresh kernel (working directory: book/) and
compares the outputs of the cells marked ``# NBVAL_CHECK_OUTPUT`` with the committed
ones. The kernels inherit this process's environment, set here:

* ``VITSD_BOOK_REPLAY=1`` makes each notebook's hidden "injected-parameters" cell apply
  the parameters its committed outputs were produced with (see tools/build_book.py);
  without it, a notebook runs its defaults -- the full CIFAR-100 experiment;
* TensorFlow's C++ log is silenced, as in the build (each chapter's ``book.setup()``
  drops TensorFlow's start-up lines; oneDNN stays on: switching it off is 1.6x slower).
"""

import os

os.environ["VITSD_BOOK_REPLAY"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
