"""Where the galleries and example pickers used to live: they are in
:mod:`vitsd.book.examples` now (one_per_class, superclass_rows, superclass_gallery,
pick_examples, prediction_titles, pick_disagreements, class_groups, group_accuracy,
confused_pairs, map_facts), re-exported here for old imports. Import them from
``vitsd.book`` or :mod:`vitsd.book.examples`.
"""

from vitsd.book.examples import (  # noqa: F401
    class_groups,
    confused_pairs,
    group_accuracy,
    map_facts,
    one_per_class,
    pick_disagreements,
    pick_examples,
    prediction_titles,
    superclass_gallery,
    superclass_rows,
)
