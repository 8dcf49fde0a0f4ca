"""Batch Embed / Classify over CSV files of any size: streamed in chunks, resumable, or on Ray.

`run_batch(...)` reads the texts (first column, as `core.data.inputs.read_texts` does), scores
them a chunk at a time and writes the result as it goes, so memory stays flat in the number of rows.

Reading the input: core.batch.reading; scoring a chunk: core.batch.scoring. Resuming
(core.batch.parts): a job interrupted at 90 % loses at most the chunk being scored. Engines:
"local" scores in this process; "ray" runs the same job on Ray Data (core.batch.ray_engine). Both
write the same output file.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.batch.parts import BatchError, PartStore, check_out_path
from core.batch.reading import CHUNK_ROWS, check_streamable, iter_chunks, scan_input
from core.batch.scoring import Scorer
from core.errors import DataError
from core.runs.resolve import ModelRef, resolve

if TYPE_CHECKING:
    from core.runs.store import RunStore

KINDS = ("classify", "embed")
ENGINES = ("local", "ray")


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
    any of core.model.onnx.BACKENDS (static: the distilled model), here and in every Ray actor."""
    from core.model.onnx import require_backend

    require_backend(backend)  # its packages (and bf16 units) before any work
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
