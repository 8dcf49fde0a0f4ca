"""Fixtures of the app tests: a real `streamlit run app.py` server for the browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.app.browser import free_port, need_browser
from tests.helpers import ROOT


@pytest.fixture
def app_server(tmp_path):
    """`streamlit run app.py` on a free port with its own runs folder; yields the URL."""
    need_browser()
    port = free_port()
    env = dict(os.environ, EMBEDTUNE_RUNS_DIR=str(tmp_path / "runs"))
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "server.log").read_text(errors="replace"))
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
