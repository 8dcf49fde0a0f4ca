"""Speed: embedding overhead, classify latency, training throughput, UMAP time, app start.

    python bench/speed.py [--models small,large] [--skip-app] [--json OUT.json]

Writes the "Speed" section of docs/BENCHMARKS.md. Every figure is measured in this process (or a
server it starts) on the machine it runs on; texts are SST-2 training sentences.

- embed: the same texts through `core.model.classifier.Embedder.embed` and through a plain
  `SentenceTransformer.encode` at its defaults, alternated three times; the ratio of the best
  times (target >= 0.95: no overhead of ours).
- classify: one text at a time, warm, through `Classifier.classify` (p50 / p95 of 100 calls). The
  head is a logistic regression fitted on the frozen model's embeddings of 200 rows: latency
  does not depend on whether the body was finetuned.
- train: examples per second of the finetune phase (`core.train.recipe.train`, one epoch, batch 16),
  timed between the trainer's first and last step, so the baseline and head phases are left out.
- umap: `core.model.maps.project` on 500 / 2,000 / 5,000 embeddings.
- app: `streamlit run app.py` until its health endpoint answers; then, in Chromium (Playwright),
  the time to switch from the Dashboard to the Playground once a finetuned run's model is loaded,
  and one classify round trip in the page.
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
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.env import set_offline_env  # noqa: E402

set_offline_env()

DOC = ROOT / "docs" / "BENCHMARKS.md"
SST2 = ROOT.parent / "shared" / "data" / "sst2" / "train.csv"
HEADING = "## Speed"
CHROMIUM = "/usr/bin/chromium"


def sst2_rows(n: int) -> tuple[list[str], list[str]]:
    with open(SST2, encoding="utf-8") as f:
        rows = list(csv.reader(f))[:n]
    return [r[0] for r in rows], [r[1] for r in rows]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def bench_embed(model_key: str, texts: list[str], device: str) -> dict[str, float]:
    from sentence_transformers import SentenceTransformer

    from core.model.catalogue import model_path
    from core.model.classifier import Embedder

    plain = SentenceTransformer(str(model_path(model_key)), device=device)
    ours = Embedder(plain)
    ours.embed(texts[:64])  # warm both paths (same model object)
    plain.encode(texts[:64])
    times: dict[str, list[float]] = {"embedtune": [], "plain": []}
    for _ in range(3):
        for name, fn in (("embedtune", ours.embed), ("plain", plain.encode)):
            start = time.perf_counter()
            fn(texts)
            times[name].append(time.perf_counter() - start)
    best = {name: min(t) for name, t in times.items()}
    same = np.allclose(ours.embed(texts[:32]), plain.encode(texts[:32]), atol=1e-5)
    return {
        "texts": len(texts),
        "embedtune_texts_per_s": len(texts) / best["embedtune"],
        "plain_texts_per_s": len(texts) / best["plain"],
        "ratio": best["plain"] / best["embedtune"],
        "same_vectors": bool(same),
    }


def bench_classify(
    model_key: str, texts: list[str], labels: list[str], device: str
) -> dict[str, float]:
    from core.config import TrainConfig
    from core.model.catalogue import load_model
    from core.model.classifier import Classifier
    from core.model.heads import encode, fit_head

    model = load_model(model_key, device=device)
    classes = sorted(set(labels[:200]))
    y = np.array([classes.index(label) for label in labels[:200]])
    head = fit_head(encode(model, texts[:200]), y, TrainConfig())
    classifier = Classifier(model, head, classes)
    for text in texts[200:210]:
        classifier.classify([text])
    took = []
    for text in texts[300:400]:
        start = time.perf_counter()
        classifier.classify([text])
        took.append(time.perf_counter() - start)
    return {"p50_ms": 1000 * percentile(took, 50), "p95_ms": 1000 * percentile(took, 95)}


class StepClock:
    """A training reporter that notes when the trainer's steps happen."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, float]] = []

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def step(self, step: int, total: int) -> None:
        self.steps.append((step, time.perf_counter()))

    def evaluation(self, point: dict[str, Any]) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def bench_train(
    model_key: str, texts: list[str], labels: list[str], device: str
) -> dict[str, float]:
    from core.config import TrainConfig
    from core.data.labeled import LabeledTexts, split
    from core.train.recipe import train

    config = TrainConfig.from_dict(
        {**TrainConfig().to_dict(), "base_model": model_key, "device": device, "epochs": 1}
    )
    dataset = split(LabeledTexts(texts, labels, range(1, len(texts) + 1)), seed=0)
    clock = StepClock()
    with tempfile.TemporaryDirectory() as workdir:
        train(config, dataset, Path(workdir), reporter=clock)
    (first, t0), (last, t1) = clock.steps[0], clock.steps[-1]
    examples = min((last - first) * config.batch_size, len(dataset.train))
    return {
        "train_rows": len(dataset.train),
        "steps": last - first,
        "examples_per_s": examples / (t1 - t0),
    }


