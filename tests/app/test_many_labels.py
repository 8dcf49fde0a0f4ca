"""Views with many labels (issue 26: a support inbox of 50-150 intents): the most-confused pairs
and a small confusion matrix on Metrics, the per-label table worst first, a text's top labels in
the Playground, the map's colours, and the run's figures on the Dashboard and Train pages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.config import TrainConfig
from core.data.labeled import LabeledTexts, split
from core.runs.store import Progress, RunStore, now_iso
from core.train.metrics import evaluate_predictions
from tests.app.helpers import go, open_app, shown, unescape
from tests.helpers import HOSTILE, csv_bytes, tiny_pairs
from ui import charts
from ui.many_labels import (
    MATRIX_LABELS,
    NO_LABEL,
    OTHER,
    colour_groups,
    confused_pairs,
    frequent_labels,
    matrix_labels,
    per_label_table,
    top_labels,
)

METRICS = "app_pages/metrics.py"
PLAYGROUND = "app_pages/playground.py"
LABELS = [f"intent_{i:02d}" for i in range(30)]


def many_label_evaluations(n_labels: int = 30) -> tuple:
    """(final, baseline) on 4 texts per label: the finetune sends 3 texts of intent_00 to
    intent_01 and 1 of intent_02 to intent_03, the base model those and 2 more."""
    labels = LABELS[:n_labels]
    truth = [label for label in labels for _ in range(4)]
    final = list(truth)
    final[0:3] = ["intent_01"] * 3
    final[8] = "intent_03"
    base = list(final)
    base[12] = base[13] = "intent_04"
    return evaluate_predictions(truth, final, labels), evaluate_predictions(truth, base, labels)


def spec_data(chart) -> list[dict]:
    """The rows an Altair chart draws (its one inline data set)."""
    spec = chart.to_dict()
    [rows] = spec["datasets"].values()
    return rows


# ----------------------------------------------------------------------------- pure helpers


def test_confused_pairs_are_counted_most_texts_first_with_their_share():
    final, base = many_label_evaluations()
    pairs = confused_pairs(final, base)
    assert list(pairs.columns) == [
        "true label",
        "predicted as",
        "texts",
        "share of the label's texts",
        "base model",
    ]
    assert pairs.to_dict("records") == [
        {
            "true label": "intent_00",
            "predicted as": "intent_01",
            "texts": 3,
            "share of the label's texts": 0.75,
            "base model": 3,
        },
        {
            "true label": "intent_02",
            "predicted as": "intent_03",
            "texts": 1,
            "share of the label's texts": 0.25,
            "base model": 1,
        },
    ]
    # The base model's own worst confusions, without a baseline column.
    assert list(confused_pairs(base)["texts"]) == [3, 2, 1]
    assert "base model" not in confused_pairs(base).columns


def test_no_error_no_pair():
    perfect = evaluate_predictions(["a", "b"], ["a", "b"], ["a", "b"])
    assert confused_pairs(perfect).empty
    assert matrix_labels(perfect) == []


def test_the_small_matrix_holds_both_labels_of_the_worst_pairs_in_label_order():
    labels = LABELS[:20]
    truth = [label for label in labels for _ in range(3)]
    # Label i's first text predicted as label 19 - i: ten pairs, the first ones larger.
    pred = list(truth)
    for i in range(10):
        for k in range(3 if i < 2 else 1):
            pred[3 * i + k] = labels[19 - i]
    evaluation = evaluate_predictions(truth, pred, labels)
    chosen = matrix_labels(evaluation, k=6)
    assert chosen == ["intent_00", "intent_01", "intent_02", "intent_17", "intent_18", "intent_19"]
    assert len(matrix_labels(evaluation)) == MATRIX_LABELS


def test_the_per_label_table_is_worst_first_with_its_support():
    final, base = many_label_evaluations()
    table = per_label_table(final, base)
    assert list(table["label"][:4]) == ["intent_00", "intent_01", "intent_02", "intent_03"]
    assert list(table["F1"][:4]) == pytest.approx([0.4, 8 / 11, 6 / 7, 8 / 9])
    assert table["F1"].is_monotonic_increasing
    assert set(table["support"]) == {4}
    assert table.loc[table["label"] == "intent_04", "gain"].item() == pytest.approx(1 - 0.8)
    assert set(table["note"]) == {"fewer than 5 examples"}


def test_top_labels_keep_the_most_confident():
    confidences = {"a": 0.1, "b": 0.5, "c": 0.05, "d": 0.3, "e": 0.02, "f": 0.03}
    assert top_labels(confidences) == {"b": 0.5, "d": 0.3, "a": 0.1, "c": 0.05, "f": 0.03}
    assert list(top_labels(confidences, 2)) == ["b", "d"]
    assert top_labels({"x": 1.0}) == {"x": 1.0}


def test_the_map_colours_the_most_frequent_labels_and_greys_the_rest():
    classes = LABELS[:14]
    # intent_13 most frequent, then ties in label order.
    points = ["intent_13"] * 3 + classes + [None]
    assert frequent_labels(points, classes, 3) == ["intent_13", "intent_00", "intent_01"]
    groups, legend = colour_groups(points, classes)
    assert legend == ["intent_13", *classes[:9], OTHER, NO_LABEL]
    assert groups[:3] == ["intent_13"] * 3
    assert groups[-6:] == [OTHER] * 4 + ["intent_13", NO_LABEL]
    # One label highlighted: it alone keeps a colour.
    groups, legend = colour_groups(points, classes, highlight="intent_05")
    assert legend == ["intent_05", OTHER, NO_LABEL]
    assert groups.count("intent_05") == 1 and groups.count(OTHER) == 16
    # Few labels: each keeps its own colour, in label order; no labels: no legend.
    assert colour_groups(["b", "a", "b"], ["a", "b"]) == (["b", "a", "b"], ["a", "b"])
    assert colour_groups([None, None], ["a", "b"]) == ([NO_LABEL, NO_LABEL], [])


# ----------------------------------------------------------------------------- charts


def test_a_restricted_confusion_matrix_keeps_each_label_share_of_all_its_texts():
    final, _ = many_label_evaluations()
    chosen = ["intent_00", "intent_01"]
    rows = spec_data(charts.confusion_matrix(final, "Finetuned", chosen))
    cells = {(r["true"], r["predicted"]): (r["count"], r["share"]) for r in rows}
    assert set(cells) == {(a, b) for a in chosen for b in chosen}
    assert cells[("intent_00", "intent_01")] == (3, 0.75)
    assert cells[("intent_00", "intent_00")] == (1, 0.25)
    assert len(spec_data(charts.confusion_matrix(final, "Finetuned"))) == 30 * 30


def test_the_map_chart_has_a_readable_legend_and_grey_for_the_rest():
    rows = [
        {"x": float(i), "y": 0.0, "text": HOSTILE, "label": LABELS[i % 14], "correct": None}
        for i in range(28)
    ]
    spec = charts.embedding_map(rows, "Finetuned", LABELS[:14]).to_dict()
    colour = spec["encoding"]["color"]
    assert colour["scale"]["domain"] == [*LABELS[:10], OTHER]
    assert colour["scale"]["range"][-1] == charts.GREY
    assert len(set(colour["scale"]["range"][:10])) == 10
    [data] = spec["datasets"].values()
    assert [d["colour"] for d in data[:8]] == [OTHER] * 8  # the grey ones drawn first, beneath
    one = charts.embedding_map(rows, "Finetuned", LABELS[:14], highlight="intent_12").to_dict()
    assert one["encoding"]["color"]["scale"] == {
        "domain": ["intent_12", OTHER],
        "range": [charts.HIGHLIGHT, charts.GREY],
    }


# ----------------------------------------------------------------------------- pages


def intents(labels=LABELS):
    """Six texts per label, split as a run splits them."""
    pairs = [(f"text {i} of {label}", label) for label in labels for i in range(6)]
    return split(LabeledTexts.from_pairs(pairs, name="intents.csv"), seed=0)


def recorded_run(store: RunStore, final, baseline, history=None, dataset=None) -> str:
    """A completed run written as the worker would leave it (no finetune)."""
    dataset = dataset or intents(final.labels)
    record, _ = store.create(TrainConfig(epochs=1, seed=len(final.labels)), dataset)
    if history is None:
        history = (
            {"step": 0, "epoch": 0.0, "metrics": baseline.metrics.to_dict()},
            {"step": 5, "epoch": 1.0, "metrics": final.metrics.to_dict()},
        )
    (store.path(record.id) / "model").mkdir()
    store.update(
        record.id,
        status="completed",
        started_at=now_iso(),
        finished_at=now_iso(),
        history=tuple(history),
        baseline=baseline,
        final=final,
    )
    return record.id


def rows_of(chart) -> list[str]:
    """The labels, in order, a chart drawn on a page has rows for (a confusion matrix's true
    labels, a classified text's bars)."""
    return json.loads(chart.proto.spec)["layer"][0]["encoding"]["y"]["sort"]


def test_metrics_with_many_labels_shows_the_worst_pairs_and_a_small_matrix(tmp_path, monkeypatch):
    final, base = many_label_evaluations()
    run_id = recorded_run(RunStore(tmp_path / "runs"), final, base)
    at = go(open_app(tmp_path / "runs", monkeypatch, run=run_id), METRICS)
    assert not at.error
    text = shown(at)
    assert "Most confused labels** (validation split; 4 of 120 texts in 2 pairs of labels)" in text
    assert "Confusion matrix of the 4 labels in the worst confusions** (of 30;" in text
    pairs, per_label = at.dataframe[0].value, at.dataframe[1].value
    assert list(pairs["true label"]) == ["intent_00", "intent_02"]
    assert list(pairs["base model"]) == [3, 1]
    assert "Per label** (30 labels, worst F1 first)" in text
    assert list(per_label["label"][:2]) == ["intent_00", "intent_01"]
    assert list(per_label["support"]) == [4] * 30
    matrices = [c for c in at.get("vega_lite_chart") if "predicted label" in c.proto.spec]
    assert len(matrices) == 2  # the finetuned model's and the base model's, on the same labels
    for chart in matrices:
        assert rows_of(chart) == ["intent_00", "intent_01", "intent_02", "intent_03"]


def test_metrics_with_few_labels_keeps_the_whole_matrix(tmp_path, monkeypatch):
    final, base = many_label_evaluations(12)
    run_id = recorded_run(RunStore(tmp_path / "runs"), final, base)
    at = go(open_app(tmp_path / "runs", monkeypatch, run=run_id), METRICS)
    assert "Most confused labels" not in shown(at)
    matrices = [c for c in at.get("vega_lite_chart") if "predicted label" in c.proto.spec]
    assert [rows_of(chart) for chart in matrices] == [LABELS[:12]] * 2


def test_the_errors_table_puts_the_confidence_before_the_text(tmp_path, monkeypatch):
    dataset = intents()
    truth = list(dataset.valid.labels)
    pred = [LABELS[(LABELS.index(t) + 1) % 30] if i % 5 == 0 else t for i, t in enumerate(truth)]
    final = evaluate_predictions(truth, pred, LABELS, confidence=[0.6] * len(truth))
    run_id = recorded_run(RunStore(tmp_path / "runs"), final, final, dataset=dataset)
    at = go(open_app(tmp_path / "runs", monkeypatch, run=run_id), METRICS)
    [errors] = [d.value for d in at.dataframe if "predicted label" in d.value.columns]
    assert list(errors.columns) == ["row", "true label", "predicted label", "confidence", "text"]
    assert len(errors) == len(range(0, len(truth), 5))


def test_dashboard_shows_running_or_a_dash_never_none(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    final, base = many_label_evaluations()
    done = recorded_run(store, final, base)
    running, _ = store.create(TrainConfig(seed=1), split(LabeledTexts.from_pairs(tiny_pairs(6))))
    store.update(
        running.id,
        status="running",
        started_at=now_iso(),
        progress=Progress(phase="finetune", step=3, total=12, eta_s=150.0, updated_at=now_iso()),
    )
    at = go(open_app(tmp_path / "runs", monkeypatch), "app_pages/dashboard.py")
    rows = at.dataframe[0].value.set_index("id")
    assert rows.loc[running.id, "best F1"] == "running"
    assert rows.loc[done, "best F1"] == f"{final.metrics.f1:.3f}"
    assert rows.loc[done, "test F1"] == "—"
    assert "None" not in set(rows["best F1"]) | set(rows["test F1"])


def test_the_finished_train_page_shows_the_final_figures_not_the_last_step(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    final, base = many_label_evaluations()
    last_step = {**final.metrics.to_dict(), "f1": 0.794, "accuracy": 0.8}
    history = (
        {"step": 0, "epoch": 0.0, "metrics": base.metrics.to_dict()},
        {"step": 5, "epoch": 1.0, "metrics": last_step},
    )
    run_id = recorded_run(store, final, base, history)
    at = go(open_app(tmp_path / "runs", monkeypatch, run=run_id), "app_pages/train.py")
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["F1"] == f"{final.metrics.f1:.3f}" != "0.794"
    assert tiles["Accuracy"] == f"{final.metrics.accuracy:.3f}"
    text = shown(at)
    assert "Final validation scores of the model this run kept" in text
    assert "step 5" not in text
    # The outcome message gives the same figure.
    [message] = [unescape(m.value) for m in (*at.success, *at.info) if "completed" in m.value]
    assert f"to {final.metrics.f1:.3f}" in message


def many_label_head(run_copy, n: int = 8) -> list[str]:
    """Give the copied run a real head over `n` labels (random weights on its body's vectors):
    the Playground then classifies into that many labels."""
    from safetensors.numpy import load_file, save_file

    from core.model.classifier import HEAD_FILE, LABELS_FILE

    folder = run_copy.root / run_copy.run_id
    dim = load_file(str(folder / HEAD_FILE))["coef"].shape[1]
    rng = np.random.default_rng(0)
    save_file(
        {"coef": rng.normal(size=(n, dim)) * 5, "intercept": np.zeros(n)}, str(folder / HEAD_FILE)
    )
    labels = [f"intent {i}" for i in range(n - 1)] + [HOSTILE]
    meta = json.loads((folder / LABELS_FILE).read_text(encoding="utf-8"))
    (folder / LABELS_FILE).write_text(json.dumps({**meta, "labels": labels}), encoding="utf-8")
    return labels


def test_the_playground_shows_a_text_top_five_labels_and_all_in_an_expander(run_copy, monkeypatch):
    labels = many_label_head(run_copy)
    at = go(open_app(run_copy.root, monkeypatch, run=run_copy.run_id), PLAYGROUND)
    at.session_state["playground_tab"] = "Classify"
    at.run()
    at.text_area(key="classify_text").set_value("where is my parcel\nreset my password")
    at.button(key="classify").click().run()
    assert not at.exception and not at.error
    results = at.session_state["classify_results"][1]
    assert set(results[0]["labels"]) == set(labels)
    text = shown(at)
    assert text.count(f"The 5 most confident of {len(labels)} labels") == 2
    bars = [c for c in at.get("vega_lite_chart") if '"confidence"' in c.proto.spec]
    assert len(bars) == 2
    want = sorted(results[0]["labels"], key=lambda label: -results[0]["labels"][label])[:5]
    assert rows_of(bars[0]) == want
    assert [e.label for e in at.expander] == [f"All {len(labels)} labels"] * 2
    every = at.expander[0].dataframe[0].value
    assert len(every) == len(labels) and every["confidence"].is_monotonic_decreasing
    assert HOSTILE in set(every["label"])  # a cell: plain text


@pytest.mark.slow
def test_the_map_of_many_labels_colours_ten_and_highlights_one(run_copy, monkeypatch):
    rows = [(f"message {i} about topic {i % 12}", f"topic {i % 12:02d}") for i in range(36)]
    at = go(open_app(run_copy.root, monkeypatch, run=run_copy.run_id), PLAYGROUND)
    at.session_state["playground_tab"] = "Map"
    at.session_state["map_source"] = "Upload texts"
    at.run()
    at.file_uploader(key="map_upload").set_value(("topics.csv", csv_bytes(rows), "text/csv"))
    at.run(timeout=180)
    assert not at.exception and not at.error
    pick = at.selectbox(key="map_highlight")
    assert pick.options[0] == "The 10 labels with most texts" and len(pick.options) == 13
    maps = at.get("vega_lite_chart")
    assert len(maps) == 2
    domain = json.loads(maps[0].proto.spec)["encoding"]["color"]["scale"]["domain"]
    assert domain == [f"topic {i:02d}" for i in range(10)] + [OTHER]
    pick.select("topic 11").run(timeout=180)
    for chart in at.get("vega_lite_chart"):
        scale = json.loads(chart.proto.spec)["encoding"]["color"]["scale"]
        assert scale["domain"] == ["topic 11", OTHER]
