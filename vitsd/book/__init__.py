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
* :mod:`vitsd.book.analysis` -- experiment analysis: :func:`seed_summary`,
  :func:`gap_verdict` and :func:`compare` (the verdicts the prose states),
  :func:`by_training_size`, :func:`results_rows`, predictions picked for figures;
* :mod:`vitsd.book.records` -- :func:`glue`, and :func:`record` / :func:`read_records`:
  key values a chapter records in its outputs (in the metadata of an output that
  displays nothing), read back by the book's tests;
* :mod:`vitsd.book.stats` -- :func:`difference_ci` (a bootstrap interval of a difference
  of accuracies over test images and seeds) and :func:`load_correctness` (the published
  runs' per-image correctness it takes);
* :mod:`vitsd.book.plots` and :mod:`vitsd.book.diagrams` -- the figures (Matplotlib),
  imported on their own: ``from vitsd.book import plots``.

Every name of the first five is also importable from here (``book.show_source``,
``book.variant_runs``, ...), as the chapters use them. Every chapter has the same
papermill parameters, with the defaults of :data:`DEFAULTS`; the offline build
(``tools/build_book.py``) executes the chapters with smaller values.

This package imports neither Keras nor a backend at import time.
"""

from vitsd.book.analysis import (
    VERDICT_PHRASES,
    VERDICT_SHORT,
    by_training_size,
    campaign_runs,
    class_groups,
    compare,
    comparison_facts,
    confused_pairs,
    curve_facts,
    dataset_size_rows,
    dataset_size_summary,
    difference_standard_error,
    fit_facts,
    fit_rows,
    gap_outlook,
    gap_verdict,
    group_accuracy,
    group_facts,
    largest_seed_range,
    map_facts,
    one_per_class,
    outlook_reading,
    pick_disagreements,
    pick_examples,
    prediction_titles,
    results_reading,
    results_rows,
    results_table,
    seed_range,
    seed_summary,
    standard_error,
    verdict_margin,
    verdict_rows,
)
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
from vitsd.book.records import chapter_timings, glue, read_records, record
from vitsd.book.runs import (
    CHAPTER_DEFAULTS,
    CPU_DEMOS,
    DEFAULTS,
    PAPER_TINY,
    SIZES,
    TINY,
    VARIANTS,
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
from vitsd.book.stats import difference_ci, load_correctness

__all__ = [
    "CHAPTER_DEFAULTS", "CPU_DEMOS", "DEFAULTS", "PAPER_TINY", "RECORD_KEY", "SIZES", "TINY",
    "VARIANTS",
    "VERDICT_PHRASES", "RunCard", "Source", "Table", "by_training_size", "chapter_timings",
    "compare", "config_for", "dataset_size_rows", "example_index", "gap_verdict", "glue",
    "one_per_class",
    "load_data", "paper_config", "plan_chapter", "pick_examples", "prediction_titles",
    "published_name",
    "published_seeds", "read_records", "record", "results_rows", "run_card", "run_folder",
    "seed_summary", "setup", "show_source", "table", "train_variant", "variant_model",
    "variant_runs", "variant_switches",
    # chapters 6 and 7: tables and readings
    "VERDICT_SHORT", "class_groups", "comparison_facts", "confused_pairs",
    "dataset_size_summary", "fit_facts", "fit_rows", "group_accuracy", "group_facts",
    "campaign_runs", "pick_disagreements", "results_reading", "results_table",
    "verdict_rows", "curve_facts", "gap_outlook", "map_facts", "outlook_reading", "verdict_margin",
    "seed_range", "largest_seed_range", "difference_standard_error",
    "standard_error",
    # the bootstrap of a difference over test images and seeds
    "difference_ci", "load_correctness",
]
