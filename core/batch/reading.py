"""Reading a batch job's input: the texts of a CSV file (the first column of each row), streamed
in chunks, and one pass that counts them and checks the file before any model is loaded."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from core.errors import DataError
from core.io import open_text

CHUNK_ROWS = 1024
"""Rows per chunk (one part file each). The small model classifies ~275 short texts/s on 2 CPU
cores, so a chunk is ~4 s of work there (what a crash can lose) and well under a second on a
GPU; its texts and results take a few MB."""


def check_streamable(path: Path) -> None:
    """Batch jobs stream CSV only (the first column of each row, on either engine): another
    format is refused before any model is loaded, saying what the file is."""
    from core.data.files import describe_format, file_format
    from core.io import sniff_file

    fmt = file_format(path)
    if fmt == "other":
        raise DataError(sniff_file(path).refusal)
    if fmt not in ("csv", "tsv"):
        raise DataError(
            f"{path.name} is {describe_format(fmt)}: batch jobs (--out) stream CSV files only; "
            "save it as 'CSV UTF-8', or leave out --out to read the whole file at once"
        )


def iter_rows(path: Path, header: bool = False) -> Iterator[list[str]]:
    """The CSV rows with a value in them (blank rows skipped), after the header if there is one."""
    with open_text(path) as f:
        reader = csv.reader(f)
        seen_header = not header
        row_number = 0
        try:
            for row in reader:
                row_number += 1
                if not any(row):
                    continue
                if not seen_header:
                    seen_header = True
                    continue
                if "\x00" in row[0]:
                    raise DataError(
                        "the file looks binary, not text: expected a CSV file saved as UTF-8"
                    )
                yield row
        except UnicodeDecodeError as exc:
            raise DataError(
                f"row {row_number + 1}: not {f.encoding.removesuffix('-sig').upper()} text "
                f"(byte {exc.start} of a read block): save the file as 'CSV UTF-8' and try again"
            ) from None
        except csv.Error as exc:
            raise DataError(f"cannot read {path} as CSV near row {row_number + 1}: {exc}") from None


def iter_texts(path: Path, header: bool = False) -> Iterator[str]:
    """The texts to score: the first column of each row, stripped."""
    for row in iter_rows(path, header):
        yield row[0].strip()


def iter_chunks(path: Path, header: bool = False, chunk_rows: int = CHUNK_ROWS) -> Iterator[list]:
    """The texts in lists of `chunk_rows` (the last may be shorter)."""
    texts = iter_texts(path, header)
    while chunk := list(islice(texts, chunk_rows)):
        yield chunk


@dataclass(frozen=True)
class InputSummary:
    """What a pass over the input found: rows to score and the widest / narrowest row."""

    rows: int
    min_columns: int
    max_columns: int


def scan_input(path: Path, header: bool = False) -> InputSummary:
    """Count the texts (for the progress bar's total and ETA) and check the file reads as CSV
    before any model is loaded. About a million rows per second: small next to scoring."""
    rows, low, high, any_text = 0, sys.maxsize, 0, False
    for row in iter_rows(path, header):
        rows += 1
        low, high = min(low, len(row)), max(high, len(row))
        any_text = any_text or bool(row[0].strip())
    if not any_text:
        raise DataError(f"{path} has no texts: expected one text per row, in the first column")
    return InputSummary(rows, low, high)
