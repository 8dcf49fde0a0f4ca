"""The many-label views in a real headless Chromium at 1,400 px: a finetune on a clinc150 sample
(30 intents, 4 training rows each), then Metrics (most-confused pairs, the small matrix drawn) and
the Playground (top 5 labels of a classified text, the map's colour picker).

Its own small finetune: the session's run has 3 labels, too few for these views.
"""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from core.data.labeled import DataSet, LabeledTexts
from core.runs.jobs import submit, wait
from core.runs.store import RunStore
from tests.app.browser import ARGS, CHROMIUM, settled
from tests.helpers import SHARED_DATA, tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.browser]
INTENTS = 30
TRAIN_TIMEOUT_S = 300


def clinc_sample(name: str, per_label: int) -> LabeledTexts:
    """The first `per_label` rows of each of the first INTENTS intents in label order."""
    path = SHARED_DATA / "clinc150" / name
    if not path.exists():
        pytest.skip(f"{path} is missing")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    intents = sorted({label for _, label in rows})[:INTENTS]
    seen: Counter[str] = Counter()
    pairs = []
    for text, label in rows:
        if label in intents and seen[label] < per_label:
            seen[label] += 1
            pairs.append((text, label))
    return LabeledTexts.from_pairs(pairs, name=f"clinc-{name}")


def _charts_drawn(page, at_least: int) -> None:
    page.wait_for_function(
        """(n) => {
            const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
            return charts.length >= n &&
                [...charts].every(c => c.querySelector('svg.marks, canvas.marks'));
        }""",
        arg=at_least,
        timeout=120_000,
    )


def test_many_label_views_draw_in_the_browser(app_server, tmp_path):
    from playwright.sync_api import sync_playwright

    store = RunStore(tmp_path / "runs")  # the server's runs folder (see the app_server fixture)
    dataset = DataSet(clinc_sample("train.csv", 4), clinc_sample("test.csv", 2), "file")
    run_id = submit(tiny_config(), dataset, store).record.id
    record = wait(store, run_id, timeout_s=TRAIN_TIMEOUT_S)
    assert record.status == "completed", record.error
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        main = page.locator('[data-testid="stMain"]')

        page.goto(f"{app_server}/metrics?run={run_id}")
        page.get_by_text("Per label").first.wait_for()
        settled(page)
        text = main.inner_text()
        if record.final.metrics.accuracy < 1:
            assert "Most confused labels" in text
            page.get_by_text("labels in the worst confusions").wait_for()
        assert "worst F1 first" in text
        _charts_drawn(page, 4)  # the curves, and the matrices when there were errors

        page.goto(f"{app_server}/playground?run={run_id}")
        page.get_by_role("tab", name="Classify").click()
        page.get_by_label("Texts, one per line").fill("what is my bank balance")
        page.get_by_role("button", name="Classify", exact=True).click()
        page.get_by_text(f"The 5 most confident of {INTENTS} labels").wait_for()
        page.get_by_text(f"All {INTENTS} labels").click()
        settled(page)
        _charts_drawn(page, 1)

        page.get_by_role("tab", name="Map").click()
        page.get_by_text("texts misclassified").first.wait_for(timeout=240_000)
        settled(page)
        _charts_drawn(page, 2)
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        charts.locator("text", has_text="(other labels)").first.wait_for()  # the legend
        page.locator('[data-testid="stSelectbox"]', has_text="Colour").click()
        page.keyboard.type(dataset.classes[3])
        page.keyboard.press("Enter")
        settled(page)
        _charts_drawn(page, 2)
        # The legend now names that label alone, beside the grey rest.
        charts.locator("text", has_text=dataset.classes[3]).first.wait_for()

        browser.close()
