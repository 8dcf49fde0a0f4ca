"""Data page: upload the training (and validation) file, choose its sheet, header and columns,
preview it, review it, use it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from core.data.cleaning import CleaningConfig, clean
from core.data.files import EXTENSIONS, read_table
from core.data.labeled import LabeledTexts
from core.data.multilabel import labeled_multi
from core.data.table import HeaderRowError, Table
from core.errors import EmbedtuneError
from core.io import encoding_warning
from core.quality.checks import RARE_LABEL_EXAMPLES
from core.quality.label_issues import (
    CHOICES,
    LabelIssues,
    apply_choices,
    choices_above,
    find_label_issues,
)
from core.quality.prepare import prepare_data, review_for_model
from core.quality.review import DROP_KINDS, Review, droppable_rows
from core.runs.datasets import SavedData
from ui import charts, loaders, state
from ui.multilabel import draw_stats, multilabel_options
from ui.widgets import TRAIN_PAGE, md, show_error

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "emotions.csv"
EXAMPLE_NAME = "emotions.csv (example)"
WHICH = {"train": "Training file", "valid": "Validation file"}
PREVIEW_ROWS = 1000
RAW_ROWS = 5  # rows of the file as read, shown when its first row looks like a header
ROWS_SHOWN = 200
CLEANING_RULES = {
    "urls": "Remove web addresses (http://, https://, www.)",
    "html": "Remove HTML tags and decode entities (&amp; → &)",
    "symbols": "Remove stray symbols and control characters (keeps letters, digits, "
    "punctuation, currency signs and emoji)",
    "whitespace": "Collapse runs of spaces, tabs and newlines",
}
DROP_NAMES = {
    "empty": "Rows with an empty text or label",
    "duplicates": "Repeated rows (the first copy is kept)",
    "conflicting": "Texts given more than one label",
    "rare_labels": f"Labels with fewer than {RARE_LABEL_EXAMPLES} examples",
    "leakage": "Validation texts that are also in the training file",
}
LABEL_EDITOR = "label_editor"
NOT_SAVED = "data_not_saved"  # why the registered data set could not be saved, if it could not
CHOICE_HELP = (
    "keep: leave the row as it is · relabel: give it the suggested label · drop: leave it out "
    "of training. Nothing changes until you choose."
)
SEVERITY_BOX = {"error": st.error, "warning": st.warning, "info": st.info}
SEVERITY_ICON = {
    "error": ":material/block:",
    "warning": ":material/warning:",
    "info": ":material/info:",
}


def files() -> dict:
    """The uploaded files as kept across pages: {"train", "valid": (name, bytes) | None,
    "options": {"train", "valid": {"header": bool, "sheet", "text", "label": str | None}}}."""
    return st.session_state.setdefault(
        state.DATA_FILES,
        {"train": None, "valid": None, "options": {"train": new_options(), "valid": new_options()}},
    )


def new_options() -> dict:
    """How to read a file: its first row as data, its first sheet, the reader's columns."""
    return {"header": False, "sheet": None, "text": None, "label": None}


OPTION_WIDGETS = ("header", "sheet", "text", "label")


def forget_options(which: str) -> None:
    """A new file starts from the reader's defaults: its widgets are drawn afresh."""
    files()["options"][which] = new_options()
    for option in OPTION_WIDGETS:
        st.session_state.pop(f"{which}_{option}", None)


def on_upload(which: str) -> None:
    uploaded = st.session_state.get(f"upload_{which}")
    files()[which] = (uploaded.name, uploaded.getvalue()) if uploaded is not None else None
    forget_options(which)


def on_option(which: str, option: str) -> None:
    files()["options"][which][option] = st.session_state.get(f"{which}_{option}")
    if option in ("header", "sheet"):  # other names: the columns are chosen again
        for column in ("text", "label"):
            files()["options"][which][column] = None
            st.session_state.pop(f"{which}_{column}", None)


