"""How long a finetune will take, before it starts: throughput measured by the finished runs on
this machine (else the catalogue's figures, said so), the run's schedule and its labels, and the
time left of the runs ahead of it in the queue."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core.config import TrainConfig
from core.errors import ModelError
from core.model.catalogue import CATALOGUE, choose_device
from core.runs.queue import queue_order
from core.runs.store import RunRecord, RunStore
from core.runs.timing import Prior
from core.train.label_names import finetune_rows
from core.train.schedule import schedule

# The newest finished runs whose throughput is averaged (median): recent enough to follow the
# machine, enough to damp one run that shared the CPU with other work.
MEASURED_RUNS = 5
# Without measured runs: the share of its schedule a finetune runs before early stopping ends it
# (docs/BENCHMARKS.md: binary sets peak after 1-3 of 8 epochs and stop after 4-6, multi-label
# sets run on to 6-8).
STEPS_FRACTION_DEFAULT = 0.8
# The same for a multi-label finetune (micro-F1 keeps creeping up): goemotions at 1,000 rows ran
# 6, 7, 7, 6, 8 and 8 of its 8 epochs (bench/results/multilabel.jsonl), median 7.
MULTI_STEPS_FRACTION_DEFAULT = 0.875
# Without measured runs: from submission to the first phase (spawn the worker, import torch and
# sentence-transformers: ~5 s in MODELS.md), loading the model and fitting a head, loading the
# best checkpoint and saving (~90 MB for the small model). Rough on purpose: replaced by the
# figures of the first finished run.
STARTUP_S_DEFAULT = 8.0
START_S_DEFAULT = 2.0
END_S_DEFAULT = 3.0
# Without measured runs: what an evaluation takes besides encoding (fit the head, keep a ~90 MB
# checkpoint).
EVAL_FIXED_S_DEFAULT = 1.0
# What an evaluation's head work (fit the head on the training rows, score the validation rows
# with bootstrap intervals) costs per text and label, in texts encoded: it grows with texts x
# labels while the encode grows with texts. Measured against the encode in the same process
# (bench/estimates.py --heads, bench/results/estimates-heads.jsonl, quiet): 0.0006-0.0008 for
# 77-150 labels of clinc150 (0.26 s for 150 x 1,500 texts), 0.0012-0.0024 for goemotions'
# 26-28 (multi-label: a head and a threshold per label; 0.22 s for 28 x 2,000).
HEAD_TEXTS_PER_LABEL = 0.001
# Without measured runs: on a CPU the worker computes a finished run's map (both models embed
# its validation texts, UMAP places them) before it hands the CPU to the run queued behind:
# 7-8 s quiet, 13-24 s at load 5-9, whatever the labels (bench/results/estimates-labels*.jsonl).
MAP_S_DEFAULT = 15.0
# Without runs measured at bf16: bf16's speed-up over the catalogue's fp32 figures on a CPU that
# has it (docs/BENCHMARKS.md, bf16 training: whole finetunes 1.45x, encoding 32 texts 1.9x).
BF16_TRAIN_SPEEDUP = 1.45
BF16_ENCODE_SPEEDUP = 1.8
# The range around the expected time: early stopping at its earliest (patience + 1 evaluations)
# to the whole schedule, and a machine up to this much slower or faster than the runs measured.
SLOWER = 1.25
FASTER = 0.85


@dataclass(frozen=True)
class Rates:
    """Throughput of a base model on a device: measured by `runs` finished runs, or (runs == 0)
    the catalogue's figures."""

    base_model: str
    train_examples_per_s: float
    encode_texts_per_s: float
    startup_s: float
    start_s: float
    end_s: float
    steps_fraction: float
    runs: int = 0
    eval_fixed_s: float = 0.0  # what each evaluation takes besides its work (keep a checkpoint)
    map_s: float = MAP_S_DEFAULT  # on a CPU, the map after the run, before the next one starts
    precision: str = "fp32"  # the precision of the runs measured (runs of another never count)

    def eval_s(self, texts: int, labels: int = 2) -> float:
        """Seconds of one evaluation (or the baseline's or the head's) of `texts` texts and
        `labels` labels."""
        return self.eval_fixed_s + work_texts(texts, labels) / self.encode_texts_per_s

    @property
    def source(self) -> str:
        """Where the figures come from, in a reader's words."""
        at = "" if self.precision == "fp32" else f" at {self.precision}"
        if self.runs:
            runs = f"{self.runs} finished run{'' if self.runs == 1 else 's'}"
            return f"measured by {runs} of the {self.base_model} model here{at}"
        sped = ", sped up by bf16's measured speed-up" if self.precision == "bf16" else ""
        if self.base_model not in CATALOGUE:  # a model folder: the small model's figures
            return (
                f"from the catalogue's CPU figures for the small model{sped} ({self.base_model} "
                f"is not in the catalogue and no finished run{at} measured it yet)"
            )
        return (
            f"from the catalogue's CPU figures for the {self.base_model} model{sped} (no "
            f"finished run{at} to measure yet)"
        )


