"""core.records: a record and its nested records round-trip through JSON, tuples come back as
tuples, and a wrong type is refused."""

from __future__ import annotations

import json

import pytest

from core.train.metrics import Evaluation, evaluate_predictions


def test_a_nested_record_round_trips_through_json():
    evaluation = evaluate_predictions(["a", "b", "b"], ["a", "b", "a"], ["a", "b"])
    data = json.loads(json.dumps(evaluation.to_dict()))
    assert data["labels"] == ["a", "b"] and data["confusion_matrix"] == [[1, 0], [1, 1]]
    back = Evaluation.from_dict(data)
    assert back == evaluation
    assert isinstance(back.per_class, tuple) and isinstance(back.confusion_matrix[0], tuple)


def test_a_wrong_type_is_refused():
    data = evaluate_predictions(["a", "b"], ["a", "b"], ["a", "b"]).to_dict()
    data["n"] = "many"
    with pytest.raises(ValueError, match="n"):
        Evaluation.from_dict(data)
