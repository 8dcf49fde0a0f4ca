"""The Data page's "Check labels" in a real headless Chromium: the flagged rows and the suggested
labels are on the page. With EMBEDTUNE_SCREENSHOTS=1 it saves docs/screenshots/label-check.png.

The whole flow (flag, relabel, use) is tested with AppTest in test_label_issues_app.py; this one
checks that the table is drawn in a browser and makes the README's picture.
"""

from __future__ import annotations

import csv
import os

import pytest

from tests.app.browser import ARGS, CHROMIUM, settled
from tests.helpers import ROOT, csv_bytes

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# Rows of examples/reviews.csv given the other label: what the check should find.
FLIPPED = (3, 10, 25, 42, 77)


def test_check_labels_shows_the_flipped_rows(app_server, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    pairs = [tuple(row) for row in csv.reader((ROOT / "examples" / "reviews.csv").open())]
    other = {"positive": "negative", "negative": "positive"}
    for row in FLIPPED:
        text, label = pairs[row - 1]
        pairs[row - 1] = (text, other[label])
    data = tmp_path / "reviews.csv"
    data.write_bytes(csv_bytes(pairs))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(app_server)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Data", exact=True).click()
        page.get_by_text("Upload a file with a text and a label per row").wait_for()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(data))
        page.get_by_text(f"reviews.csv · {len(pairs)} rows").wait_for()
        settled(page)
        page.get_by_role("button", name="Review data").click()
        page.get_by_text("Findings").wait_for()
        settled(page)
        page.get_by_role("button", name="Check labels").click()
        page.get_by_text("rows may be mislabelled").wait_for()
        settled(page)
        if os.environ.get("EMBEDTUNE_SCREENSHOTS") == "1":
            page.mouse.move(5, 5)  # no hover toolbars in the picture
            heading = page.get_by_role("heading", name="Check labels").first
            heading.evaluate("h => h.scrollIntoView({block: 'start'})")
            page.get_by_text("Confidence at least").wait_for()
            page.wait_for_timeout(2000)
            (ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ROOT / "docs" / "screenshots" / "label-check.png"))
        # The tables are drawn on a canvas; their accessible copies hold the texts. The preview
        # grid above also shows rows 3 and 10, so look only in the flagged rows' grid, which
        # fills in after the page has settled: poll it.
        flagged = page.locator("[role=grid]").filter(has_text="suggested label")
        flagged.wait_for(state="attached")  # the accessible copy is not visible
        flipped_texts = [pairs[row - 1][0] for row in FLIPPED]
        found: list[str] = []
        for _ in range(60):
            shown = flagged.inner_text()
            found = [text for text in flipped_texts if text in shown]
            if len(found) >= 3:
                break
            page.wait_for_timeout(500)
        assert len(found) >= 3, (found, shown[:2000])
        browser.close()