def bench_umap(model_key: str, texts: list[str], sizes: list[int], device: str) -> dict[str, float]:
    from core.model.catalogue import load_model
    from core.model.heads import encode
    from core.model.maps import project

    vectors = encode(load_model(model_key, device=device), texts[: max(sizes)])
    start = time.perf_counter()
    project(vectors[:300])  # the first call compiles umap's numba code
    result = {"first call (compiles), 300": time.perf_counter() - start}
    for n in sizes:
        start = time.perf_counter()
        project(vectors[:n])
        result[str(n)] = time.perf_counter() - start
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settled(page: Any) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
    )


def bench_app(runs_dir: Path, run_id: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, EMBEDTUNE_RUNS_DIR=str(runs_dir))
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    started = time.perf_counter()
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("the app did not start") from None
                time.sleep(0.05)
        health_s = time.perf_counter() - started
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            nav = page.locator('[data-testid="stSidebarNav"]')

            def open_classify_tab() -> Any:
                page.get_by_role("tab", name="Classify").click()
                box = page.get_by_role("textbox", name="Texts, one per line")
                box.wait_for(timeout=120_000)
                return box

            def classify(box: Any, text: str) -> float:
                box.fill(text)
                box.press("Control+Enter")  # commit the text area before the click
                _settled(page)
                start = time.perf_counter()
                page.get_by_role("button", name="Classify", exact=True).click()
                page.get_by_text(text, exact=True).wait_for(timeout=120_000)  # its result card
                return time.perf_counter() - start

            start = time.perf_counter()
            page.goto(f"{url}/playground?run={run_id}")
            box = open_classify_tab()
            first_playground_s = time.perf_counter() - start
            first_classify_s = classify(box, "a gorgeous, witty, seductive movie.")  # loads it
            switches, classifies = [], []
            for i in range(5):
                nav.get_by_text("Dashboard", exact=True).click()
                page.get_by_role("heading", name="Dashboard").first.wait_for()
                _settled(page)
                start = time.perf_counter()
                nav.get_by_text("Playground", exact=True).click()
                box = open_classify_tab()
                switches.append(time.perf_counter() - start)
                classifies.append(classify(box, f"round {i}: the plot is nothing but clichés."))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "health_s": health_s,
        "first_playground_s": first_playground_s,
        "first_classify_s": first_classify_s,
        "switch_median_s": statistics.median(switches),
        "switch_max_s": max(switches),
        "classify_median_s": statistics.median(classifies),
    }


