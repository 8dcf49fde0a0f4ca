"""What the command line prints: tables, JSON and progress bars on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from core.env import bar_interval


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def metrics_json(evaluation: Any) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    m = evaluation.metrics
    scores = m.scores()
    extra = {} if m.subset_accuracy is None else {"subset_accuracy": m.subset_accuracy}
    return {
        **scores,
        **extra,
        "average": m.average,
        "positive_label": m.positive_label,
        "n": evaluation.n,
        "intervals": {k: list(v) for k, v in evaluation.intervals.items() if k in scores},
    }


def format_comparison(
    name: str, final: Any, baseline: Any, gain_intervals: dict[str, tuple[float, float]]
) -> str:
    """The finetuned model beside its base model and the gain, each with its 95 % bootstrap
    interval, one score per line."""
    m = final.metrics
    scope = f"positive label {m.positive_label!r}" if m.average == "binary" else "macro-averaged"
    if m.average == "micro":
        scope = "micro-averaged; multi-label: accuracy is Hamming accuracy"
    lines = [
        f"test file {name}: {final.n} rows, {len(final.labels)} labels; F1, precision and "
        f"recall {scope}; [95 % bootstrap interval]",
        f"{'':<11}{'finetuned':<24}{'base model':<24}gain",
    ]
    for key, value in m.scores().items():
        before = getattr(baseline.metrics, key)
        cells = [
            _with_interval(value, final.intervals.get(key)),
            _with_interval(before, baseline.intervals.get(key)),
            _with_interval(value - before, gain_intervals.get(key), signed=True),
        ]
        lines.append(f"{key:<11}" + "".join(f"{c:<24}" for c in cells[:2]) + cells[2])
    if m.subset_accuracy is not None and baseline.metrics.subset_accuracy is not None:
        after, before = m.subset_accuracy, baseline.metrics.subset_accuracy
        lines.append(f"{'subset_acc':<11}{after:<24.3f}{before:<24.3f}{after - before:+.3f}")
    return "\n".join(lines)


def _with_interval(value: float, interval: Any, signed: bool = False) -> str:
    spec = "+.3f" if signed else ".3f"
    if not interval:
        return f"{value:{spec}}"
    return f"{value:{spec}} [{interval[0]:{spec}}, {interval[1]:{spec}}]"


def format_metrics(name: str, evaluation: Any, baseline: Any = None) -> str:
    m = evaluation.metrics
    cells = []
    for key, value in m.scores().items():
        cell = f"{key} {value:.3f}"
        if baseline is not None:
            cell += f" ({value - getattr(baseline.metrics, key):+.3f})"
        cells.append(cell)
    if m.subset_accuracy is not None:
        cell = f"subset_accuracy {m.subset_accuracy:.3f}"
        if baseline is not None and baseline.metrics.subset_accuracy is not None:
            cell += f" ({m.subset_accuracy - baseline.metrics.subset_accuracy:+.3f})"
        cells.append(cell)
    scope = f"positive label {m.positive_label!r}" if m.positive_label else "macro-averaged"
    if m.average == "micro":
        scope = "multi-label: accuracy is Hamming accuracy, f1 / precision / recall micro"
    return f"{name:<10} " + "  ".join(cells) + f"  [{scope}]"


def phase_bars() -> Callable[[str, int, int], None]:
    """A tqdm bar on stderr per phase of a long computation; an empty phase closes the last."""
    from tqdm import tqdm

    state: dict[str, Any] = {"bar": None, "phase": None}

    def update(phase: str, done: int, total: int) -> None:
        if phase != state["phase"]:
            if state["bar"] is not None:
                state["bar"].close()
            state["phase"] = phase
            state["bar"] = (
                tqdm(total=total, desc=phase, file=sys.stderr, mininterval=bar_interval())
                if phase
                else None
            )
        if state["bar"] is not None:
            state["bar"].n = done
            state["bar"].update(0)  # redraws when the bar's interval has passed

    return update


# What a phase without steps to count is doing, printed once when it starts.
PHASE_LINES = {
    "queued": "queued: waiting for the device",
    "baseline": "baseline: scoring the base model with a logistic-regression head",
    "head": "head: fitting the head on the finetuned embeddings",
    "saving": "saving the model",
}


def progress_printer(queue_line: Callable[[Any], str] | None = None) -> Callable[[Any], None]:
    """Progress on stderr: a line when a phase starts (for a queued run, `queue_line`: its place
    in the queue), and one bar for the finetune with its epoch, step, ETA and the latest
    validation macro-F1."""
    from tqdm import tqdm

    state: dict[str, Any] = {"bar": None, "phase": None, "place": None}

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()
            state["bar"] = None

    def update(record: Any) -> None:
        progress = record.progress
        if progress.phase != state["phase"]:
            close()
            state["phase"] = progress.phase
            if progress.phase == "finetune":
                state["bar"] = tqdm(
                    total=progress.total or None,
                    desc=progress.phase,
                    unit="step",
                    file=sys.stderr,
                    dynamic_ncols=True,
                    mininterval=bar_interval(),
                )
            elif progress.phase == "queued" and queue_line is not None and record.active:
                pass  # below: again whenever its place in the queue changes
            elif progress.phase in PHASE_LINES:
                print(PHASE_LINES[progress.phase], file=sys.stderr)
        if progress.phase == "queued" and queue_line is not None and record.active:
            line = queue_line(record)
            place = line.split(", about")[0]  # the wait's figure moves every poll; the place not
            if place != state.get("place"):
                state["place"] = place
                print(f"queued: {line}", file=sys.stderr)
        bar = state["bar"]
        if bar is not None:
            if progress.total and bar.total != progress.total:
                bar.total = progress.total
            bar.n = progress.step
            shown: dict[str, str] = {}
            if progress.total and progress.phase == "finetune":
                epochs = record.config.epochs
                shown["epoch"] = f"{progress.step / progress.total * epochs:.1f}/{epochs}"
            if record.history:
                shown["valid macro-F1"] = f"{record.history[-1]['metrics']['macro_f1']:.3f}"
            bar.set_postfix(shown, refresh=False)
            bar.update(0)  # redraws when the bar's interval has passed
        if not record.active:
            close()

    return update


def run_json(record: Any) -> dict[str, Any]:
    return {
        "run_id": record.id,
        "name": record.name,
        "status": record.status,
        "base_model": record.config.base_model,
        "device": record.device,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration_s": record.duration_s,
        "progress": {
            "phase": record.progress.phase,
            "step": record.progress.step,
            "total": record.progress.total,
            "eta_s": record.progress.eta_s,
        },
        "train_rows": record.data.train_rows,
        "valid_rows": record.data.valid_rows,
        "labels": record.data.classes,
        "baseline": metrics_json(record.baseline),
        "finetuned": metrics_json(record.final),
        "finetune_kept": record.finetune_kept,
        "note": record.note,
        "error": record.error,
        "timing": record.timing.to_dict() if record.timing else None,
    }
