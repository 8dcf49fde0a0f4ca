"""The run record: what run.json holds (settings, data, status, progress, results), its format
version and the migration of older runs, and the run's id and name."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.config import TrainConfig
from core.data.labeled import DataSet
from core.errors import RunError
from core.records import Record
from core.runs.fingerprint import rows_fingerprint
from core.runs.timing import Timing
from core.train.metrics import Evaluation
from core.train.task import Task, task_for

FORMAT_VERSION = 2
# Version 2 (issue 27) removed the trial settings that measured as noise or weaker (and with the
# triplet loss gone, the loss setting itself); a version-1 run loads
# through migrate_v1 (its id, model and figures unchanged).
REMOVED_IN_2 = ("contrastive_weight", "dropout_twins", "retrain_on_all", "loss")
STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")
RUN_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A run's name: a label for tables and pickers, so one line of plain text that fits a column.
NAME_MAX = 60


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def validate_run_id(run_id: str) -> str:
    """Refuse anything that is not a plain run id (no '/', '..', absolute paths)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise RunError(
            f"invalid run id {run_id!r}: expected lower-case letters, digits, '-' or '_' "
            "(up to 64 characters)"
        )
    return run_id


def validate_name(name: str) -> str:
    """A run name as kept: trimmed, one line of at most NAME_MAX printable characters ('' clears
    it). Names are labels only: a run keeps its id whatever it is called."""
    if not isinstance(name, str):
        raise RunError(f"a run name must be text, got {type(name).__name__}")
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise RunError(
            f"a run name can be at most {NAME_MAX} characters; this one has {len(name)}: shorten it"
        )
    if not name.isprintable():
        raise RunError("a run name must be plain text: remove the control characters from it")
    return name


def compute_run_id(config: TrainConfig, dataset: DataSet) -> str:
    """Same data + same settings + same format version = same run id (the run cache key)."""
    key = json.dumps(
        {"format": FORMAT_VERSION, "config": config.identity(), "data": dataset.fingerprint()},
        sort_keys=True,
    )
    return "ft-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Progress(Record):
    phase: str = "queued"  # queued, baseline, finetune, head, saving, done
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    # While early stopping may still end the finetune: the seconds left if it ends it at the
    # first chance, and if the finetune runs its whole schedule (eta_s lies between).
    eta_range_s: tuple[float, float] | None = None
    updated_at: str = ""

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0


@dataclass(frozen=True)
class TestSummary(Record):
    """The headline of one test-file evaluation of a run (the whole result is in the run's
    `tests/` folder, see core.runs.evaluate)."""

    key: str
    name: str
    n: int
    f1: float
    f1_interval: tuple[float, float] | None
    base_f1: float
    evaluated_at: str


@dataclass(frozen=True)
class SplitSummary(Record):
    valid_source: str = "split"  # "file" (the user gave one) or "split" (taken from training)
    valid_fraction: float | None = None
    seed: int | None = None


@dataclass(frozen=True, kw_only=True)
class DataSummary(Record):
    """What a run keeps of its data set: prints, names, sizes, labels and the split."""

    fingerprint: str = ""  # the exact data set (core.data.labeled.DataSet.fingerprint)
    rows_fingerprint: str | None = None  # the rows however split; runs before it kept none
    train_name: str = ""
    valid_name: str = ""
    train_rows: int = 0
    valid_rows: int = 0
    classes: tuple[str, ...] = ()
    train_class_counts: dict[str, int] = field(default_factory=dict)
    valid_class_counts: dict[str, int] = field(default_factory=dict)
    multi_label: bool = False
    split: SplitSummary = field(default_factory=SplitSummary)

    @classmethod
    def of(cls, dataset: DataSet) -> DataSummary:
        return cls(
            fingerprint=dataset.fingerprint(),
            rows_fingerprint=rows_fingerprint(dataset),
            train_name=dataset.train.name,
            valid_name=dataset.valid.name,
            train_rows=len(dataset.train),
            valid_rows=len(dataset.valid),
            classes=dataset.classes,
            train_class_counts=dataset.train.class_counts(),
            valid_class_counts=dataset.valid.class_counts(),
            multi_label=dataset.train.multi_label,
            split=SplitSummary(dataset.valid_source, dataset.valid_fraction, dataset.seed),
        )


@dataclass(frozen=True, kw_only=True)
class RunRecord(Record):
    """Everything about a run: its settings, data, status, progress and results (fields in
    the order run.json lists them)."""

    format_version: int = FORMAT_VERSION
    id: str
    name: str = ""
    status: str = "queued"
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    config: TrainConfig
    data: DataSummary
    device: dict[str, str] | None = None
    progress: Progress = field(default_factory=Progress)
    history: tuple[dict[str, Any], ...] = ()
    baseline: Evaluation | None = None
    final: Evaluation | None = None
    finetune_kept: bool | None = None
    note: str = ""
    error: dict[str, Any] | None = None
    timing: Timing | None = None
    tests: tuple[TestSummary, ...] = ()  # test-file evaluations, newest first
    pid: int | None = None
    spawned_at: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def duration_s(self) -> float | None:
        if not self.started_at:
            return None
        end = datetime.fromisoformat(self.finished_at) if self.finished_at else datetime.now(UTC)
        return (end - datetime.fromisoformat(self.started_at)).total_seconds()

    @property
    def title(self) -> str:
        """The run's name, or its id when it has none."""
        return self.name or self.id

    @property
    def best_f1(self) -> float | None:
        return self.final.metrics.f1 if self.final else None

    @property
    def task(self) -> Task:
        """The run's task (core.train.task): what its labels, head and scores are."""
        return task_for(self.data.classes, self.data.multi_label, self.config)

    def replace(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        version = data.get("format_version")
        if version == 1:
            data = migrate_v1(data)
        elif version != FORMAT_VERSION:
            raise RunError(
                f"run format version {version!r} is not supported (expected {FORMAT_VERSION}): "
                "it was made by a newer Embedtune; update this one, or train the run again"
            )
        if data.get("status") not in STATUSES:
            raise RunError(f"unknown run status {data.get('status')!r}")
        return super().from_dict(data)


def migrate_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 run.json read as version 2: the removed trial settings are dropped (a run
    that used one keeps its trained model and figures; its settings no longer name it), and
    `label_names`, which version-1 runs before it existed ran without, is filled in."""
    config = data.get("config")
    if not isinstance(config, Mapping):
        return {**data, "format_version": FORMAT_VERSION}
    kept = {k: v for k, v in config.items() if k not in REMOVED_IN_2}
    kept.setdefault("label_names", False)
    return {**data, "format_version": FORMAT_VERSION, "config": kept}


@dataclass(frozen=True)
class BrokenRun:
    """A run directory that cannot be read; listed so the user can see why and delete it."""

    id: str
    reason: str
    status: str = "broken"