def use_header(which: str) -> None:
    """The button under a first row that looks like a header."""
    st.session_state[f"{which}_header"] = True
    on_option(which, "header")


def load_example() -> None:
    current = files()
    current.update(train=(EXAMPLE_NAME, EXAMPLE.read_bytes()), valid=None)
    forget_options("train")
    forget_options("valid")


@st.cache_data(max_entries=4, show_spinner="Reading the file…")
def read(_raw: bytes, digest: str, name: str, header: bool, sheet: str | None, max_bytes: int):
    """The file as a Table (cached by its digest: the bytes are hashed once per run)."""
    return read_table(_raw, name=name, header=header, sheet=sheet, max_bytes=max_bytes)


@st.cache_data(max_entries=4, show_spinner=False)
def labeled(
    _table: Table,
    digest: str,
    header: bool,
    sheet: str | None,
    text: str | None,
    label: str | None,
    multi: bool = False,
    separator: str = "|",
) -> LabeledTexts:
    if multi:
        return labeled_multi(_table, text, label, separator)
    return _table.labeled(text, label)


def file_options(which: str, table: Table) -> tuple[str | None, str | None]:
    """The sheet, header and column choices for one file, drawn under its uploader; returns
    the chosen text and label columns (None: the reader's defaults)."""
    options = files()["options"][which]

    def remembered(option: str, value: object) -> str:
        key = f"{which}_{option}"
        if key not in st.session_state:  # widgets are forgotten when the page is left
            st.session_state[key] = value
        return key

    if len(table.sheets) > 1:
        st.selectbox(
            "Sheet",
            table.sheets,
            key=remembered("sheet", table.sheet),
            on_change=on_option,
            args=(which, "sheet"),
        )
    if table.format in ("csv", "tsv", "xlsx"):
        st.checkbox(
            "First row is a header",
            key=remembered("header", options["header"]),
            on_change=on_option,
            args=(which, "header"),
            help="Tick when the first row names the columns (e.g. text, label) instead of being "
            "an example.",
        )
    if not table.choose_columns:
        return None, None
    columns = list(table.columns)
    pair = table.suggested_columns()
    chosen = []
    left, right = st.columns(2)
    for column, option, title, default in (
        (left, "text", "Text column", pair[0]),
        (right, "label", "Label column", pair[1]),
    ):
        key = f"{which}_{option}"
        if st.session_state.get(key) not in columns:
            st.session_state[key] = (
                options[option] if options[option] in columns else columns[default]
            )
        with column:
            chosen.append(
                st.selectbox(title, columns, key=key, on_change=on_option, args=(which, option))
            )
    return chosen[0], chosen[1]


def header_prompt(which: str, table: Table, exc: HeaderRowError) -> None:
    """A first row that looks like column names: say so, offer one click, show the rows."""
    st.warning(
        f"**{WHICH[which]}:** {md(exc.where[0].upper() + exc.where[1:])} of {md(table.name)} looks "
        f"like a header ({md(repr(exc.text))}, {md(repr(exc.label))}), not an example.",
        icon=":material/table_rows:",
    )
    st.button(
        "Use the first row as the header",
        key=f"{which}_use_header",
        type="primary",
        on_click=use_header,
        args=(which,),
    )
    frame = pd.DataFrame(
        [dict(zip(table.columns, cells)) for cells in table.cells[:RAW_ROWS]],
        columns=list(table.columns),
    )
    frame.insert(0, "row", list(table.rows[:RAW_ROWS]))
    st.caption(f"The first {min(RAW_ROWS, len(table))} rows of {md(table.name)} as read:")
    st.dataframe(frame, hide_index=True)


def upload_limit() -> int:
    """The server's upload limit in bytes (server.maxUploadSize), checked again here so a file
    that reaches the page some other way gets the same clear message."""
    return int(st.get_option("server.maxUploadSize")) * 2**20


