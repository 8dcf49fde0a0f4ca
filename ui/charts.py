"""Altair charts for the pages; every user text goes in as data (drawn as text, never HTML)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from core.train.metrics import METRIC_TITLES, Evaluation
from core.train.task import scored_task
from ui.many_labels import NO_LABEL, OTHER, colour_groups

# What a layered chart with properties is to altair's types (Streamlit draws either).
Layered = alt.LayerChart | alt.FacetChart
SHAPES = {"correct": "circle", "misclassified": "cross", "unlabelled": "circle"}
# The map's colours: Tableau 10 for the coloured labels, grey for the rest, and one strong
# colour for a highlighted label.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#2f2f8f",
)  # fmt: skip
GREY = "#cfd2da"
NO_LABEL_GREY = "#8a8f99"
HIGHLIGHT = "#d62728"


def label_distribution(counts: dict[str, dict[str, int]]) -> alt.Chart:
    """Bars of examples per label, one colour per split ({"Training": {...}, ...})."""
    rows = [
        {"label": label, "split": split, "examples": n}
        for split, per_label in counts.items()
        for label, n in per_label.items()
    ]
    frame = pd.DataFrame(rows, columns=["label", "split", "examples"])
    labels = list(dict.fromkeys(frame["label"]))
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=labels, title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("examples:Q", title="examples"),
            color=alt.Color("split:N", title=None, legend=alt.Legend(orient="top")),
            yOffset="split:N",
            tooltip=["label:N", "split:N", "examples:Q"],
        )
        # No fixed height: with a nominal y axis Streamlit then draws no bars; Vega's own
        # step (one band per label) sizes it.
    )


def metric_history(history: Sequence[dict[str, Any]], name: str) -> Layered:
    """One score over the training steps; the step-0 baseline as a dashed reference rule."""
    points = [
        {"step": int(p["step"]), "epoch": float(p.get("epoch", 0.0)), "value": p["metrics"][name]}
        for p in history
    ]
    frame = pd.DataFrame(points, columns=["step", "epoch", "value"])
    titles = scored_task(history[-1]["metrics"]).titles if history else METRIC_TITLES
    title = titles.get(name, name)
    # Zoom in on the scores (a gain of 2 points is invisible on 0-100 %), never past 0 or 1.
    values = [p["value"] for p in points] or [0.0, 1.0]
    low = max(0.0, math.floor((min(values) - 0.05) * 20) / 20)
    high = min(1.0, math.ceil((max(values) + 0.02) * 20) / 20)
    scale = alt.Scale(domain=[low, high], nice=False)
    line = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=50), strokeWidth=2.5)
        .encode(
            x=alt.X("step:Q", title="training step", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=title, scale=scale, axis=alt.Axis(format=".0%")),
            tooltip=[
                alt.Tooltip("step:Q"),
                alt.Tooltip("epoch:Q", format=".2f"),
                alt.Tooltip("value:Q", title=title, format=".3f"),
            ],
        )
    )
    layers: list[alt.Chart] = [line]
    if points:
        base = pd.DataFrame([{"value": points[0]["value"], "what": "baseline (base model)"}])
        rule = (
            alt.Chart(base)
            .mark_rule(strokeDash=[6, 4], color="#888", strokeWidth=1.5)
            .encode(y="value:Q", tooltip=[alt.Tooltip("what:N", title=" "), "value:Q"])
        )
        text = (
            alt.Chart(base)
            .mark_text(align="left", dx=4, dy=-7, color="#777", fontSize=11)
            .encode(y="value:Q", x=alt.value(0), text=alt.value("baseline"))
        )
        layers += [rule, text]
    return alt.layer(*layers).properties(title=title, height=220)


def compare_history(curves: dict[str, Sequence[dict[str, Any]]], name: str) -> alt.Chart:
    """One score over the training steps of several runs, one coloured line each (keyed by the
    run's label); step 0 is each run's base model."""
    rows = [
        {
            "run": run,
            "step": int(p["step"]),
            "epoch": float(p.get("epoch", 0.0)),
            "value": p["metrics"][name],
        }
        for run, history in curves.items()
        for p in history
    ]
    frame = pd.DataFrame(rows, columns=["run", "step", "epoch", "value"])
    title = METRIC_TITLES.get(name, name)
    values = list(frame["value"]) or [0.0, 1.0]
    low = max(0.0, math.floor((min(values) - 0.05) * 20) / 20)
    high = min(1.0, math.ceil((max(values) + 0.02) * 20) / 20)
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=40), strokeWidth=2.2)
        .encode(
            x=alt.X(
                "step:Q",
                title="training step (0: the base model)",
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            y=alt.Y(
                "value:Q",
                title=title,
                scale=alt.Scale(domain=[low, high], nice=False),
                axis=alt.Axis(format=".0%"),
            ),
            color=alt.Color(
                "run:N",
                sort=list(curves),
                title=None,
                legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=600),
            ),
            tooltip=[
                alt.Tooltip("run:N"),
                alt.Tooltip("step:Q"),
                alt.Tooltip("epoch:Q", format=".2f"),
                alt.Tooltip("value:Q", title=title, format=".3f"),
            ],
        )
        .properties(title=f"Validation {title} over training", height=300)
    )


def confusion_matrix(
    evaluation: Evaluation, title: str, labels: Sequence[str] | None = None
) -> Layered:
    """Heatmap of true (rows) against predicted (columns) labels, with the non-zero counts
    written in; `labels` keeps only those rows and columns (a cell's share stays that of all
    the true label's texts)."""
    every = list(evaluation.labels)
    shown = list(labels) if labels is not None else every
    at = {label: i for i, label in enumerate(every)}
    rows = []
    for truth in shown:
        i = at[truth]
        row = evaluation.confusion_matrix[i] if i < len(evaluation.confusion_matrix) else ()
        total = sum(row) or 1
        for guess in shown:
            j = at[guess]
            count = int(row[j]) if j < len(row) else 0
            rows.append({"true": truth, "predicted": guess, "count": count, "share": count / total})
    frame = pd.DataFrame(rows, columns=["true", "predicted", "count", "share"])
    few = len(shown) <= 4
    # Level names read best; from five labels on they are slanted so that every one shows.
    axis = alt.Axis(labelLimit=160, labelAngle=0 if few else -50, labelOverlap=False)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=shown, title="predicted label", axis=axis),
        y=alt.Y(
            "true:N",
            sort=shown,
            title="true label",
            axis=alt.Axis(labelLimit=160, labelOverlap=False),
        ),
    )
    rect = base.mark_rect(stroke="white", strokeWidth=1 if len(shown) > 8 else 2).encode(
        color=alt.Color(
            "share:Q",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(title="share of the label's texts", format=".0%", orient="bottom"),
        ),
        tooltip=["true:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".0%")],
    )
    # Zeros left blank: with many labels a wall of 0s hides the few cells that matter.
    text = (
        base.mark_text(fontSize=14 if few else 11, fontWeight="bold")
        .encode(
            text="count:Q",
            color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("#222")),
        )
        .transform_filter(alt.datum.count > 0)
    )
    # A step per label: a fixed height is ignored for nominal axes in Streamlit.
    step = 48 if few else 30 if len(shown) <= 12 else 24
    return alt.layer(rect, text).properties(title=title, height=alt.Step(step))


