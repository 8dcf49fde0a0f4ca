"""Estimates: the time a finetune is estimated to take before it starts, and its live ETA at 25 %
of the finetune's steps, against the time it actually took.

    python bench/estimates.py [--out bench/results/estimates.jsonl] [--runs-dir DIR]
        [--plan sst2:100,clinc150:616:77,sst2:400+uci-sentiment/imdb:250] [--append]
    python bench/estimates.py --summary [bench/results/estimates.jsonl]   # the Markdown table
    python bench/estimates.py --replay FILE   # today's ETA rule replayed on runs in FILE
    python bench/estimates.py --heads [--threads 1]   # an evaluation's head work by labels
    python bench/estimates.py --contention   # encode pace, 1 and 2 threads, beside a busy process

Runs the shared sets' first rows (small model, default settings; many-label sets among them:
clinc150, hwu64, goemotions) through the real path: the estimate the Train page shows
(`core.runs.estimate.estimate`, from the runs already finished in the runs folder, so the first
run uses the catalogue's figures), `core.runs.jobs.submit` and the worker process. The last three
pairs are submitted together, so the second of each pair waits in the queue and its estimate
includes the wait (and, on a CPU, the map of the run ahead). Each run writes one JSON line; a
meta line first. Targets (issues #14 and #26, quiet machine): actual within 0.67-1.5x of the
estimate for 9 runs in 10; ETA at 25 % within ±25 % of the time actually left.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import set_offline_env  # noqa: E402

set_offline_env()

from bench.machine import meta  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.data.files import read_labeled  # noqa: E402
from core.quality.prepare import prepare_dataset  # noqa: E402
from core.runs.estimate import estimate  # noqa: E402
from core.runs.jobs import submit  # noqa: E402
from core.runs.store import RunStore  # noqa: E402
from core.train.label_names import finetune_rows  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# (set, rows[, labels]); a tuple of two is submitted together (the second waits in the queue).
# Many labels (issue 26): clinc150 as a support inbox (77 labels x 8 rows), hwu64 (64 labels,
# ~8 rows each), goemotions (multi-label, 28 labels), and a pair queued behind a many-label run.
PLAN: list[tuple[tuple[str, int, int], ...]] = [
    (("sst2", 100, 0),),
    (("emotion", 300, 0),),
    (("clinc150", 616, 77),),
    (("sms-spam", 200, 0),),
    (("uci-sentiment/amazon", 150, 0),),
    (("goemotions", 600, 0),),
    (("uci-sentiment/yelp", 600, 0),),
    (("hwu64", 500, 0),),
    (("emotion", 200, 0),),
    (("sst2", 250, 0), ("uci-sentiment/imdb", 150, 0)),
    (("emotion", 150, 0), ("uci-sentiment/amazon", 300, 0)),
    (("clinc150", 500, 0), ("hwu64", 300, 0)),
]
POLL_S = 0.25


def parse_plan(text: str) -> list[tuple[tuple[str, int, int], ...]]:
    """'sst2:100,clinc150:616:77+sst2:200' -> [(("sst2", 100, 0),), (("clinc150", 616, 77),
    ("sst2", 200, 0))]: set, rows and (optional) the number of labels to take them from."""
    groups = []
    for group in text.split(","):
        runs = []
        for item in group.split("+"):
            name, rows, *labels = item.split(":")
            runs.append((name.strip(), int(rows), int(labels[0]) if labels else 0))
        groups.append(tuple(runs))
    return groups


def dataset(name: str, rows: int, seed: int, offset: int = 0, labels: int = 0):
    """The set's rows from `offset` on: the first `rows`, or with `labels`, the first `rows` of
    its first `labels` labels in file order (77 labels x 8 rows: issue 26's support inbox).
    goemotions is read as multi-label (its train.jsonl)."""
    multi = name == "goemotions"
    path = DATA / name / ("train.jsonl" if multi else "train.csv")
    data = read_labeled(path, name=f"{name.replace('/', '-')}-{rows}.csv", multi_label=multi)
    data = data.subset(range(offset, len(data)))
    if labels:
        kept = list(dict.fromkeys(data.labels))[:labels]
        data = data.subset(i for i, label in enumerate(data.labels) if label in set(kept))
    return prepare_dataset(data.subset(range(min(rows, len(data)))), seed=seed)


def follow(store: RunStore, run_ids: list[str], submitted: dict[str, float]) -> dict[str, dict]:
    """Poll the runs to their end: when each reaches 25 % of its finetune steps (its ETA then)
    and when it ends."""
    seen: dict[str, dict] = {i: {"load": []} for i in run_ids}
    while True:
        now = time.monotonic()
        active = False
        load = os.getloadavg()[0]
        for run_id in run_ids:
            record = store.get(run_id)
            mark = seen[run_id]
            p = record.progress
            if (
                "eta_at_25" not in mark
                and p.phase == "finetune"
                and p.total
                and p.step >= 0.25 * p.total
                and p.eta_s is not None
            ):
                from core.runs.estimate import time_left, time_left_range

                mark["eta_at_25"] = time_left(record, store)
                mark["range_at_25"] = time_left_range(record)
                mark["t25"] = now
                mark["step_at_25"] = p.step
            if record.active:
                active = True
                if record.status == "running":
                    mark["load"].append(load)
            elif "end" not in mark:
                mark["end"], mark["end_wall"] = now, time.time()
                mark["record"] = record
        if not active:
            return seen
        time.sleep(POLL_S)


def wait_for_maps(store: RunStore, seen: dict[str, dict], limit_s: float = 600.0):
    """Seconds from each completed run's end to its map on disk (its file's time: the first of a
    pair ends before the second); the next group starts after them, as a run queued behind
    would."""
    from core.runs.maps import map_path

    waiting = {i for i, m in seen.items() if m["record"].status == "completed"}
    done: dict[str, float] = {}
    deadline = time.monotonic() + limit_s
    while waiting and time.monotonic() < deadline:
        for run_id in list(waiting):
            if map_path(store, run_id).exists():
                written = map_path(store, run_id).stat().st_mtime
                done[run_id] = round(written - seen[run_id]["end_wall"], 1)
                waiting.discard(run_id)
        time.sleep(POLL_S)
    return done


def _labels_note(run: dict) -> str:
    """' (77 labels)', ' (26 labels, multi-label)'; nothing for two labels or an older line."""
    labels = run.get("labels") or 2
    if labels <= 2 and not run.get("multi_label"):
        return ""
    return f" ({labels} labels{', multi-label' if run.get('multi_label') else ''})"


def summary(path: str) -> str:
    """The Markdown table and the hit rates of a results file."""
    runs = [json.loads(line) for line in open(path, encoding="utf-8")]
    runs = [r for r in runs if not r.get("meta")]
    lines = [
        "| # | set, rows | queued behind | estimate (range), s | source | actual s | actual / "
        "estimate | ETA at 25 %, s | actually left, s | ETA error | steps run | load (mean, max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(runs, 1):
        source = "catalogue" if "catalogue" in r["estimate_source"] else "measured"
        queue = f"{r['estimate_queue_s']:.0f} s" if r["estimate_queue_s"] else "–"
        eta = "–" if r["eta_error"] is None else f"{r['eta_error']:+.0%}"
        lines.append(
            f"| {i} | {r['set']}, {r['rows']}{_labels_note(r)} | {queue} | {r['estimate_s']:.0f} "
            f"({r['estimate_low_s']:.0f}-{r['estimate_high_s']:.0f}) | {source} | "
            f"{r['actual_s']:.0f} | {r['actual_over_estimate']:.2f} | {r['eta_at_25_s']} | "
            f"{r['left_at_25_s']} | {eta} | {r['steps']} of {r['max_steps']} | "
            f"{r.get('load_mean', '–')}, {r.get('load_max', '–')} |"
        )
    within = [r for r in runs if 0.67 <= r["actual_over_estimate"] <= 1.5]
    measured = [r for r in runs if "catalogue" not in r["estimate_source"]]
    within_measured = [r for r in measured if 0.67 <= r["actual_over_estimate"] <= 1.5]
    in_range = [r for r in runs if r["in_range"]]
    etas = [r for r in runs if r["eta_error"] is not None]
    good = [r for r in etas if abs(r["eta_error"]) <= 0.25]
    ranged = [r for r in runs if r.get("eta_range_at_25_s") and r["left_at_25_s"] is not None]
    held = [
        r
        for r in ranged
        if r["eta_range_at_25_s"][0] * 0.75 <= r["left_at_25_s"] <= r["eta_range_at_25_s"][1] * 1.25
    ]
    lines += [
        "",
        f"Actual within 0.67-1.5x of the estimate: {len(within)} of {len(runs)} runs "
        f"({len(within_measured)} of {len(measured)} with measured rates); inside the shown "
        f"range: {len(in_range)} of {len(runs)}. ETA at 25 % within ±25 % of the time left: "
        f"{len(good)} of {len(etas)}."
        + (
            f" Time left inside the range shown at 25 % (±25 %): {len(held)} of {len(ranged)}."
            if ranged
            else ""
        ),
    ]
    return "\n".join(lines)


def replay(path: str) -> str:
    """Replay the live ETA rule of today's code (`core.runs.timing.expected_stop`) at each run's
    25 % step, from its validation curve and measured pace: a rule can be tried on runs already
    made (the figures are approximate: the pace is the run's mean, not its recent window)."""
    from core.runs.estimate import MEASURED_RUNS, STEPS_FRACTION_DEFAULT
    from core.runs.timing import expected_stop

    runs = [json.loads(line) for line in open(path, encoding="utf-8")]
    runs = [r for r in runs if not r.get("meta") and r.get("history") and r.get("timing")]
    config = TrainConfig()
    lines = [
        "| set, rows | step at 25 % | scores seen | expected stop | stopped | ETA s | "
        "left s | error | recorded error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    hits = 0
    for i, r in enumerate(runs):
        t, step = r["timing"], r["step_at_25"]
        past = [p["timing"]["steps_fraction"] for p in runs[max(0, i - MEASURED_RUNS) : i]]
        fraction = statistics.median(past) if past else STEPS_FRACTION_DEFAULT
        steps = [s for s, _ in r["history"] if s > 0]
        every = steps[0] if steps else t["max_steps"]
        # The evaluation at the 25 % step itself runs after that step is reported.
        seen = [f1 for s, f1 in r["history"] if 0 < s < step]
        stop = expected_stop(
            seen, every, t["max_steps"], config.early_stopping_patience, fraction, step
        )
        step_s = config.batch_size / t["train_examples_per_s"]
        eval_s = t["texts"] / t["encode_texts_per_s"]
        evals_left = max(0, stop // every - len(seen))
        eta = (stop - step) * step_s + evals_left * eval_s + eval_s + t["end_s"]
        error = eta / r["left_at_25_s"] - 1
        hits += abs(error) <= 0.25
        lines.append(
            f"| {r['set']}, {r['rows']} | {step} of {t['max_steps']} | {len(seen)} | {stop} | "
            f"{t['steps']} | {eta:.1f} | {r['left_at_25_s']} | {error:+.0%} | "
            f"{r['eta_error']:+.0%} |"
        )
    lines += ["", f"Replayed ETA at 25 % within ±25 %: {hits} of {len(runs)}."]
    return "\n".join(lines)


def _head_work(task, x_train, y_train, x_valid, y_valid) -> None:
    """What each evaluation does besides encoding: fit the head, score the validation rows."""
    task.evaluate(task.fit_head(x_train, y_train, x_valid, y_valid), x_valid, y_valid)


def heads(threads: int) -> None:
    """An evaluation's head work (core.train.task: fit the head on the training rows, score the
    validation rows) against encoding its texts, by rows and labels, on the small model's
    embeddings of clinc150 (single-label) and goemotions (multi-label): one JSON line each, with
    `per_text_label` = head seconds / (texts x labels) / seconds to encode one text, the figure
    core.runs.estimate's HEAD_TEXTS_PER_LABEL keeps (both timed here, so the load cancels)."""
    import torch
    from threadpoolctl import threadpool_limits

    from core.model.catalogue import load_model
    from core.model.heads import encode
    from core.train.task import MultiLabel, SingleLabel

    torch.set_num_threads(threads)
    print(json.dumps({**meta(threads), "load_average": [round(x, 2) for x in os.getloadavg()]}))
    model = load_model("small", device="cpu")
    config = TrainConfig()

    def fastest(work, repeats: int = 3) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return min(times)

    def sizes(name: str):
        if name == "clinc150":  # labels x rows per label (+ 2 validation rows per label)
            for labels, per_label in [(2, 50), (10, 8), (77, 4), (77, 8), (150, 4), (150, 8)]:
                yield dataset(name, labels * (per_label + 2), config.seed, 0, labels)
        else:
            for rows in [300, 600, 1200, 2000]:
                yield dataset(name, rows, config.seed)

    for name in ("clinc150", "goemotions"):
        for data in sizes(name):
            task_type = MultiLabel if data.train.multi_label else SingleLabel
            task = task_type(tuple(data.classes), config)
            texts = [*data.train.texts, *data.valid.texts]
            with threadpool_limits(threads):
                encode_s = fastest(lambda texts=texts: encode(model, texts), 1) / len(texts)
                x_train, x_valid = encode(model, data.train.texts), encode(model, data.valid.texts)
                y_train, y_valid = task.targets(data.train), task.targets(data.valid)

                head_s = fastest(partial(_head_work, task, x_train, y_train, x_valid, y_valid))
            cells = len(texts) * len(data.classes)
            line = {
                "set": name,
                "multi_label": data.train.multi_label,
                "labels": len(data.classes),
                "texts": len(texts),
                "threads": threads,
                "head_s": round(head_s, 3),
                "encode_texts_per_s": round(1 / encode_s, 1),
                "per_text_label": round(head_s / cells / encode_s, 5),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
            print(json.dumps(line), flush=True)


def contention() -> None:
    """The small model's encode pace (600 clinc150 texts) with 2 and 1 torch threads, alone and
    beside one busy process: what a shared machine's other work does to a run (a worker uses
    every core)."""
    import subprocess

    import torch

    from core.model.catalogue import load_model
    from core.model.heads import encode

    print(json.dumps({**meta(0), "load_average": [round(x, 2) for x in os.getloadavg()]}))
    texts = list(read_labeled(DATA / "clinc150" / "train.csv").texts[:600])
    model = load_model("small", device="cpu")
    encode(model, texts[:64])  # warm
    for beside in ("nothing", "one busy process"):
        busy = None
        if beside != "nothing":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(2)
        for threads in (2, 1):
            torch.set_num_threads(threads)
            started = time.perf_counter()
            encode(model, texts)
            pace = len(texts) / (time.perf_counter() - started)
            line = {"beside": beside, "threads": threads, "encode_texts_per_s": round(pace, 1)}
            print(json.dumps({**line, "load_average_1min": round(os.getloadavg()[0], 2)}))
        if busy is not None:
            busy.kill()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--contention":
        contention()
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--heads":
        threads = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--threads" else 1
        heads(threads)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        print(replay(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--summary":
        default = str(ROOT / "bench" / "results" / "estimates.jsonl")
        print(summary(sys.argv[2] if len(sys.argv) > 2 else default))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "estimates.jsonl"))
    parser.add_argument("--runs-dir", default=None, help="default: a new temporary folder")
    parser.add_argument("--plan", default=None, help="set:rows,... (a+b: submitted together)")
    parser.add_argument("--append", action="store_true", help="add to --out")
    parser.add_argument(
        "--seed", type=int, default=None, help="the runs' seed (split and training; default 42)"
    )
    parser.add_argument(
        "--offset", type=int, default=0, help="take each set's rows from this row on (default 0)"
    )
    parser.add_argument(
        "--until",
        default=None,
        help="HH:MM (UTC): start no new run after this time (a shared machine's time box)",
    )
    args = parser.parse_args()
    root = Path(args.runs_dir or tempfile.mkdtemp(prefix="embedtune-estimates-")) / "runs"
    store = RunStore(root)
    config = TrainConfig() if args.seed is None else TrainConfig(seed=args.seed)
    out = open(args.out, "a" if args.append else "w", encoding="utf-8")
    out.write(
        json.dumps(
            {
                **meta(threads=0),
                "runs_dir": str(root),
                "config": "defaults",
                "seed": config.seed,
                "offset": args.offset,
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
        + "\n"
    )
    out.flush()
    for group in parse_plan(args.plan) if args.plan else PLAN:
        if args.until and time.strftime("%H:%M", time.gmtime()) >= args.until:
            print(f"stopping: it is past {args.until} UTC", flush=True)
            break
        submitted: dict[str, float] = {}
        estimates = {}
        sizes = {}
        for name, rows, labels in group:
            data = dataset(name, rows, config.seed, args.offset, labels)
            # As the Train page and `core train` ask it: label-name rows counted.
            n_train = finetune_rows(len(data.train), data.classes, config.label_names)
            guess = estimate(
                config,
                n_train,
                len(data.valid),
                store,
                "cpu",
                labels=len(data.classes),
                multi_label=data.train.multi_label,
            )
            run_id = submit(config, data, store).record.id
            submitted[run_id] = time.monotonic()
            estimates[run_id] = guess
            sizes[run_id] = (name, rows, len(data.train), len(data.valid), data)
        seen = follow(store, list(submitted), submitted)
        maps = wait_for_maps(store, seen)
        for run_id, mark in seen.items():
            record, guess = mark["record"], estimates[run_id]
            name, rows, n_train, n_valid, data = sizes[run_id]
            actual = mark["end"] - submitted[run_id]
            left = mark["end"] - mark["t25"] if "t25" in mark else None
            line = {
                "set": name,
                "rows": rows,
                "train_rows": n_train,
                "valid_rows": n_valid,
                "labels": len(data.classes),
                "multi_label": data.train.multi_label,
                "run_id": run_id,
                "status": record.status,
                "estimate_s": round(guess.seconds, 1),
                "estimate_low_s": round(guess.low, 1),
                "estimate_high_s": round(guess.high, 1),
                "estimate_queue_s": round(guess.queue_s, 1),
                "estimate_source": guess.source,
                "actual_s": round(actual, 1),
                "actual_over_estimate": round(actual / guess.seconds, 3),
                "in_range": guess.low <= actual <= guess.high,
                "eta_at_25_s": round(mark["eta_at_25"], 1) if "eta_at_25" in mark else None,
                "left_at_25_s": round(left, 1) if left is not None else None,
                # The soonest and latest end the status line gave then (None: end known).
                "eta_range_at_25_s": (
                    [round(x, 1) for x in mark["range_at_25"]] if mark.get("range_at_25") else None
                ),
                "eta_error": (
                    round(mark["eta_at_25"] / left - 1, 3) if left and "eta_at_25" in mark else None
                ),
                # The machine's 1-minute load average while the run trained (2 cores: above 2,
                # other work shared them).
                "load_mean": round(statistics.fmean(mark["load"]), 2) if mark["load"] else None,
                "load_max": round(max(mark["load"]), 2) if mark["load"] else None,
                "steps": record.timing.steps if record.timing else None,
                "max_steps": record.timing.max_steps if record.timing else None,
                # After the run completed: the worker computes the map before it hands the CPU
                # on (a run queued behind waits for it).
                "map_s": maps.get(run_id),
                "timing": record.timing.to_dict() if record.timing else None,
                # The validation curve (step, macro-F1; step 0 is the base model) and the live ETA
                # at 25 %'s step: enough to replay another ETA rule on this run offline.
                "step_at_25": mark.get("step_at_25"),
                "history": [
                    (p["step"], round(p["metrics"]["macro_f1"], 4)) for p in record.history
                ],
            }
            print(json.dumps(line), flush=True)
            out.write(json.dumps(line) + "\n")
            out.flush()
    # The machine's load when the plan ended (1, 5 and 15 minutes), beside the one at its start.
    end = {"meta": True, "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out.write(json.dumps({**end, "load_average": [round(x, 2) for x in os.getloadavg()]}) + "\n")
    out.close()


if __name__ == "__main__":
    main()
