"""What keeps the app light while a run trains: only a run's status line is live, the rest of a
page is drawn again when the record changes in what it shows, and the server does not collect
garbage after every redraw (bench/app_cpu.py measures the CPU)."""

from __future__ import annotations

import tomllib

from core.config import TrainConfig
from core.data.labeled import LabeledTexts, split
from core.runs.store import Progress, RunStore, now_iso
from tests.helpers import ROOT, tiny_pairs
from ui.widgets import LIVE_REFRESH_S, shown


def test_the_server_skips_a_full_garbage_collection_after_each_script_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["runner"]["postScriptGC"] is False


def test_a_page_is_drawn_again_for_a_new_evaluation_or_status_never_for_a_step(tmp_path):
    store = RunStore(tmp_path / "runs")
    record, _ = store.create(TrainConfig(), split(LabeledTexts.from_pairs(tiny_pairs(6))))
    running = store.update(record.id, status="running", started_at=now_iso())
    stepped = store.update(record.id, progress=Progress(phase="finetune", step=3, total=9))
    assert shown(stepped) == shown(running)
    point = {"step": 3, "epoch": 1.0, "metrics": {}}
    assert shown(store.update(record.id, history=(point,))) != shown(stepped)
    assert shown(store.update(record.id, status="cancelled")) != shown(running)


def test_the_status_line_is_live_at_least_every_three_seconds():
    assert LIVE_REFRESH_S <= 2.5  # a redraw late by a loaded machine still lands within 3 s