def confidences(labels: dict[str, float], prediction: str) -> Layered:
    """Horizontal bars of each given label's confidence, written at the bar's end; the
    predicted label highlighted."""
    frame = pd.DataFrame(
        [{"label": k, "confidence": v, "predicted": k == prediction} for k, v in labels.items()],
        columns=["label", "confidence", "predicted"],
    )
    order = list(frame.sort_values("confidence", ascending=False, kind="stable")["label"])
    base = alt.Chart(frame).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=200)),
        x=alt.X(
            "confidence:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format=".0%"),
            title="confidence",
        ),
        tooltip=["label:N", alt.Tooltip("confidence:Q", format=".1%")],
    )
    bars = base.mark_bar(cornerRadiusEnd=3).encode(
        color=alt.condition(alt.datum.predicted, alt.value("#4f46e5"), alt.value("#c7c9d9")),
    )
    # The figure after the bar's end, or inside a bar too long to leave it room.
    value = alt.Text("confidence:Q", format=".1%")
    after = (
        base.mark_text(align="left", dx=4, fontSize=11, color="#444")
        .encode(text=value)
        .transform_filter(alt.datum.confidence <= 0.85)
    )
    inside = (
        base.mark_text(align="right", dx=-4, fontSize=11)
        .encode(
            text=value,
            color=alt.condition(alt.datum.predicted, alt.value("white"), alt.value("#222")),
        )
        .transform_filter(alt.datum.confidence > 0.85)
    )
    return alt.layer(bars, after, inside).properties(height=alt.Step(22))