def work_texts(texts: int, labels: int) -> float:
    """An evaluation's work in texts encoded: its texts, and its head's fit and scores, which
    grow with texts x labels (HEAD_TEXTS_PER_LABEL)."""
    return texts * (1 + HEAD_TEXTS_PER_LABEL * labels)


def _labels(record: RunRecord) -> tuple[int, bool]:
    """(labels, multi-label) of a run."""
    return len(record.data.classes or ()) or 2, bool(record.data.multi_label)


def _map_s(store: RunStore, record: RunRecord) -> float | None:
    """Seconds from a run's end to its map on disk, written by the worker; None without one, or
    for a map written later than the run's own length after its end (a page computed it)."""
    from core.runs.maps import map_path

    try:
        written = map_path(store, record.id).stat().st_mtime
        finished = datetime.fromisoformat(record.finished_at or "").timestamp()
    except (OSError, ValueError):
        return None
    seconds = max(0.0, written - finished)
    return seconds if record.timing and seconds <= record.timing.run_s else None


def run_precision(config: TrainConfig, device_kind: str, device: dict | None = None) -> str:
    """The precision a run trains at: the one its record says it ran at, else what its setting
    gives on this device kind here (bf16 only where the device runs it natively)."""
    if device and device.get("precision"):
        return str(device["precision"])
    try:
        return choose_device(device_kind, config.precision).precision
    except ModelError:
        return "fp32"


def timed_runs(
    store: RunStore, base_model: str, device_kind: str, precision: str = "fp32"
) -> list[RunRecord]:
    """The newest completed runs of a base model on a device kind at a precision that measured
    their time (a bf16 run's pace says nothing of an fp32 run's, and back)."""
    runs = [
        r
        for r in store.list()
        if isinstance(r, RunRecord)
        and r.status == "completed"
        and r.timing is not None
        and r.config.base_model == base_model
        and (r.device or {}).get("kind", "cpu") == device_kind
        and (r.device or {}).get("precision", "fp32") == precision
    ]
    runs.sort(key=lambda r: r.finished_at or "", reverse=True)
    return runs[:MEASURED_RUNS]


