"""App CPU while a run trains (issue #26): how much CPU the Streamlit server spends while one
browser tab watches a running finetune on the Train, Dashboard and Metrics pages, and how often
the run's status line changes in that tab.

    python bench/app_cpu.py --out bench/results/app-cpu.jsonl                  # about 8 minutes
    python bench/app_cpu.py --before COMMIT --out bench/results/app-cpu.jsonl  # about 16 minutes
    python bench/app_cpu.py --markdown docs/BENCHMARKS.md                      # the docs section

A temp runs folder gets one short completed run (so the pages list one) and one long finetune
(a clinc150 sample, many epochs, early stopping off; cancelled at the end) started with the
CLI. `streamlit run app.py` serves this tree's app (`now`). With `--before COMMIT` two more
servers serve the same runs folder: this tree's app with COMMIT's changes to app.py, app_pages/,
ui/ and .streamlit/ reverted (`before`; on this tree's core), and the same with Streamlit's
garbage collection after each script run turned off; all are measured one after the other
under the same finetune. First the floor: the servers with no tab open. Then per page, per app,
one headless Chromium tab opens `/<page>?run=<id>`, settles, and for `--seconds` the server's
CPU seconds (utime + stime, psutil) are counted while the page records each change of the
status text (the lines with the step, the time left or the time running). The machine is
shared: the load average before and after each window is kept with it.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import meta  # noqa: E402
from tests.app.browser import ARGS, CHROMIUM, start_streamlit  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "clinc150" / "train.csv"
PAGES = ("train", "dashboard", "metrics")
GC_OFF = "before, postScriptGC off"  # the old pages without Streamlit's GC after each run
HEADING = "## App CPU while a run trains (issue 26)"
# The status text of a page: the lines that name the step, the time left or the time running.
WATCH = """() => {
  window.__ticks = [];
  let last = null;
  const read = () => {
    const main = document.querySelector('[data-testid="stMain"]') || document.body;
    const text = main.innerText.split('\\n')
      .filter(l => /step \\d+ of \\d+|left|unning for|Measuring|Fitting|Saving/.test(l))
      .join(' | ');
    if (text !== last) { window.__ticks.push([performance.now(), text]); last = text; }
  };
  read();
  window.__timer = setInterval(read, 200);
}"""


def sample(rows_per_label: int, labels: int, seed: int, path: Path) -> None:
    """A stratified sample of clinc150's training file: `labels` intents x `rows_per_label`."""
    by_label: dict[str, list[str]] = defaultdict(list)
    with DATA.open(newline="", encoding="utf-8") as f:
        for text, label in csv.reader(f):
            by_label[label].append(text)
    rng = random.Random(seed)
    chosen = sorted(by_label)[:labels]
    out = io.StringIO()
    writer = csv.writer(out)
    for label in chosen:
        for text in rng.sample(by_label[label], rows_per_label):
            writer.writerow([text, label])
    path.write_text(out.getvalue(), encoding="utf-8")


def core_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *argv],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )


def record_of(runs: Path, run_id: str) -> dict:
    return json.loads((runs / run_id / "run.json").read_text(encoding="utf-8"))


def stop(runs: Path, run_id: str) -> None:
    """Cancel the watched run and wait for its worker to end (before its folder goes)."""
    subprocess.run(
        [sys.executable, "-m", "core", "cancel", run_id, "--runs-dir", str(runs)],
        cwd=ROOT,
        capture_output=True,
    )
    deadline = time.monotonic() + 180
    while record_of(runs, run_id)["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            break
        time.sleep(1)


APP_FILES = ("app.py", "app_pages", "ui", ".streamlit")


def app_before(commit: str, into: Path) -> tuple[Path, list[str]]:
    """This tree's app (app.py, app_pages/, ui/, .streamlit/) with `commit`'s changes to it
    reverted, on this tree's core: the app as it would be without that commit. Hunks that later
    commits rewrote stay as they are now; their files are returned."""
    into.mkdir(parents=True)
    for name in APP_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, into / name)
    patch = subprocess.run(
        ["git", "diff", f"{commit}^", commit, "--", *APP_FILES],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        ["git", "apply", "-R", "--reject", "-"], cwd=into, input=patch, capture_output=True
    )
    rejected = sorted(str(r.relative_to(into)) for r in into.rglob("*.rej"))
    (into / "core").symlink_to(ROOT / "core")
    return into, rejected


def cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def browser_cpu() -> dict[int, float]:
    """CPU seconds of every Chromium process under this one (the tab's renderer included)."""
    times = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                t = child.cpu_times()
                times[child.pid] = t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return times


def window(
    servers: dict[str, subprocess.Popen], seconds: float
) -> tuple[dict[str, float], float, tuple[float, float]]:
    """CPU seconds of each server over `seconds` of wall time, the browser's, and the load
    average (1 min) before and after."""
    load_before = os.getloadavg()[0]
    before = {name: cpu_s(p.pid) for name, p in servers.items()}
    browser_before = browser_cpu()
    time.sleep(seconds)
    used = {name: cpu_s(p.pid) - before[name] for name, p in servers.items()}
    browser_after = browser_cpu()
    browser = sum(t - browser_before.get(pid, 0.0) for pid, t in browser_after.items())
    return used, browser, (load_before, os.getloadavg()[0])


def gaps(ticks: list[list], start_ms: float, end_ms: float) -> list[float]:
    """Seconds between changes of the status text inside the window (its ends included)."""
    times = [t for t, _ in ticks if start_ms <= t <= end_ms]
    edges = [start_ms, *times, end_ms]
    return [(b - a) / 1000 for a, b in zip(edges, edges[1:], strict=False)]


def watch_page(
    browser, url: str, page_name: str, run_id: str, server: subprocess.Popen, seconds: float
) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{url}/{page_name}?run={run_id}", wait_until="domcontentloaded")
        try:
            page.get_by_text("unning for").first.wait_for(timeout=180_000)
        except Exception as exc:
            main = page.locator("body").inner_text()[:2000]
            raise RuntimeError(f"{url}/{page_name}: no status line; the page says: {main}") from exc
        time.sleep(8)  # the first draw and its imports are not what a watching tab costs
        page.evaluate(WATCH)
        start_ms = page.evaluate("performance.now()")
        used, browser_s, load = window({"server": server}, seconds)
        end_ms = page.evaluate("performance.now()")
        ticks = page.evaluate("window.__ticks")
        shot = page.screenshot(full_page=False)
    finally:
        context.close()
    between = gaps(ticks, start_ms, end_ms)
    changes = len(between) - 1
    return {
        "cpu_s": round(used["server"], 3),
        "browser_cpu_s": round(browser_s, 3),
        "status_changes": changes,
        "max_gap_s": round(max(between), 2),
        "median_gap_s": round(statistics.median(between), 2),
        "last_status": ticks[-1][1] if ticks else "",
        "load_1min": [round(x, 2) for x in load],
        "_screenshot": shot,
    }