def similarity(texts: Sequence[str], matrix: np.ndarray) -> Layered:
    """Cosine-similarity heatmap; texts are numbered on the axes and shown in the tooltip."""
    names = [f"{i + 1}" for i in range(len(texts))]
    rows = [
        {
            "a": names[i],
            "b": names[j],
            "text a": texts[i],
            "text b": texts[j],
            "similarity": float(matrix[i, j]),
        }
        for i in range(len(texts))
        for j in range(len(texts))
    ]
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(
        x=alt.X("b:N", sort=names, title="text #", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("a:N", sort=names, title="text #"),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(
            "similarity:Q", scale=alt.Scale(scheme="purples", domain=[0, 1]), title="cosine"
        ),
        tooltip=["text a:N", "text b:N", alt.Tooltip("similarity:Q", format=".3f")],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("similarity:Q", format=".2f"),
        color=alt.condition(alt.datum.similarity > 0.6, alt.value("white"), alt.value("#222")),
    )
    return alt.layer(rect, text).properties(width=alt.Step(36), height=alt.Step(36))


def embedding_map(
    rows: list[dict[str, Any]],
    title: str,
    labels: Sequence[str],
    highlight: str | None = None,
) -> alt.Chart:
    """A 2-D map coloured by label; misclassified points drawn as crosses. Beyond
    MAP_COLOURS labels only the most frequent keep a colour, or only `highlight`; the rest are
    grey, drawn beneath."""
    frame = pd.DataFrame(rows, columns=["x", "y", "text", "label", "predicted", "correct"])
    frame["label"] = frame["label"].fillna("")
    frame["point"] = frame["correct"].map({True: "correct", False: "misclassified"})
    frame["point"] = frame["point"].fillna("unlabelled")
    groups, legend = colour_groups(list(frame["label"]), labels, highlight)
    frame["colour"] = groups
    grey = [g for g in (OTHER, NO_LABEL) if g in legend]
    frame["beneath"] = [0 if g in grey else 1 for g in groups]
    frame = frame.sort_values("beneath", kind="stable")  # the grey points first, under the rest
    palette = list(PALETTE) if highlight is None else [HIGHLIGHT]
    colours = [palette[i % len(palette)] for i in range(len(legend) - len(grey))]
    colours += [GREY if g == OTHER else NO_LABEL_GREY for g in grey]
    tooltip = [alt.Tooltip("text:N", title="text"), alt.Tooltip("label:N", title="label")]
    if frame["predicted"].notna().any():
        tooltip.append(alt.Tooltip("predicted:N", title="predicted"))
    size = 40 if len(frame) > 1000 else 70
    return (
        alt.Chart(frame)
        .mark_point(filled=True, opacity=0.85, size=size)
        .encode(
            x=alt.X("x:Q", axis=None, scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", axis=None, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "colour:N",
                scale=alt.Scale(domain=legend, range=colours) if legend else alt.Undefined,
                legend=None
                if not legend
                else alt.Legend(
                    orient="bottom",
                    title="label",
                    columns=2 if len(legend) > 3 else 0,
                    labelLimit=210,
                    symbolLimit=0,
                ),
            ),
            shape=alt.Shape(
                "point:N",
                scale=alt.Scale(
                    domain=[k for k in SHAPES if k in set(frame["point"])],
                    range=[v for k, v in SHAPES.items() if k in set(frame["point"])],
                ),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=tooltip,
        )
        # Streamlit fits the legends into the height: room for a row per two labels.
        .properties(title=title, height=420 + 18 * math.ceil(len(legend) / 2))
        .interactive()
    )
