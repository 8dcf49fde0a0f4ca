"""The real-browser tools of the tests and the app benchmarks (bench/app_cpu.py, bench/load.py):
Debian's Chromium driven by Playwright, a Streamlit server on a free port, and waiting for the
script to settle."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need_browser() -> None:
    import pytest

    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("EMBEDTUNE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and EMBEDTUNE_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(
    runs: Path | str,
    log: Path,
    *,
    app_dir: Path = ROOT,
    flags: tuple[str, ...] = (),
    timeout_s: float = 90,
) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` (of `app_dir`) on a free loopback port with its own runs folder,
    its output in `log`; returns the process and its URL once /_stcore/health answers ok."""
    port = free_port()
    with log.open("wb") as out:  # the child keeps its own handle
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py"]
            + ["--server.headless", "true", "--server.port", str(port)]
            + ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", *flags],
            cwd=app_dir,
            env=dict(os.environ, EMBEDTUNE_RUNS_DIR=str(runs)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_streamlit(process)
            raise RuntimeError(log.read_text(errors="replace"))
        time.sleep(0.3)


def stop_streamlit(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def settled(page, timeout: int = 60_000) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def charts_drawn(page, timeout: int = 60_000) -> None:
    """Wait until every chart on the page has drawn its marks."""
    page.wait_for_function(
        """() => {
            const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
            return charts.length > 0 &&
                [...charts].every(c => c.querySelector('svg.marks, canvas.marks'));
        }""",
        timeout=timeout,
    )


def go(page, title: str) -> None:
    """Open a page from the sidebar and wait until it has run."""
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for()
    settled(page)
