"""Test helpers (plain functions and constants; fixtures live in conftest.py files): where things
are, tiny labelled data made here, tiny training settings, and waiting for a run."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import core.runs.store as core_runs
from core.config import TrainConfig
from core.data.labeled import DataSet, LabeledTexts, split
from core.runs.store import RunRecord, RunStore

ROOT = Path(__file__).resolve().parents[1]  # the repository
SHARED_DATA = ROOT.parent / "shared" / "data"  # the real public data sets, beside the checkout
HOSTILE = "<img src=x onerror=alert(1)>"

# -- two clearly separable labels (the app tests) ----------------------------------------------

_GOOD = ["great", "wonderful", "excellent", "lovely", "fantastic", "superb"]
_BAD = ["terrible", "awful", "horrible", "dreadful", "useless", "broken"]
_THINGS = ["phone", "film", "pizza", "hotel"]


def tiny_pairs(per_label: int = 24) -> list[tuple[str, str]]:
    """`per_label` positive and negative review sentences, interleaved."""
    pairs = []
    for i in range(per_label):
        thing = _THINGS[i % len(_THINGS)]
        pairs.append((f"The {thing} was {_GOOD[i % len(_GOOD)]}, I loved it ({i})", "positive"))
        pairs.append((f"The {thing} was {_BAD[i % len(_BAD)]}, I hated it ({i})", "negative"))
    return pairs


def csv_bytes(pairs: list[tuple[str, str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(pairs)
    return buffer.getvalue().encode("utf-8")


# -- three topics and settings that train in seconds (the engine tests) ------------------------

# One epoch of a few batches with short sequences: enough to exercise every phase.
TINY = {"epochs": 1, "batch_size": 8, "max_seq_length": 32, "device": "cpu"}

_TOPICS = {
    "sport": ["the match went to extra time", "she scored twice", "the coach was sacked"],
    "food": ["the soup was too salty", "fresh bread every morning", "a spicy curry"],
    "tech": ["the laptop overheats", "a new phone update", "the app keeps crashing"],
}


def tiny_dataset(per_label: int = 8, seed: int = 0) -> DataSet:
    pairs = []
    for i in range(per_label):
        for label, texts in _TOPICS.items():
            pairs.append((f"{texts[i % len(texts)]} ({i})", label))
    return split(LabeledTexts.from_pairs(pairs, name="tiny.csv"), valid_fraction=0.25, seed=seed)


def tiny_config(**changes: object) -> TrainConfig:
    return TrainConfig().replace(**{**TINY, **changes})


def wait_for(store: RunStore, run_id: str, condition, timeout_s: float = 180) -> RunRecord:
    """Poll a run until `condition(record)` holds; fail if it ends (or times out) before."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = store.get(run_id)
        if condition(record):
            return record
        assert record.active, f"run ended early: {record.status} {record.error}"
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached the expected state")


# -- a label check with two planted errors ------------------------------------------------------

SPORT = ["football", "tennis", "basketball", "cricket", "rugby", "hockey"]
FOOD = ["pasta", "soup", "salad", "curry", "bread", "cake"]
WEATHER = ["rain", "snow", "wind", "sunshine", "fog", "thunder"]


def planted() -> tuple[LabeledTexts, dict[int, str]]:
    """Three clearly separable labels, 12 each; two rows carry a wrong label.
    Returns the data and {row: true label} of the two wrong rows."""
    pairs = []
    for i in range(12):
        pairs.append((f"We watched the {SPORT[i % 6]} match and our team scored", "sport"))
        pairs.append((f"I cooked {FOOD[i % 6]} for dinner with fresh herbs", "food"))
        pairs.append((f"The forecast says heavy {WEATHER[i % 6]} tomorrow morning", "weather"))
    pairs[3] = (pairs[3][0], "weather")  # a sport text (row 4) labelled weather
    pairs[7] = (pairs[7][0], "sport")  # a food text (row 8) labelled sport
    return LabeledTexts.from_pairs(pairs, name="planted.csv"), {4: "sport", 8: "food"}


# -- bad input and broken state (the robustness tests of the CLI and the app) ----------------------


def xlsx_workbook(
    sheets: dict[str, list[list[object]]],
    merged: dict[str, list[str]] | None = None,
    cached: dict[tuple[str, str], str] | None = None,
) -> bytes:
    """A real .xlsx written by openpyxl: each sheet's rows from A1 (None: an empty cell, [] an
    empty row), `merged` ranges per sheet ("A1:B1"), and text starting with "=" as a formula.

    `cached` gives the result a spreadsheet program saves beside a formula ({(sheet, "A6"):
    "text"}). openpyxl never calculates: it writes a formula with an empty result (`<v/>`), as a
    file no spreadsheet program has opened yet. Excel and LibreOffice, on saving, write the
    result into the same cell of the sheet's XML (`<c t="str"><f>A3</f><v>text</v></c>`); here
    that result is put into the XML of the saved file in the same way."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(r, c, value)
        for cells in (merged or {}).get(title, []):
            sheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    if not cached:
        return buffer.getvalue()
    sheet_files = {title: f"xl/worksheets/sheet{i}.xml" for i, title in enumerate(sheets, 1)}
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as saved, zipfile.ZipFile(out, "w") as patched:
        for item in saved.infolist():
            data = saved.read(item.filename).decode("utf-8")
            for (title, ref), value in cached.items():
                if item.filename != sheet_files[title]:
                    continue
                formula = re.compile(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/></c>')
                data, found = formula.subn(
                    lambda m, ref=ref, value=value: (
                        f'<c r="{ref}"{m[1]} t="str"><f>{m[2]}</f><v>{escape(value)}</v></c>'
                    ),
                    data,
                )
                assert found == 1, f"no formula in {title}!{ref}"
            patched.writestr(item, data.encode("utf-8"))
    return out.getvalue()


def xlsx_bytes() -> bytes:
    """The start of an .xlsx (a ZIP with a workbook part) that no spreadsheet reader can open:
    its sheet and relationship parts are missing."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        book.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet><c t='s'><v>0</v></c></worksheet>")
    return buffer.getvalue()


