"""The run store: one directory per finetune, atomic JSON records, content-derived run ids."""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.config import TrainConfig
from core.data.labeled import DataSet
from core.errors import RunError, StorageError
from core.io import atomic_write_text
from core.model.classifier import MODEL_DIR
from core.records import Record
from core.runs.fingerprint import rows_fingerprint
from core.runs.timing import Timing
from core.train.metrics import Evaluation

FORMAT_VERSION = 2
# Version 2 (issue 27) removed three trial settings that measured as noise; a version-1 run loads
# through migrate_v1 (its id, model and figures unchanged).
REMOVED_IN_2 = ("contrastive_weight", "dropout_twins", "retrain_on_all")
RUN_FILE = "run.json"
LOG_FILE = "log.txt"
CANCEL_FILE = "cancel"
WORKER_LOCK = "worker.lock"
DATASET_FILE = "dataset.json"
STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")
# A worker holds its lock within a second or two of being spawned; until then its pid vouches.
SPAWN_GRACE_S = 60.0
# Free space a run needs besides its model (checkpoints, data, logs).
MIN_FREE_BYTES = 200 * 1024 * 1024
RUN_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A run's name: a label for tables and pickers, so one line of plain text that fits a column.
NAME_MAX = 60


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_runs_dir() -> Path:
    """`EMBEDTUNE_RUNS_DIR`, else ./runs."""
    return Path(os.environ.get("EMBEDTUNE_RUNS_DIR") or "runs")


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
    data: dict[str, Any]
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


