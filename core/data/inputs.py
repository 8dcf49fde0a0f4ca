"""Texts a user types or uploads to embed, classify or map (not training data: labels optional)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from core.errors import DataError
from core.io import decode_text

MAX_TEXTS = 5000
"""Most texts the Playground embeds or maps at once: a UMAP of 5,000 points takes ~20 s on CPU."""


@dataclass(frozen=True)
class TextsInput:
    """Texts, and their labels when every row of an uploaded file had one."""

    texts: tuple[str, ...]
    labels: tuple[str, ...] | None = None


def split_lines(text: str, limit: int = MAX_TEXTS) -> list[str]:
    """One text per non-blank line, stripped."""
    texts = [line.strip() for line in text.split("\n") if line.strip()]
    _check_count(len(texts), limit)
    return texts


def _check_count(n: int, limit: int) -> None:
    if n > limit:
        raise DataError(f"{n} texts given: at most {limit} at once; split them into smaller files")


def read_texts(raw: bytes, *, header: bool = False, limit: int = MAX_TEXTS) -> TextsInput:
    """Texts from a CSV file: the first column of each row; when every row has exactly two
    columns the second is taken as the label. Blank rows are skipped."""
    content = decode_text(raw)
    try:
        rows = [row for row in csv.reader(io.StringIO(content, newline="")) if any(row)]
    except csv.Error as exc:
        raise DataError(f"cannot read the file as CSV: {exc}") from None
    if header:
        rows = rows[1:]
    texts = tuple(row[0].strip() for row in rows)
    if not any(texts):
        raise DataError("the file has no texts: expected one text per row, in the first column")
    _check_count(len(texts), limit)
    labelled = all(len(row) == 2 and row[1].strip() for row in rows)
    labels = tuple(row[1].strip() for row in rows) if labelled else None
    return TextsInput(texts, labels)


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows (vectors need not be normalised)."""
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms == 0, 1.0, norms)
    return np.clip(x @ x.T, -1.0, 1.0)
