"""Scale benchmark: streamed batch classify in-process vs on Ray, its memory, and DDP training.

    python bench/scale.py ddp                   # finetune sst2 (500 rows), 1 and 2 processes
    python bench/scale.py classify --rows 10000 # in-process; peak memory of the process tree
    python bench/scale.py classify --rows 100000
    python bench/scale.py classify --rows 100000 --engine ray --workers 2
    python bench/scale.py compare --rows 100000 # the two 100k outputs, row by row
    python bench/scale.py summary

Each command is run once and appends a JSON line to bench/out/scale.jsonl. The texts are the
shared data sets' training texts (sst2, emotion, clinc150, sms-spam) repeated to the row count;
they are classified with the completed run that `ddp` trained in one process. Memory is the peak
of the summed RSS of the command's whole process tree (for Ray: driver, raylet, GCS and actors),
sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out" / "scale.jsonl"
WORK = ROOT / "bench" / "out" / "scale"
SOURCES = ("sst2", "emotion", "clinc150", "sms-spam")
DDP_DATA, DDP_ROWS, DDP_EPOCHS = "sst2", 500, 2


def record(entry: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    print(json.dumps(entry, indent=1))


def results() -> list[dict]:
    if not OUT.exists():
        return []
    return [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]


def measure(
    command: list[str], env: dict | None = None, time_limit: float | None = None
) -> tuple[float, float, str, str]:
    """Run a command; (wall seconds, peak MB of its process tree's summed RSS, stdout, stderr).
    Past `time_limit` seconds the command is stopped (stdout is then empty)."""
    import psutil

    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    peak = 0
    root = psutil.Process(process.pid)
    import threading

    out: dict[str, str] = {}

    def drain(name: str, stream) -> None:
        out[name] = stream.read()

    threads = [
        threading.Thread(target=drain, args=("out", process.stdout)),
        threading.Thread(target=drain, args=("err", process.stderr)),
    ]
    for t in threads:
        t.start()
    while process.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        if time_limit is not None and time.monotonic() - started > time_limit:
            process.terminate()
            process.wait()
            break
        time.sleep(0.2)
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    if process.returncode != 0 and time_limit is None:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.get('err', '')[-3000:]}")
    return wall, peak / 1e6, out.get("out", ""), out.get("err", "")


def texts_file(rows: int) -> Path:
    """`rows` texts from the shared training sets, one per row (first column), cycled."""
    path = WORK / f"texts-{rows}.csv"
    if path.exists():
        return path
    pool: list[str] = []
    for name in SOURCES:
        with open(DATA / name / "train.csv", newline="", encoding="utf-8") as f:
            pool += [row[0] for row in csv.reader(f) if row and row[0].strip()]
    WORK.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for i in range(rows):
            writer.writerow([pool[i % len(pool)]])
    return path


def ddp_train_file() -> Path:
    """The first DDP_ROWS rows of a shared training set (labels balanced enough for sst2)."""
    path = WORK / f"{DDP_DATA}-{DDP_ROWS}.csv"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        with open(DATA / DDP_DATA / "train.csv", newline="", encoding="utf-8") as f:
            rows = [row for _, row in zip(range(DDP_ROWS), csv.reader(f), strict=False)]
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    return path


def cmd_ddp(args: argparse.Namespace) -> None:
    train = ddp_train_file()
    common = ["-m", "core", "train", str(train), "--epochs", str(DDP_EPOCHS), "--json"]
    launchers = {
        "1 process (background worker)": [sys.executable],
        "2 processes (torchrun, gloo)": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
        ],
    }
    if args.one_thread:
        # Is a gain of 2 processes over 1 the second process, or one thread per process? The
        # same single process with torch limited to one thread, as torchrun sets for each rank.
        launchers = {"1 process, OMP_NUM_THREADS=1": [sys.executable]}
    if args.accelerate:
        # `--cpu` would make accelerate start one process (its multi-CPU mode needs MPI);
        # `--multi_gpu` on a machine without GPUs starts 2 torchrun workers, which use gloo.
        launchers["2 processes (accelerate launch --multi_gpu, no GPU: gloo)"] = [
            str(Path(sys.executable).parent / "accelerate"),
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
        ]
    for name, launcher in launchers.items():
        runs = WORK / ("ddp-runs-" + "".join(c if c.isalnum() else "-" for c in name)[:40])
        if runs.exists():
            shutil.rmtree(runs)
        env = {"OMP_NUM_THREADS": "1"} if "OMP_NUM_THREADS=1" in name else None
        wall, peak, out, err = measure([*launcher, *common, "--runs-dir", str(runs)], env)
        result = json.loads(out)
        record(
            {
                "kind": "ddp",
                "launch": name,
                "data": f"{DDP_DATA} first {DDP_ROWS} rows, {DDP_EPOCHS} epochs, small model",
                "wall_s": round(wall, 1),
                "train_s": result["duration_s"],
                "peak_mb": round(peak),
                "run_id": result["run_id"],
                "runs_dir": str(runs),
                "baseline": result["baseline"],
                "finetuned": result["finetuned"],
                "run_dirs": sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")),
            }
        )


def trained_run() -> tuple[str, str]:
    for entry in results():
        if entry["kind"] == "ddp" and entry["launch"].startswith("1 process"):
            return entry["run_id"], entry["runs_dir"]
    raise SystemExit("run `python bench/scale.py ddp` first: it trains the run to classify with")


def cmd_classify(args: argparse.Namespace) -> None:
    run_id, runs_dir = trained_run()
    source = texts_file(args.rows)
    out = WORK / f"out-{args.rows}-{args.engine}.csv"
    out.unlink(missing_ok=True)
    shutil.rmtree(out.parent / f".{out.name}.parts", ignore_errors=True)  # measure from scratch
    load_before = os.getloadavg()[0]
    command = [sys.executable, "-m", "core", "classify", run_id, "--file", str(source)]
    command += ["--out", str(out), "--runs-dir", runs_dir, "--engine", args.engine, "--json"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    env = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else None
    wall, peak, stdout, _ = measure(command, env, time_limit=args.time_limit)
    if not stdout:  # stopped at the time limit: what the parts hold so far
        import pyarrow.parquet as pq

        parts = sorted(out.parent.glob(f".{out.name}.parts/part-*.parquet"))
        done = sum(pq.read_metadata(p).num_rows for p in parts)
        record(
            {
                "kind": "classify",
                "engine": args.engine,
                "threads": args.threads,
                "rows": args.rows,
                "stopped_after_s": round(wall, 1),
                "rows_done": done,
                "rows_per_s": round(done / wall, 2),
                "peak_mb": round(peak),
                "run_id": run_id,
                "load_avg_before": load_before,
            }
        )
        return
    summary = json.loads(stdout)
    record(
        {
            "kind": "classify",
            "engine": args.engine,
            "workers": args.workers if args.engine == "ray" else None,
            "threads": args.threads,
            "rows": args.rows,
            "run_id": run_id,
            "wall_s": round(wall, 1),
            "job_s": round(summary["seconds"], 1),
            "rows_per_s": summary["rows_per_s"],
            "peak_mb": round(peak),
            "out": str(out),
            "cpus": os.cpu_count(),
            "load_avg_before": load_before,
        }
    )


def read_output(path: Path):
    """A finished output file, or the parts an unfinished run wrote so far, in order."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if path.exists():
        return pcsv.read_csv(path).to_pandas()
    parts = sorted(path.parent.glob(f".{path.name}.parts/part-*.parquet"))
    tables, expected = [], 0
    for part in parts:  # contiguous from chunk 0 only
        if int(part.stem.split("-")[1]) != expected:
            break
        tables.append(pq.read_table(part))
        expected += 1
    return pa.concat_tables(tables).to_pandas()


def cmd_compare(args: argparse.Namespace) -> None:
    import numpy as np

    # The texts files are prefixes of one another: a Ray run on fewer rows is compared with the
    # same first rows of a longer local run.
    local_rows = args.local_rows or args.rows
    a = read_output(WORK / f"out-{local_rows}-local.csv")
    b = read_output(WORK / f"out-{args.rows}-ray.csv")
    n = min(len(a), len(b))  # a run stopped at its time limit: the rows it finished
    a, b = a.iloc[:n].reset_index(drop=True), b.iloc[:n].reset_index(drop=True)
    numeric = [c for c in a.columns if c.startswith("confidence")]
    record(
        {
            "kind": "compare",
            "rows": args.rows,
            "local_rows": local_rows,
            "compared_rows": n,
            "same_rows": a["input"].astype(str).tolist() == b["input"].astype(str).tolist(),
            # str: a CSV read back types labels like "0" / "1" as numbers, Parquet parts do not.
            "same_predictions": int(
                (a["prediction"].astype(str) == b["prediction"].astype(str)).sum()
            ),
            "of": len(a),
            "max_abs_confidence_diff": float(
                np.abs(a[numeric].to_numpy() - b[numeric].to_numpy()).max()
            ),
        }
    )


def cmd_driver(args: argparse.Namespace) -> None:
    """How fast the driver alone writes results (parts, then the joined CSV): the ceiling of the
    Ray engine, whose actors score but whose rows all pass through this one writer."""
    import pyarrow.csv as pcsv

    from core.batch.parts import PartStore

    table = pcsv.read_csv(WORK / "out-10000-local.csv")
    out = WORK / "driver-test.csv"
    store = PartStore(out, {"bench": "driver"})
    store.open()
    started = time.monotonic()
    chunks = args.rows // table.num_rows
    for i in range(chunks):
        store.write(i, table)
    written = time.monotonic() - started
    store.assemble(chunks, "csv")
    total = time.monotonic() - started
    out.unlink()
    record(
        {
            "kind": "driver",
            "rows": chunks * table.num_rows,
            "parts_rows_per_s": round(chunks * table.num_rows / written),
            "with_join_rows_per_s": round(chunks * table.num_rows / total),
        }
    )


def cmd_summary(args: argparse.Namespace) -> None:
    for entry in results():
        print(json.dumps(entry))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ddp")
    p.add_argument("--accelerate", action="store_true", help="also via accelerate launch")
    p.add_argument("--one-thread", action="store_true", help="only 1 process with 1 thread")
    p.set_defaults(handler=cmd_ddp)
    p = sub.add_parser("classify")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--time-limit", type=float, default=None, help="stop after this many s")
    p.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the job")
    p.set_defaults(handler=cmd_classify)
    p = sub.add_parser("compare")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--local-rows", type=int, default=None, help="rows of the local run")
    p.set_defaults(handler=cmd_compare)
    p = sub.add_parser("driver")
    p.add_argument("--rows", type=int, default=100_000)
    p.set_defaults(handler=cmd_driver)
    sub.add_parser("summary").set_defaults(handler=cmd_summary)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
