"""TrainConfig: every training setting in one validated, serialisable record, with its defaults."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.data.cleaning import CleaningConfig
from core.errors import ConfigError
from core.records import Record

# Training precision: "auto" uses the device's mixed precision where it runs it natively (bf16 on
# a bf16 CPU or GPU, fp16 on older GPUs); "fp32" is the off switch.
PRECISIONS = ("auto", "fp32")


@dataclass(frozen=True)
class TrainConfig(Record):
    """How a finetune runs. Each field's help says what it does, why its default, and the
    measurement behind it (figures: docs/BENCHMARKS.md, 500 training rows, all-MiniLM-L6-v2,
    2 CPU cores); the app and the command line show the same text."""

    base_model: str = field(
        default="small",
        metadata={
            "help": (
                "The small model: 5x faster than the large one on CPU, and what the benchmarks "
                "measure."
            )
        },
    )
    epochs: int = field(
        default=8,
        metadata={
            "help": (
                "Passes over the training rows, at most. Validation macro-F1 on emotion still "
                "rose until epoch 6-7 at 1e-4; early stopping ends the runs that stop gaining "
                "sooner (binary sets peak after 1-3 epochs)."
            )
        },
    )
    batch_size: int = field(
        default=16,
        metadata={
            "help": ("Texts per training step; 16 is the size the CPU figures were measured at.")
        },
    )
    learning_rate: float = field(
        default=1e-4,
        metadata={
            "help": (
                "The body's learning rate. 1e-4: emotion reached 0.66 test macro-F1 at 1e-4 but "
                "0.53 at 5e-5 (slower, stopped early); on sst2 both rates gave 0.78-0.79 "
                "(docs/BENCHMARKS.md)."
            )
        },
    )
    head_learning_rate: float = field(
        default=1e-3,
        metadata={
            "help": (
                "The softmax head's learning rate while the body trains. It starts from the "
                "probe's solution; a higher rate lets it follow the body."
            )
        },
    )
    warmup_ratio: float = field(
        default=0.1,
        metadata={
            "help": (
                "Fraction of the steps over which the learning rate warms up: a short warm-up "
                "keeps the first steps from distorting the pretrained features."
            )
        },
    )
    weight_decay: float = field(
        default=0.01,
        metadata={
            "help": ("AdamW's weight decay on the body: the usual 0.01 of transformers' recipes.")
        },
    )
    max_seq_length: int | None = field(
        default=None,
        metadata={
            "help": (
                "Tokens read per text; None: the base model's own limit (256 tokens for the small "
                "model, 384 for the large)."
            )
        },
    )
    seed: int = field(
        default=42,
        metadata={
            "help": (
                "Random seed of the finetune (dropout, batch order) and of the head; the same "
                "seed and data give the same run."
            )
        },
    )
    early_stopping_patience: int = field(
        default=3,
        metadata={
            "help": ("Evaluations without a gain in validation macro-F1 before training stops.")
        },
    )
    evals_per_epoch: int = field(
        default=1,
        metadata={
            "help": (
                "Evaluations per epoch: each fits the logistic-regression head on the current "
                "embeddings, so the curve shows the classifier the user gets; more often for very "
                "short runs."
            )
        },
    )
    balanced_weights: bool = field(
        default=False,
        metadata={
            "help": (
                "Weight labels inversely to their frequency in the finetuning loss (the head "
                "weighs them on its own: head_balanced)."
            )
        },
    )
    refit_head_on_all: bool = field(
        default=True,
        metadata={
            "help": (
                "Fit the served head on training + validation rows once the checkpoint is chosen "
                "(the reported validation scores stay those of the head fitted on training rows "
                "alone)."
            )
        },
    )
    head_c: float = field(
        default=4.0,
        metadata={
            "help": (
                "Inverse regularisation strength of the logistic-regression head (scikit-learn's "
                "C). On unit-length embeddings C=1 keeps the weights so small that the label "
                "counts decide: with balanced weights, C=4 gave the best mean test macro-F1 of "
                "the frozen model over the 7 shared sets (0.811 against 0.761 for C=1, clinc150 "
                "0.822 against 0.625) and lost at most 1.2 points on any set (docs/BENCHMARKS.md, "
                "Head)."
            )
        },
    )
    head_balanced: bool = field(
        default=True,
        metadata={
            "help": (
                "Weight labels inversely to their frequency in the head, so that a label with 4 "
                "rows does not outvote one with 3 (measured with head_c: see its help)."
            )
        },
    )
    label_names: bool = field(
        default=True,
        metadata={
            "help": (
                "When the labels are words (card_arrival, joy, spam), add each label's name as "
                "one more training row of that label, for the finetune and the head; labels that "
                "are numbers or codes are left as they are. clinc150 (150 intents, 3-4 rows "
                "each): test macro-F1 0.840 -> 0.871, validation 0.824 -> 0.903; emotion and "
                "sms-spam within their seed-to-seed spread (docs/BENCHMARKS.md)."
            )
        },
    )
    cleaning: CleaningConfig = field(
        default_factory=CleaningConfig,
        metadata={
            "help": (
                "Text cleaning rules, applied to the training texts and again to every text sent "
                "for prediction; all off by default (texts are used as given)."
            )
        },
    )
    device: str | None = field(
        default=None,
        metadata={
            "help": ('Force a device ("cpu", "cuda", "mps"); None picks CUDA, then MPS, then CPU.')
        },
    )
    precision: str = field(
        default="fp32",
        metadata={
            "help": (
                '"auto" trains in bf16 where the CPU or GPU runs it natively (fp16 on older GPUs); '
                '"fp32" (the default until measured) trains in full precision everywhere. The '
                "saved model keeps fp32 weights (docs/BENCHMARKS.md, bf16 training)."
            )
        },
    )

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        need(isinstance(self.base_model, str) and self.base_model != "", "base_model is empty")
        for name, low, high in (
            ("epochs", 1, 1000),
            ("batch_size", 2, 4096),
            ("seed", 0, 2**32 - 1),
            ("early_stopping_patience", 0, 1000),
            ("evals_per_epoch", 1, 100),
        ):
            value = getattr(self, name)
            need(
                isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
                f"{name} must be a whole number from {low} to {high}, got {value!r}",
            )
        for name, bottom, top in (
            ("learning_rate", 0.0, 1.0),
            ("head_learning_rate", 0.0, 10.0),
            ("head_c", 0.0, 1e6),
        ):
            value = getattr(self, name)
            need(
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
                and bottom < value <= top,
                f"{name} must be a number above {bottom:g} and at most {top:g}, got {value!r}",
            )
        need(
            isinstance(self.warmup_ratio, int | float) and 0 <= self.warmup_ratio < 1,
            f"warmup_ratio must be from 0 to below 1, got {self.warmup_ratio!r}",
        )
        need(
            isinstance(self.weight_decay, int | float) and 0 <= self.weight_decay <= 1,
            f"weight_decay must be from 0 to 1, got {self.weight_decay!r}",
        )
        need(
            self.max_seq_length is None
            or (isinstance(self.max_seq_length, int) and 8 <= self.max_seq_length <= 8192),
            f"max_seq_length must be from 8 to 8192 tokens, got {self.max_seq_length!r}",
        )
        need(
            self.device in (None, "cpu", "cuda", "mps"),
            f"device must be cpu, cuda or mps, got {self.device!r}",
        )
        need(
            self.precision in PRECISIONS,
            f"precision must be {' or '.join(PRECISIONS)}, got {self.precision!r}",
        )
        for name in (
            "balanced_weights",
            "refit_head_on_all",
            "head_balanced",
            "label_names",
        ):
            need(isinstance(getattr(self, name), bool), f"{name} must be true or false")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        values = dict(data)
        if isinstance(values.get("cleaning"), dict):
            values["cleaning"] = CleaningConfig.from_dict(values["cleaning"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def identity(self) -> dict[str, Any]:
        """The settings that change the result (the device is recorded, not part of the id)."""
        data = self.to_dict()
        data.pop("device")
        return data


def config_help() -> dict[str, str]:
    """Each TrainConfig setting's help text, by name."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(TrainConfig)}
