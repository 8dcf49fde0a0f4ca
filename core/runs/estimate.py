"""How long a finetune will take, before it starts: throughput measured by the finished runs on
this machine (else the catalogue's figures, said so), the run's schedule, and the time left of
the runs ahead of it in the queue."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core.config import TrainConfig
from core.model.catalogue import CATALOGUE
from core.runs.queue import queue_order
from core.runs.store import RunRecord, RunStore
from core.runs.timing import Prior, Timing
from core.train.schedule import schedule

# The newest finished runs whose throughput is averaged (median): recent enough to follow the
# machine, enough to damp one run that shared the CPU with other work.
MEASURED_RUNS = 5
# Without measured runs: the share of its schedule a finetune runs before early stopping ends it
# (docs/BENCHMARKS.md: binary sets peak after 1-3 of 8 epochs and stop after 4-6, multi-label
# sets run on to 6-8).
STEPS_FRACTION_DEFAULT = 0.8
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
    eval_fixed_s: float = 0.0  # what each evaluation takes besides encoding (head fit, checkpoint)

    def eval_s(self, texts: int) -> float:
        """Seconds of one evaluation (or the baseline's or the head's encode) of `texts` texts."""
        return self.eval_fixed_s + texts / self.encode_texts_per_s

    @property
    def source(self) -> str:
        """Where the figures come from, in a reader's words."""
        if self.runs:
            plural = "run" if self.runs == 1 else "runs"
            return f"measured by {self.runs} finished {plural} of the {self.base_model} model here"
        if self.base_model not in CATALOGUE:  # a model folder: the small model's figures
            return (
                f"from the catalogue's CPU figures for the small model ({self.base_model} is not "
                "in the catalogue and no finished run measured it yet)"
            )
        return (
            f"from the catalogue's CPU figures for the {self.base_model} model (no finished run "
            "to measure yet)"
        )


def timed_runs(store: RunStore, base_model: str, device_kind: str) -> list[RunRecord]:
    """The newest completed runs of a base model on a device kind that measured their time."""
    runs = [
        r
        for r in store.list()
        if isinstance(r, RunRecord)
        and r.status == "completed"
        and r.timing is not None
        and r.config.base_model == base_model
        and (r.device or {}).get("kind", "cpu") == device_kind
    ]
    runs.sort(key=lambda r: r.finished_at or "", reverse=True)
    return runs[:MEASURED_RUNS]


def rates(store: RunStore, base_model: str, device_kind: str = "cpu") -> Rates:
    """This machine's throughput for a base model: the median of its newest measured runs, or the
    catalogue's figures when none finished yet."""
    runs = [r.timing for r in timed_runs(store, base_model, device_kind) if r.timing]
    if not runs:
        spec = CATALOGUE.get(base_model, CATALOGUE["small"])
        return Rates(
            base_model=base_model,
            train_examples_per_s=spec.train_examples_per_s_cpu,
            encode_texts_per_s=spec.encode_per_s_cpu,
            startup_s=STARTUP_S_DEFAULT,
            start_s=START_S_DEFAULT,
            end_s=END_S_DEFAULT,
            steps_fraction=STEPS_FRACTION_DEFAULT,
            eval_fixed_s=EVAL_FIXED_S_DEFAULT,
        )
    fixed_s, encode_per_s = _evaluation_fit(runs)
    return Rates(
        base_model=base_model,
        train_examples_per_s=statistics.median(t.train_examples_per_s for t in runs),
        encode_texts_per_s=encode_per_s,
        eval_fixed_s=fixed_s,
        # The least wait measured: a run with nothing ahead of it waited only for its start.
        startup_s=min(t.queued_s for t in runs),
        start_s=statistics.median(t.start_s for t in runs),
        end_s=statistics.median(t.end_s for t in runs),
        steps_fraction=statistics.median(t.steps_fraction for t in runs),
        runs=len(runs),
    )


def _evaluation_fit(runs: list[Timing]) -> tuple[float, float]:
    """(seconds each evaluation takes whatever its size, texts encoded per second): a straight
    line through the evaluations of runs of different sizes, else the median pace per text."""
    texts = [t.texts for t in runs]
    seconds = [t.texts / t.encode_texts_per_s for t in runs if t.encode_texts_per_s > 0]
    if len(seconds) == len(runs) >= 2 and max(texts) >= 1.5 * min(texts):
        slope, intercept = np.polyfit(texts, seconds, 1)
        if slope > 0 and intercept >= 0:
            return float(intercept), float(1 / slope)
    return 0.0, statistics.median(t.encode_texts_per_s for t in runs)


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
) -> float:
    """Seconds from the start of a run to its end (without the queue): the baseline, the
    finetune's steps and evaluations, the head and saving."""
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
        + encodes * rates.eval_s(n_train + n_valid)
        + rates.end_s
    )


def prior(config: TrainConfig, n_train: int, n_valid: int, rates: Rates) -> Prior:
    """What each step, evaluation and the end of a run are expected to take, before it has
    measured its own (the live ETA starts from this)."""
    eval_s = rates.eval_s(n_train + n_valid)
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
    n_train = int(record.data.get("train_rows") or 0)
    n_valid = int(record.data.get("valid_rows") or 0)
    return run_seconds(record.config, n_train, n_valid, rates, steps_fraction)


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
        own = _record_seconds(record, rates(store, record.config.base_model, device_kind))
        return max(0.0, own - (record.duration_s or 0.0))
    measured = rates(store, record.config.base_model, device_kind)
    return measured.startup_s + _record_seconds(record, measured)


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
) -> Estimate:
    """The time a new run would take if submitted now: the wait behind every active run, the
    start of its worker, and the run itself. `run_id`, the id the run would get, is never a run
    ahead of itself (submitting an identical active run reuses it)."""
    measured = rates(store, config.base_model, device_kind)
    # A new run waits behind every active one.
    ahead = [r for r in queue_order(store) if r.id != run_id]
    queue = sum(time_left(r, store) for r in ahead)
    plan = schedule(config, n_train)
    expected = run_seconds(config, n_train, n_valid, measured)
    shortest = run_seconds(
        config, n_train, n_valid, measured, _earliest_fraction(config, plan.evaluations)
    )
    longest = run_seconds(config, n_train, n_valid, measured, 1.0)
    start = queue + measured.startup_s
    return Estimate(
        seconds=start + expected,
        low=(start + min(shortest, expected)) * FASTER,
        high=(start + max(longest, expected)) * SLOWER,
        queue_s=queue,
        ahead=tuple(r.id for r in ahead),
        source=measured.source,
    )
