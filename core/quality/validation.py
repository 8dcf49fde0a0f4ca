"""The review's word on the validation set: the share the split really takes and why, and
labels measured on too few validation texts. (The review previews the run's own split: `split`
with the run's share and seed, RUN_SEED unless the run is given another.)"""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

from core.config import TrainConfig
from core.data.labeled import DataSet, LabeledTexts, requested_valid_rows, strata_counts

RUN_SEED = TrainConfig.seed
"""The seed a run uses unless told otherwise: it also chooses which rows are held out."""
THIN_VALIDATION_ROWS = 5
"""Below this many validation rows one text right or wrong moves a label's recall by more than 20
points, and with it the validation macro-F1 that picks the checkpoint."""


def share_message(train: LabeledTexts, valid_rows: int, valid_fraction: float) -> str | None:
    """Why the automatic split holds out more or fewer rows than the share asked for, or None
    when it holds out what was asked (the share of all rows, rounded)."""
    n = len(train)
    asked = requested_valid_rows(n, valid_fraction)
    if valid_rows == asked:
        return None
    share = valid_rows / n if n else 0.0
    taken = (
        f"the automatic split holds out {valid_rows} of {n} rows ({share:.0%}), "
        f"{'more' if valid_rows > asked else 'fewer'} than the {valid_fraction:.0%} asked for "
        f"({asked} rows)"
    )
    counts = strata_counts(train)
    if valid_rows > asked:
        # A label of n rows gets less than one row's share when n * fraction < 1.
        below = math.ceil(1 / Fraction(str(valid_fraction)))
        small = sum(1 for k in counts.values() if 2 <= k < below)
        return (
            f"{taken}: each label with 2 rows or more keeps at least 1 for validation, and "
            f"{_labels(small)} fewer than {below} rows, too few for {valid_fraction:.0%} of "
            "them to make a row; to validate on the share you chose, give a validation file"
        )
    single = sum(1 for k in counts.values() if k == 1)
    alone = f", and {_labels(single)} a single row, which stays in training" if single else ""
    return f"{taken}: each label keeps at least 1 row for training{alone}"


def thin_message(valid_counts: dict[str, int], valid_rows: int, valid_source: str) -> str | None:
    """What follows when labels have fewer than THIN_VALIDATION_ROWS validation rows, or None."""
    if not valid_counts:
        return None
    thin = [label for label, k in valid_counts.items() if k < THIN_VALIDATION_ROWS]
    if not thin:
        return None
    counts = list(valid_counts.values())
    many = len(thin) != 1
    which = (
        f"all {len(counts)} labels have"
        if len(thin) == len(counts) and many
        else f"{len(thin)} of {len(counts)} labels {'have' if many else 'has'}"
    )
    whose = "those labels'" if many else "that label's"
    more = (
        "add rows to the validation file"
        if valid_source == "file"
        else "add rows, or give a validation file"
    )
    return (
        f"{which} fewer than {THIN_VALIDATION_ROWS} validation rows (median "
        f"{statistics.median(counts):g} per label, minimum {min(counts)}): the choice of "
        f"checkpoint and every validation figure rest on {valid_rows} texts, {whose} scores on "
        f"fewer than {THIN_VALIDATION_ROWS} texts each; {more} with {THIN_VALIDATION_ROWS}+ "
        "rows per label, and score a test file after training (on the Metrics page or with "
        "core evaluate)"
    )


def thin_dataset_message(dataset: DataSet) -> str | None:
    """`thin_message` for the data set a run trains on (the command line says it at `train`)."""
    found = dataset.valid.class_counts()
    counts = {label: found.get(label, 0) for label in dataset.classes}
    return thin_message(counts, len(dataset.valid), dataset.valid_source)


def _labels(n: int) -> str:
    """'1 label has' / '3 labels have'."""
    return f"{n} label has" if n == 1 else f"{n} labels have"
