"""The whole flow in a real headless Chromium: upload, review, train, metrics, playground.

Skipped without /usr/bin/chromium unless EMBEDTUNE_REQUIRE_BROWSER=1 (CI), then it fails.
With EMBEDTUNE_SCREENSHOTS=1 it saves the README screenshots into docs/screenshots/.
"""

from __future__ import annotations

import csv
import os

import pytest

from tests.app.browser import ARGS, CHROMIUM, charts_drawn, go, settled
from tests.helpers import ROOT, csv_bytes, tiny_pairs

SHOTS = ROOT / "docs" / "screenshots"
TRAIN_TIMEOUT_MS = 240_000
# HTML that would run a script or load an image, and a Markdown link, in one text of at most 60
# characters (the review quotes texts up to that length whole).
HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>[a](x)"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _shot(page, name: str, height: int | None = None) -> None:
    if os.environ.get("EMBEDTUNE_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 5)  # no hover toolbars in the picture
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    if height:
        page.set_viewport_size({"width": 1440, "height": height})
        page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1440, "height": 900})


def _nothing_injected(page) -> None:
    """No element was made from the hostile text: no image, no script, no link."""
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href="x"]').count() == 0
    scripts = page.locator("script").evaluate_all("els => els.map(e => e.textContent)")
    assert not [s for s in scripts if "alert(2)" in s]


def _literal_hostile_text(page) -> None:
    """The hostile text is on the page as text, and no element was made from it."""
    # Visible text (a table's accessible copy of its cells is in the page too, hidden).
    page.get_by_text(HOSTILE, exact=False).filter(visible=True).first.wait_for()
    _nothing_injected(page)


def _tooltip_with(page, chart, text: str) -> str:
    """Hover each point of a Vega-Lite chart until its tooltip shows `text`; the tooltip's HTML."""
    points = chart.locator("g.mark-symbol path")
    for i in range(points.count()):
        points.nth(i).hover(force=True)
        page.wait_for_timeout(150)
        tooltip = page.locator("#vg-tooltip-element")
        if tooltip.count() and text in tooltip.inner_text():
            return tooltip.inner_html()
    raise AssertionError(f"no point of the chart has a tooltip with {text!r}")


