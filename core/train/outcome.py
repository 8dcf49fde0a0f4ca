"""What a finetune achieved, in one sentence every door shows: a gain whose paired-bootstrap
interval is above zero, a change within the noise of the evaluation rows, or the base model
kept. The app celebrates only the first."""

from __future__ import annotations

from dataclasses import dataclass

from core.train.metrics import Evaluation

GAIN, UNCLEAR, KEPT_BASE = "gain", "unclear", "kept_base"


@dataclass(frozen=True)
class Outcome:
    kind: str  # GAIN, UNCLEAR or KEPT_BASE
    message: str
    gain: float  # headline F1 after minus before
    interval: tuple[float, float] | None  # its 95 % paired-bootstrap interval, when known

    @property
    def clear_gain(self) -> bool:
        return self.kind == GAIN


def f1_name(evaluation: Evaluation) -> str:
    """'F1 of the label 'spam'' or 'macro-F1': which F1 the headline is."""
    m = evaluation.metrics
    if m.average == "micro":  # multi-label (core.train.multilabel)
        return "micro-F1"
    return f"F1 of the label {m.positive_label!r}" if m.average == "binary" else "macro-F1"


def fmt_interval(interval: tuple[float, float], signed: bool = False) -> str:
    low, high = interval
    spec = "+.3f" if signed else ".3f"
    return f"{low:{spec}} to {high:{spec}}"


def judge(
    final: Evaluation,
    baseline: Evaluation,
    *,
    finetune_kept: bool = True,
    where: str = "validation",
) -> Outcome:
    """The outcome of a run on one evaluation set (`where`: 'validation' or 'test')."""
    name = f1_name(final)
    before, after = baseline.metrics.f1, final.metrics.f1
    gain = after - before
    interval = final.gain_intervals(baseline).get("f1")
    rows = f"{final.n} {where} texts"
    if not finetune_kept:
        return Outcome(
            KEPT_BASE,
            f"Finetuning did not beat the base model on the validation split, so this run kept "
            f"the base model with a logistic-regression head ({name} {after:.3f}). Try more "
            "examples per label, more epochs or a higher learning rate; a label with few "
            "examples is the usual cause.",
            gain,
            interval,
        )
    if interval is None:
        return Outcome(
            UNCLEAR if gain <= 0 else GAIN,
            f"{name} {before:.3f} -> {after:.3f} ({gain:+.3f}) on {rows}; this run was stored "
            "without its per-row predictions, so the gain has no interval.",
            gain,
            None,
        )
    span = f"95 % interval {fmt_interval(interval, signed=True)} on the same {rows}"
    if interval[0] > 0:
        return Outcome(
            GAIN,
            f"{name} rose from {before:.3f} to {after:.3f} ({gain:+.3f}; {span}).",
            gain,
            interval,
        )
    return Outcome(
        UNCLEAR,
        f"{name} went from {before:.3f} to {after:.3f} ({gain:+.3f}), but the {span} includes "
        "zero: on this many texts the finetuned model is not clearly better than the base "
        "model. More labelled examples (above all of the labels with few), a test file with "
        "more rows, or more epochs would tell.",
        gain,
        interval,
    )