def _pid_alive(pid: int | None) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, counts as gone)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class RunStore:
    """The runs folder. Every reader and writer (app, CLI, worker) goes through this."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        lock_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        # Where the one-job-at-a-time device lock lives: the runs folder, or in a shared demo
        # the folder above every visitor's workspace (see core.runs.sharing).
        self.lock_root = Path(lock_root) if lock_root is not None else self.root

    # -- paths -----------------------------------------------------------------------------
    def path(self, run_id: str) -> Path:
        return self.root / validate_run_id(run_id)

    def _lock(self, run_id: str, timeout: float = 30) -> Any:
        from filelock import FileLock

        return FileLock(str(self.root / f".{validate_run_id(run_id)}.lock"), timeout=timeout)

    def _store_lock(self) -> Any:
        from filelock import FileLock

        return FileLock(str(self.root / ".store.lock"), timeout=60)

    def ensure_writable(self, needed_bytes: int = 0) -> None:
        """Fail early, with the reason, when the runs folder cannot take a new run."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StorageError(
                f"cannot write to the runs folder {self.root}: {exc.strerror or exc}"
            ) from exc
        free = shutil.disk_usage(self.root).free
        if free < needed_bytes + MIN_FREE_BYTES:
            raise StorageError(
                f"not enough free disk space in {self.root}: {free / 1e6:.0f} MB free, "
                f"a run needs about {(needed_bytes + MIN_FREE_BYTES) / 1e6:.0f} MB"
            )

    # -- reading ---------------------------------------------------------------------------
    def _read_raw(self, run_id: str) -> RunRecord:
        path = self.path(run_id) / RUN_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            if self.path(run_id).is_dir():
                raise RunError(f"run {run_id} is broken: its {RUN_FILE} is missing") from exc
            raise RunError(f"no run {run_id!r} in {self.root}") from exc
        except (OSError, ValueError) as exc:
            raise RunError(
                f"run {run_id} is broken: its {RUN_FILE} cannot be read ({exc})"
            ) from exc
        try:
            return RunRecord.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(
                f"run {run_id} is broken: {RUN_FILE} is not a run record ({exc})"
            ) from exc

    def worker_alive(self, record: RunRecord) -> bool:
        """Whether the worker process of an active run still lives (its lock is held)."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path(record.id) / WORKER_LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        # Not holding its lock yet: a worker that is just starting still has a live pid.
        if record.spawned_at is None or time.time() - record.spawned_at > SPAWN_GRACE_S:
            return False
        return record.pid is None or _pid_alive(record.pid)

    def get(self, run_id: str) -> RunRecord:
        """Read a run; an active run whose worker died is marked failed on the way."""
        record = self._read_raw(run_id)
        if record.active and not self.worker_alive(record):
            with self._lock(run_id):
                record = self._read_raw(run_id)
                if record.active and not self.worker_alive(record):
                    tail = self.log_tail(run_id)
                    record = record.replace(
                        status="failed",
                        finished_at=now_iso(),
                        error={
                            "reason": "the worker process stopped unexpectedly (killed, out of "
                            f"memory or the machine restarted) during the {record.progress.phase} "
                            "phase",
                            "log_tail": tail,
                        },
                    )
                    self._write(record)
        return record

    def list(self) -> list[RunRecord | BrokenRun]:
        """All runs, newest first; unreadable ones as BrokenRun with the reason."""
        if not self.root.is_dir():
            return []
        runs: list[RunRecord | BrokenRun] = []
        for entry in self.root.iterdir():
            if (
                not entry.is_dir()
                or entry.name.startswith(".")
                or not RUN_ID_PATTERN.fullmatch(entry.name)
            ):
                continue
            try:
                record = self.get(entry.name)
            except RunError as exc:
                runs.append(BrokenRun(entry.name, str(exc)))
                continue
            if record.status == "completed" and not (entry / MODEL_DIR).is_dir():
                # Deleted by hand or lost with a disk: listed, never served as a model.
                reason = (
                    f"run {entry.name} is broken: it completed but its {MODEL_DIR} folder is gone"
                )
                runs.append(BrokenRun(entry.name, reason))
                continue
            runs.append(record)
        runs.sort(
            key=lambda r: (getattr(r, "created_at", ""), r.id),
            reverse=True,
        )
        return runs

    def log_tail(self, run_id: str, lines: int = 20) -> builtins.list[str]:
        try:
            with open(self.path(run_id) / LOG_FILE, encoding="utf-8", errors="replace") as f:
                return [line.rstrip("\n") for line in f.readlines()[-lines:]]
        except OSError:
            return []

    def load_dataset(self, run_id: str) -> DataSet:
        """The exact training and validation rows the run was started with."""
        path = self.path(run_id) / DATASET_FILE
        try:
            return DataSet.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"run {run_id} is broken: its data cannot be read ({exc})") from exc

    # -- writing ---------------------------------------------------------------------------
    def _write(self, record: RunRecord) -> None:
        atomic_write_text(self.path(record.id) / RUN_FILE, json.dumps(record.to_dict(), indent=1))

    def update(self, run_id: str, **changes: Any) -> RunRecord:
        """Change fields of a run record atomically (read, modify, write under its lock)."""
        return self.modify(run_id, lambda record: record.replace(**changes))

    def modify(self, run_id: str, change: Callable[[RunRecord], RunRecord]) -> RunRecord:
        """Apply `change` to the current record under the run's lock and write the result."""
        with self._lock(run_id):
            record = change(self._read_raw(run_id))
            self._write(record)
            return record

    def create(
        self, config: TrainConfig, dataset: DataSet, name: str = ""
    ) -> tuple[RunRecord, bool]:
        """The run for these settings and data: (record, True) when newly created, or the
        existing run (False) when it is completed or still active — the run cache. A failed or
        cancelled run with the same id is replaced (a retry). A `name` is given to the run,
        new or reused; it never changes the id."""
        name = validate_name(name)
        self.ensure_writable()
        run_id = compute_run_id(config, dataset)
        with self._store_lock():
            if (self.path(run_id) / RUN_FILE).exists():
                try:
                    existing = self.get(run_id)
                except RunError:
                    existing = None
                if existing is not None and existing.status in ("completed", *ACTIVE):
                    model_lost = (
                        existing.status == "completed"
                        and not (self.path(run_id) / MODEL_DIR).is_dir()
                    )
                    if not model_lost:
                        if name and name != existing.name:
                            existing = self.rename(run_id, name)
                        return existing, False
            record = RunRecord(
                id=run_id,
                name=name,
                config=config,
                data=_data_summary(dataset),
                created_at=now_iso(),
                # Also the run's place in the queue; its worker is spawned right after this.
                spawned_at=time.time(),
            )
            staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=self.root))
            try:
                atomic_write_text(staging / DATASET_FILE, json.dumps(dataset.to_dict()))
                atomic_write_text(staging / RUN_FILE, json.dumps(record.to_dict(), indent=1))
                (staging / LOG_FILE).touch()
                target = self.path(run_id)
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staging, target)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise StorageError(f"cannot create run {run_id} in {self.root}: {exc}") from exc
            return record, True

    def rename(self, run_id: str, name: str) -> RunRecord:
        """Give a run a name ('' clears it); its id, folder and results stay as they are."""
        name = validate_name(name)
        self.get(run_id)  # an unknown or broken run is an error, not a new folder
        return self.update(run_id, name=name)

    def request_cancel(self, run_id: str) -> RunRecord:
        """Ask an active run to stop at its next step; a finished run is left as it is."""
        record = self.get(run_id)
        if record.active:
            (self.path(run_id) / CANCEL_FILE).touch()
        return record

    def cancel_requested(self, run_id: str) -> bool:
        return (self.path(run_id) / CANCEL_FILE).exists()

    def delete(self, run_id: str) -> None:
        """Remove a run and its model; an active run must be cancelled first."""
        path = self.path(run_id)
        if not path.exists():
            raise RunError(f"no run {run_id!r} in {self.root}")
        try:
            record = self.get(run_id)
        except RunError:
            record = None  # a broken run can always be deleted
        if record is not None and record.active:
            raise RunError(f"run {run_id} is {record.status}: cancel it before deleting it")
        with self._lock(run_id):
            trash = self.root / f".deleted-{run_id}-{os.getpid()}"
            os.replace(path, trash)  # one rename: the run vanishes at once for every reader
            shutil.rmtree(trash, ignore_errors=True)

    def iter_ids(self) -> Iterator[str]:
        for run in self.list():
            yield run.id


def _data_summary(dataset: DataSet) -> dict[str, Any]:
    return {
        "fingerprint": dataset.fingerprint(),
        "rows_fingerprint": rows_fingerprint(dataset),
        "train_name": dataset.train.name,
        "valid_name": dataset.valid.name,
        "train_rows": len(dataset.train),
        "valid_rows": len(dataset.valid),
        "classes": list(dataset.classes),
        "train_class_counts": dataset.train.class_counts(),
        "valid_class_counts": dataset.valid.class_counts(),
        **({"multi_label": True} if dataset.train.multi_label else {}),
        "split": {
            "valid_source": dataset.valid_source,
            "valid_fraction": dataset.valid_fraction,
            "seed": dataset.seed,
        },
    }
