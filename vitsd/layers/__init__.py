"""The layers the book teaches, one idea a module (chapters 2 to 5):

* :mod:`~vitsd.layers.patches` -- cutting an image into patches and projecting them
  (chapter 2);
* :mod:`~vitsd.layers.position` -- the learned position embedding (chapter 2);
* :mod:`~vitsd.layers.spt` -- Shifted Patch Tokenization (chapter 3);
* :mod:`~vitsd.layers.lsa` -- Locality Self-Attention: diagonal mask and learned
  temperature (chapter 4);
* :mod:`~vitsd.layers.transformer_block` -- the pre-norm transformer block and its MLP
  (chapter 5);
* :mod:`~vitsd.layers.conv_stem` -- a convolutional stem, the alternative tokenizer
  (chapter 8);
* :mod:`~vitsd.layers.class_token`, :mod:`~vitsd.layers.drop_path` and
  :mod:`~vitsd.layers.initialization` -- the class token, stochastic depth and the
  official code's initialisation, for the paper's recipe (chapter 8).

Every layer is registered with Keras as ``vitsd>ClassName``; :mod:`vitsd.models`
assembles them.
"""

# Keras first, before any layer module: importing Keras registers every vitsd layer
# (``vitsd.register_keras_objects``), and those modules import each other (spt needs
# patches, transformer_block needs lsa). Were Keras first imported by one of them, the
# registration would meet that module half-initialised.
import keras  # noqa: E402, F401
