"""Playground page: embed texts, classify them with a finetuned run, and map what finetuning did."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.data.files import EXTENSIONS
from core.data.inputs import MAX_TEXTS, TextsInput, cosine_similarity, read_texts, split_lines
from core.downloads import embeddings_csv, json_bytes, npy_bytes, predictions_csv
from core.errors import EmbedtuneError, ModelError
from core.io import encoding_warning
from core.model.catalogue import CATALOGUE
from core.model.maps import first_of_cells
from core.model.onnx import BACKENDS, BackendUnavailable, default_backend, require_backend
from core.model.onnx.runtime import BACKEND_ENV
from core.runs.maps import build_quietly, load_run_map, map_in_progress
from core.runs.store import RunRecord
from core.serve.wire import MAX_INPUTS, classify_response, classify_snippets
from ui import charts, loaders, state
from ui.many_labels import MANY_LABELS, MAP_COLOURS, top_labels
from ui.multilabel import label_chips
from ui.widgets import TRAIN_PAGE, download_buttons, md, run_title, show_error

SIMILARITY_MAX = 20
MAP_POLL_S = 2.0
PREVIEW_DIMS = 8
RESULTS_SHOWN = 10
JSON_SHOWN = 20
EXAMPLE_TEXTS = "I love how fast this works!\nTotal waste of money, it broke after a day."


def choose_model() -> tuple[str, RunRecord | None]:
    """('small', None) for a base model, or (run id, its record) for a finetuned run: names as
    core.runs.resolve reads them (a base model's name never collides with a run id)."""
    installed = {m.key for m in loaders.models() if m.installed}
    runs = [r for r in state.store().list() if isinstance(r, RunRecord) and r.status == "completed"]
    options = [key for key in CATALOGUE if key in installed]
    options += [r.id for r in runs]
    records = {r.id: r for r in runs}
    if not options:
        st.error("No base model is installed: run `make install`.")
        st.stop()
    names = {k: f"Base model: {k} ({CATALOGUE[k].name})" for k in CATALOGUE}
    names |= {r.id: f"Finetuned: {run_title(r)}" for r in runs}
    active = state.active_run_id()
    default = active if active in records else (runs[0].id if runs else options[0])
    choice = st.selectbox(
        "Model",
        options,
        index=options.index(default),
        format_func=names.__getitem__,
        key="playground_model",
        help="A base model embeds texts; a finetuned run also classifies them.",
    )
    if choice in records and choice != active:
        state.set_active_run(choice)
    return choice, records.get(choice)


BACKEND_NAMES = {
    "torch": "PyTorch",
    "torch-bf16": "PyTorch bf16",
    "onnx": "ONNX",
    "onnx-int8": "ONNX int8",
    "onnx-int8-static": "ONNX int8 calibrated",
    "openvino": "OpenVINO",
    "openvino-int8": "OpenVINO int8",
    "static": "Static (model2vec)",
}


def default_choice() -> tuple[str, str | None]:
    """The backend selected at first: the CLI's default (core.model.onnx.default_backend:
    EMBEDTUNE_BACKEND, else the fastest measured one this CPU and its packages allow, else
    torch), and why torch instead when EMBEDTUNE_BACKEND names no backend."""
    try:
        return default_backend(), None
    except ModelError as exc:
        return "torch", _sentence(f"{BACKEND_ENV}: {exc}")


def choose_backend(record: RunRecord | None) -> str:
    """The backend that runs the model, selected at first as the CLI's default; one this
    machine cannot run (its packages missing, or bf16 without the CPU's bf16 units) says why,
    with the pip line to add what is missing, and stays on PyTorch."""
    default, problem = default_choice()
    backend = st.segmented_control(
        "Backend",
        BACKENDS,
        default=default,
        format_func=lambda backend: BACKEND_NAMES.get(backend, backend),
        key="playground_backend",
        help="What runs the model: PyTorch (fp32 or bf16), ONNX Runtime (fp32 or int8), "
        "OpenVINO (bf16 where the CPU has it, or int8), or a static model2vec model distilled "
        "from a run (far faster, less accurate). "
        "Selected at first: the fastest backend that kept every benchmark set's F1 on this "
        "machine, as in the CLI (EMBEDTUNE_BACKEND overrides it). A run's body is made on first "
        "use and checked against PyTorch on the run's validation texts.",
    )
    backend = backend or default
    if problem is not None and backend == default:
        st.warning(f"{md(problem)} Using PyTorch.", icon=":material/warning:")
    try:
        require_backend(backend)
    except BackendUnavailable as exc:
        st.warning(f"{_sentence(exc)} Using PyTorch.", icon=":material/warning:")
        return "torch"
    except ModelError as exc:
        st.info(f"{_sentence(exc)} Using PyTorch.", icon=":material/info:")
        return "torch"
    return backend


def _sentence(message: object) -> str:
    text = str(message)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def show_check(record: RunRecord | None, backend: str) -> None:
    """The check figures of the run's exported body, under its results."""
    if record is None or backend == "torch":
        return
    from core.runs.bodies import run_checks

    check = run_checks(state.store().path(record.id)).get(backend)
    if check is not None:
        st.caption(f"{BACKEND_NAMES[backend]} body checked against PyTorch: {check.describe()}.")


def input_texts(prefix: str, allow_upload: bool = True) -> TextsInput | None:
    """Texts typed one per line, or uploaded as a file of any format the Data page reads (the
    text column, else the first; a label column when every row has one)."""
    source: str | None = "Type texts"
    if allow_upload:
        source = st.segmented_control(
            "Texts",
            ["Type texts", "Upload a file"],
            default="Type texts",
            key=f"{prefix}_source",
            label_visibility="collapsed",
        )
    try:
        if source == "Upload a file":
            upload = st.file_uploader(
                "One text per row: CSV (the first column; a second is read as the label), "
                ".xlsx (the first sheet), JSON Lines / JSON or Parquet (the 'text' and 'label' "
                "columns)",
                type=list(EXTENSIONS),
                key=f"{prefix}_upload",
            )
            header = st.checkbox("First row is a header", key=f"{prefix}_header")
            if upload is None:
                return None
            given = read_texts(upload.getvalue(), name=upload.name, header=header)
            warn_encoding(upload.getvalue(), upload.name, given.notes)
            return given
        typed = st.text_area(
            "Texts, one per line",
            EXAMPLE_TEXTS,
            key=f"{prefix}_text",
            height=120,
        )
        texts = split_lines(typed or "")
    except EmbedtuneError as exc:
        show_error(exc)
        return None
    return TextsInput(tuple(texts)) if texts else None


def warn_encoding(raw: bytes, name: str, notes: tuple[str, ...] = ()) -> None:
    """A warning under an upload that was read in an encoding other than UTF-8, and one for each
    note of the reader (JSON although named .csv, ...)."""
    for note in (encoding_warning(raw, name), *notes):
        if note is not None:
            st.warning(md(note), icon=":material/warning:")


def embedder_for(choice: str, record: RunRecord | None, backend: str = "torch"):
    if record is not None:
        return loaders.classifier(str(state.store().root), record.id, record.finished_at, backend)
    return loaders.embedder(choice, backend)


def embed_tab(choice: str, record: RunRecord | None, backend: str = "torch") -> None:
    st.caption(
        "Turn texts into vectors: similar meanings get nearby vectors (cosine similarity near 1)."
    )
    given = input_texts("embed")
    if given is None:
        st.info("Type or upload some texts to embed.")
        return
    try:
        model = embedder_for(choice, record, backend)
        with st.spinner(f"Embedding {len(given.texts)} texts…"):
            vectors = model.embed(list(given.texts))
    except EmbedtuneError as exc:
        show_error(exc)
        return
    show_check(record, backend)
    texts = list(given.texts)
    st.markdown(f"**{len(texts)} vectors of {vectors.shape[1]} dimensions**")
    shown = min(PREVIEW_DIMS, vectors.shape[1])
    frame = pd.DataFrame(vectors[:200, :shown], columns=[f"dim_{i}" for i in range(shown)])
    frame.insert(0, "text", texts[:200])
    st.dataframe(
        frame,
        hide_index=True,
        column_config={"text": st.column_config.TextColumn("text", width="medium")},
    )
    st.caption(f"First {shown} dimensions shown; the downloads have all {vectors.shape[1]}.")
    download_buttons(
        ("Download CSV", embeddings_csv(texts, vectors), "embeddings.csv", "text/csv"),
        ("Download .npy", npy_bytes(vectors), "embeddings.npy", "application/octet-stream"),
    )
    if len(texts) >= 2:
        st.markdown("**Cosine similarity**")
        n = min(SIMILARITY_MAX, len(texts))
        if len(texts) > n:
            st.caption(f"The first {n} texts.")
        left, right = st.columns([3, 2])
        with left:
            sim = cosine_similarity(vectors[:n])
            st.altair_chart(charts.similarity(texts[:n], sim), width="content")
        with right:
            st.dataframe(
                pd.DataFrame({"#": range(1, n + 1), "text": texts[:n]}),
                hide_index=True,
            )


def classify_tab(record: RunRecord | None, backend: str = "torch") -> None:
    if record is None:
        st.info(
            "A base model embeds but cannot classify: pick a finetuned run above "
            "(or train one on the Train page).",
            icon=":material/science:",
        )
        st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/arrow_forward:")
        return
    classes = record.data.classes
    if len(classes) <= MANY_LABELS:
        st.caption(f"Labels of this model: {md(', '.join(classes))}")
    else:
        with st.expander(f"The {len(classes)} labels of this model"):
            st.caption(md(", ".join(classes)))
    given = input_texts("classify")
    if st.button("Classify", type="primary", key="classify", disabled=given is None):
        assert given is not None  # the button is disabled without texts
        try:
            model = loaders.classifier(
                str(state.store().root), record.id, record.finished_at, backend
            )
            with st.spinner("Classifying…"):
                results = model.classify(list(given.texts))
        except EmbedtuneError as exc:
            show_error(exc)
            return
        # Exactly what POST /v1/classify answers for these texts (`python -m core serve`).
        st.session_state["classify_results"] = (
            (record.id, backend),
            results,
            classify_response(results),
        )
    stored = st.session_state.get("classify_results")
    if stored is None or stored[0] != (record.id, backend):
        return
    results, body = stored[1], stored[2]
    show_check(record, backend)
    if any("predictions" in r for r in results):
        multilabel_results(results)
    else:
        single_label_results(results)
    developer_view(record.id, body)
    download_buttons(
        ("Download CSV", predictions_csv(results), "predictions.csv", "text/csv"),
        ("Download JSON", json_bytes(body), "predictions.json", "application/json"),
    )


def single_label_results(results: list) -> None:
    """A single-label model's results: the table, and each text's prediction with a chart."""
    st.dataframe(
        pd.DataFrame(
            [
                {"text": r["input"], "prediction": r["prediction"], "confidence": r["confidence"]}
                for r in results
            ],
            columns=["text", "prediction", "confidence"],
        ),
        hide_index=True,
        column_config={
            "text": st.column_config.TextColumn("text", width="large"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )

    def prediction(_: int, result: dict) -> None:
        st.markdown(f"→ **{md(result['prediction'])}** · {result['confidence']:.1%} confident")

    result_cards(results, prediction, "Charts")


def multilabel_results(results: list) -> None:
    """A multi-label model's results: every label above its threshold as a chip with its own
    confidence (they do not sum to 1), and each label's confidence as a chart."""
    st.dataframe(
        pd.DataFrame(
            [{"text": r["input"], "labels": ", ".join(r["predictions"])} for r in results],
            columns=["text", "labels"],
        ),
        hide_index=True,
        column_config={"text": st.column_config.TextColumn("text", width="large")},
    )

    def chips(i: int, result: dict) -> None:
        label_chips(result["predictions"], result["confidences"], key=f"chips_{i}")

    result_cards(results, chips, "Labels")


def result_cards(results: list, describe: Callable[[int, dict], None], shown: str) -> None:
    """A card per text (the first RESULTS_SHOWN): the text as plain text and `describe`'s line
    on the left; on the right the most confident labels as a chart (every label when there are
    few) and, with many labels, all of them in an expander."""
    for i, result in enumerate(results[:RESULTS_SHOWN]):
        with st.container(border=True):
            left, right = st.columns([2, 3])
            with left:
                st.text(result["input"])
                describe(i, result)
            with right:
                every = result["labels"]
                top = top_labels(every)
                if len(top) < len(every):
                    st.caption(f"The {len(top)} most confident of {len(every)} labels")
                st.altair_chart(
                    charts.confidences(top, result["prediction"]),
                    width="stretch",
                    key=f"confidence_chart_{i}",
                )
                if len(top) < len(every):
                    with st.expander(f"All {len(every)} labels"):
                        all_confidences(every, i)
    if len(results) > RESULTS_SHOWN:
        st.caption(f"{shown} for the first {RESULTS_SHOWN} texts; the table has all.")


def all_confidences(confidences: dict[str, float], i: int) -> None:
    """Every label's confidence for one text, most confident first."""
    ranked = top_labels(confidences, len(confidences))
    st.dataframe(
        pd.DataFrame({"label": list(ranked), "confidence": list(ranked.values())}),
        hide_index=True,
        key=f"all_confidences_{i}",
        column_config={
            "confidence": st.column_config.ProgressColumn(
                "confidence", min_value=0.0, max_value=1.0, format="percent"
            )
        },
    )


def developer_view(run_id: str, body: dict) -> None:
    """The service's answer for these texts, and the same request as curl and Python."""
    results = body["classifications"]
    st.markdown(
        "**What a developer gets**: the JSON that `POST /v1/classify` returns for these texts "
        "(start the service with `python -m core serve`; the hosted Classify API's shape, so the "
        "official `cohere` client works by changing its `base_url`)"
    )
    shown = {**body, "classifications": results[:JSON_SHOWN]}
    st.json(shown, expanded=2)
    if len(results) > JSON_SHOWN:
        st.caption(
            f"The first {JSON_SHOWN} of {len(results)} classifications; the JSON download has all."
        )
    inputs = [r["input"] for r in results[:MAX_INPUTS]]
    if len(results) > MAX_INPUTS:
        st.caption(
            f"One request takes at most {MAX_INPUTS} texts: "
            f"the snippets send the first {MAX_INPUTS}."
        )
    curl, python = classify_snippets(run_id, inputs)
    tab_curl, tab_python = st.tabs(["curl", "Python"])
    tab_curl.code(curl, language="bash")
    tab_python.code(python, language="python")


def map_tab(record: RunRecord | None) -> None:
    if record is None:
        st.info(
            "The map compares the base model with a finetuned one: pick a finetuned run above.",
            icon=":material/map:",
        )
        return
    st.caption(
        "Each point is a text, placed by UMAP so that texts with similar vectors sit together; "
        "colour is the true label and a cross marks a text the classifier gets wrong. Hover a "
        "point to read its text. Finetuning should pull each label into its own cluster."
    )
    source = st.segmented_control(
        "Texts to map",
        ["Validation texts of the run", "Upload texts"],
        default="Validation texts of the run",
        key="map_source",
        label_visibility="collapsed",
    )
    store = state.store()
    if source == "Upload texts":
        multi = record.data.multi_label
        labels_are = 'labels optional, a JSON list or joined by "|"' if multi else "label optional"
        upload = st.file_uploader(
            f"A file of text, label per row ({labels_are}; CSV, .xlsx, JSON Lines / JSON or "
            f"Parquet); at most {MAX_TEXTS} rows",
            type=list(EXTENSIONS),
            key="map_upload",
        )
        if upload is None:
            return
        try:
            given = read_texts(upload.getvalue(), name=upload.name, multi_label=multi)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        warn_encoding(upload.getvalue(), upload.name, given.notes)
        texts, labels = given.texts, given.labels
        if multi and labels is not None:  # coloured by the first label, as the run's own map
            labels = first_of_cells(labels, record.data.classes)
    else:
        validation_map(record)
        return
    try:
        with st.spinner(f"Embedding and mapping {len(texts)} texts with both models…"):
            maps = loaders.comparison_maps(
                str(store.root), record.id, record.finished_at, tuple(texts), labels
            )
    except EmbedtuneError as exc:
        show_error(exc)
        return
    draw_maps(maps, record)


def validation_map(record: RunRecord) -> None:
    """The run's validation texts: the map kept with the run, or computed once in the
    background while the page stays usable."""
    store = state.store()
    if load_run_map(store, record.id) is None and not map_in_progress(store, record.id):
        threading.Thread(target=build_quietly, args=(store, record.id), daemon=True).start()

    waiting = load_run_map(store, record.id) is None

    @st.fragment(run_every=MAP_POLL_S if waiting else None)
    def kept() -> None:
        maps = load_run_map(store, record.id)
        if maps is None:
            st.info(
                f"Computing the map of the run's {record.data.valid_rows} validation texts "
                "(both models embed them, UMAP places them); it is kept with the run, so this "
                "happens once. The rest of the page stays usable.",
                icon=":material/hourglass_top:",
            )
            return
        if waiting:
            # The map is ready: the page once more, so that the polling stops (a fragment
            # redrawn every 2 s would reset the colour picker and spend the CPU training needs).
            st.rerun(scope="app")
        draw_maps(maps, record)

    kept()


def choose_highlight(labels, classes: list[str]) -> str | None:
    """With more labels than the map has colours: the label to colour alone (None: the most
    frequent ones), picked above both maps."""
    present = [c for c in classes if c in set(labels or ())]
    if len(present) <= MAP_COLOURS:
        return None
    frequent = f"The {MAP_COLOURS} labels with most texts"
    choice = st.selectbox(
        "Colour",
        [frequent, *present],
        key="map_highlight",
        format_func=lambda c: c if c == frequent else f"Only {c}",
        help=f"{len(present)} labels are more than colours can tell apart: the {MAP_COLOURS} "
        "with most texts are coloured (the first in label order on ties) and the rest are grey, "
        "or pick one label to colour alone. Hover a point for its label.",
    )
    return None if choice == frequent else choice


def draw_maps(maps, record: RunRecord) -> None:
    if record.data.multi_label:
        st.caption(
            "Multi-label run: each point is coloured by its first label (in label order), and a "
            "cross marks a text whose most likely label is not that one."
        )
    classes = list(record.data.classes)
    if maps.labels is not None:
        classes += [c for c in dict.fromkeys(maps.labels) if c not in classes]
    highlight = choose_highlight(maps.labels, classes)
    left, right = st.columns(2, gap="large")
    for column, which, title, predicted in (
        (left, "base", f"Base model ({record.config.base_model})", maps.base_predicted),
        (right, "tuned", f"Finetuned ({record.id})", maps.tuned_predicted),
    ):
        with column:
            rows = maps.rows(which)
            st.altair_chart(charts.embedding_map(rows, title, classes, highlight), width="stretch")
            if maps.labels is not None and predicted is not None:
                wrong = sum(1 for row in rows if row["correct"] is False)
                st.caption(f"{wrong} of {len(rows)} texts misclassified")
    if maps.scored_by:
        st.caption(maps.scored_by)
    if len(maps.texts) < 5:
        st.caption("Fewer than 5 texts: the maps are PCA projections (UMAP needs more points).")
    if record.finetune_kept is False:
        st.info(
            "This run kept the base model (finetuning did not beat it on the validation split), "
            "so both maps show the same vectors.",
            icon=":material/info:",
        )


st.title("Playground")
choice, record = choose_model()
backend = choose_backend(record)
embed, classify, mapping = st.tabs(
    ["Embed", "Classify", "Map"], key="playground_tab", on_change="rerun"
)
if embed.open:
    with embed:
        embed_tab(choice, record, backend)
if classify.open:
    with classify:
        classify_tab(record, backend)
if mapping.open:
    with mapping:
        map_tab(record)