def rates(
    store: RunStore,
    base_model: str,
    device_kind: str = "cpu",
    multi_label: bool | None = None,
    precision: str = "fp32",
) -> Rates:
    """This machine's throughput for a base model at a precision: the median of its newest
    measured runs at that precision, or the catalogue's figures (sped up by BF16_* at bf16) when
    none finished yet. With `multi_label`, the share of its schedule a finetune runs comes from
    the runs of that kind only (else that kind's default)."""
    records = timed_runs(store, base_model, device_kind, precision)
    default_fraction = MULTI_STEPS_FRACTION_DEFAULT if multi_label else STEPS_FRACTION_DEFAULT
    fractions = [
        r.timing.steps_fraction
        for r in records
        if r.timing and (multi_label is None or _labels(r)[1] == multi_label)
    ]
    steps_fraction = statistics.median(fractions) if fractions else default_fraction
    if not records:
        spec = CATALOGUE.get(base_model, CATALOGUE["small"])
        bf16 = precision == "bf16"
        return Rates(
            base_model=base_model,
            train_examples_per_s=spec.train_examples_per_s_cpu
            * (BF16_TRAIN_SPEEDUP if bf16 else 1),
            encode_texts_per_s=spec.encode_per_s_cpu * (BF16_ENCODE_SPEEDUP if bf16 else 1),
            startup_s=STARTUP_S_DEFAULT,
            start_s=START_S_DEFAULT,
            end_s=END_S_DEFAULT,
            steps_fraction=steps_fraction,
            eval_fixed_s=EVAL_FIXED_S_DEFAULT,
            precision=precision,
        )
    runs = [r.timing for r in records if r.timing]
    fixed_s, encode_per_s = _evaluation_fit(records)
    maps = [m for r in records if (m := _map_s(store, r)) is not None]
    return Rates(
        base_model=base_model,
        train_examples_per_s=statistics.median(t.train_examples_per_s for t in runs),
        encode_texts_per_s=encode_per_s,
        eval_fixed_s=fixed_s,
        # The least wait measured: a run with nothing ahead of it waited only for its start.
        startup_s=min(t.queued_s for t in runs),
        start_s=statistics.median(t.start_s for t in runs),
        end_s=statistics.median(t.end_s for t in runs),
        steps_fraction=steps_fraction,
        runs=len(runs),
        map_s=statistics.median(maps) if maps else MAP_S_DEFAULT,
        precision=precision,
    )


def _evaluation_fit(records: list[RunRecord]) -> tuple[float, float]:
    """(seconds each evaluation takes whatever its size, texts encoded per second): a straight
    line through the evaluations of runs of different sizes (their work in texts: work_texts),
    else the median pace."""
    work, seconds = [], []
    for record in records:
        timing = record.timing
        if timing is None or timing.encode_texts_per_s <= 0:
            continue
        work.append(work_texts(timing.texts, _labels(record)[0]))
        seconds.append(timing.texts / timing.encode_texts_per_s)
    if len(work) >= 2 and max(work) >= 1.5 * min(work):
        slope, intercept = np.polyfit(work, seconds, 1)
        if slope > 0 and intercept >= 0:
            return float(intercept), float(1 / slope)
    return 0.0, statistics.median(w / s for w, s in zip(work, seconds, strict=True))


def _earliest_fraction(config: TrainConfig, evaluations: int) -> float:
    """The least of its schedule a finetune can run: early stopping needs patience + 1
    evaluations (the best one, then `patience` without a gain)."""
    if config.early_stopping_patience <= 0 or evaluations <= 0:
        return 1.0
    return min(1.0, (config.early_stopping_patience + 1) / evaluations)


def run_seconds(
    config: TrainConfig,
    n_train: int,
    n_valid: int,
    rates: Rates,
    steps_fraction: float | None = None,
    *,
    labels: int = 2,
) -> float:
    """Seconds from the start of a run to its end (without the queue): the baseline, the
    finetune's steps and evaluations, the head and saving. `n_train` counts the label-name rows
    (core.train.label_names.finetune_rows)."""
    plan = schedule(config, n_train)
    fraction = rates.steps_fraction if steps_fraction is None else steps_fraction
    if config.early_stopping_patience <= 0:
        fraction = 1.0
    fraction = max(_earliest_fraction(config, plan.evaluations), min(1.0, fraction))
    examples = n_train * config.epochs * fraction
    encodes = 2 + plan.evaluations * fraction  # the baseline, each evaluation, the head
    return (
        rates.start_s
        + examples / rates.train_examples_per_s
        + encodes * rates.eval_s(n_train + n_valid, labels)
        + rates.end_s
    )


def prior(
    config: TrainConfig,
    n_train: int,
    n_valid: int,
    rates: Rates,
    *,
    labels: int = 2,
) -> Prior:
    """What each step, evaluation and the end of a run are expected to take, before it has
    measured its own (the live ETA starts from this)."""
    eval_s = rates.eval_s(n_train + n_valid, labels)
    return Prior(
        step_s=config.batch_size / rates.train_examples_per_s,
        eval_s=eval_s,
        end_s=rates.end_s,
        steps_fraction=rates.steps_fraction if config.early_stopping_patience > 0 else 1.0,
    )


