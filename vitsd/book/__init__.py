"""The book's own helpers (``book/*.ipynb``), tested like the rest of the package.

The chapters stay lean -- prose, calls into vitsd, figures. What they need beyond the
teaching API of the package lives here:

* :mod:`vitsd.book.display` -- what a chapter displays: :func:`setup` (figures as PNG
  images, TensorFlow's C++ log quiet), :func:`table`, :func:`run_card` (what produced
  the outputs below it: parameters, dataset, versions, backend, device, run records)
  and :func:`show_source` (the real source of a vitsd object, syntax-highlighted, so the
  chapters show the package's code instead of pasting a copy of it);
* :mod:`vitsd.book.runs` -- the runs of chapters 6 to 8: the papermill parameters and
  their :data:`DEFAULTS`, the four :data:`VARIANTS` compared, :func:`config_for`,
  :func:`run_folder`, :func:`train_variant`, :func:`variant_runs` and the published
  runs loaded in their place;
* :mod:`vitsd.book.examples` -- galleries and example picking: which images a figure
  shows and how they are captioned; chapter 7's groups of classes (each group's
  difference with its :func:`difference_ci` interval) and how flat rollout maps are;
* :mod:`vitsd.book.records` -- :func:`glue`, and :func:`record` / :func:`read_records`:
  key values a chapter records in its outputs (in the metadata of an output that
  displays nothing), read back by the book's tests;
* :mod:`vitsd.book.stats` -- :func:`difference_ci` (a bootstrap interval of a difference
  of accuracies over test images and seeds, the book's one way of comparing two
  models) and :func:`load_correctness` (the published runs' per-image correctness);
* :mod:`vitsd.book.comparison` -- chapter 6's comparisons: the runs' correctness, the
  results table with intervals, the training-set sizes, the training-loss gaps;
* :mod:`vitsd.book.plots` (a module per role: images, attention, training, comparison)
  and :mod:`vitsd.book.diagrams` -- the figures (Matplotlib), imported on their own:
  ``from vitsd.book import plots``.

Every name of the first five is also importable from here (``book.show_source``,
``book.variant_runs``, ...), as the chapters use them. Every chapter has the same
papermill parameters, with the defaults of :data:`DEFAULTS`; the offline build
(``tools/build_book.py``) executes the chapters with smaller values.

This package imports neither Keras nor a backend at import time.
"""

from vitsd.book.display import (
    RECORD_KEY,
    RunCard,
    Source,
    Table,
    run_card,
    setup,
    show_source,
    table,
)
from vitsd.book.examples import (
    class_groups,
    confused_pairs,
    group_accuracy,
    group_differences,
    map_facts,
    one_per_class,
    pick_disagreements,
    pick_examples,
    prediction_titles,
    rollout_captions,
    superclass_gallery,
    superclass_rows,
    top_share,
)
from vitsd.book.records import chapter_timings, glue, read_records, record
from vitsd.book.runs import (
    CHAPTER_DEFAULTS,
    CPU_DEMOS,
    DEFAULTS,
    PAPER_TINY,
    SIZES,
    TINY,
    VARIANTS,
    campaign_runs,
    config_for,
    example_index,
    load_data,
    paper_config,
    plan_chapter,
    published_name,
    published_seeds,
    run_folder,
    train_variant,
    variant_model,
    variant_runs,
    variant_switches,
)
from vitsd.book.stats import difference_ci, load_correctness, standard_error

__all__ = [
    "CHAPTER_DEFAULTS", "CPU_DEMOS", "DEFAULTS", "PAPER_TINY", "RECORD_KEY", "SIZES", "TINY",
    "VARIANTS", "RunCard", "Source", "Table", "chapter_timings", "config_for",
    "example_index", "glue", "load_data", "paper_config", "plan_chapter", "published_name",
    "published_seeds", "read_records", "record", "run_card", "run_folder", "setup",
    "show_source", "table", "train_variant", "variant_model", "variant_runs",
    "variant_switches", "campaign_runs",
    # galleries and example picking (chapters 1, 7, 8)
    "one_per_class", "pick_examples", "prediction_titles", "class_groups",
    "confused_pairs", "group_accuracy", "group_differences", "map_facts",
    "pick_disagreements", "rollout_captions", "superclass_gallery", "superclass_rows",
    "top_share",
    # statistics: the bootstrap of a difference over test images and seeds (chapter 6)
    "difference_ci", "load_correctness", "standard_error",
]
