"""What a benchmark result was measured on: one "meta" JSON line with the date, versions and
machine, written before a run's results so that a stored anchor says where it came from."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def meta(threads: int) -> dict:
    import sentence_transformers
    import sklearn
    import torch
    import transformers

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    return {
        "meta": True,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "threads": threads,
        "model": "small (all-MiniLM-L6-v2)",
        # Where the benchmark's other methods come from, when installed here.
        **{name: version for name in ("setfit",) if (version := _version(name))},
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
