"""Sharing trained models (chapters 6 to 8):

* :mod:`~vitsd.sharing.published` -- the project's published runs (run records and
  float16 weights under ``results/``, listed with their SHA-256 in ``published.json``),
  loaded from a checkout or downloaded;
* :mod:`~vitsd.sharing.hub` -- a run folder exported to, pushed to and loaded from the
  Hugging Face Hub, and evaluated again;
* :mod:`~vitsd.sharing.model_card` -- the model card of such a repository.
"""
