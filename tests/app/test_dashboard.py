"""The Dashboard and the Train page's run through AppTest: naming runs, comparing them, plurals,
the live parts, and the Train page showing only runs of the data loaded."""

from __future__ import annotations

import re

from core.config import TrainConfig
from core.data.labeled import LabeledTexts, split
from core.runs.store import Progress, RunStore, now_iso
from core.train.metrics import evaluate_predictions
from tests.app.helpers import go, open_app, shown, unescape
from tests.helpers import HOSTILE, csv_bytes, tiny_pairs

DASHBOARD = "app_pages/dashboard.py"
TRAIN = "app_pages/train.py"


def recorded_run(store: RunStore, pairs, seed: int, f1s: list[float], name: str = "") -> str:
    """A completed run written as the worker would leave it (no finetune): a validation curve
    with these macro-F1s at steps 0, 5, 10, ..."""
    dataset = split(LabeledTexts.from_pairs(pairs, name="reviews.csv"), seed=0)
    record, _ = store.create(TrainConfig(seed=seed, epochs=1), dataset, name=name)
    evaluation = evaluate_predictions(["pos", "neg"], ["pos", "neg"], ["neg", "pos"])
    metrics = evaluation.metrics.to_dict()
    history = tuple(
        {"step": 5 * i, "epoch": float(i), "metrics": {**metrics, "macro_f1": f1}}
        for i, f1 in enumerate(f1s)
    )
    (store.path(record.id) / "model").mkdir()
    store.update(
        record.id,
        status="completed",
        started_at=now_iso(),
        finished_at=now_iso(),
        history=history,
        baseline=evaluation,
        final=evaluation,
    )
    return record.id