def test_upload_train_metrics_and_classify(app_server, tmp_path):
    from playwright.sync_api import sync_playwright

    pairs = tiny_pairs(20)
    test_pairs = tiny_pairs(6)
    sentence, label = "The pizza was wonderful, I loved it", "positive"
    n_epochs = 1
    screenshots = os.environ.get("EMBEDTUNE_SCREENSHOTS") == "1"
    if screenshots:
        n_epochs = 2
        # The example set: real comments that finetuning pulls apart (a few minutes to train).
        examples = ROOT / "examples"
        pairs = [tuple(row) for row in csv.reader((examples / "emotions.csv").open())]
        test_pairs = [tuple(row) for row in csv.reader((examples / "emotions-test.csv").open())]
        sentence, label = "Thank you so much, you made my day!", "gratitude"
    # The same hostile text with two labels, first so that the preview shows it: the review
    # quotes it in a conflict warning.
    pairs = [(HOSTILE, "positive"), (HOSTILE, "negative"), *pairs]
    data = tmp_path / ("emotions.csv" if screenshots else "reviews.csv")
    data.write_bytes(csv_bytes(pairs))
    test_file = tmp_path / "holdout.csv"
    test_file.write_bytes(csv_bytes(test_pairs))
    dialogs: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.set_default_timeout(60_000)
        # A sub-page URL first, as after a browser refresh on a freshly started server: the
        # router must run (a folder named pages/ would make Streamlit run the page alone).
        page.goto(f"{app_server}/dashboard")
        page.get_by_text("No finetunes yet").wait_for()
        page.get_by_text("None yet: start one on the Train page.").wait_for()  # the sidebar
        go(page, "Data")
        page.get_by_text("Upload a file with a text and a label per row").wait_for()

        # Data: upload, review (the hostile text shows as text), use.
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(data))
        page.get_by_text(f"{data.name} · {len(pairs)} rows").wait_for()
        settled(page)
        # The preview table is drawn on a canvas; its accessible copy holds the literal text
        # (column 1 is the text, row 0 the file's first row).
        cell = page.locator('[data-testid="stDataFrame"]').first.get_by_test_id("glide-cell-1-0")
        cell.wait_for(state="attached")
        assert cell.text_content() == HOSTILE
        _nothing_injected(page)
        page.get_by_role("button", name="Review data").click()
        page.get_by_text("Findings").wait_for()
        settled(page)
        page.get_by_text("more than one label").first.wait_for()
        assert (
            f"e.g. '{HOSTILE}' is 'negative' and 'positive'"
            in page.get_by_text("more than one label").first.inner_text()
        )
        _literal_hostile_text(page)
        page.get_by_text("Texts given more than one label").click()  # drop the conflict
        settled(page)
        page.get_by_role("button", name="Use this data").click()
        page.get_by_text("Data set ready").wait_for()
        charts_drawn(page)
        _shot(page, "data", height=2300)

        # Train: one epoch, watch it complete.
        page.get_by_role("link", name="Next: choose a base model and train").click()
        page.get_by_role("heading", name="Train").first.wait_for()
        page.get_by_text("Advanced settings").click()
        epochs = page.get_by_role("spinbutton", name="Epochs (passes over the training data)")
        epochs.fill(str(n_epochs))
        epochs.press("Enter")
        settled(page)
        page.get_by_role("button", name="Start finetuning").click()
        page.get_by_text("Started run").wait_for()
        run_id = page.url.split("run=")[1].split("&")[0]
        assert "data=" in page.url  # the data set is named in the link, like the run
        try:
            page.get_by_text("Finetuning: step").wait_for(timeout=60_000)
            _shot(page, "train")
        except Exception:  # noqa: BLE001 - a fast machine may skip past the finetune phase
            pass

        # A refresh mid-training: the data set and the run are still there, and the run goes on.
        page.reload()
        page.get_by_role("heading", name="Train").first.wait_for()
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text(" validation examples · ", exact=False).wait_for()  # the data set
        sidebar.get_by_text(run_id).wait_for()
        page.locator('[data-testid="stMain"]').get_by_text(run_id).first.wait_for()
        page.get_by_text("Finetune completed").first.wait_for(timeout=TRAIN_TIMEOUT_MS)
        settled(page)

        # Metrics: the curves and the confusion matrices.
        page.get_by_role("link", name="See the metrics").click()
        page.get_by_role("heading", name="Metrics").first.wait_for()
        page.get_by_text("Validation scores over training").wait_for()
        settled(page)
        charts_drawn(page)
        assert page.locator('[data-testid="stMetric"]').count() >= 4
        page.get_by_text("95 % bootstrap interval").first.wait_for()
        _shot(page, "metrics", height=1900)

        # A test file: the finetuned and the base model side by side, kept with the run.
        uploader = page.locator('[data-testid="stFileUploader"]', has_text="Test file")
        uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            str(test_file)
        )
        page.get_by_text(f"{len(test_pairs)} rows · ").wait_for()
        settled(page)
        page.get_by_role("button", name="Evaluate", exact=True).click()
        page.get_by_text(f"test file of {len(test_pairs)} examples").wait_for(timeout=120_000)
        settled(page)
        page.get_by_text("Errors (").last.wait_for()

        # Dashboard lists the run.
        go(page, "Dashboard")
        page.get_by_text("1 completed").wait_for()
        _shot(page, "dashboard")

        # Playground: classify a sentence and the hostile text.
        go(page, "Playground")
        page.get_by_role("tab", name="Classify").click()
        box = page.get_by_role("textbox", name="Texts, one per line")
        box.fill(f"{sentence}\n{HOSTILE}")
        box.press("Control+Enter")
        settled(page)
        page.get_by_role("button", name="Classify", exact=True).click()
        page.get_by_text("What a developer gets").wait_for()
        settled(page)
        charts_drawn(page)
        page.get_by_text(f"→ {label}").first.wait_for()
        _literal_hostile_text(page)
        _shot(page, "playground-classify", height=1500)

        page.get_by_role("tab", name="Map").click()
        page.get_by_text("texts misclassified").first.wait_for(timeout=120_000)
        settled(page)
        charts_drawn(page)
        _shot(page, "playground-map", height=1000)

        # The maps' hover shows an uploaded hostile text as text.
        mapped = tmp_path / "map.csv"
        mapped.write_bytes(csv_bytes([*tiny_pairs(4), (HOSTILE, "negative")]))
        page.get_by_role("radio", name="Upload texts").click()  # a segmented control
        settled(page)
        uploader = page.locator('[data-testid="stFileUploader"]', has_text="text, label per row")
        uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(mapped))
        page.get_by_text("of 9 texts misclassified").first.wait_for(timeout=120_000)
        settled(page)
        charts_drawn(page)
        for chart in page.locator('[data-testid="stVegaLiteChart"]').all():
            html = _tooltip_with(page, chart, HOSTILE)
            assert "<img" not in html and "<script" not in html and "<a " not in html, html
        _nothing_injected(page)

        page.get_by_role("tab", name="Embed").click()
        page.get_by_text("Cosine similarity", exact=True).wait_for()
        settled(page)
        charts_drawn(page)
        _shot(page, "playground-embed", height=1200)
        browser.close()

    assert dialogs == [], f"the page opened dialogs (script ran?): {dialogs}"
