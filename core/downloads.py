"""Files a user downloads (embeddings, predictions): CSV safe to open in a spreadsheet, and .npy."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection")."""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe, which
    spreadsheets show as text; plain numbers such as '-1' and non-text values stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A UTF-8 CSV file (with a BOM, so spreadsheets detect the encoding), every cell
    neutralised; floats written in full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(str(cell)) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def embeddings_csv(texts: Sequence[str], vectors: np.ndarray) -> bytes:
    """One row per text: the text, then its vector as columns dim_0 ... dim_{d-1}."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ValueError(f"expected {len(texts)} vectors, got an array of shape {vectors.shape}")
    header = ["text", *(f"dim_{i}" for i in range(vectors.shape[1]))]
    pairs = zip(texts, vectors, strict=True)
    rows = ([text, *(float(v) for v in vector)] for text, vector in pairs)
    return csv_bytes(header, rows)


def predictions_csv(results: Sequence[dict[str, Any]]) -> bytes:
    """Classify results (input, prediction, confidence, labels) as one row per text, with one
    confidence column per label."""
    labels: list[str] = []
    for result in results:
        labels += [label for label in result["labels"] if label not in labels]
    if any("predictions" in result for result in results):
        # Multi-label: every chosen label in one cell, as batch jobs write it ("a|b").
        from core.data.multilabel import join_labels

        header = ["input", "predictions", *(f"p({label})" for label in labels)]
        return csv_bytes(
            header,
            (
                [
                    result["input"],
                    join_labels(result.get("predictions", [])),
                    *(float(result["labels"].get(label, 0.0)) for label in labels),
                ]
                for result in results
            ),
        )
    header = ["input", "prediction", "confidence", *(f"p({label})" for label in labels)]
    rows = (
        [
            result["input"],
            result["prediction"],
            float(result["confidence"]),
            *(float(result["labels"].get(label, 0.0)) for label in labels),
        ]
        for result in results
    )
    return csv_bytes(header, rows)


def npy_bytes(vectors: np.ndarray) -> bytes:
    """The array in NumPy's .npy format (no pickle: object arrays are refused)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def json_bytes(data: Any) -> bytes:
    """Pretty-printed UTF-8 JSON (for the classify results a developer would get)."""
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
