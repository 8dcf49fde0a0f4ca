"""The labelling loop in a real headless Chromium: an unlabelled file and typed label names, two
batches answered with one click per text, "Finetune on these N rows" landing on Train with the
labelled rows as the data set in use.

Skipped without /usr/bin/chromium unless EMBEDTUNE_REQUIRE_BROWSER=1 (CI), then it fails.
With EMBEDTUNE_SCREENSHOTS=1 it goes on (a third batch, a finetune, a Playground classification)
and saves docs/screenshots/labelling-*.png.
"""

from __future__ import annotations

import csv
import os
import time

import pytest

from core.label.session import SESSIONS_DIR, list_sessions
from tests.app.browser import ARGS, CHROMIUM, charts_drawn, go, settled
from tests.helpers import ROOT, SHARED_DATA

SHOTS = ROOT / "docs" / "screenshots"
TRAIN_TIMEOUT_MS = 300_000
LABELS = (
    "alarm_set",
    "weather_query",
    "play_music",
    "calendar_set",
    "takeaway_order",
    "transport_ticket",
    "email_sendemail",
    "iot_hue_lightoff",
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def pool_rows(per_label: int) -> list[tuple[str, str]]:
    """hwu64 texts of the LABELS, in the file's (shuffled) order, with their true labels."""
    counts = dict.fromkeys(LABELS, 0)
    rows = []
    with open(SHARED_DATA / "hwu64" / "train.csv", encoding="utf-8") as handle:
        for text, label in csv.reader(handle):
            if label in counts and counts[label] < per_label:
                counts[label] += 1
                rows.append((text, label))
    return rows


def _shot(page, name: str, height: int | None = None, heading: str | None = None) -> None:
    """A screenshot from the top of the page, or from a heading."""
    if os.environ.get("EMBEDTUNE_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 5)
    if height:
        page.set_viewport_size({"width": 1280, "height": height})
        page.wait_for_timeout(800)
    if heading:
        page.get_by_role("heading", name=heading).first.scroll_into_view_if_needed()
    else:
        page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / f"labelling-{name}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})


def _answer_batch(page, runs, truth: dict[str, str]) -> int:
    """Click the true label of every text asked (a careful labeller), one click each; the
    number of texts in the batch."""
    (session,) = list_sessions(runs / SESSIONS_DIR)
    for number, index in enumerate(session.batch, start=1):
        text = session.pool.texts[index]
        if session.answers.get(index) == truth[text]:
            continue  # answered already (a second click would take the answer back)
        group = page.get_by_role("radiogroup", name=f"Answer for text {number}", exact=True)
        option = group.get_by_role("radio", name=truth[text], exact=True)
        option.click()
        settled(page)
    return len(session.batch)


def _next_batch(page, runs, labelled: int) -> float:
    """Submit the batch; the seconds until the next one is on the page."""
    (before,) = list_sessions(runs / SESSIONS_DIR)
    started = time.perf_counter()
    page.get_by_role("button", name="Next batch").click()
    while True:
        (session,) = list_sessions(runs / SESSIONS_DIR)
        if session.batch != before.batch:
            assert len(session.labelled) == labelled
            break
        assert time.perf_counter() - started < 60, "no next batch after 60 s"
        time.sleep(0.05)
    # the first words (Markdown may turn an apostrophe into a typographic one)
    first = " ".join(session.pool.texts[session.batch[0]].split()[:2])
    page.get_by_text(f"1. {first}", exact=False).first.wait_for()
    settled(page)
    return time.perf_counter() - started


def test_from_an_unlabelled_file_to_train(app_server, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("EMBEDTUNE_SCREENSHOTS") == "1"
    rows = pool_rows(per_label=150 if shots else 8)
    truth = dict(rows)
    pool = tmp_path / "tickets.csv"
    with open(pool, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("text",), *((text,) for text, _ in rows)])
    runs = tmp_path / "runs"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(app_server)
        page.get_by_role("heading", name="Data").first.wait_for()
        go(page, "Label")

        # An unlabelled file and the label names typed.
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(pool))
        page.get_by_text(f"{len(rows):,} different texts, none labelled yet").wait_for()
        box = page.get_by_role("textbox", name="Labels, comma- or line-separated")
        box.fill(", ".join(LABELS))
        box.press("Control+Enter")
        settled(page)
        page.get_by_text("The pool is embedded once").wait_for()
        page.get_by_role("button", name="Start labelling").click()
        page.get_by_role("heading", name="Next to label").wait_for(timeout=120_000)
        settled(page)
        page.get_by_text("The model learnt from 0 labelled texts, 8 label names").wait_for()
        charts_drawn(page)
        _shot(page, "cold-start", height=1000)

        # Two batches, one click a text; each answer is in the workspace at once.
        asked = _answer_batch(page, runs, truth)
        assert asked == 12
        _shot(page, "batch", height=1100, heading="Next to label")
        seconds = [_next_batch(page, runs, asked)]
        asked += _answer_batch(page, runs, truth)
        seconds.append(_next_batch(page, runs, asked))
        if shots:  # 6 batches: the estimate (from 3 batches on) and its curve
            for _ in range(4):
                asked += _answer_batch(page, runs, truth)
                seconds.append(_next_batch(page, runs, asked))
            charts_drawn(page)
            _shot(page, "progress", height=1000)
            print(f"next batch on the page after {[round(s, 1) for s in seconds]} s")
        (session,) = list_sessions(runs / SESSIONS_DIR)
        assert len(session.labelled) == asked
        page.get_by_text("drawn at random", exact=False).first.wait_for()

        # The hand-over: the labelled rows become the data set in use.
        empty = [label for label, n in session.counts().items() if not n]
        if empty:
            page.get_by_role("button", name="Leave out the").click()
            settled(page)
        page.get_by_role("button", name=f"Finetune on these {asked} rows").click()
        page.get_by_role("heading", name="Train").first.wait_for()
        settled(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("labelled from tickets.csv", exact=False).wait_for()
        page.locator('[data-testid="stMain"]').get_by_text(
            "labelled from tickets.csv"
        ).first.wait_for()
        assert "data=" in page.url  # saved in the workspace, named in the link
        _shot(page, "train", height=1000)

        if shots:
            page.get_by_role("button", name="Start finetuning").click()
            page.get_by_text("Finetune completed").first.wait_for(timeout=TRAIN_TIMEOUT_MS)
            settled(page)
            _shot(page, "finetuned", height=1300)
            go(page, "Playground")
            page.get_by_role("tab", name="Classify").click()
            box = page.get_by_role("textbox", name="Texts, one per line")
            box.fill("wake me up at seven tomorrow\nwill it rain in paris on saturday")
            box.press("Control+Enter")
            settled(page)
            page.get_by_role("button", name="Classify", exact=True).click()
            page.get_by_text("What a developer gets").wait_for()
            settled(page)
            charts_drawn(page)
            _shot(page, "playground", height=1300)
        browser.close()
