"""The words that name a text or a label column, and the header-row rule: when a file read without
a header starts with a row of column names (HeaderRowError, whose fix is the header option)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from core.errors import DataError

# A first row is only called a header when its label is one of these words (or its text is one of
# the text words) AND that label occurs nowhere else: real labels repeat, header cells do not.
# The same words find the text and label columns among named ones ("sentence", "sentiment").
LABEL_WORDS = frozenset(
    "label labels class classes category categories target y sentiment intent tag tags topic "
    "label_name class_name".split()
)
TEXT_WORDS = frozenset(
    "text texts sentence sentences review reviews message messages content document documents "
    "utterance utterances query question comment tweet body input x".split()
)

_HEADER_WORDS = LABEL_WORDS | TEXT_WORDS
NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?")


class HeaderRowError(DataError):
    """The first row looks like column names while the file is read without a header."""

    def __init__(self, where: str, text: str, label: str) -> None:
        super().__init__(
            f"{where} looks like a header ({text!r}, {label!r}): "
            "use the header option (--header) or remove it"
        )
        self.where, self.text, self.label = where, text, label


def names_in_first_row(cells: Sequence[Sequence[str | None]]) -> bool:
    """Whether the first row of a wide table reads as column names: no number in it, one of
    the usual text or label names, and none of its cells seen again in its column."""
    first = [value.strip() if value else "" for value in cells[0]]
    if any(NUMBER.fullmatch(value) for value in first if value):
        return False
    if not any(value.casefold() in _HEADER_WORDS for value in first):
        return False
    return not any(
        value and column < len(row) and (row[column] or "").strip() == value
        for row in cells[1:]
        for column, value in enumerate(first)
    )


def reject_undeclared_header(where: str, text: str, label: str, counts: Counter[str]) -> None:
    """Raise if the first record looks like column names while the file has no header."""
    if counts[label] != 1:
        return  # the first label is a real class elsewhere in the file
    label_word = label.lower() in LABEL_WORDS
    text_word = text.lower() in TEXT_WORDS
    others_repeat = all(n >= 2 for other, n in counts.items() if other != label)
    if label_word or (text_word and others_repeat):
        raise HeaderRowError(where, text, label)
