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
# a bf16 CPU or GPU, fp16 on older GPUs); "fp32" is the off switch (docs/BENCHMARKS.md, bf16
# training: finetunes 1.45x faster on 2 bf16 CPU cores, test macro-F1 -0.09 points on 7 sets).
PRECISIONS = ("auto", "fp32")


def setting(default: Any, help: str, **page: Any) -> Any:
    """A TrainConfig field: its default and its help (what it does, its default and why, where
    the measurement is). With a `label` it appears on the Train page, built from `page`: `min` /
    `max` (a whole number: the range; a number: at most `max`, above 0, `min` the smallest the
    page offers), `step` and `format`, or `choices`. The ranges are those __post_init__ checks."""
    return field(default=default, metadata={"help": help, **page})


BENCH = "docs/BENCHMARKS.md"
TRIALS = "docs/EXPERIMENTS.md"


@dataclass(frozen=True)
class TrainConfig(Record):
    """How a finetune runs. The app and the command line show each field's help; the figures
    behind the defaults are in docs/BENCHMARKS.md and docs/EXPERIMENTS.md."""

    base_model: str = setting(
        "small",
        "The sentence-embedding model to finetune. The small one (the default) is 5x faster "
        f"than the large one on CPU and is what the benchmarks measure ({BENCH}).",
    )
    epochs: int = setting(
        8,
        "Passes over the training rows, at most: early stopping ends most runs sooner. 8, as "
        f"emotion's validation macro-F1 still rose until epoch 6-7 ({TRIALS}).",
        label="Epochs (passes over the training data)",
        min=1,
        max=1000,
    )
    batch_size: int = setting(
        16,
        "Texts per training step; 16, the size the CPU figures were measured at.",
        label="Batch size",
        min=2,
        max=4096,
    )
    learning_rate: float = setting(
        1e-4,
        "The body's learning rate; 1e-4 beat 5e-5 on emotion (0.66 against 0.53 test macro-F1) "
        f"and tied it on sst2 ({TRIALS}).",
        label="Learning rate (model body)",
        min=1e-7,
        max=1.0,
        step=1e-5,
        format="%.1e",
    )
    head_learning_rate: float = setting(
        1e-3,
        "The softmax head's learning rate while the body trains (1e-3): the head starts from the "
        "probe's solution and follows the body.",
        label="Learning rate (softmax head)",
        min=1e-6,
        max=10.0,
        step=1e-4,
        format="%.1e",
    )
    warmup_ratio: float = setting(
        0.1,
        "Share of the steps over which the learning rate warms up (0.1), so that the first steps "
        "do not distort the pretrained features.",
    )
    weight_decay: float = setting(
        0.01, "AdamW's weight decay on the body: 0.01, as in transformers' recipes."
    )
    max_seq_length: int | None = setting(
        None,
        "Tokens read per text; unset, the base model's own limit (256 for the small model, 384 "
        "for the large).",
    )
    seed: int = setting(
        42,
        "Chooses the validation rows (when there is no validation file) and fixes the shuffling "
        "and initialisation: the same seed, data and settings give the same run (and reuse a "
        "finished one).",
        label="Seed",
        min=0,
        max=2**32 - 1,
    )
    early_stopping_patience: int = setting(
        3,
        "Evaluations without a gain in the validation score before training stops (0: never).",
        label="Early stopping patience (evaluations, 0 = off)",
        min=0,
        max=1000,
    )
    evals_per_epoch: int = setting(
        1,
        "Evaluations per epoch (1): each fits the head on the current embeddings, so the curve "
        "shows the classifier you get; more for very short runs.",
        label="Evaluations per epoch",
        min=1,
        max=100,
    )
    balanced_weights: bool = setting(
        False,
        "Weight labels inversely to their frequency in the finetuning loss (off; the head "
        "weighs them on its own: head_balanced).",
        label="Balance label weights in the loss",
    )
    refit_head_on_all: bool = setting(
        True,
        "Fit the served head on training and validation rows once the checkpoint is chosen "
        "(on); the validation scores stay those of the head fitted on training rows alone "
        f"({TRIALS}).",
    )
    head_c: float = setting(
        4.0,
        "The head's inverse regularisation strength (scikit-learn's C). 4 gave the frozen "
        f"model's best mean test macro-F1 over the 7 shared sets ({BENCH}, Head).",
        max=1e6,
    )
    head_balanced: bool = setting(
        True,
        "Weight labels inversely to their frequency in the head (on), so that a label with 4 "
        f"rows does not outvote one with 3 ({BENCH}, Head).",
    )
    label_names: bool = setting(
        True,
        "When the labels are words (card_arrival, joy), each label's name is one more training "
        "row of it; codes and numbers are left out. On: clinc150 gained 3 points of test "
        f"macro-F1 ({BENCH}, Label names as examples).",
        label="Label names as examples",
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
    device: str | None = setting(
        None, 'Force a device ("cpu", "cuda", "mps"); unset: CUDA, then MPS, then CPU.'
    )
    precision: str = setting(
        "auto",
        '"auto" (default) trains under bf16 autocast where the CPU or GPU multiplies bf16 '
        'natively (fp16 on older GPUs), else in fp32; "fp32" turns it off. Weights stay fp32. '
        "On 2 bf16 CPU cores finetunes ran 1.45x faster, mean test macro-F1 0.09 points lower "
        f"({BENCH}, bf16 training).",
        label="Training precision",
        choices=PRECISIONS,
    )

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        need(isinstance(self.base_model, str) and self.base_model != "", "base_model is empty")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            low, high = f.metadata.get("min", 0), f.metadata.get("max")
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if isinstance(f.default, int) and not isinstance(f.default, bool) and high:
                need(
                    number and isinstance(value, int) and low <= value <= high,
                    f"{f.name} must be a whole number from {low} to {high}, got {value!r}",
                )
            elif isinstance(f.default, float) and high:
                need(
                    number and math.isfinite(value) and 0 < value <= high,
                    f"{f.name} must be a number above 0 and at most {high:g}, got {value!r}",
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
        for f in dataclasses.fields(self):
            if isinstance(f.default, bool):
                need(isinstance(getattr(self, f.name), bool), f"{f.name} must be true or false")

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


def page_settings() -> list[dataclasses.Field]:
    """The settings the Train page offers (a `label` in their metadata), in TrainConfig's order."""
    return [f for f in dataclasses.fields(TrainConfig) if "label" in f.metadata]
