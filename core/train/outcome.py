"""What a finetune achieved, in one sentence every door shows: a gain whose paired-bootstrap
interval is above zero, a change within the noise of the evaluation rows, or the base model
kept. The app celebrates only the first."""

from __future__ import annotations

from dataclasses import dataclass

from core.train.metrics import Evaluation
from core.train.task import gain_intervals, labels_clearly_worse, scored_task

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
    task = scored_task(final)
    name = task.f1_name(final.metrics)
    before, after = baseline.metrics.f1, final.metrics.f1
    gain = after - before
    gains = gain_intervals(final, baseline)
    interval = gains.get("f1")
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
    # Beside a headline that is not macro-F1 (multi-label: micro), macro-F1 with its interval.
    also = _macro_sentence(final, baseline, gains) if "macro_f1" in task.headline else ""
    fell = labels_clearly_worse(final, baseline)
    macro_fell = bool(also) and gains.get("macro_f1", (0, 0))[1] < 0
    if interval[0] > 0 and not fell and not macro_fell:
        return Outcome(
            GAIN,
            f"{name} rose from {before:.3f} to {after:.3f} ({gain:+.3f}; {span}).{also}",
            gain,
            interval,
        )
    if interval[0] > 0:
        return Outcome(
            UNCLEAR,
            f"{name} rose from {before:.3f} to {after:.3f} ({gain:+.3f}; {span}), but not "
            f"for every label.{also}{_fell_sentence(fell)}",
            gain,
            interval,
        )
    return Outcome(
        UNCLEAR,
        f"{name} went from {before:.3f} to {after:.3f} ({gain:+.3f}), but the {span} includes "
        "zero: on this many texts the finetuned model is not clearly better than the base "
        "model. More labelled examples (above all of the labels with few), a test file with "
        f"more rows, or more epochs would tell.{also}{_fell_sentence(fell)}",
        gain,
        interval,
    )


SHOWN_FELL = 5  # labels named in a sentence; the rest are counted


def _fell_sentence(fell: list[tuple[str, float, float]]) -> str:
    """' Clearly worse: a (F1 0.274 -> 0.080), ...' naming the labels that fell, or ''."""
    if not fell:
        return ""
    named = ", ".join(f"{label} (F1 {b:.3f} -> {a:.3f})" for label, b, a in fell[:SHOWN_FELL])
    more = f" and {len(fell) - SHOWN_FELL} more" if len(fell) > SHOWN_FELL else ""
    word = "label" if len(fell) == 1 else "labels"
    return f" {len(fell)} {word} got clearly worse: {named}{more}."


def _macro_sentence(final: Evaluation, baseline: Evaluation, gains: dict) -> str:
    """Macro-F1 (every label counted alike) with its gain's interval, as a sentence."""
    before, after = baseline.metrics.macro_f1, final.metrics.macro_f1
    interval = gains.get("macro_f1")
    span = f"; 95 % interval {fmt_interval(interval, signed=True)}" if interval else ""
    return f" Macro-F1 went from {before:.3f} to {after:.3f} ({after - before:+.3f}{span})."