def rows_frame(data: LabeledTexts, rows: tuple[int, ...] | None = None, limit: int = 0):
    """A table of (row, text, label); only `rows` when given."""
    wanted = set(rows) if rows is not None else None
    records = [
        {"row": row, "text": text, "label": label}
        for row, text, label in zip(data.rows, data.texts, data.labels, strict=True)
        if wanted is None or row in wanted
    ]
    if limit:
        records = records[:limit]
    return pd.DataFrame(records, columns=["row", "text", "label"])


def show_table(frame: pd.DataFrame, height: int | str = "auto") -> None:
    st.dataframe(
        frame,
        hide_index=True,
        height=height,
        column_config={
            "row": st.column_config.NumberColumn("row", width="small", format="%d"),
            "text": st.column_config.TextColumn("text", width="large"),
        },
    )


def preview(train: LabeledTexts, valid: LabeledTexts | None) -> None:
    left, right = st.columns([3, 2], gap="large")
    with left:
        tab_train, tab_valid = st.tabs(["Training", "Validation"])
        with tab_train:
            st.caption(
                f"{md(train.name)} · {len(train)} rows · {len(train.classes)} labels"
                + (f" · first {PREVIEW_ROWS} shown" if len(train) > PREVIEW_ROWS else "")
            )
            show_table(rows_frame(train, limit=PREVIEW_ROWS), height=320)
        with tab_valid:
            if valid is None:
                st.info(
                    "No validation file: a stratified share of each label is held out of the "
                    "training file for validation (set it under Review)."
                )
            else:
                st.caption(f"{md(valid.name)} · {len(valid)} rows · {len(valid.classes)} labels")
                show_table(rows_frame(valid, limit=PREVIEW_ROWS), height=320)
    with right:
        st.markdown("**Examples per label**")
        counts = {"Training file": train.class_counts()}
        if valid is not None:
            counts["Validation file"] = valid.class_counts()
        st.altair_chart(charts.label_distribution(counts), width="stretch")


def review_options(has_valid: bool) -> tuple[str, CleaningConfig, float]:
    installed = [m for m in loaders.models() if m.installed]
    keys = [m.key for m in installed] or ["small"]
    names = {m.key: f"{m.key} ({m.name})" for m in installed}
    c1, c2 = st.columns(2)
    with c1:
        model = st.selectbox(
            "Count tokens with the base model",
            keys,
            format_func=lambda k: names.get(k, k),
            key="data_model",
            help="Texts longer than the model's limit are cut; the review counts them.",
        )
    with c2:
        fraction = 0.2
        if not has_valid:
            fraction = st.slider(
                "Validation share (no validation file)",
                0.1,
                0.5,
                0.2,
                0.05,
                key="data_fraction",
                help="Share of the rows held out to measure the model, stratified by label: each "
                "label with 2 rows or more keeps at least 1 for validation; the run's seed chooses "
                "which rows.",
            )
    with st.expander("Cleaning (optional)"):
        st.caption(
            "Applied the same way at training and at prediction time. Off by default: the "
            "model sees the texts as you wrote them."
        )
        rules = {
            rule: st.checkbox(text, key=f"clean_{rule}") for rule, text in CLEANING_RULES.items()
        }
    return model, CleaningConfig(**rules), fraction


