"""Load benchmark: concurrent Playground sessions classifying while a finetune trains.

Each session is a Streamlit AppTest of the real app in its own thread (the same script, session
state and model caches as a browser session, without the websocket), all in one process as on
one server. Traffic stays in this process; the count and the time are bounded.

    .venv/bin/python bench/load.py [--sessions 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

APP = str(ROOT / "app.py")
TEXTS = ["the soup was too salty", "she scored twice in the final", "my phone keeps crashing"]


def share_one_runtime() -> None:
    """Let AppTests run concurrently: each run installs and then clears a mock Runtime
    singleton, so concurrent runs would clear each other's. One shared mock stands in for the
    one server Runtime every real session shares (its caches included)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import (
        MemoryCacheStorageManager,
    )
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    shared = app_test.MagicMock(spec=Runtime)
    shared.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    shared.cache_storage_manager = MemoryCacheStorageManager()
    shared.dataframe_source_mgr = app_test.DataframeSourceManager()
    Runtime.instance = classmethod(lambda cls: shared)
    Runtime.exists = classmethod(lambda cls: True)
    # A server compiles each page once into one ScriptCache (under its lock); AppTest makes a
    # fresh cache per run, and compiling in many threads at once trips a CPython 3.11 bug.
    script_cache = app_test.ScriptCache()
    app_test.ScriptCache = lambda: script_cache


def session(run_id: str, rounds: int, latencies: list[float], errors: list[str]) -> None:
    from streamlit.testing.v1 import AppTest

    try:
        at = AppTest.from_file(APP, default_timeout=300)
        at.query_params["run"] = run_id
        at.run()
        at.switch_page("app_pages/playground.py").run()
        at.session_state["playground_tab"] = "Classify"
        at.run()
        for i in range(rounds):
            at.text_area(key="classify_text").set_value(TEXTS[i % len(TEXTS)] + f" ({i})")
            start = time.perf_counter()
            at.button(key="classify").click().run()
            latencies.append(time.perf_counter() - start)
            if at.exception or at.error:
                errors.append(str([e.value for e in (*at.exception, *at.error)]))
            elif not at.session_state["classify_results"][1]:
                errors.append("no result")
    except Exception as exc:  # noqa: BLE001 - every failure counts as an error
        errors.append(f"{type(exc).__name__}: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from core.jobs import submit, wait
    from core.runs import RunStore
    from tests.engine_data import tiny_config, tiny_dataset

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EMBEDTUNE_RUNS_DIR"] = tmp
        store = RunStore(tmp)
        done = wait(store, submit(tiny_config(), tiny_dataset(), store).record.id, timeout_s=600)
        assert done.status == "completed", done.error
        # The job that keeps training (and the device busy) during the whole measurement.
        busy = submit(
            tiny_config(epochs=500, early_stopping_patience=0, seed=9), tiny_dataset(), store
        ).record.id
        while store.get(busy).progress.phase not in ("finetune", "head"):
            time.sleep(0.5)

        share_one_runtime()
        warm: list[float] = []
        warm_errors: list[str] = []
        session(done.id, 1, warm, warm_errors)  # loads the classifier into the shared cache
        latencies: list[float] = []
        errors: list[str] = list(warm_errors)
        threads = [
            threading.Thread(target=session, args=(done.id, args.rounds, latencies, errors))
            for _ in range(args.sessions)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        wall = time.perf_counter() - start
        training = store.get(busy)
        store.request_cancel(busy)
        wait(store, busy, timeout_s=120)

    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)] if latencies else float("nan")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"{args.sessions} sessions x {args.rounds} classify clicks, training job "
        f"{training.status} (phase {training.progress.phase}) throughout"
    )
    print("| sessions | requests | errors | p50 s | p95 s | max s | wall s |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.sessions} | {len(latencies)} | {len(errors)} | "
        f"{statistics.median(latencies):.2f} | {p95:.2f} | {max(latencies):.2f} | {wall:.1f} |"
    )
    if errors:
        print("errors:", *errors[:5], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
