"""core.train.losses: the softmax loss starts as the logistic-regression probe; the supervised
contrastive term pulls texts of a label together."""

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


def test_the_contrastive_term_is_low_when_labels_cluster_and_high_when_they_mix():
    import torch

    from core.train.losses import supervised_contrastive

    labels = torch.tensor([0, 0, 1, 1])
    clustered = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    mixed = clustered[[0, 2, 1, 3]]  # each text's nearest neighbour now has the other label
    low = supervised_contrastive(clustered, labels, temperature=0.1)
    high = supervised_contrastive(mixed, labels, temperature=0.1)
    assert 0 <= low < 0.01 and high > 5
    # By hand, three texts (two of label 0): each of the two anchors against its one positive,
    # -log(exp(s_pos / t) / sum over the other texts of exp(s / t)); the third has no positive.
    z = torch.nn.functional.normalize(clustered[:3], dim=-1)
    s = z @ z.T / 0.1
    anchor_0 = -(s[0, 1] - torch.logsumexp(s[0, [1, 2]], dim=0))
    anchor_1 = -(s[1, 0] - torch.logsumexp(s[1, [0, 2]], dim=0))
    value = supervised_contrastive(clustered[:3], labels[:3], 0.1)
    assert float(value) == pytest.approx(float((anchor_0 + anchor_1) / 2), rel=1e-5)


def test_a_batch_without_two_texts_of_a_label_adds_nothing_but_keeps_the_graph():
    import torch

    from core.train.losses import supervised_contrastive

    embeddings = torch.randn(3, 4, requires_grad=True)
    value = supervised_contrastive(embeddings, torch.tensor([0, 1, 2]), temperature=0.1)
    assert float(value) == 0.0
    value.backward()  # a term of zero still back-propagates
    assert embeddings.grad is not None


def test_the_contrastive_weight_adds_the_term_to_the_cross_entropy(small_model):
    import torch

    from core.train.losses import SoftmaxClassificationLoss

    features = small_model.tokenize(TEXTS)
    labels = torch.tensor([0, 0, 1, 1, 0, 1])
    torch.manual_seed(0)
    plain = SoftmaxClassificationLoss(small_model, 2)
    both = SoftmaxClassificationLoss(small_model, 2, contrastive_weight=0.5)
    both.classifier.load_state_dict(plain.classifier.state_dict())
    small_model.eval()
    with torch.no_grad():
        ce = plain([features], labels)
        total = both([features], labels)
        embeddings = small_model(features)["sentence_embedding"]
    from core.train.losses import supervised_contrastive

    expected = ce + 0.5 * supervised_contrastive(embeddings, labels, 0.1)
    assert float(total) == pytest.approx(float(expected), rel=1e-5)
    assert both.get_config_dict()["contrastive_weight"] == 0.5


def test_contrastive_weight_is_checked_and_leaves_run_ids_unchanged_when_off():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="contrastive_weight must be from 0 to 100"):
        TrainConfig(contrastive_weight=-1)
    with pytest.raises(ConfigError, match="goes with the softmax loss"):
        TrainConfig(loss="batch_all_triplet", contrastive_weight=0.5)
    assert "contrastive_weight" not in TrainConfig().identity()
    assert TrainConfig(contrastive_weight=0.5).identity()["contrastive_weight"] == 0.5


def test_dropout_twins_read_the_batch_twice_and_pair_each_text_with_its_twin(small_model):
    import torch

    from core.train.losses import SoftmaxClassificationLoss, supervised_contrastive

    features = small_model.tokenize(TEXTS)
    labels = torch.tensor([0, 0, 1, 1, 0, 1])
    plain = SoftmaxClassificationLoss(small_model, 2)
    twins = SoftmaxClassificationLoss(small_model, 2, contrastive_weight=0.5, dropout_twins=True)
    twins.classifier.load_state_dict(plain.classifier.state_dict())
    small_model.eval()  # no dropout: the twins are equal, so the figures can be checked exactly
    with torch.no_grad():
        ce = plain([features], labels)
        total = twins([features], labels)
        embeddings = small_model(features)["sentence_embedding"]
    doubled = supervised_contrastive(
        torch.cat([embeddings, embeddings]), torch.cat([labels, labels]), 0.1
    )
    assert float(total) == pytest.approx(float(ce + 0.5 * doubled), rel=1e-5)
    assert twins.get_config_dict()["dropout_twins"] is True
    # A label with one text in the batch still has a positive: its twin.
    alone = torch.tensor([0, 1, 2, 3, 4, 5])
    assert float(supervised_contrastive(embeddings, alone, 0.1)) == 0.0
    assert float(supervised_contrastive(torch.cat([embeddings] * 2), alone.repeat(2), 0.1)) > 0


def test_dropout_twins_go_with_the_softmax_loss_and_leave_run_ids_unchanged_when_off():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="dropout_twins goes with the softmax loss"):
        TrainConfig(loss="batch_all_triplet", dropout_twins=True)
    assert "dropout_twins" not in TrainConfig().identity()
    assert TrainConfig(dropout_twins=True).identity()["dropout_twins"] is True
