"""Downloads: spreadsheet formulas neutralised, numbers and vectors intact."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from core.downloads import csv_bytes, embeddings_csv, neutralise, npy_bytes, predictions_csv


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+SUM(A1)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=1", "\r=1", "=HYPERLINK(x)"],
)
def test_formula_cells_get_an_apostrophe(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["plain text", "1+1", "a=b", "-1", "+3.5", "-1e-5", "", " =x"])
def test_ordinary_cells_and_plain_numbers_stay(value):
    assert neutralise(value) == value


def test_non_text_values_stay():
    assert neutralise(-0.25) == -0.25
    assert neutralise(None) is None


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_bytes_neutralises_every_text_cell_and_keeps_quotes_and_newlines():
    data = csv_bytes(["=h", "b"], [["=cmd()", 'say "hi",\nthere'], ["@x", -1.5]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert read(data) == [["'=h", "b"], ["'=cmd()", 'say "hi",\nthere'], ["'@x", "-1.5"]]


def test_embeddings_csv_round_trips_negative_floats():
    vectors = np.array([[-0.5, 0.25], [1.0, -1e-7]], dtype=np.float32)
    rows = read(embeddings_csv(["=1+2", "ok"], vectors))
    assert rows[0] == ["text", "dim_0", "dim_1"]
    assert rows[1][0] == "'=1+2"
    assert np.allclose(np.array([r[1:] for r in rows[1:]], dtype=float), vectors)


def test_embeddings_csv_checks_shapes():
    with pytest.raises(ValueError, match="expected 2 vectors"):
        embeddings_csv(["a", "b"], np.zeros((3, 4)))


def test_predictions_csv_has_one_column_per_label():
    results = [
        {"input": "+bad", "prediction": "-1", "confidence": 0.9, "labels": {"-1": 0.9, "1": 0.1}},
        {"input": "good", "prediction": "1", "confidence": 0.8, "labels": {"-1": 0.2, "1": 0.8}},
    ]
    rows = read(predictions_csv(results))
    assert rows[0] == ["input", "prediction", "confidence", "p(-1)", "p(1)"]
    assert rows[1] == ["'+bad", "-1", "0.9", "0.9", "0.1"]
    assert rows[2][1] == "1"


def test_multi_label_predictions_csv_joins_the_chosen_labels():
    results = [
        {
            "input": "a",
            "prediction": "R|B",
            "confidence": 0.9,
            "labels": {"R|B": 0.9, "joy": 0.7, "sad": 0.1},
            "predictions": ["R|B", "joy"],
            "confidences": [0.9, 0.7],
        },
    ]
    rows = read(predictions_csv(results))
    assert rows[0] == ["input", "predictions", "p(R|B)", "p(joy)", "p(sad)"]
    assert rows[1] == ["a", '"R|B"|joy', "0.9", "0.7", "0.1"]


def test_npy_bytes_loads_without_pickle():
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    loaded = np.load(io.BytesIO(npy_bytes(vectors)), allow_pickle=False)
    assert loaded.dtype == np.float32 and np.array_equal(loaded, vectors)