@dataclass(frozen=True)
class Estimate:
    """How long a run will take from now to its end, the queue included: `seconds` expected,
    between `low` and `high`; `queue_s` of it waiting behind `ahead`."""

    seconds: float
    low: float
    high: float
    queue_s: float
    ahead: tuple[str, ...]
    source: str


def _record_seconds(record: RunRecord, rates: Rates, steps_fraction: float | None = None) -> float:
    """A queued or running run's seconds from its start to its end, from what its record keeps:
    its rows, label-name rows and labels."""
    n_train = finetune_rows(
        int(record.data.train_rows or 0),
        record.data.classes or [],
        record.config.label_names,
    )
    n_valid = int(record.data.valid_rows or 0)
    return run_seconds(
        record.config, n_train, n_valid, rates, steps_fraction, labels=_labels(record)[0]
    )


def _age_s(iso: str) -> float:
    if not iso:
        return 0.0
    try:
        return max(0.0, (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds())
    except ValueError:
        return 0.0


def time_left(record: RunRecord, store: RunStore) -> float:
    """Seconds until an active run ends: a running run's live ETA (less the time since it was
    written), or a queued run's whole estimate; 0 for a finished run."""
    if not record.active:
        return 0.0
    device_kind = (record.device or {}).get("kind", "cpu")
    if record.status == "running":
        eta = record.progress.eta_s
        if eta is not None:
            return max(0.0, eta - _age_s(record.progress.updated_at))
    precision = run_precision(record.config, device_kind, record.device)
    measured = rates(store, record.config.base_model, device_kind, _labels(record)[1], precision)
    if record.status == "running":
        return max(0.0, _record_seconds(record, measured) - (record.duration_s or 0.0))
    return measured.startup_s + _record_seconds(record, measured)


def wait_behind(record: RunRecord, store: RunStore) -> float:
    """Seconds a run queued behind an active one waits for it: its time left and, on a CPU, its
    map, which the worker computes before it hands the CPU on (core.runs.worker)."""
    left = time_left(record, store)
    device_kind = (record.device or {}).get("kind", "cpu")
    if not record.active or device_kind != "cpu":
        return left
    precision = run_precision(record.config, device_kind, record.device)
    return left + rates(store, record.config.base_model, device_kind, precision=precision).map_s


def time_left_range(record: RunRecord) -> tuple[float, float] | None:
    """(soonest, latest) seconds until a running run ends while early stopping may still end its
    finetune (core.runs.worker writes them with its ETA), less the time since they were
    written; None when the end is known."""
    spread = record.progress.eta_range_s
    if record.status != "running" or spread is None:
        return None
    age = _age_s(record.progress.updated_at)
    return max(0.0, spread[0] - age), max(0.0, spread[1] - age)


def estimate(
    config: TrainConfig,
    n_train: int,
    n_valid: int,
    store: RunStore,
    device_kind: str = "cpu",
    run_id: str | None = None,
    *,
    labels: int = 2,
    multi_label: bool = False,
) -> Estimate:
    """The time a new run would take if submitted now: the wait behind every active run, the
    start of its worker, and the run itself, of `n_train` finetune rows (label-name rows
    included: core.train.label_names.finetune_rows), `n_valid` validation rows and `labels`
    labels. `run_id`, the id the run would get, is never a run ahead of itself (submitting an
    identical active run reuses it)."""
    precision = run_precision(config, device_kind)
    measured = rates(store, config.base_model, device_kind, multi_label, precision)
    # A new run waits behind every active one.
    ahead = [r for r in queue_order(store) if r.id != run_id]
    queue = sum(wait_behind(r, store) for r in ahead)
    plan = schedule(config, n_train)

    def seconds(fraction: float | None = None) -> float:
        return run_seconds(config, n_train, n_valid, measured, fraction, labels=labels)

    expected, longest = seconds(), seconds(1.0)
    shortest = seconds(_earliest_fraction(config, plan.evaluations))
    start = queue + measured.startup_s
    return Estimate(
        seconds=start + expected,
        low=(start + min(shortest, expected)) * FASTER,
        high=(start + max(longest, expected)) * SLOWER,
        queue_s=queue,
        ahead=tuple(r.id for r in ahead),
        source=measured.source,
    )
