"""The Ray engine of batch jobs.

Engines. "local" scores in this process. "ray" runs the same job through Ray Data:
`ray.data.read_csv` -> `map_batches` with a class that loads the model once per actor (one GPU per
actor when the cluster has GPUs) -> batches streamed back in input order and written by the same
part writer, so the output file is the same as the local engine's. Ray is imported only here and
only for that engine (`pip install -r requirements-scale.txt`).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.batch.parts import BatchError, PartStore
from core.batch.reading import InputSummary
from core.batch.scoring import Scorer
from core.errors import EmbedtuneError
from core.io import file_head, sniff_encoding
from core.runs.resolve import ModelRef

if TYPE_CHECKING:
    import pyarrow as pa

RAY_BATCH_ROWS = 256
"""Rows per `map_batches` call in a Ray actor: enough for 4 encode batches of 64."""


class RayScorer:
    """The `map_batches` callable: loads the model once per actor, then scores batches of raw
    CSV rows (all columns as strings) into the same rows the local engine writes."""

    def __init__(
        self, kind: str, ref: dict[str, str], threads: int | None = None, backend: str = "torch"
    ) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)  # ONNX Runtime sessions take the same count
        self.scorer = Scorer(kind, ModelRef(**ref), backend=backend)

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


def run_ray(
    kind: str,
    ref: ModelRef,
    path: Path,
    header: bool,
    chunk_rows: int,
    parts: PartStore,
    bar: Any,
    summary: InputSummary,
    workers: int | None,
    backend: str = "torch",
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
            fn_constructor_kwargs={
                "kind": kind,
                "ref": asdict(ref),
                "threads": threads,
                "backend": backend,
            },
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
            table = cast("pa.Table", table)
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