def draw_review(
    review: Review, train: LabeledTexts, valid: LabeledTexts | None, cleaning: CleaningConfig
) -> None:
    c1, c2, c3, c4 = st.columns(4)
    total = review.train_rows + review.valid_rows
    how = (
        "validation file"
        if review.valid_source == "file"
        else f"held out, {review.valid_rows / max(total, 1):.0%}"
    )
    c1.metric("Training examples", review.train_rows)
    c2.metric(f"Validation examples ({how})", review.valid_rows)
    c3.metric("Labels", review.num_classes)
    c4.metric(
        "Imbalance (largest / smallest)",
        "–" if review.imbalance_ratio is None else f"{review.imbalance_ratio:.1f} : 1",
    )
    if review.multilabel is not None:
        draw_stats(review.multilabel)

    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown("**Per label**")
        table = pd.DataFrame(
            [
                {
                    "label": label,
                    "training": review.train_counts.get(label, 0),
                    "validation": review.valid_counts.get(label, 0),
                }
                for label in dict.fromkeys([*review.train_counts, *review.valid_counts])
            ],
            columns=["label", "training", "validation"],
        )
        st.dataframe(table, hide_index=True)
        if review.multilabel is not None and review.valid_source == "split":
            st.caption(
                f"The validation rows of the split a run with seed {review.seed} holds out (the "
                "Train page's seed; another seed holds out other rows)."
            )
        for name, stats in (("training", review.train_tokens), ("validation", review.valid_tokens)):
            if stats is not None:
                st.caption(
                    f"Tokens ({name}): mean {stats.mean:.0f}, median {stats.median:.0f}, "
                    f"95th percentile {stats.p95:.0f}, longest {stats.max}; "
                    f"{stats.truncated} over the model's {stats.max_tokens}."
                )
    with right:
        st.markdown("**Findings**")
        if not review.findings:
            st.success("No problems found.", icon=":material/check_circle:")
        for i, finding in enumerate(review.findings):
            where = ""
            if finding.split == "valid":
                where = " (validation file)" if review.valid_source == "file" else " (validation)"
            box = SEVERITY_BOX[finding.severity]
            box(
                f"**{finding.severity.capitalize()}{where}:** {md(finding.message)}",
                icon=SEVERITY_ICON[finding.severity],
            )
            if finding.rows:
                data = valid if finding.split == "valid" and valid is not None else train
                with st.expander(f"The {len(finding.rows)} rows concerned"):
                    show_table(rows_frame(data, finding.rows, limit=ROWS_SHOWN))
                    if len(finding.rows) > ROWS_SHOWN:
                        st.caption(f"First {ROWS_SHOWN} shown.")

    if review.cleaning is not None:
        st.markdown("**Cleaning: changed texts**")
        changes = [("training", c) for c in review.changes]
        changes += [("validation", c) for c in review.valid_changes]
        if not changes:
            st.caption("The cleaning rules change no text.")
        else:
            st.caption(f"{len(changes)} texts change ({', '.join(review.cleaning.rules)}).")
            frame = pd.DataFrame(
                [
                    {"file": f, "row": c.row, "before": c.before, "after": c.after}
                    for f, c in changes[:ROWS_SHOWN]
                ],
                columns=["file", "row", "before", "after"],
            )
            st.dataframe(frame, hide_index=True, height=min(400, 38 + 35 * len(frame)))


def label_choices() -> dict:
    """The user's choices for the flagged rows: {"choices": {row: choice}, "version": n}; the
    version names the table widget, so a bulk choice draws a fresh table."""
    return st.session_state.setdefault(state.LABEL_CHOICES, {"choices": {}, "version": 0})


def run_label_check(train: LabeledTexts, model: str, cleaning: CleaningConfig, key: tuple) -> None:
    # The check sees the texts as the model will (cleaned when cleaning is on).
    checked = clean(train, cleaning)[0] if cleaning.enabled else train
    try:
        with st.spinner("Embedding the texts and checking the labels…"):
            result = find_label_issues(checked, model, model=loaders.embedder(model).model)
    except EmbedtuneError as exc:
        show_error(exc)
        return
    st.session_state[state.LABEL_ISSUES] = (key, result)
    store = label_choices()
    store["choices"] = {}
    store["version"] += 1


def merge_table_edits(result: LabelIssues) -> None:
    """Fold the choices made in the table into the stored ones (before a new table is drawn)."""
    store = label_choices()
    edits = st.session_state.get(f"{LABEL_EDITOR}_{store['version']}") or {}
    for position, change in edits.get("edited_rows", {}).items():
        if "choice" in change and change["choice"] in CHOICES:
            store["choices"][result.issues[int(position)].row] = change["choice"]