def test_two_runs_are_compared_side_by_side(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    a = recorded_run(store, tiny_pairs(6), 1, [0.5, 0.7, 0.8], name="first try")
    b = recorded_run(store, tiny_pairs(6), 2, [0.5, 0.6])
    at = go(open_app(tmp_path / "runs", monkeypatch), DASHBOARD)
    assert f"2 runs in {store.root}" in shown(at)
    assert "Choose at least two runs" in shown(at)
    at.multiselect(key="dashboard_compare").select(a).select(b).run()
    assert not at.exception
    [chart] = at.get("vega_lite_chart")
    assert "Validation Macro-F1 over training" in chart.proto.spec
    compared = at.dataframe[1].value
    assert list(compared["run"]) == [f"first try ({a})", b]
    assert list(compared["evaluations"]) == [3, 2]
    assert {"Accuracy", "F1", "Macro-F1", "base model Macro-F1", "gain in Macro-F1"} <= set(
        compared.columns
    )
    # With their intervals: the score's bootstrap and the gain's paired bootstrap.
    assert all(
        re.fullmatch(r"\[\d\.\d{3}, \d\.\d{3}\]", c) for c in compared["Macro-F1 95 % interval"]
    )
    assert all(
        re.fullmatch(r"\[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", c) for c in compared["gain 95 % interval"]
    )


def test_a_run_is_renamed_on_the_dashboard_and_its_name_shown_as_text(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    run_id = recorded_run(store, tiny_pairs(6), 1, [0.5, 0.7])
    at = go(open_app(tmp_path / "runs", monkeypatch), DASHBOARD)
    assert "1 run in" in shown(at) and "1 runs" not in shown(at)
    at.text_input(key=f"rename_{run_id}").input(HOSTILE)
    at.button(key="rename_save").click().run()
    assert not at.exception and not at.error
    assert store.get(run_id).name == HOSTILE and store.get(run_id).id == run_id
    headings = [m.value for m in at.markdown if run_id in m.value]
    assert any("\\<img src\\=x onerror\\=alert\\(1\\)\\>" in h for h in headings), headings
    assert at.dataframe[0].value.loc[0, "run"] == HOSTILE  # a table cell is text
    # Too long: refused with the reason, the old name kept.
    at.text_input(key=f"rename_{run_id}").input("x" * 60 + "y")
    at.button(key="rename_save").click().run()
    assert store.get(run_id).name == HOSTILE


def test_the_dashboard_is_live_while_a_run_is_active(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    running, _ = store.create(TrainConfig(seed=1), split(LabeledTexts.from_pairs(tiny_pairs(6))))
    store.update(
        running.id,
        status="running",
        started_at=now_iso(),
        progress=Progress(phase="finetune", step=3, total=12, eta_s=150.0, updated_at=now_iso()),
    )
    queued, _ = store.create(TrainConfig(seed=2), split(LabeledTexts.from_pairs(tiny_pairs(6))))
    at = go(open_app(tmp_path / "runs", monkeypatch), DASHBOARD)
    rows = at.dataframe[0].value.set_index("id")
    assert rows.loc[running.id, "progress"] == "Finetuning: step 3 of 12 · about 2 min left"
    assert rows.loc[queued.id, "progress"] == (
        f"1st in the queue, after {running.id} (running), about 2 min"
    )
    # The same line in the details, redrawn on its own (a fragment with run_every).
    at.selectbox(key="dashboard_run").select(running.id).run()
    assert [p.proto.text for p in at.get("progress")] == [
        "Finetuning: step 3 of 12 · about 2 min left"
    ]


def test_the_train_page_shows_only_a_run_of_the_data_loaded(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    old = recorded_run(store, tiny_pairs(6), 1, [0.5, 0.7])
    # No data loaded: the active run (here from the URL) is shown, as before.
    at = go(open_app(tmp_path / "runs", monkeypatch, run=old), TRAIN)
    assert [m.value for m in at.main.markdown if old in m.value]
    # New data loaded: the old data's run is not shown under "Start finetuning".
    at.switch_page("app_pages/data.py").run()
    data = csv_bytes(tiny_pairs(16))
    at.file_uploader(key="upload_train").set_value(("train.csv", data, "text/csv")).run()
    at.button(key="review_data").click().run()
    at.button(key="use_data").click().run()
    go(at, TRAIN)
    assert not [m.value for m in at.main.markdown if old in m.value]
    # A run of these rows (however split) is the one shown.
    mine = recorded_run(store, tiny_pairs(16), 3, [0.5, 0.9])
    at.run()
    assert [m.value for m in at.main.markdown if mine in m.value]
    assert at.session_state["run_id"] == mine
    assert "Estimated time: about" in shown(at)


def fallen_run(store: RunStore) -> str:
    """A completed run whose finetune got labels a and b right but label c clearly worse."""
    pairs = [(f"{label} text number {i}", label) for i in range(60) for label in "abc"]
    dataset = split(LabeledTexts.from_pairs(pairs, name="abc.csv"), seed=0)
    record, _ = store.create(TrainConfig(seed=5, epochs=1), dataset)
    truth = list(dataset.valid.labels)
    seen = {label: 0 for label in "abc"}
    before, after = [], []
    for label in truth:
        i = seen[label] = seen[label] + 1
        other = {"a": "b", "b": "a", "c": "a"}[label]
        before.append(label if label == "c" or i % 2 else other)
        after.append(label if label != "c" or i % 5 == 0 else other)
    baseline = evaluate_predictions(truth, before, ["a", "b", "c"])
    final = evaluate_predictions(truth, after, ["a", "b", "c"])
    (store.path(record.id) / "model").mkdir()
    store.update(
        record.id,
        status="completed",
        started_at=now_iso(),
        finished_at=now_iso(),
        history=({"step": 0, "epoch": 0.0, "metrics": baseline.metrics.to_dict()},),
        baseline=baseline,
        final=final,
    )
    return record.id


def test_every_page_names_the_labels_that_got_clearly_worse(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    run_id = fallen_run(store)
    fell = "1 label got clearly worse: c (F1 1.000 -> 0.286)."
    at = open_app(tmp_path / "runs", monkeypatch, run=run_id)
    for page in (TRAIN, DASHBOARD, "app_pages/metrics.py"):
        go(at, page)
        assert not at.exception and not at.error
        messages = [m.value for m in (*at.info, *at.success)]
        assert any(fell in unescape(m) for m in messages), (page, messages)
        assert not at.success  # not celebrated


def test_the_sidebar_follows_the_run_the_train_page_chooses(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    old = recorded_run(store, tiny_pairs(6), 1, [0.5, 0.7])
    at = go(open_app(tmp_path / "runs", monkeypatch, run=old), TRAIN)
    at.switch_page("app_pages/data.py").run()
    data = csv_bytes(tiny_pairs(16))
    at.file_uploader(key="upload_train").set_value(("train.csv", data, "text/csv")).run()
    at.button(key="review_data").click().run()
    at.button(key="use_data").click().run()
    mine = recorded_run(store, tiny_pairs(16), 3, [0.5, 0.9])
    go(at, TRAIN)  # the page makes the run of the data loaded the active one
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert mine in sidebar and old not in sidebar
    assert "Trained on other data" not in "\n".join(c.value for c in at.sidebar.caption)
