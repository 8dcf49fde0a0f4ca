"""The model of a session: a base model, or a finished run whose labels and training rows start
the session (label more where it is unsure)."""

from __future__ import annotations

import pytest

from core.data.labeled import LabeledTexts
from core.errors import DataError
from core.label.models import base_model, run_model

TRAIN = LabeledTexts(("card late", "refund me"), ("card", "refund"), (1, 2), name="t.csv")


def test_a_base_model_is_its_own_key():
    model = base_model("small")
    assert (model.key, model.labels, model.rows.texts) == ("small", (), ())


def test_a_run_brings_its_labels_and_rows():
    model = run_model("ft-1", "2026-01-01T00:00:00", ["card", "refund"], False, TRAIN)
    assert model.key == "ft-1@2026-01-01T00:00:00"  # a retrained run embeds differently
    assert model.labels == ("card", "refund")
    assert model.rows.texts == ("card late", "refund me")
    assert model.rows.labels == ("card", "refund")


def test_a_run_whose_rows_cannot_be_read_still_brings_its_labels():
    model = run_model("ft-1", None, ["card", "refund"], False, None)
    assert model.labels == ("card", "refund") and model.rows.texts == ()


def test_a_multi_label_run_is_refused():
    with pytest.raises(DataError) as err:
        run_model("ft-2", None, ["a", "b"], True, None)
    assert str(err.value) == (
        "run ft-2 is multi-label: a labelling session asks one label per text; choose a "
        "single-label run or a base model"
    )