def on_bulk_choice(result: LabelIssues, choice: str) -> None:
    merge_table_edits(result)
    store = label_choices()
    threshold = float(st.session_state.get("label_threshold", 0.9))
    store["choices"].update(choices_above(result, threshold, choice))
    store["version"] += 1


def on_reset_choices() -> None:
    store = label_choices()
    store["choices"] = {}
    store["version"] += 1


def check_labels(
    train: LabeledTexts, model: str, cleaning: CleaningConfig, key: tuple
) -> tuple[LabeledTexts, dict[int, str]]:
    """The "Check labels" section; returns the training data with the user's choices applied
    (the uploaded data itself when there are none) and the choices that changed something."""
    st.caption(
        "Finds rows whose label the base model's embeddings disagree with (out-of-fold "
        "predictions ranked by cleanlab), and texts that are almost the same. Takes about 5 s "
        "per 1,000 rows on a CPU; the result is cached. It uses the base model chosen above: "
        "'large' ranks wrong labels better where the small model separates the labels poorly "
        "(sentiment, emotions), and takes about 5 times as long."
    )
    if st.button("Check labels", icon=":material/fact_check:", key="check_labels"):
        run_label_check(train, model, cleaning, key)
    stored = st.session_state.get(state.LABEL_ISSUES)
    if stored is None or stored[0] != key:
        return train, {}
    result: LabelIssues = stored[1]
    if result.skipped_labels:
        st.info(
            "Not checked (fewer than 3 examples): "
            + ", ".join(md(label) for label in result.skipped_labels),
            icon=":material/info:",
        )
    if not result.issues:
        st.success("No likely label errors found.", icon=":material/check_circle:")
    else:
        st.markdown(
            f"**{len(result.issues)} rows may be mislabelled**, most likely first "
            "(confidence: the model's probability for the suggested label)."
        )
        b1, b2, b3, b4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
        b1.number_input(
            "Confidence at least",
            0.0,
            1.0,
            0.9,
            0.05,
            key="label_threshold",
            help="For the buttons: apply a choice to every flagged row at or above this.",
        )
        b2.button(
            "Relabel all above",
            key="relabel_above",
            on_click=on_bulk_choice,
            args=(result, "relabel"),
        )
        b3.button(
            "Drop all above", key="drop_above", on_click=on_bulk_choice, args=(result, "drop")
        )
        b4.button("Keep all", key="keep_all", on_click=on_reset_choices)
        store = label_choices()
        frame = pd.DataFrame(
            [
                {
                    "row": issue.row,
                    "text": issue.text,
                    "given label": issue.given_label,
                    "suggested label": issue.suggested_label,
                    "confidence": issue.suggested_confidence,
                    "choice": store["choices"].get(issue.row, "keep"),
                }
                for issue in result.issues
            ],
            columns=["row", "text", "given label", "suggested label", "confidence", "choice"],
        )
        edited = st.data_editor(
            frame,
            key=f"{LABEL_EDITOR}_{store['version']}",
            hide_index=True,
            height=min(420, 38 + 35 * len(frame)),
            disabled=["row", "text", "given label", "suggested label", "confidence"],
            column_config={
                "row": st.column_config.NumberColumn("row", width="small", format="%d"),
                "text": st.column_config.TextColumn("text", width="large"),
                "confidence": st.column_config.ProgressColumn(
                    "confidence", min_value=0.0, max_value=1.0, format="%.2f"
                ),
                "choice": st.column_config.SelectboxColumn(
                    "choice", options=list(CHOICES), required=True, help=CHOICE_HELP
                ),
            },
        )
        st.caption(CHOICE_HELP)
    if result.near_duplicates:
        conflicting = len(result.conflicting_pairs)
        total = len(result.near_duplicates) + result.more_pairs
        with st.expander(
            f"{total} near-duplicate pairs (cosine ≥ {result.threshold:g}), "
            f"{conflicting} with different labels"
        ):
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "rows": f"{p.rows[0]}, {p.rows[1]}",
                            "first text": p.texts[0],
                            "first label": p.labels[0],
                            "second text": p.texts[1],
                            "second label": p.labels[1],
                            "similarity": p.similarity,
                        }
                        for p in result.near_duplicates[:ROWS_SHOWN]
                    ]
                ),
                hide_index=True,
            )
            st.caption("Different labels first. Fix one label or drop a copy in your file.")
    if not result.issues:
        return train, {}
    choices = {
        int(row): str(choice)
        for row, choice in zip(edited["row"], edited["choice"], strict=True)
        if choice in ("relabel", "drop")
    }
    try:
        return apply_choices(train, result, choices), choices
    except EmbedtuneError as exc:
        show_error(exc)
        return train, {}