def write_section(results: dict[str, Any], command: str, doc: Path) -> str:
    import sentence_transformers
    import torch
    import umap

    rows = []
    for key, r in results["models"].items():
        e, c, t = r["embed"], r["classify"], r["train"]
        rows.append(
            f"| {key} | {e['embedtune_texts_per_s']:.0f} / {e['plain_texts_per_s']:.0f} "
            f"texts/s = **{e['ratio']:.2f}** | {c['p50_ms']:.0f} / {c['p95_ms']:.0f} ms | "
            f"{t['examples_per_s']:.1f} ({t['steps']} steps) |"
        )
    umap_head = " | ".join(results["umap"])
    umap_cells = " | ".join(f"{s:.1f} s" for s in results["umap"].values())
    umap_rule = "---|" * len(results["umap"])
    app = results.get("app")
    if app is None:
        app_text = "The app was not measured in this run (`--skip-app`)."
    else:
        app_text = (
            f"`streamlit run app.py` answered its health endpoint {app['health_s']:.1f} s after "
            "the process started. In Chromium, the first visit to the Playground with a finetuned "
            f"run took {app['first_playground_s']:.1f} s to show the text box and the first "
            f"classify {app['first_classify_s']:.1f} s (it loads the run's model). After that, "
            "switching from the Dashboard to the Playground took "
            f"{app['switch_median_s']:.2f} s (median of 5, worst {app['switch_max_s']:.2f} s) and "
            f"a classify round trip in the page {app['classify_median_s']:.2f} s (median of 5): "
            "the model stays loaded across pages."
        )
    load = os.getloadavg()[0]
    table_head = (
        f"| base model | embed: Embedtune / plain `encode` ({results['embed_texts']} texts) "
        "| classify one text, warm: p50 / p95 | finetune examples/s |"
    )
    heading = HEADING if results["device"] == "cpu" else f"{HEADING} on {results['device']}"
    gpu = torch.cuda.get_device_name(0) if results["device"] == "cuda" else "no GPU used"
    section = f"""{heading}

Command: `{command}`. Machine: {platform.machine()}, {os.cpu_count()} CPU cores ({gpu}),
load average {load:.1f} when it finished (other jobs shared the cores: read ratios, not absolute
times); Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()}
threads), sentence-transformers {sentence_transformers.__version__}, umap-learn {umap.__version__}.
Date: {time.strftime("%Y-%m-%d")}.

{table_head}
|---|---|---|---|
{chr(10).join(rows)}

Embedtune's embeddings equal plain `encode`'s (to 1e-5); its encode batch is 64 against
`encode`'s default 32, and it cleans each text first (a no-op with cleaning off).

| UMAP (`core.model.maps.project`, small model's embeddings): points | {umap_head} |
|---|{umap_rule}
| time | {umap_cells} |

{app_text}
"""
    from bench.markdown import replace_section

    replace_section(doc, heading, section)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="small,large")
    parser.add_argument("--embed-texts", type=int, default=2000)
    parser.add_argument("--train-rows", type=int, default=320)
    parser.add_argument("--umap", default="500,2000,5000")
    parser.add_argument("--skip-app", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown file to update")
    args = parser.parse_args()
    sizes = [int(n) for n in args.umap.split(",")]
    texts, labels = sst2_rows(max(args.embed_texts, max(sizes), args.train_rows, 400))
    results: dict[str, Any] = {"embed_texts": args.embed_texts, "device": args.device, "models": {}}
    for key in args.models.split(","):
        results["models"][key] = {
            "embed": bench_embed(key, texts[: args.embed_texts], args.device),
            "classify": bench_classify(key, texts, labels, args.device),
            "train": bench_train(
                key, texts[: args.train_rows], labels[: args.train_rows], args.device
            ),
        }
        print(key, json.dumps(results["models"][key]), flush=True)
    results["umap"] = bench_umap("small", texts, sizes, args.device)
    print("umap", json.dumps(results["umap"]), flush=True)
    if not args.skip_app:
        from bench.service import tiny_run

        with tempfile.TemporaryDirectory() as tmp:
            runs_dir = Path(tmp) / "runs"
            results["app"] = bench_app(runs_dir, tiny_run(runs_dir))
        print("app", json.dumps(results["app"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    command = "python bench/speed.py " + " ".join(sys.argv[1:])
    print(write_section(results, command, args.doc))


if __name__ == "__main__":
    main()
