"""Fixtures of the app tests: a real `streamlit run app.py` server for the browser tests."""

from __future__ import annotations

import pytest

from tests.app.browser import need_browser, start_streamlit, stop_streamlit


@pytest.fixture
def app_server(tmp_path):
    """`streamlit run app.py` on a free port with its own runs folder; yields the URL."""
    need_browser()
    process, url = start_streamlit(tmp_path / "runs", tmp_path / "server.log", timeout_s=60)
    try:
        yield url
    finally:
        stop_streamlit(process)
