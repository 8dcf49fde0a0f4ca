"""The Data page's files: the uploads and how each is read (sheet, header, columns) kept across
pages, the cached reading, the widgets that choose, and the prompt for a first row that looks
like a header."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data.files import read_table
from core.data.header import HeaderRowError
from core.data.labeled import LabeledTexts
from core.data.multilabel import labeled_multi
from core.data.table import Table
from ui import state
from ui.widgets import md

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "emotions.csv"
EXAMPLE_NAME = "emotions.csv (example)"
WHICH = {"train": "Training file", "valid": "Validation file"}
RAW_ROWS = 5  # rows of the file as read, shown when its first row looks like a header


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
