"""Service speed against in-process use; writes the "Service" part of docs/BENCHMARKS.md.

    python bench/service.py [--run RUN --runs-dir DIR] [--seconds 30] [--clients 20]

Without --run it trains a tiny run first (the small base model at its full 256-token context, so
inference costs what a real run's does). The server is `python -m core serve` in its own process,
with its default limits, on a free loopback port; clients are httpx in threads of this process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DOC = ROOT / "docs" / "BENCHMARKS.md"
TEXTS_CSV = ROOT.parent / "shared" / "data" / "sst2" / "train.csv"
HEADING = "## Service"


def texts(n: int) -> list[str]:
    with open(TEXTS_CSV, encoding="utf-8") as f:
        rows = [row[0] for row in csv.reader(f)]
    return [rows[i % len(rows)] for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def tiny_run(runs_dir: Path) -> str:
    from tests.engine_data import tiny_config, tiny_dataset

    from core.runs.jobs import submit, wait
    from core.runs.store import RunStore

    store = RunStore(runs_dir)
    config = tiny_config(max_seq_length=None)
    record = wait(store, submit(config, tiny_dataset(), store).record.id, timeout_s=900)
    assert record.status == "completed", record.error
    return record.id


def in_process(run_id: str, runs_dir: Path, batch: list[str], reps: int) -> dict[str, float]:
    from core.runs.resolve import load_run
    from core.runs.store import RunStore
    from core.serve.wire import classify_body

    classifier = load_run(run_id, RunStore(runs_dir))
    classify_body(classifier, batch)  # warm up
    one = []
    for text in batch[:50]:
        start = time.perf_counter()
        classify_body(classifier, [text])
        one.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(reps):
        classify_body(classifier, batch)
    elapsed = time.perf_counter() - start
    return {
        "one_p50_ms": 1000 * percentile(one, 50),
        "one_p95_ms": 1000 * percentile(one, 95),
        "texts_per_s_96": reps * len(batch) / elapsed,
    }


def start_server(runs_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "serve", "--port", str(port), "--runs-dir", str(runs_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{url}/health").raise_for_status()
            return proc, url
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def service(
    url: str, run_id: str, batch: list[str], reps: int, seconds: float, clients: int
) -> dict[str, float]:
    endpoint = f"{url}/v1/classify"
    with httpx.Client(timeout=120) as client:
        client.post(endpoint, json={"model": run_id, "inputs": batch}).raise_for_status()
        one = []
        for text in batch[:50]:
            start = time.perf_counter()
            client.post(endpoint, json={"model": run_id, "inputs": [text]}).raise_for_status()
            one.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(reps):
            client.post(endpoint, json={"model": run_id, "inputs": batch}).raise_for_status()
        elapsed = time.perf_counter() - start
    result = {
        "one_p50_ms": 1000 * percentile(one, 50),
        "one_p95_ms": 1000 * percentile(one, 95),
        "texts_per_s_96": reps * len(batch) / elapsed,
    }
    # Concurrent clients, each sending one text per request as fast as answers come back.
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(offset: int) -> None:
        with httpx.Client(timeout=120) as client:
            i = offset
            while time.monotonic() < stop_at:
                body = {"model": run_id, "inputs": [batch[i % len(batch)]]}
                start = time.perf_counter()
                try:
                    response = client.post(endpoint, json=body)
                    key = None if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                took = time.perf_counter() - start
                with lock:
                    if key is None:
                        latencies.append(took)
                    else:
                        errors[key] = errors.get(key, 0) + 1
                i += clients

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    result.update(
        {
            "load_clients": clients,
            "load_seconds": wall,
            "load_requests": len(latencies),
            "load_errors": sum(errors.values()),
            "load_error_kinds": errors,
            "load_p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "load_p95_ms": 1000 * percentile(latencies, 95) if latencies else float("nan"),
            "load_requests_per_s": len(latencies) / wall,
        }
    )
    return result


def write_section(local: dict, served: dict, command: str) -> str:
    import cohere  # noqa: F401  (its version is part of the record)
    import torch

    ratio = served["texts_per_s_96"] / local["texts_per_s_96"]
    load = os.getloadavg()[0]
    errors = served["load_error_kinds"] or "none"
    section = f"""{HEADING}

Classify through `python -m core serve` (its default limits; a run of the small base model at
its full 256-token context, CPU) against the same `classify_body` call in-process. Texts are SST-2
sentences. Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs (load
average {load:.1f} when the figures were taken, so absolute numbers are noisy; the ratio is the
figure to read), torch {torch.__version__} with {torch.get_num_threads()} threads, Python
{platform.python_version()}. Command: `{command}`.

| | in-process | service | service / in-process |
|---|---:|---:|---:|
| one text: latency p50 | {local["one_p50_ms"]:.1f} ms | {served["one_p50_ms"]:.1f} ms | |
| one text: latency p95 | {local["one_p95_ms"]:.1f} ms | {served["one_p95_ms"]:.1f} ms | |
| 96 texts per request: throughput | {local["texts_per_s_96"]:.0f} texts/s | \
{served["texts_per_s_96"]:.0f} texts/s | {ratio:.2f} (target ≥ 0.90) |

{served["load_clients"]} concurrent clients on loopback for {served["load_seconds"]:.0f} s, one text
per request, each sending its next request when the last is answered:
{served["load_requests"]} requests answered ({served["load_requests_per_s"]:.1f} per second),
latency p50 {served["load_p50_ms"]:.0f} ms and p95 {served["load_p95_ms"]:.0f} ms, errors:
{errors}. Inference runs one request at a time in a worker thread (torch already uses every core
for one batch), so under load the latency is the queue: about clients / requests per second.
"""
    from bench.markdown import replace_section

    replace_section(DOC, HEADING, section)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a completed run (default: train a tiny one)")
    parser.add_argument("--runs-dir", help="the runs folder of --run")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--reps", type=int, default=10, help="96-text requests per measure")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    runs_dir = Path(args.runs_dir) if args.runs_dir else Path(tmp.name) / "runs"
    run_id = args.run or tiny_run(runs_dir)
    batch = texts(96)
    local = in_process(run_id, runs_dir, batch, args.reps)
    print("in-process", json.dumps(local), flush=True)
    proc, url = start_server(runs_dir)
    try:
        served = service(url, run_id, batch, args.reps, args.seconds, args.clients)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print("service", json.dumps(served), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"in_process": local, "service": served}, indent=1))
    print(write_section(local, served, "python bench/service.py " + " ".join(sys.argv[1:])))
    tmp.cleanup()


if __name__ == "__main__":
    main()
