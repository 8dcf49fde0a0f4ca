"""Helpers of the app tests (AppTest): open the app on a runs folder, switch pages, read what a
person would see."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT

APP = str(ROOT / "app.py")
TIMEOUT = 90  # first model load in a fresh process


def unescape(text: str) -> str:
    """Markdown with backslash-escaped punctuation back to the text it shows."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def shown(at: AppTest) -> str:
    """Every text value on the page and in the sidebar, as a reader sees it."""
    values = []

    def walk(node) -> None:
        value = getattr(node, "value", None)
        if isinstance(value, str):
            values.append(unescape(value))
        label = getattr(node, "label", None)
        if isinstance(label, str):
            values.append(unescape(label))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(values)


def open_app(runs: Path, monkeypatch, **query: str) -> AppTest:
    monkeypatch.setenv("EMBEDTUNE_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
