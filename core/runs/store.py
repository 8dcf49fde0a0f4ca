"""The run store: one directory per finetune (its folder, locks, atomic writes, the listing);
what a run's record holds is core.runs.record."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import TrainConfig
from core.data.labeled import DataSet
from core.errors import RunError, StorageError
from core.io import atomic_write_text
from core.model.classifier import MODEL_DIR

# The records live in core.runs.record; the names callers import from here keep working.
from core.runs.record import (
    ACTIVE,
    NAME_MAX,  # noqa: F401
    RUN_ID_PATTERN,
    BrokenRun,
    DataSummary,
    Progress,  # noqa: F401
    RunRecord,
    TestSummary,  # noqa: F401
    compute_run_id,
    now_iso,
    validate_name,
    validate_run_id,
)

RUN_FILE = "run.json"
LOG_FILE = "log.txt"
CANCEL_FILE = "cancel"
WORKER_LOCK = "worker.lock"
DATASET_FILE = "dataset.json"
# A worker holds its lock within a second or two of being spawned; until then its pid vouches.
SPAWN_GRACE_S = 60.0
# Free space a run needs besides its model (checkpoints, data, logs).
MIN_FREE_BYTES = 200 * 1024 * 1024


def default_runs_dir() -> Path:
    """`EMBEDTUNE_RUNS_DIR`, else ./runs."""
    return Path(os.environ.get("EMBEDTUNE_RUNS_DIR") or "runs")


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
                data=DataSummary.of(dataset),
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
