"""How a training job reports while it runs, and how it is told to stop: the worker writes the
reports into the run's folder; scripts and benchmarks use the silent reporter."""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger("embedtune.training")


class Cancelled(Exception):
    """The user asked the job to stop."""


class Reporter(Protocol):
    """Where a training job reports; the worker writes it to the run directory."""

    def phase(self, name: str, total: int | None = None) -> None: ...

    def step(self, step: int, total: int) -> None: ...

    def evaluation(self, point: dict[str, Any]) -> None: ...

    def should_stop(self) -> bool: ...


class SilentReporter:
    """A reporter that records nothing and never cancels (for scripts and benchmarks)."""

    def phase(self, name: str, total: int | None = None) -> None:
        log.info("phase: %s", name)

    def step(self, step: int, total: int) -> None:
        pass

    def evaluation(self, point: dict[str, Any]) -> None:
        log.info("evaluation: %s", point)

    def should_stop(self) -> bool:
        return False