def use_data(
    review: Review,
    train: LabeledTexts,
    valid: LabeledTexts | None,
    cleaning: CleaningConfig,
    fraction: float,
    key: tuple,
    choices: dict[int, str] | None = None,
) -> None:
    choices = choices or {}
    if choices:
        relabelled = sum(1 for c in choices.values() if c == "relabel")
        st.caption(
            f"With your label choices: {relabelled} rows relabelled, "
            f"{len(choices) - relabelled} dropped (the uploaded file is not changed)."
        )
    st.markdown("**Drop flagged rows** (by what the review found)")
    drop = []
    for kind in DROP_KINDS:
        n = sum(len(rows) for rows in droppable_rows(review, [kind]).values())
        if st.checkbox(f"{DROP_NAMES[kind]} ({n})", key=f"drop_{kind}", disabled=n == 0):
            drop.append(kind)
    if st.button("Use this data", type="primary", key="use_data"):
        try:
            data = prepare_data(train, valid, report=review, drop=drop, valid_fraction=fraction)
        except EmbedtuneError as exc:
            show_error(exc)
            return
        unsaved = state.set_dataset(SavedData(data, cleaning, dict(choices)))
        st.session_state[NOT_SAVED] = unsaved
        st.session_state[state.DATASET_KEY] = (key, tuple(drop), tuple(sorted(choices.items())))
        st.rerun()  # the sidebar shows the new data set
    saved = state.dataset()
    registered = (key, tuple(drop), tuple(sorted(choices.items())))
    if saved is not None and st.session_state.get(state.DATASET_KEY) == registered:
        n_train, n_valid = saved.data.sizes()
        unsaved = st.session_state.get(NOT_SAVED)
        kept = (
            "It is saved in the workspace: this page's link finds it again after a refresh or a "
            "restart."
            if unsaved is None
            else f"It is kept in this browser tab only (a refresh loses it): {md(unsaved)}"
        )
        st.success(
            f"Data set ready: {n_train} training and {n_valid} validation examples, "
            f"{len(saved.data.classes)} labels. {kept}",
            icon=":material/check_circle:",
        )
        st.page_link(
            TRAIN_PAGE, label="Next: choose a base model and train", icon=":material/arrow_forward:"
        )


def in_use(saved: SavedData) -> None:
    """The registered data set, shown when no file is loaded on the page (after a refresh)."""
    n_train, n_valid = saved.data.sizes()
    relabelled = sum(1 for c in saved.label_choices.values() if c == "relabel")
    dropped = len(saved.label_choices) - relabelled
    edits = (
        f" · label check: {relabelled} relabelled, {dropped} dropped" if saved.label_choices else ""
    )
    source = "a validation file" if saved.data.valid is not None else "held out from training"
    with st.container(border=True):
        st.markdown(f"**Data set in use:** {md(saved.name)}")
        st.caption(
            f"{n_train} training and {n_valid} validation examples ({source}) · "
            f"{len(saved.data.classes)} labels{edits} · cleaning: "
            f"{', '.join(saved.cleaning.rules) or 'off'}"
        )
        st.page_link(TRAIN_PAGE, label="Train on it", icon=":material/arrow_forward:")
    st.caption("Upload a file below to replace it.")


