"""Loss modules for sentence-transformers that train the embedding body for classification."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from core.model.heads import embedding_dim


def linear_head(
    model: Any, num_labels: int, weight: Tensor | None = None, bias: Tensor | None = None
) -> nn.Linear:
    """The loss's linear head over the model's embeddings, started from a fitted probe's weight
    and bias when given (linear probe, then finetune)."""
    head = nn.Linear(embedding_dim(model), num_labels)
    with torch.no_grad():
        if weight is not None:
            head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        if bias is not None:
            head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return head


class _LinearHeadLoss(nn.Module):
    """A loss through a linear head over one text's sentence embedding (the two below)."""

    def __init__(self, model: Any, num_labels: int, weight: Tensor | None, bias: Tensor | None):
        super().__init__()
        self.model = model
        self.num_labels = num_labels
        self.classifier = linear_head(model, num_labels, weight, bias)

    def logits(self, sentence_features: Iterable[dict[str, Tensor]]) -> Tensor:
        embeddings = self.model(next(iter(sentence_features)))["sentence_embedding"]
        return self.classifier(embeddings.to(self.classifier.weight.dtype))

    def get_config_dict(self) -> dict[str, Any]:
        return {"num_labels": self.num_labels}


class SoftmaxClassificationLoss(_LinearHeadLoss):
    """Cross-entropy through a linear softmax head on one text's sentence embedding.

    Unlike sentence-transformers' ``SoftmaxLoss`` (which classifies *pairs* of texts, for NLI), this
    classifies each text on its own, so the gradient trains the body end to end for the user's
    labels. The head can start from a logistic regression fitted on the frozen embeddings
    ("linear probe, then finetune"): the first steps then refine a working classifier instead of
    pulling the pretrained features towards a random head.

    Args:
        model: the SentenceTransformer whose body is trained.
        num_labels: number of classes.
        weight: optional initial head weight, shape (num_labels, embedding dim).
        bias: optional initial head bias, shape (num_labels,).
        class_weights: optional per-class weights for the cross-entropy (balanced training).

    References:
        Kumar et al., "Fine-Tuning can Distort Pretrained Features and Underperform
        Out-of-Distribution", ICLR 2022 (LP-FT).

    Requirements:
        A dataset with one text column and an integer ``label`` column (0 .. num_labels - 1).

    Inputs:
        +--------+------------------+
        | Texts  | Labels           |
        +========+==================+
        | (text) | class id (int)   |
        +--------+------------------+

    Example:
        ::

            loss = SoftmaxClassificationLoss(model, num_labels=3)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=ds, loss=loss)
    """

    def __init__(
        self,
        model: Any,
        num_labels: int,
        weight: Tensor | None = None,
        bias: Tensor | None = None,
        class_weights: Tensor | None = None,
    ) -> None:
        super().__init__(model, num_labels, weight, bias)
        self.loss_fct = nn.CrossEntropyLoss(weight=class_weights)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        return self.loss_fct(self.logits(sentence_features), labels.view(-1))

    @property
    def citation(self) -> str:
        return (
            "@inproceedings{kumar2022finetuning, title={Fine-Tuning can Distort Pretrained "
            "Features and Underperform Out-of-Distribution}, author={Kumar, Ananya and "
            "Raghunathan, Aditi and Jones, Robbie and Ma, Tengyu and Liang, Percy}, "
            "booktitle={ICLR}, year={2022}}"
        )


class SigmoidClassificationLoss(_LinearHeadLoss):
    """Binary cross-entropy through a linear sigmoid head: one independent yes/no per label, for
    texts that carry several labels (multi-label). As with ``SoftmaxClassificationLoss`` the head
    can start from logistic regressions fitted on the frozen embeddings, here one per label
    (one-vs-rest), so finetuning refines a working classifier.

    Args:
        model: the SentenceTransformer whose body is trained.
        num_labels: number of labels.
        weight: optional initial head weight, shape (num_labels, embedding dim).
        bias: optional initial head bias, shape (num_labels,).
        pos_weight: optional weight of each label's positive examples (balanced training).

    References:
        Kumar et al., ICLR 2022 (LP-FT), as for ``SoftmaxClassificationLoss``.

    Requirements:
        A dataset with one text column and a ``label`` column holding a 0/1 list per text.

    Inputs:
        +--------+-----------------------------+
        | Texts  | Labels                      |
        +========+=============================+
        | (text) | 0/1 per label (float list)  |
        +--------+-----------------------------+
    """

    def __init__(
        self,
        model: Any,
        num_labels: int,
        weight: Tensor | None = None,
        bias: Tensor | None = None,
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(model, num_labels, weight, bias)
        self.loss_fct = nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        logits = self.logits(sentence_features)
        return self.loss_fct(logits, labels.to(logits.dtype).view(-1, self.num_labels))
