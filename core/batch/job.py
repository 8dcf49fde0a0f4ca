"""Batch Embed / Classify over CSV files of any size: streamed in chunks, resumable, or on Ray.

`run_batch(...)` reads the texts (first column, as `core.data.inputs.read_texts` does), scores them a
chunk at a time and writes the result as it goes, so memory stays flat in the number of rows.

Resuming. Each chunk's result is written as its own Parquet part file
(`.<out name>.parts/part-000042.parquet`, written to a temporary name and renamed, so a part
either exists whole or not at all) next to a `manifest.json` that names the input (path, size,
modification time), the model and the chunk size. Re-running the same command skips every chunk
whose part exists and scores only the rest; once all chunks are there the parts are joined, in
order, into the output file (again a temporary file renamed into place) and removed. A crash at
90 % therefore loses at most the chunk being scored. Why parts rather than appending to the
output: a Parquet file is unreadable until its footer is written, so an interrupted append loses
everything, and a CSV appended to needs its torn last line repaired; whole parts written
atomically need no repair and make "which rows are done" a directory listing. The cost is that
the output briefly exists twice on disk while the parts are joined.

Engines. "local" scores in this process. "ray" runs the same job through Ray Data:
`ray.data.read_csv` -> `map_batches` with a class that loads the model once per actor (one GPU per
actor when the cluster has GPUs) -> batches streamed back in input order and written by the same
part writer, so the output file is the same as the local engine's. Ray is imported only here and
only for that engine (`pip install -r requirements-scale.txt`).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import DataError, EmbedtuneError
from core.io import atomic_path, atomic_write_bytes, file_head, open_text, sniff_encoding

if TYPE_CHECKING:
    import pyarrow as pa

    from core.runs.store import RunStore

CHUNK_ROWS = 1024
"""Rows per chunk (one part file each). The small model classifies ~275 short texts/s on 2 CPU
cores, so a chunk is ~4 s of work there (what a crash can lose) and well under a second on a
GPU; its texts and results take a few MB."""

KINDS = ("classify", "embed")
ENGINES = ("local", "ray")
OUT_FORMATS = {"classify": (".csv", ".parquet"), "embed": (".parquet",)}
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class BatchError(EmbedtuneError):
    """A batch job cannot start or finish (output path, engine, interrupted parts)."""


# -- reading ----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ModelRef:
    """The model a batch job uses, as a worker process or Ray actor can load it by itself:
    a completed run's directory or a base model key / folder."""

    kind: str  # "classify" or "embed"
    source: str  # "run" or "base"
    location: str  # run directory, or base model key / folder
    name: str  # run id or base model key, for the manifest and messages

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def resolve_model(kind: str, model: str, store: RunStore | None = None) -> ModelRef:
    """Classify needs a completed run; embed takes a run or a base model ('small', 'large')."""
    from core.errors import RunError
    from core.model.catalogue import CATALOGUE
    from core.runs.store import RunStore

    if kind not in KINDS:
        raise BatchError(f"unknown batch kind {kind!r}: choose {' or '.join(KINDS)}")
    if kind == "embed" and model in CATALOGUE:
        return ModelRef(kind, "base", model, model)
    store = store or RunStore()
    record = store.get(model)
    if record.status != "completed":
        raise RunError(f"run {record.id} is {record.status}: only a completed run can be used")
    return ModelRef(kind, "run", str(store.path(record.id).resolve()), record.id)


class Scorer:
    """Turns a list of texts into the output rows of one chunk (a pyarrow table). The same code
    runs in-process and inside each Ray actor, so both engines write the same values."""

    def __init__(self, ref: ModelRef, device: str | None = None) -> None:
        from core.model.classifier import load_classifier_dir, load_embedder

        self.ref = ref
        if ref.source == "run":
            self.model = load_classifier_dir(Path(ref.location), device=device, name=ref.name)
        else:
            self.model = load_embedder(ref.location, device=device)

    def __call__(self, texts: list[str]) -> pa.Table:
        import numpy as np
        import pyarrow as pa

        if self.ref.kind == "embed":
            vectors = np.ascontiguousarray(self.model.embed(texts), dtype=np.float32)
            dim = vectors.shape[1]
            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            return pa.table(
                {
                    "input": pa.array(texts, type=pa.string()),
                    "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
                }
            )
        probs = self.model.predict_proba(texts)
        classes = [str(c) for c in self.model.classes_]
        best = probs.argmax(axis=1) if len(texts) else np.zeros(0, dtype=int)
        columns: dict[str, Any] = {
            "input": pa.array(texts, type=pa.string()),
            "prediction": pa.array([classes[i] for i in best], type=pa.string()),
            "confidence": pa.array(probs.max(axis=1) if len(texts) else [], type=pa.float64()),
        }
        for j, label in enumerate(classes):
            columns[f"confidence_{label}"] = pa.array(probs[:, j], type=pa.float64())
        return pa.table(columns)


