"""Batch Embed / Classify over CSV files of any size: streamed in chunks, resumable, or on Ray.

`run_batch(...)` reads the texts (first column, as `core.data.inputs.read_texts` does), scores
them a chunk at a time and writes the result as it goes, so memory stays flat in the number of rows.

Resuming (core.batch.parts): a job interrupted at 90 % loses at most the chunk being scored.
Engines: "local" scores in this process; "ray" runs the same job on Ray Data
(core.batch.ray_engine). Both write the same output file.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.batch.parts import BatchError, PartStore, check_out_path
from core.errors import DataError
from core.io import open_text
from core.runs.resolve import ModelRef, resolve

if TYPE_CHECKING:
    import pyarrow as pa

    from core.model.classifier import Classifier
    from core.runs.store import RunStore

CHUNK_ROWS = 1024
"""Rows per chunk (one part file each). The small model classifies ~275 short texts/s on 2 CPU
cores, so a chunk is ~4 s of work there (what a crash can lose) and well under a second on a
GPU; its texts and results take a few MB."""

KINDS = ("classify", "embed")
ENGINES = ("local", "ray")


# -- reading ----------------------------------------------------------------------------------


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


# -- scoring ----------------------------------------------------------------------------------


class Scorer:
    """Turns a list of texts into the output rows of one chunk (a pyarrow table). The same code
    runs in-process and inside each Ray actor, so both engines write the same values."""

    def __init__(
        self, kind: str, ref: ModelRef, device: str | None = None, backend: str = "torch"
    ) -> None:
        from core.runs.resolve import load

        self.kind, self.ref = kind, ref
        self.model = load(ref, device, backend)

    def __call__(self, texts: list[str]) -> pa.Table:
        import numpy as np
        import pyarrow as pa

        if self.kind == "embed":
            vectors = np.ascontiguousarray(self.model.embed(texts), dtype=np.float32)
            dim = vectors.shape[1]
            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            return pa.table(
                {
                    "input": pa.array(texts, type=pa.string()),
                    "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
                }
            )
        classifier = cast("Classifier", self.model)  # a run: resolved with classify=True
        results = classifier.classify(texts)
        columns: dict[str, Any] = {"input": pa.array(texts, type=pa.string())}
        if classifier.multi_label:
            from core.data.multilabel import join_labels

            # One cell of every chosen label ("a|b", as a multi-label file gives them), then
            # each label's own confidence below.
            columns["predictions"] = pa.array(
                [join_labels(r.get("predictions", [])) for r in results], type=pa.string()
            )
        else:
            columns["prediction"] = pa.array([r["prediction"] for r in results], type=pa.string())
            columns["confidence"] = pa.array([r["confidence"] for r in results], type=pa.float64())
        for label in classifier.classes_:
            columns[f"confidence_{label}"] = pa.array(
                [r["labels"][str(label)] for r in results], type=pa.float64()
            )
        return pa.table(columns)


# -- the job ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """What a batch job did."""

    kind: str
    engine: str
    out: str
    rows: int
    chunks: int
    resumed_chunks: int
    resumed_rows: int
    seconds: float
    model: str
    note: str = ""

    @property
    def rows_per_s(self) -> float:
        scored = self.rows - self.resumed_rows
        return scored / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": round(self.rows_per_s, 2)}

    def describe(self) -> str:
        verb = "classified" if self.kind == "classify" else "embedded"
        resumed = (
            f", {self.resumed_rows} rows from an earlier interrupted run"
            if self.resumed_rows
            else ""
        )
        return (
            f"{verb} {self.rows} rows with {self.model} into {self.out} "
            f"({self.engine}, {self.chunks} chunks{resumed}) in {self.seconds:.1f} s, "
            f"{self.rows_per_s:.0f} rows/s"
        )


def run_batch(
    kind: str,
    model: str,
    file: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    header: bool = False,
    store: RunStore | None = None,
    engine: str = "local",
    chunk_rows: int = CHUNK_ROWS,
    workers: int | None = None,
    progress: bool = True,
    backend: str = "torch",
) -> BatchResult:
    """Classify or embed every text of a CSV file into `out` (.csv / .parquet), a chunk at a
    time; an interrupted job run again picks up where it stopped (local engine). `backend`:
    torch, onnx or onnx-int8 (core.model.onnx), in this process and in every Ray actor."""
    from core.model.onnx import check_backend, require_onnx

    if check_backend(backend) != "torch":
        require_onnx()
    if engine not in ENGINES:
        raise BatchError(f"unknown engine {engine!r}: choose {' or '.join(ENGINES)}")
    if not 1 <= chunk_rows <= 1_000_000:
        raise BatchError(f"chunk rows must be from 1 to 1000000, got {chunk_rows}")
    path, out = Path(file), Path(out)
    fmt = check_out_path(kind, out)
    if kind not in KINDS:
        raise BatchError(f"unknown batch kind {kind!r}: choose {' or '.join(KINDS)}")
    check_streamable(path)
    ref = resolve(model, store, classify=kind == "classify")
    if backend != "torch" and ref.source == "run":
        from core.runs.bodies import ensure_run_body

        # Made (and checked) once here, not by each Ray actor at the same time.
        ensure_run_body(Path(ref.location), backend)
    summary = scan_input(path, header)
    if engine == "ray" and summary.min_columns != summary.max_columns:
        raise DataError(
            f"{path} has rows of {summary.min_columns} to {summary.max_columns} columns: the Ray "
            "engine reads it with Arrow's CSV reader, which needs the same number on every row "
            "(the local engine reads the first column of any row)"
        )
    stat = path.stat()
    parts = PartStore(
        out,
        {
            "kind": kind,
            "model": {"kind": kind, **asdict(ref)},
            "backend": backend,
            "input": str(path.resolve()),
            "input_size": stat.st_size,
            "input_mtime_ns": stat.st_mtime_ns,
            "header": header,
            "chunk_rows": chunk_rows,
        },
    )
    done, note = parts.open()
    if note:
        print(note, file=sys.stderr)
    chunks = -(-summary.rows // chunk_rows)
    if engine == "ray":
        done = {}  # Ray scores every row again; the parts it finds are rewritten
    resumed_rows = sum(rows for index, rows in done.items() if index < chunks)
    started = time.monotonic()
    bar = _progress_bar(summary.rows, resumed_rows, kind, progress)
    try:
        if engine == "local":
            _run_local(kind, ref, path, header, chunk_rows, parts, done, bar, backend)
        else:
            from core.batch.ray_engine import run_ray

            run_ray(kind, ref, path, header, chunk_rows, parts, bar, summary, workers, backend)
    finally:
        bar.close()
    parts.assemble(chunks, fmt)
    return BatchResult(
        kind=kind,
        engine=engine,
        out=str(out),
        rows=summary.rows,
        chunks=chunks,
        resumed_chunks=len([i for i in done if i < chunks]),
        resumed_rows=resumed_rows,
        seconds=time.monotonic() - started,
        model=ref.name,
        note=note,
    )


def _progress_bar(total: int, initial: int, kind: str, enabled: bool) -> Any:
    from tqdm import tqdm

    from core.env import bar_interval

    return tqdm(
        total=total,
        initial=initial,
        unit="row",
        desc=kind,
        file=sys.stderr,
        disable=not enabled,
        smoothing=0.1,
        dynamic_ncols=True,
        mininterval=bar_interval(),
    )


def _run_local(
    kind: str,
    ref: ModelRef,
    path: Path,
    header: bool,
    chunk_rows: int,
    parts: PartStore,
    done: dict[int, int],
    bar: Any,
    backend: str = "torch",
) -> None:
    scorer = None
    for index, texts in enumerate(iter_chunks(path, header, chunk_rows)):
        if index in done:
            continue  # written by an earlier run of the same job
        if scorer is None:  # loaded only when there is something left to score
            scorer = Scorer(kind, ref, backend=backend)
        parts.write(index, scorer(texts))
        bar.update(len(texts))
