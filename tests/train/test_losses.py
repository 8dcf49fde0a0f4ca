"""core.train.losses: the softmax loss starts as the logistic-regression probe."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import TrainConfig
from core.model.heads import encode, fit_head, head_as_softmax

TEXTS = ["I loved it", "wonderful film", "terrible food", "I hated it", "not bad at all", "meh"]


@pytest.mark.parametrize("num_labels", [2, 3])
def test_the_softmax_loss_head_starts_as_the_logistic_regression(small_model, num_labels):
    """Linear probe, then finetune: the loss's head is initialised to the probe's decision."""
    import torch

    from core.train.losses import SoftmaxClassificationLoss

    y = np.arange(len(TEXTS)) % num_labels
    embeddings = encode(small_model, TEXTS)
    head = fit_head(embeddings, y, TrainConfig())
    weight, bias = head_as_softmax(head, num_labels)
    loss = SoftmaxClassificationLoss(
        small_model, num_labels, weight=torch.tensor(weight), bias=torch.tensor(bias)
    )
    with torch.no_grad():
        logits = loss.classifier(torch.tensor(embeddings))
    np.testing.assert_allclose(
        torch.softmax(logits, dim=1).numpy(), head.predict_proba(embeddings), atol=1e-5
    )
