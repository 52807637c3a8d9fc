"""Training (chapters 6 and 8): what a run is given, how it runs, what it writes.

* :mod:`~vitsd.training.recipes` -- the named presets (``reference``, ``cpu``,
  ``paper``);
* :mod:`~vitsd.training.paper_recipe` -- the paper's recipe set out item by item
  against its text and official code (chapter 8);
* :mod:`~vitsd.training.schedules` -- the learning-rate schedules (warmup-cosine,
  triangular cyclical);
* :mod:`~vitsd.training.compile` -- loss, metrics and AdamW for a run;
* :mod:`~vitsd.training.runner` -- :func:`~vitsd.training.runner.train` and
  :func:`~vitsd.training.runner.evaluate`: resumable runs in a folder;
* :mod:`~vitsd.training.records` -- the run record ``run.json``, read back;
* :mod:`~vitsd.training.fast` -- the fast path on an accelerator (bfloat16, XLA).
* :mod:`~vitsd.training.device` -- the device a run trains on, and the preset that
  fits it when none is named (``cpu`` without a GPU, ``reference`` with one).

The input pipeline and its augmentations are :mod:`vitsd.data`'s.
"""