# -- parts, manifest, output ------------------------------------------------------------------


def check_out_path(kind: str, out: Path) -> str:
    """The output format from the file name ('.csv' or '.parquet')."""
    suffix = out.suffix.lower()
    allowed = OUT_FORMATS[kind]
    if suffix not in allowed:
        raise BatchError(
            f"--out {out}: {kind} writes {' or '.join(allowed)} files; name the output "
            f"{out.with_suffix(allowed[-1]).name} or similar"
        )
    if out.is_dir():
        raise BatchError(f"--out {out} is a folder: give a file name")
    return suffix.lstrip(".")


class PartStore:
    """The part files of one job, next to its output file, and the manifest that says which
    input, model and chunk size they belong to."""

    def __init__(self, out: Path, identity: dict[str, Any]) -> None:
        self.out = out
        self.dir = out.parent / f".{out.name}.parts"
        self.identity = {"version": MANIFEST_VERSION, **identity}

    def part(self, index: int) -> Path:
        return self.dir / f"part-{index:06d}.parquet"

    def open(self) -> tuple[dict[int, int], str]:
        """The chunks already written by an earlier, interrupted run of the same job
        (index -> rows), and a note when stale parts of another job were cleared."""
        import pyarrow.parquet as pq

        note = ""
        if self.dir.is_dir():
            try:
                found = json.loads((self.dir / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found = None
            if found == self.identity:
                done = {}
                for path in sorted(self.dir.glob("part-*.parquet")):
                    done[int(path.stem.split("-")[1])] = pq.read_metadata(path).num_rows
                return done, ""
            note = (
                f"{self.dir} held parts of a different job (input, model or settings changed): "
                "starting over"
            )
            shutil.rmtree(self.dir)
        try:
            self.dir.mkdir(parents=True)
        except OSError as exc:
            raise BatchError(f"cannot write next to {self.out}: {exc.strerror or exc}") from exc
        atomic_write_bytes(self.dir / MANIFEST, json.dumps(self.identity, indent=1).encode())
        return {}, note

    def write(self, index: int, table: pa.Table) -> None:
        """Write one chunk's part whole or not at all."""
        import pyarrow.parquet as pq

        with atomic_path(self.part(index)) as tmp:
            pq.write_table(table, str(tmp))

    def assemble(self, chunks: int, fmt: str) -> None:
        """Join parts 0..chunks-1, in order, into the output file (renamed into place), then
        remove the parts."""
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        missing = [i for i in range(chunks) if not self.part(i).is_file()]
        if missing:
            raise BatchError(f"part {missing[0]} of {self.dir} is missing: run the command again")
        with atomic_path(self.out) as tmp:
            writer: Any = None
            try:
                for i in range(chunks):
                    table = pq.read_table(self.part(i))
                    if writer is None:
                        writer = (
                            pq.ParquetWriter(str(tmp), table.schema)
                            if fmt == "parquet"
                            else pcsv.CSVWriter(str(tmp), table.schema)
                        )
                    writer.write_table(table)
            finally:
                if writer is not None:
                    writer.close()
        shutil.rmtree(self.dir, ignore_errors=True)


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
) -> BatchResult:
    """Classify or embed every text of a CSV file into `out` (.csv / .parquet), a chunk at a
    time; an interrupted job run again picks up where it stopped (local engine)."""
    if engine not in ENGINES:
        raise BatchError(f"unknown engine {engine!r}: choose {' or '.join(ENGINES)}")
    if not 1 <= chunk_rows <= 1_000_000:
        raise BatchError(f"chunk rows must be from 1 to 1000000, got {chunk_rows}")
    path, out = Path(file), Path(out)
    fmt = check_out_path(kind, out)
    ref = resolve_model(kind, model, store)
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
            "model": ref.to_dict(),
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
            _run_local(ref, path, header, chunk_rows, parts, done, bar)
        else:
            _run_ray(ref, path, header, chunk_rows, parts, bar, summary, workers)
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

    return tqdm(
        total=total,
        initial=initial,
        unit="row",
        desc=kind,
        file=sys.stderr,
        disable=not enabled,
        smoothing=0.1,
        dynamic_ncols=True,
    )


def _run_local(
    ref: ModelRef,
    path: Path,
    header: bool,
    chunk_rows: int,
    parts: PartStore,
    done: dict[int, int],
    bar: Any,
) -> None:
    scorer = None
    for index, texts in enumerate(iter_chunks(path, header, chunk_rows)):
        if index in done:
            continue  # written by an earlier run of the same job
        if scorer is None:  # loaded only when there is something left to score
            scorer = Scorer(ref)
        parts.write(index, scorer(texts))
        bar.update(len(texts))


# -- Ray --------------------------------------------------------------------------------------

RAY_BATCH_ROWS = 256
"""Rows per `map_batches` call in a Ray actor: enough for 4 encode batches of 64."""


class RayScorer:
    """The `map_batches` callable: loads the model once per actor, then scores batches of raw
    CSV rows (all columns as strings) into the same rows the local engine writes."""

    def __init__(self, ref: dict[str, str], threads: int | None = None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.scorer = Scorer(ModelRef(**ref))

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow.compute as pc

        # Rows whose every value is empty are blank rows to the local reader: skipped.
        keep = None
        for column in batch.columns:
            filled = pc.not_equal(column, "")
            keep = filled if keep is None else pc.or_(keep, filled)
        if keep is not None:
            batch = batch.filter(keep)
        texts = [str(t).strip() for t in batch.column(0).to_pylist()]
        return self.scorer(texts)


def ray_csv_options(path: Path, header: bool, columns: int) -> dict[str, Any]:
    """Arrow CSV options that read the file as the local engine does: every column a string,
    empty values kept as "", quoted newlines allowed, the header row (if any) skipped."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    utf16 = sniff_encoding(file_head(path)) == "utf-16"
    names = [f"c{i}" for i in range(columns)]
    return {
        "read_options": pcsv.ReadOptions(
            column_names=names,
            skip_rows_after_names=1 if header else 0,
            encoding="utf16" if utf16 else "utf8",
        ),
        "parse_options": pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
        "convert_options": pcsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _ray_started() -> bool:
    """Join the cluster at RAY_ADDRESS, or start a local Ray; True when started here."""
    import ray

    if ray.is_initialized():
        return False
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address="auto", log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False)
    return True


def _run_ray(
    ref: ModelRef,
    path: Path,
    header: bool,
    chunk_rows: int,
    parts: PartStore,
    bar: Any,
    summary: InputSummary,
    workers: int | None,
) -> None:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise BatchError("--engine ray needs Ray: pip install -r requirements-scale.txt") from exc
    started_here = _ray_started()
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # output rows in input order
        context.enable_progress_bars = False  # ours counts rows on the driver
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = float(resources.get("CPU", 1))
        workers = workers or gpus or 2
        actor: dict[str, Any]
        if gpus:
            actor = {"num_gpus": 1}
            threads = None
        else:
            # Leave one CPU for reading the file; split the rest between the actors.
            per_actor = max(0.25, min(8.0, (cpus - 1) / workers))
            actor = {"num_cpus": per_actor}
            threads = max(1, int(per_actor))
        ds = ray.data.read_csv(
            str(path.resolve()), **ray_csv_options(path, header, summary.max_columns)
        )
        # A file is read as one block: split it so that every actor gets work (streaming).
        ds = ds.repartition(target_num_rows_per_block=RAY_BATCH_ROWS)
        ds = ds.map_batches(
            RayScorer,
            fn_constructor_kwargs={"ref": ref.to_dict(), "threads": threads},
            batch_size=RAY_BATCH_ROWS,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            **actor,
        )
        # A rerun after a crash scores everything again (Ray retries lost tasks and restarts
        # dead actors within a run); parts it finds are overwritten with the same rows.
        written = 0
        for index, table in enumerate(
            ds.iter_batches(batch_size=chunk_rows, batch_format="pyarrow")
        ):
            parts.write(index, table)
            written += table.num_rows
            bar.update(table.num_rows)
        if written != summary.rows:
            raise BatchError(
                f"the Ray engine read {written} rows from {path} but it has {summary.rows}: "
                "the file's CSV is read differently by Arrow; use the local engine"
            )
    except EmbedtuneError:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps the worker's error; show its first line
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise BatchError(f"the Ray job failed: {first}") from exc
    finally:
        if started_here:
            ray.shutdown()
