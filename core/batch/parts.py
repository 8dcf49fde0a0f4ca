"""Part files of a batch job: one Parquet file per chunk, written whole or not at all, and the
manifest that says which job they belong to.

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
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import EmbedtuneError
from core.io import atomic_path, atomic_write_bytes

if TYPE_CHECKING:
    import pyarrow as pa

OUT_FORMATS = {"classify": (".csv", ".parquet"), "embed": (".parquet",)}
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class BatchError(EmbedtuneError):
    """A batch job cannot start or finish (output path, engine, interrupted parts)."""


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