def run_bench(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="embedtune-app-cpu-"))
    runs = tmp / "runs"
    shots = Path(args.screenshots) if args.screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        if shots:  # the servers' logs kept beside the screenshots
            stack.callback(lambda: [shutil.copy(log, shots) for log in tmp.glob("server-*.log")])
        # A completed run first, so the pages list one beside the running run.
        short = tmp / "short.csv"
        sample(4, 20, 1, short)
        core_cli("train", str(short), "--runs-dir", str(runs), "--epochs", "1", "--name", "done")
        data = tmp / "clinc150-sample.csv"
        sample(args.rows_per_label, args.labels, 0, data)
        started = core_cli(
            "train", str(data), "--runs-dir", str(runs), "--epochs", str(args.epochs),
            "--patience", "0", "--detach", "--json", "--name", "watched",
        )  # fmt: skip
        run_id = json.loads(started.stdout)["run_id"]
        stack.callback(stop, runs, run_id)
        deadline = time.monotonic() + 600
        while (record := record_of(runs, run_id))["progress"]["phase"] != "finetune":
            if time.monotonic() > deadline or record["status"] not in ("queued", "running"):
                raise RuntimeError(f"run {run_id} never reached its finetune: {record['status']}")
            time.sleep(2)

        apps: dict[str, tuple[Path, tuple[str, ...]]] = {}
        rejected: list[str] = []
        if args.before:
            old, rejected = app_before(args.before, tmp / "before")
            apps["before"] = (old, ())
            apps[GC_OFF] = (old, ("--runner.postScriptGC", "false"))
        apps["now"] = (ROOT, ())
        servers: dict[str, subprocess.Popen] = {}
        urls: dict[str, str] = {}
        for i, (name, (app_dir, flags)) in enumerate(apps.items()):
            log = tmp / f"server-{i}.log"
            process, url = start_streamlit(runs, log, app_dir=app_dir, flags=flags)
            stack.callback(process.wait, 15)
            stack.callback(process.terminate)
            servers[name], urls[name] = process, url

        rows: list[dict] = []
        common = {
            "run": run_id,
            "rows": args.rows_per_label * args.labels,
            "labels": args.labels,
            "seconds": args.seconds,
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            # Warm each server: every page drawn once (imports, cached loaders), then closed.
            for name in servers:
                for page_name in PAGES:
                    print(f"warming {name}: {page_name}", file=sys.stderr, flush=True)
                    watch_page(browser, urls[name], page_name, run_id, servers[name], 1)
            time.sleep(5)
            used, _, load = window(servers, args.seconds)
            for name, seconds in used.items():
                rows.append(
                    common
                    | {
                        "version": name,
                        "page": "no tab (floor)",
                        "cpu_s": round(seconds, 3),
                        "load_1min": [round(x, 2) for x in load],
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            for i, page_name in enumerate(PAGES):
                order = list(servers) if i % 2 == 0 else list(reversed(servers))
                for name in order:
                    result = watch_page(
                        browser, urls[name], page_name, run_id, servers[name], args.seconds
                    )
                    shot = result.pop("_screenshot")
                    if shots:
                        (shots / f"app-cpu-{name}-{page_name}.png").write_bytes(shot)
                    rows.append(common | {"version": name, "page": page_name} | result)
                    print(json.dumps(rows[-1]), flush=True)
            browser.close()
        record = record_of(runs, run_id)
        progress = record["progress"]
        ended = {"phase": progress["phase"], "step": progress["step"], "total": progress["total"]}
        info = meta(threads=0) | {
            "bench": "app_cpu",
            "streamlit": _streamlit_version(),
            "chromium": _chromium_version(),
            "before": args.before,
            "before_rejected_hunks_in": rejected,
            "run_progress_at_end": ended,
            "evaluations_at_end": len(record.get("history", [])),
        }
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(info) + "\n")
            for row in rows:
                f.write(json.dumps(row | {"date": info["date"]}) + "\n")


def _streamlit_version() -> str:
    import streamlit

    return streamlit.__version__


def _chromium_version() -> str:
    try:
        return subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def summary(path: Path) -> str:
    """The docs section: the newest measurement (its meta line and rows) as a table."""
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    starts = [i for i, x in enumerate(lines) if x.get("meta")]
    info = lines[starts[-1]]
    rows = [x for x in lines[starts[-1] + 1 :] if not x.get("meta")]
    seconds = rows[0]["seconds"]
    pages = list(dict.fromkeys(r["page"] for r in rows))
    versions = list(dict.fromkeys(r["version"] for r in rows))
    table = [
        f"| page | app | server CPU in {seconds:g} s | share of a core | status text changes: "
        "median / largest gap | browser CPU | load (1 min) before -> after |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for page in pages:
        for version in versions:
            r = next((x for x in rows if x["page"] == page and x["version"] == version), None)
            if r is None:
                continue
            status = (
                f"{r['median_gap_s']:.1f} s / {r['max_gap_s']:.1f} s" if "max_gap_s" in r else "–"
            )
            browser = f"{r['browser_cpu_s']:.1f} s" if "browser_cpu_s" in r else "–"
            load = " -> ".join(f"{x:.1f}" for x in r["load_1min"])
            table.append(
                f"| {page} | {version} | {r['cpu_s']:.2f} s | {100 * r['cpu_s'] / seconds:.1f} % "
                f"| {status} | {browser} | {load} |"
            )
    ended = info["run_progress_at_end"]
    before = info.get("before")
    why: list[str] = []
    if before:
        cpu = {(r["version"], r["page"]): r["cpu_s"] for r in rows}
        shares = [
            f"{page} {100 * (1 - cpu[(GC_OFF, page)] / cpu[('before', page)]):.0f} %"
            for page in PAGES
            if cpu.get(("before", page)) and (GC_OFF, page) in cpu
        ]
        why = [
            "",
            "Where the CPU went: Streamlit runs `gc.collect(2)` after every script run, each "
            "fragment rerun included (`runner.postScriptGC`, on by default); with torch "
            "imported that walks about half a million objects, 70-120 ms of CPU a time on this "
            "machine. It was most of "
            f"what a watching tab cost ({', '.join(shares)} of the server's CPU). The rest was "
            "what the live fragments drew again every 1.5-3 s whether the run had changed or "
            "not: the Metrics page's four Altair charts, the Dashboard's runs table, the Train "
            f"page's tiles. `now` (commit `{before}`): `runner.postScriptGC = false` in "
            ".streamlit/config.toml; only a run's status line is live (every 2 s; the "
            "sidebar's every 4 s, the Dashboard's runs table every 10 s), and the scores, "
            "curves and tables are drawn again only when the record changes in what they show "
            "(a new evaluation, the end of the run).",
        ]
    apps = (
        f"This tree's app (`now`), the same with commit `{before}` reverted (`before`) and that "
        f"with Streamlit's garbage collection after each script run turned off (`{GC_OFF}`) "
        "served the same runs folder, measured one after the other under the same finetune."
        if before
        else "This tree's app."
    )

    def wrap(line: str) -> str:  # prose to 100 columns, as the rest of the file
        if line.startswith(("|", "    ")):
            return line
        kept = re.sub(r"(\d) (s|ms|%)(?!\w)", "\\1\u00a0\\2", line)  # a figure stays with its unit
        text = textwrap.fill(kept, 100, break_long_words=False, break_on_hyphens=False)
        return text.replace("\u00a0", " ")

    return "\n".join(
        wrap(line)
        for line in [
            HEADING,
            "",
            f"CPU seconds of the Streamlit server in {seconds:g} s while one headless Chromium "
            "tab watches a running finetune (share of one core), how often the run's status "
            "text (step, time left, time running) changed in that tab, and the browser's own "
            f"CPU. {apps} Target: at most 3 % of a core per page, the status updated at least "
            "every 3 s.",
            "",
            *table,
            *why,
            "",
            f"The watched run: {rows[0]['rows']} rows of clinc150 ({rows[0]['labels']} labels), "
            f"small model, early stopping off, one evaluation per epoch; at the end "
            f"{ended['phase']} step {ended['step']} of {ended['total']} with "
            f"{info['evaluations_at_end']} evaluations (each redraws the page once). A "
            "completed run is listed beside it.",
            "",
            f"Measured {info['date']} on {info['nproc']} cores ({info['cpu']}), Python "
            f"{info['python']}, Streamlit {info['streamlit']}, {info['chromium']}, torch "
            f"{info['torch']}. **The machine was not quiet**: other engineers' tests and "
            "benchmarks ran beside it (the load average in the table; the finetune itself "
            "takes both cores), so every figure is that of a busy machine.",
            "",
            f"    python bench/app_cpu.py --before {before or 'COMMIT'} --out "
            "bench/results/app-cpu.jsonl",
            "    python bench/app_cpu.py --markdown docs/BENCHMARKS.md  # this section",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "app-cpu.jsonl"))
    parser.add_argument(
        "--before",
        metavar="COMMIT",
        help="also measure this tree's app with COMMIT's changes to it reverted",
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--labels", type=int, default=150)
    parser.add_argument("--rows-per-label", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--screenshots", help="a folder for each window's last screenshot")
    parser.add_argument("--summary", action="store_true", help="print the docs section")
    parser.add_argument("--markdown", help="write the docs section into this file")
    args = parser.parse_args()
    if not args.summary and not args.markdown:
        run_bench(args)
    section = summary(Path(args.out))
    if args.markdown:
        from bench.markdown import replace_section

        replace_section(Path(args.markdown), HEADING, section)
    print(section)


if __name__ == "__main__":
    main()
