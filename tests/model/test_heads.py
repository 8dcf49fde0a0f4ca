"""core.model.heads: the head a saved classifier predicts with gives scikit-learn's answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.config import TrainConfig
from core.model.heads import LinearHead, fit_head


@pytest.mark.parametrize("labels", [2, 3, 7])
def test_a_linear_head_predicts_as_the_fitted_logistic_regression(labels):
    rng = np.random.default_rng(labels)
    x = rng.normal(size=(40 * labels, 16))
    y = np.arange(len(x)) % labels
    x[np.arange(len(x)), y] += 2.0  # separable enough to fit, not perfectly
    fitted = fit_head(x, y, TrainConfig(seed=0))
    assert isinstance(fitted, LogisticRegression)
    head = LinearHead(fitted.coef_, fitted.intercept_)
    probe = rng.normal(size=(25, 16))
    np.testing.assert_allclose(head.predict_proba(probe), fitted.predict_proba(probe), atol=1e-12)
    np.testing.assert_array_equal(head.predict(probe), fitted.predict(probe))
    np.testing.assert_array_equal(head.classes_, fitted.classes_)


def test_the_chosen_head_weighs_labels_by_their_counts():
    """C=4 and balanced weights (docs/BENCHMARKS.md, Head) unless the settings say otherwise."""
    x = np.random.default_rng(0).normal(size=(30, 4))
    y = np.array([0] * 20 + [1] * 10)
    head = fit_head(x, y, TrainConfig(seed=0))
    assert (head.C, head.class_weight) == (4.0, "balanced")
    plain = fit_head(x, y, TrainConfig(seed=0, head_c=1.0, head_balanced=False))
    assert (plain.C, plain.class_weight) == (1.0, None)
