"""The Dashboard in a real headless Chromium: a training run's step count moves on its own (no
click), and two runs are compared (curves drawn, scores in one table).

The flow from upload to playground is test_browser.py; this one needs a run that trains long
enough to be watched, so it starts its own (tiny settings, many epochs) and cancels it.
"""

from __future__ import annotations

import re

import pytest

from core.runs.jobs import submit, wait
from core.runs.store import RunStore
from tests.app.browser import ARGS, CHROMIUM, settled
from tests.app.test_dashboard import recorded_run
from tests.helpers import tiny_config, tiny_dataset, tiny_pairs, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser]
STEP = re.compile(r"Finetuning: step (\d+) of (\d+)")


def _step_shown(page) -> int | None:
    """The step the Dashboard's run details show now (None before the finetune)."""
    match = STEP.search(page.locator('[data-testid="stMain"]').inner_text())
    return int(match.group(1)) if match else None


def test_the_dashboard_follows_a_run_on_its_own_and_compares_two(app_server, tmp_path):
    from playwright.sync_api import sync_playwright

    store = RunStore(tmp_path / "runs")  # the server's runs folder (see the app_server fixture)
    first = recorded_run(store, tiny_pairs(6), 1, [0.55, 0.72, 0.81], name="3 epochs")
    second = recorded_run(store, tiny_pairs(6), 2, [0.55, 0.64], name="<b>1 epoch</b>")
    # Long enough to watch: hundreds of tiny steps, no early stopping.
    config = tiny_config(epochs=200, early_stopping_patience=0, seed=9)
    run_id = submit(config, tiny_dataset(), store).record.id
    try:
        wait_for(store, run_id, lambda r: r.progress.phase == "finetune" and r.progress.step > 0)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"{app_server}/dashboard?run={run_id}")
            page.get_by_role("heading", name="Dashboard").first.wait_for()
            settled(page)
            page.get_by_text("3 runs in").wait_for()
            page.wait_for_function(
                """(pattern) => new RegExp(pattern).test(
                    document.querySelector('[data-testid="stMain"]').innerText)""",
                arg=STEP.pattern,
            )
            before = _step_shown(page)
            assert before is not None
            # No click, no reload: the fragment redraws the run from its record.
            page.wait_for_function(
                """([pattern, before]) => {
                    const m = document.querySelector('[data-testid="stMain"]')
                        .innerText.match(new RegExp(pattern));
                    return m && Number(m[1]) > before;
                }""",
                arg=[STEP.pattern, before],
                timeout=30_000,
            )
            assert _step_shown(page) > before
            # The sidebar says the same (the same line, from the same record).
            sidebar = page.locator('[data-testid="stSidebar"]')
            assert STEP.search(sidebar.inner_text())

            # Compare the two finished runs.
            picker = page.locator('[data-testid="stMultiSelect"]')
            for name in ("3 epochs", "<b>1 epoch</b>"):
                picker.locator("input").click()
                page.get_by_role("option", name=name).click()
                page.keyboard.press("Escape")
                settled(page)
            page.get_by_text("Validation scores with 95 % bootstrap intervals").wait_for()
            page.wait_for_function(
                """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                    .some(c => c.querySelector('svg.marks, canvas.marks'))"""
            )
            legend = page.locator('[data-testid="stVegaLiteChart"]').first.text_content() or ""
            assert f"3 epochs ({first})" in legend and f"<b>1 epoch</b> ({second})" in legend
            assert page.locator("b", has_text="1 epoch").count() == 0  # the name is text
            browser.close()
    finally:
        store.request_cancel(run_id)
        wait(store, run_id, timeout_s=120)
