"""Texts a user types or uploads to embed, classify or map (not training data: labels optional)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.files import MAX_FILE_BYTES, read_table
from core.errors import DataError

MAX_TEXTS = 5000
"""Most texts the Playground embeds or maps at once: a UMAP of 5,000 points takes ~20 s on CPU."""


@dataclass(frozen=True)
class TextsInput:
    """Texts, and their labels when every row of an uploaded file had one; `notes` says what the
    user should know about how the file was read (JSON although named .csv, ...)."""

    texts: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()


def split_lines(text: str, limit: int = MAX_TEXTS) -> list[str]:
    """One text per non-blank line, stripped."""
    texts = [line.strip() for line in text.split("\n") if line.strip()]
    _check_count(len(texts), limit)
    return texts


def _check_count(n: int, limit: int) -> None:
    if n > limit:
        raise DataError(f"{n} texts given: at most {limit} at once; split them into smaller files")


def read_texts(
    raw: bytes,
    *,
    name: str = "",
    header: bool = False,
    sheet: str | None = None,
    text_column: str | None = None,
    limit: int = MAX_TEXTS,
    max_bytes: int = MAX_FILE_BYTES,
    multi_label: bool = False,
) -> TextsInput:
    """Texts from a file of any format `core.data.files.read_table` reads: the text column
    (chosen, or named "text"), else the first; with the labels when the file has a label column
    filled on every row (a CSV: exactly two columns on every row). Blank rows are skipped.
    `multi_label`: the labels may be JSON lists or cells joined by "|", and a row may have none;
    each row's labels come back joined by "|"."""
    table = read_table(raw, name=name, header=header, sheet=sheet, max_bytes=max_bytes)
    texts, labels = table.texts(text_column)
    if multi_label:
        from core.data.multilabel import label_cells

        labels = label_cells(table, text_column)
    if not any(texts):
        raise DataError("the file has no texts: expected one text per row, in the first column")
    _check_count(len(texts), limit)
    return TextsInput(texts, labels, table.notes)


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows (vectors need not be normalised)."""
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms == 0, 1.0, norms)
    return np.clip(x @ x.T, -1.0, 1.0)
