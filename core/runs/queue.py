"""The queue of finetunes waiting for the device: its order (the worker waits its turn by it;
the app and the CLI show a run's place in it)."""

from __future__ import annotations

from core.runs.store import RunRecord, RunStore


def queue_order(store: RunStore) -> list[RunRecord]:
    """Active runs in the order they get the device: the running ones first (by start), then the
    queued ones in the order they were submitted."""
    active = [r for r in store.list() if isinstance(r, RunRecord) and r.active]
    running = sorted(
        (r for r in active if r.status == "running"), key=lambda r: (r.started_at or "", r.id)
    )
    queued = sorted(
        (r for r in active if r.status == "queued"), key=lambda r: (r.spawned_at or 0.0, r.id)
    )
    return running + queued


def queued_ids(store: RunStore) -> list[str]:
    """Ids of the queued runs, next first."""
    return [r.id for r in queue_order(store) if r.status == "queued"]


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