st.title("Data")
st.markdown(
    "Upload a file with a **text** and a **label** per row: CSV or TSV, Excel (.xlsx), JSON Lines "
    'or a JSON list of records (`{"text": ..., "label": ...}`), or Parquet. When a file '
    "has more columns, choose the two. A validation file is optional: without one, part of the "
    "training file is held out."
)

current = files()
saved_data = state.dataset()
if saved_data is not None and current["train"] is None:
    in_use(saved_data)
uploads = st.columns(2)
for which, column in zip(("train", "valid"), uploads, strict=True):
    with column:
        st.file_uploader(
            "Training data" if which == "train" else "Validation data (optional)",
            type=list(EXTENSIONS),
            key=f"upload_{which}",
            on_change=on_upload,
            args=(which,),
        )
st.button(
    "Load the example data set (600 Reddit comments, 6 emotions)",
    icon=":material/inventory_2:",
    on_click=load_example,
    key="load_example",
    help="Reddit comments labelled admiration, amusement, anger, curiosity, gratitude or love "
    "(GoEmotions, Demszky et al. 2020). examples/emotions-test.csv is a test file for the "
    "Metrics page.",
)

read_files: dict[str, LabeledTexts | None] = {"train": None, "valid": None}
notes = []  # what the user should know about how a file was read (encoding, format)
problems: list[tuple[str, Table, EmbedtuneError]] = []
unread = False  # a file that could not be read at all (its error is shown)
read_as = {}  # (digest, header, sheet, text, label) of each file: what the review saw
for which, column in zip(("train", "valid"), uploads, strict=True):
    if current[which] is None:
        continue
    name, raw = current[which]
    options = current["options"][which]
    digest = hashlib.sha256(name.encode() + b"\0" + raw).hexdigest()
    try:
        table = read(raw, digest, name, options["header"], options["sheet"], upload_limit())
    except EmbedtuneError as exc:
        show_error(exc)
        unread = True
        continue
    with column:
        text, label = file_options(which, table)
        multi = multilabel_options(which, table, text, label)
    read_as[which] = (digest, options["header"], table.sheet, text, label, *multi)
    try:
        read_files[which] = labeled(table, *read_as[which])
    except EmbedtuneError as exc:
        problems.append((which, table, exc))
        continue
    notes += [encoding_warning(raw, name), *table.notes]

for which, table, exc in problems:
    if isinstance(exc, HeaderRowError):
        header_prompt(which, table, exc)
    else:
        show_error(exc)
train, valid = read_files["train"], read_files["valid"]
if unread or problems or train is None:
    if current["train"] is None and saved_data is None:
        st.info("Upload a training file, or load the example data set to try everything at once.")
    st.stop()
for note in notes:
    if note is not None:
        st.warning(md(note), icon=":material/warning:")

st.divider()
st.subheader("Preview")
preview(train, valid)

st.divider()
st.subheader("Review")
model, cleaning, fraction = review_options(valid is not None)
review_key = (tuple(read_as.values()), model, cleaning, fraction)
if st.button("Review data", type="primary", key="review_data"):
    try:
        with st.spinner("Reviewing…"):
            report = review_for_model(
                train, valid, model=model, cleaning=cleaning, valid_fraction=fraction
            )
        st.session_state[state.REVIEW] = (review_key, report)
    except EmbedtuneError as exc:
        show_error(exc)
stored = st.session_state.get(state.REVIEW)
if stored is None:
    st.caption("Review the data before using it: counts, problems and what to drop.")
elif stored[0] != review_key:
    st.info("The files or options changed since the last review: review the data again.")
else:
    draw_review(stored[1], train, valid, cleaning)
    st.divider()
    st.subheader("Check labels")
    checked_train, label_changes = check_labels(train, model, cleaning, review_key)
    st.divider()
    st.subheader("Use this data")
    use_data(stored[1], checked_train, valid, cleaning, fraction, review_key, label_changes)
