"""Load benchmark: browser sessions classifying in the Playground while a finetune trains.

A real server (`streamlit run app.py`, headless, on a free loopback port, its own runs folder) and
a real browser: one headless Chromium (Debian's, driven by Playwright) with one context per
session, so each is its own Streamlit session over its own websocket. A tiny run is trained
first; a second finetune then keeps training for the whole measurement. Every session opens the
Playground on that run and picks the Classify tab; once all are open, all classify at once, one
new text per round, each session sending its next text when the last is answered. Latency is
from the click on **Classify** to that text's result on the page (server and browser drawing
included). An error is an exception or st.error on a page, a result that never comes (timeout),
a JavaScript error in a page, or a traceback in the server's log. Nothing leaves the machine.

    .venv/bin/python bench/load.py [--sessions 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.app.browser import ARGS as BROWSER_ARGS  # noqa: E402
from tests.app.browser import CHROMIUM, start_streamlit, stop_streamlit  # noqa: E402

ARGS = [
    *BROWSER_ARGS,
    # Pages in background contexts must keep running their websocket and drawing.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
TEXTS = ["the soup was too salty", "she scored twice in the final", "my phone keeps crashing"]
STEP_TIMEOUT_MS = 300_000
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'


async def settled(page) -> None:
    """Streamlit has finished running the script (no running indicator)."""
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=STEP_TIMEOUT_MS,
    )


async def open_session(browser, url: str, run_id: str, n: int, errors: list):
    """One visitor opens the Playground on the run and picks the Classify tab; None if it fails."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.on("pageerror", lambda exc: errors.append(f"session {n}: page error {exc}"))
    try:
        await page.goto(f"{url}/playground?run={run_id}")
        await page.get_by_role("heading", name="Playground").first.wait_for()
        await settled(page)
        await page.get_by_role("tab", name="Classify").click()
        await page.get_by_role("button", name="Classify", exact=True).wait_for()
        await settled(page)
        return context, page
    except Exception as exc:  # noqa: BLE001 - every failure counts as an error
        errors.append(f"session {n} (opening): {type(exc).__name__}: {str(exc).splitlines()[0]}")
        await context.close()
        return None


async def classify_rounds(page, n: int, rounds: int, latencies: list, errors: list) -> None:
    """Classify `rounds` new texts, one at a time, as a visitor typing them would."""
    box = page.get_by_role("textbox", name="Texts, one per line")
    try:
        for i in range(rounds):
            text = f"{TEXTS[(n + i) % len(TEXTS)]} (session {n}, round {i})"
            await box.fill(text)
            await box.press("Control+Enter")  # commits the text (a rerun), as a user's Ctrl+Enter
            await settled(page)
            start = time.perf_counter()
            await page.get_by_role("button", name="Classify", exact=True).click()
            await page.locator('[data-testid="stText"]', has_text=text).wait_for()
            latencies.append(time.perf_counter() - start)
            await settled(page)
            shown = await page.locator(ERROR_SELECTOR).all_inner_texts()
            if shown:
                errors.append(f"session {n} round {i}: {shown}")
    except Exception as exc:  # noqa: BLE001 - every failure counts as an error
        errors.append(f"session {n}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


async def drive(url: str, run_id: str, sessions: int, rounds: int) -> dict:
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            # One visitor first: loads the run's model into the server's cache, as the first
            # visitor of a real demo does; its time is reported apart.
            cold: list[float] = []
            first = await open_session(browser, url, run_id, 0, errors)
            if first is not None:
                await classify_rounds(first[1], 0, 1, cold, errors)
            # All sessions open the page (not measured: that is the browser loading the app),
            # then all classify at once.
            start = time.perf_counter()
            opened = await asyncio.gather(
                *(open_session(browser, url, run_id, n, errors) for n in range(1, sessions + 1))
            )
            open_s = time.perf_counter() - start
            latencies: list[float] = []
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    classify_rounds(s[1], n, rounds, latencies, errors)
                    for n, s in enumerate(opened, start=1)
                    if s is not None
                )
            )
            wall = time.perf_counter() - start
        finally:
            await browser.close()
    return {"cold": cold, "latencies": latencies, "errors": errors, "wall": wall, "open": open_s}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from tests.engine_data import tiny_config, tiny_dataset

    from core.runs.jobs import submit, wait
    from core.runs.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        runs = os.path.join(tmp, "runs")
        store = RunStore(runs)
        done = wait(store, submit(tiny_config(), tiny_dataset(), store).record.id, timeout_s=600)
        assert done.status == "completed", done.error
        log_path = Path(tmp) / "server.log"
        server, url = start_streamlit(runs, log_path, timeout_s=120)
        busy = None
        try:
            # The job that keeps training (and the CPU busy) during the whole measurement.
            busy = submit(
                tiny_config(epochs=500, early_stopping_patience=0, seed=9), tiny_dataset(), store
            ).record.id
            while store.get(busy).progress.phase not in ("finetune", "head"):
                time.sleep(0.5)
            result = asyncio.run(drive(url, done.id, args.sessions, args.rounds))
            training = store.get(busy)
        finally:
            if busy is not None:
                store.request_cancel(busy)
                wait(store, busy, timeout_s=180)
            stop_streamlit(server)
        log = log_path.read_text(errors="replace")

    errors = result["errors"]
    if "Traceback" in log:
        errors.append("server log: " + log[log.index("Traceback") :][:2000])
    latencies = result["latencies"]
    expected = args.sessions * args.rounds
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}, {date.today()}"
    )
    print(
        f"{args.sessions} browser sessions x {args.rounds} classify clicks against "
        f"`streamlit run app.py`; training job {training.status} (phase "
        f"{training.progress.phase}, step {training.progress.step}) throughout"
    )
    cold = result["cold"]
    print(f"first visitor (loads the model): {cold[0]:.2f} s" if cold else "first visitor: failed")
    print(f"{args.sessions} sessions opened the Playground in {result['open']:.1f} s")
    print("| sessions | requests | answered | errors | p50 s | p95 s | max s | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    if latencies:
        print(
            f"| {args.sessions} | {expected} | {len(latencies)} | {len(errors)} | "
            f"{statistics.median(latencies):.2f} | {percentile(latencies, 0.95):.2f} | "
            f"{max(latencies):.2f} | {result['wall']:.1f} |"
        )
    if errors or len(latencies) != expected:
        print("errors:", *errors[:10], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
