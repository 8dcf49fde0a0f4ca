"""Tiny labelled data for the app tests: two clearly separable labels, made here, no files."""

from __future__ import annotations

import csv
import io

HOSTILE = "<img src=x onerror=alert(1)>"

_GOOD = ["great", "wonderful", "excellent", "lovely", "fantastic", "superb"]
_BAD = ["terrible", "awful", "horrible", "dreadful", "useless", "broken"]
_THINGS = ["phone", "film", "pizza", "hotel"]


def tiny_pairs(per_label: int = 24) -> list[tuple[str, str]]:
    """`per_label` positive and negative review sentences, interleaved."""
    pairs = []
    for i in range(per_label):
        thing = _THINGS[i % len(_THINGS)]
        pairs.append((f"The {thing} was {_GOOD[i % len(_GOOD)]}, I loved it ({i})", "positive"))
        pairs.append((f"The {thing} was {_BAD[i % len(_BAD)]}, I hated it ({i})", "negative"))
    return pairs


def csv_bytes(pairs: list[tuple[str, str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(pairs)
    return buffer.getvalue().encode("utf-8")