# Each malformed file as a user might upload it; the message is tested in tests/data/ (and
# tests/test_io.py), here the CLI and the app must show exactly that message, once, without a
# traceback.
MALFORMED = {
    "empty": b"",
    "blank lines only": b"\n  \n\r\n\n",
    "one column": b"good film\nbad film\n",
    "three columns": b"good,film,pos\nbad,film,neg\n",
    "single label": b"good film,pos\ngreat film,pos\n",
    "all labels empty": b"good film,\nbad film,\n",
    "binary renamed .csv": bytes(range(256)) * 4,
    "damaged .xlsx renamed .csv": xlsx_bytes(),
    "latin-1": "caf\u00e9,pos\nth\u00e9,neg\n".encode("latin-1"),
    "unclosed quote": b'ok,pos\n"never closed,neg\nmore,pos\n',
    "undeclared header": b"text,label\ngood,pos\nbad,neg\n",
}
GOOD = csv_bytes(tiny_pairs(3))
# UTF-16 with a byte-order mark is the one other encoding that can be told apart safely, so it
# is read, with a warning (the message is tested in test_data.py). Latin-1 cannot be told from
# Windows-1252 or other 8-bit encodings, so it stays an error (in MALFORMED above).
UTF16 = GOOD.decode("utf-8").encode("utf-16")


def completed_without_model(store: RunStore) -> str:
    """A run recorded as completed whose model folder was deleted by hand."""
    dataset = split(LabeledTexts.from_pairs(tiny_pairs(6), name="tiny.csv"), seed=0)
    record, _ = store.create(TrainConfig(epochs=1), dataset)
    store.update(record.id, status="completed")
    return record.id


def no_room(tmp_path: Path, problem: str, monkeypatch) -> tuple[Path, str]:
    """A runs folder that cannot take a run, and how its error message starts."""
    if problem == "unwritable":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        runs = blocker / "runs"
        return runs, f"cannot write to the runs folder {runs}: "
    runs = tmp_path / "runs"
    monkeypatch.setattr(core_runs, "MIN_FREE_BYTES", 10**18)  # no disk is that big: "full"
    return runs, f"not enough free disk space in {runs}: "


# -- texts for batch jobs -----------------------------------------------------------------------

_BATCH_WORDS = ["match", "coach", "goal", "soup", "bread", "curry", "laptop", "phone", "update"]


def batch_texts(n: int) -> list[str]:
    """Unique texts with the awkward cases: commas, quotes, newlines, padding spaces."""
    texts = []
    for i in range(n):
        a, b = _BATCH_WORDS[i % len(_BATCH_WORDS)], _BATCH_WORDS[(i * 7) % len(_BATCH_WORDS)]
        text = f"the {a} and the {b} number {i}"
        if i % 50 == 3:
            text = f'  "{a}", said the {b}\nthen left ({i})  '
        texts.append(text)
    return texts


def write_texts_csv(path: Path, texts: list[str], blank_every: int = 0) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for i, text in enumerate(texts):
            writer.writerow([text, "extra column"])
            if blank_every and i % blank_every == blank_every - 1:
                writer.writerow([])
    return path


# -- files of every format (the reader's tests) ---------------------------------------------------


def parquet_bytes(columns: dict[str, list]) -> bytes:
    """A Parquet file with these columns, as bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def read_error(source: bytes | Path, **options) -> str:
    """The DataError message `core.data.files.read_labeled` raises for this file."""
    import pytest

    from core.data.files import read_labeled
    from core.errors import DataError

    with pytest.raises(DataError) as info:
        read_labeled(source, **options)
    return str(info.value)


# -- multi-label data (issue #18) ----------------------------------------------------------------


def tiny_multilabel_rows(per_label: int = 6) -> list[tuple[str, list[str]]]:
    """Texts about one of three topics, and texts about two at once (both labels)."""
    topics = list(_TOPICS)
    rows: list[tuple[str, list[str]]] = []
    for i in range(per_label):
        for label, texts in _TOPICS.items():
            rows.append((f"{texts[i % len(texts)]} ({i})", [label]))
        a, b = topics[i % 3], topics[(i + 1) % 3]
        both = f"{_TOPICS[a][i % 3]} and {_TOPICS[b][(i + 1) % 3]} ({i})"
        rows.append((both, sorted([a, b])))
    return rows


def jsonl_bytes(rows: list[tuple[str, list[str]]]) -> bytes:
    """JSON Lines records {"text": ..., "labels": [...]}."""
    import json

    lines = [json.dumps({"text": t, "labels": labels}, ensure_ascii=False) for t, labels in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")
