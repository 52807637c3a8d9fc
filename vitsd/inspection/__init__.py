"""Looking inside a model (chapters 5 and 7):

* :mod:`~vitsd.inspection.attention` -- the attention scores of every block, read out
  of a trained model (chapter 7);
* :mod:`~vitsd.inspection.temperature` -- LSA's learned temperatures, beside the value
  AdamW's weight decay alone would give them (chapter 7);
* :mod:`~vitsd.inspection.rollout` -- attention rollout, attention followed through
  the blocks back to the pixels (chapter 7);
* :mod:`~vitsd.inspection.locality` -- how sharp (entropy) and how local (mean
  attention distance) each block's attention is (chapter 4);
* :mod:`~vitsd.inspection.budget` -- tokens, parameters and multiply-adds counted by
  hand, checked against Keras (chapters 2 to 5).

(Named ``inspection`` rather than ``inspect``, so that it never reads as the standard
library's module.)
"""
