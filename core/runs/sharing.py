"""Shared-demo mode: one workspace per visitor, and caps so one visitor cannot starve the others."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from core.config import TrainConfig
from core.data.labeled import DataSet
from core.errors import LimitError
from core.runs.store import RunRecord, RunStore, compute_run_id, validate_run_id

SHARED_ENV = "EMBEDTUNE_SHARED_DEMO"
WORKSPACES_DIR = ".workspaces"  # dot-named: the runs folder's own listing never shows it


@dataclass(frozen=True)
class DemoSettings:
    """Whether the app is a shared demo, and the per-visitor caps it enforces then.

    Local mode (the default) has one workspace and no caps. Each cap can be set in the
    environment (EMBEDTUNE_DEMO_MAX_ROWS, _MAX_TRAIN_S, _MAX_JOBS)."""

    shared: bool = False
    # Training cost grows linearly with rows: 5,000 rows take about 6 minutes an epoch on a CPU.
    max_rows: int = 5000
    # A run is stopped (and marked failed with this reason) after this long on the device.
    max_train_s: float = 900.0
    # Queued or running finetunes per visitor: one, so a visitor cannot fill the queue.
    max_jobs: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DemoSettings:
        env = os.environ if env is None else env
        shared = env.get(SHARED_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        defaults = cls()
        return cls(
            shared=shared,
            max_rows=int(env.get("EMBEDTUNE_DEMO_MAX_ROWS") or defaults.max_rows),
            max_train_s=float(env.get("EMBEDTUNE_DEMO_MAX_TRAIN_S") or defaults.max_train_s),
            max_jobs=int(env.get("EMBEDTUNE_DEMO_MAX_JOBS") or defaults.max_jobs),
        )

    @property
    def train_time_limit_s(self) -> float | None:
        """The training time cap the worker enforces (None in local mode)."""
        return self.max_train_s if self.shared else None


def new_workspace_id() -> str:
    """A random, unguessable workspace id (64 bits of entropy, valid as a folder name)."""
    return "ws-" + secrets.token_hex(8)


def workspace_store(base: RunStore, workspace_id: str) -> RunStore:
    """The runs folder of one visitor; every visitor's worker still queues for the one device."""
    validate_run_id(workspace_id)  # the same rule as run ids: no '/', '..' or absolute paths
    return RunStore(base.root / WORKSPACES_DIR / workspace_id, lock_root=base.lock_root)


def check_submission(
    settings: DemoSettings, store: RunStore, config: TrainConfig, dataset: DataSet
) -> None:
    """Raise LimitError when a shared-demo visitor's new finetune goes over a cap."""
    if not settings.shared:
        return
    rows = len(dataset.train) + len(dataset.valid)
    if rows > settings.max_rows:
        raise LimitError(
            f"{rows} rows: this shared demo trains on at most {settings.max_rows} rows per "
            "finetune; sample the data or run Embedtune on your own machine"
        )
    active = [r for r in store.list() if isinstance(r, RunRecord) and r.active]
    if compute_run_id(config, dataset) in {r.id for r in active}:
        return  # the same finetune again: submit reuses the active run, nothing new is queued
    if len(active) >= settings.max_jobs:
        raise LimitError(
            f"you already have {len(active)} finetune(s) queued or running: this shared demo "
            f"allows {settings.max_jobs} at a time per visitor; wait for it or cancel it"
        )
