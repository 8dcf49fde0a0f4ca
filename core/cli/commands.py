"""`python -m core ...`: parse arguments, call the core API, print, exit 0 or 2 (`error: ...`)."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import EmbedtuneError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


class CliError(EmbedtuneError):
    """A command-line usage problem (missing texts, bad option value)."""


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _store(args: argparse.Namespace) -> Any:
    from core.runs.store import RunStore

    return RunStore(args.runs_dir)


def _metrics_json(evaluation: Any) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    m = evaluation.metrics
    return {
        "accuracy": m.accuracy,
        "f1": m.f1,
        "precision": m.precision,
        "recall": m.recall,
        "macro_f1": m.macro_f1,
        "average": m.average,
        "positive_label": m.positive_label,
    }


def _format_metrics(name: str, evaluation: Any, baseline: Any = None) -> str:
    m = evaluation.metrics
    cells = []
    for key in ("accuracy", "f1", "precision", "recall", "macro_f1"):
        value = getattr(m, key)
        cell = f"{key} {value:.3f}"
        if baseline is not None:
            cell += f" ({value - getattr(baseline.metrics, key):+.3f})"
        cells.append(cell)
    scope = f"positive label {m.positive_label!r}" if m.positive_label else "macro-averaged"
    return f"{name:<10} " + "  ".join(cells) + f"  [{scope}]"


def _read_texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.texts or [])
    if args.file:
        texts += _read_text_column(Path(args.file), header=args.header)
    if not texts:
        raise CliError("no texts given: pass them as arguments or with --file")
    return texts


def _read_text_column(path: Path, header: bool) -> list[str]:
    """The first column of a CSV (texts to classify or embed; other columns are ignored)."""
    from core.data.inputs import read_texts
    from core.errors import DataError

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    # The command line has no upload limit: the file is the user's own.
    return list(read_texts(raw, header=header, limit=sys.maxsize).texts)


def _warn_encoding(path: str | None) -> None:
    """`warning: ...` on stderr for a file read in an encoding other than UTF-8."""
    from core.io import encoding_warning

    warning = encoding_warning(path) if path else None
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr)


def _read_labeled(path: str, header: bool) -> Any:
    """A labelled CSV, with a warning when it is not UTF-8 (see `_warn_encoding`)."""
    from core.data.labeled import read_labeled_csv

    data = read_labeled_csv(path, header=header)
    _warn_encoding(path)
    return data


# -- commands --------------------------------------------------------------------------------


def cmd_review(args: argparse.Namespace) -> int:
    from core.data.cleaning import CleaningConfig
    from core.quality.prepare import review_for_model

    train = _read_labeled(args.train, args.header)
    valid = _read_labeled(args.valid, args.header) if args.valid else None
    cleaning = CleaningConfig.ALL if args.clean else None
    report = review_for_model(train, valid, model=args.model, cleaning=cleaning)
    checked = None
    if args.label_issues and report.ok:
        checked = _label_issues(train, args.model, cleaning)
    if args.json:
        payload = report.to_dict()
        if checked is not None:
            payload["label_issues"] = checked.to_dict()
        _print_json(payload)
    else:
        print(report.to_text())
        if checked is not None:
            print()
            print(checked.to_text())
    if not report.ok:
        errors = [f for f in report.findings if f.severity == "error"]
        raise CliError(errors[0].message + " (see the review above; --drop empty drops such rows)")
    return EXIT_OK


PROGRESS_FROM_ROWS = 2000
"""The label check shows a progress bar on stderr from this many rows (about 10 s on a CPU)."""


def _label_issues(train: Any, model: str, cleaning: Any) -> Any:
    """The label check of the training texts as the model will see them (cleaned if asked)."""
    from core.data.cleaning import clean
    from core.quality.label_issues import find_label_issues

    if cleaning is not None:
        train = clean(train, cleaning)[0]
    progress = _phase_bars() if len(train) >= PROGRESS_FROM_ROWS else None
    try:
        return find_label_issues(train, model, on_progress=progress)
    finally:
        if progress is not None:
            progress("", 0, 0)  # closes the last bar


def _phase_bars() -> Callable[[str, int, int], None]:
    """A tqdm bar on stderr per phase of a long computation; an empty phase closes the last."""
    from tqdm import tqdm

    state: dict[str, Any] = {"bar": None, "phase": None}

    def update(phase: str, done: int, total: int) -> None:
        if phase != state["phase"]:
            if state["bar"] is not None:
                state["bar"].close()
            state["phase"] = phase
            state["bar"] = tqdm(total=total, desc=phase, file=sys.stderr) if phase else None
        if state["bar"] is not None:
            state["bar"].n = done
            state["bar"].refresh()

    return update


def _config_from_args(args: argparse.Namespace) -> Any:
    from core.config import TrainConfig
    from core.data.cleaning import CleaningConfig

    changes: dict[str, Any] = {"base_model": args.model}
    for name in ("epochs", "seed", "batch_size", "learning_rate", "loss", "device"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if args.clean:
        changes["cleaning"] = CleaningConfig.ALL
    if args.balanced:
        changes["balanced_weights"] = True
    return TrainConfig().replace(**changes)


def cmd_train(args: argparse.Namespace) -> int:
    from core.quality.prepare import prepare_dataset
    from core.runs.jobs import submit, wait

    config = _config_from_args(args)
    train = _read_labeled(args.train, args.header)
    valid = _read_labeled(args.valid, args.header) if args.valid else None
    dataset = prepare_dataset(train, valid, drop=args.drop or (), seed=config.seed)
    store = _store(args)
    from core.train.distributed import launched

    if launched():  # torchrun / accelerate launch: train here, in every process (rank 0 reports)
        from core.runs.launched import train_distributed

        record = train_distributed(config, dataset, store)
        return EXIT_OK if record is None else _report_run(record, args.json)
    submission = submit(config, dataset, store)
    print(submission.message, file=sys.stderr)
    try:
        record = wait(store, submission.record.id, on_update=_progress_printer())
    except KeyboardInterrupt:
        store.request_cancel(submission.record.id)
        print(f"cancelling run {submission.record.id} ...", file=sys.stderr)
        record = wait(store, submission.record.id)
    return _report_run(record, args.json)


def _progress_printer() -> Callable[[Any], None]:
    """A tqdm bar on stderr that follows the run's phase and step."""
    from tqdm import tqdm

    state: dict[str, Any] = {"bar": None, "phase": None}

    def update(record: Any) -> None:
        progress = record.progress
        if progress.phase != state["phase"]:
            if state["bar"] is not None:
                state["bar"].close()
            state["phase"] = progress.phase
            state["bar"] = tqdm(
                total=progress.total or None, desc=progress.phase, file=sys.stderr, unit="step"
            )
        bar = state["bar"]
        if progress.total and bar.total != progress.total:
            bar.total = progress.total
        bar.n = progress.step
        if record.history:
            bar.set_postfix(macro_f1=f"{record.history[-1]['metrics']['macro_f1']:.3f}")
        bar.refresh()
        if not record.active:
            bar.close()

    return update


def _run_json(record: Any) -> dict[str, Any]:
    return {
        "run_id": record.id,
        "status": record.status,
        "base_model": record.config.base_model,
        "device": record.device,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration_s": record.duration_s,
        "progress": {
            "phase": record.progress.phase,
            "step": record.progress.step,
            "total": record.progress.total,
            "eta_s": record.progress.eta_s,
        },
        "train_rows": record.data.get("train_rows"),
        "valid_rows": record.data.get("valid_rows"),
        "labels": record.data.get("classes"),
        "baseline": _metrics_json(record.baseline),
        "finetuned": _metrics_json(record.final),
        "finetune_kept": record.finetune_kept,
        "note": record.note,
        "error": record.error,
    }


def _report_run(record: Any, as_json: bool) -> int:
    if as_json:
        _print_json(_run_json(record))
    else:
        print(f"run {record.id}: {record.status}")
        if record.device:
            print(f"device     {record.device.get('kind')} ({record.device.get('name')})")
        if record.baseline is not None:
            print(_format_metrics("baseline", record.baseline))
        if record.final is not None:
            print(_format_metrics("finetuned", record.final, record.baseline))
        if record.note:
            print(record.note)
    if record.status == "failed":
        reason = (record.error or {}).get("reason", "unknown reason")
        if not as_json:
            for line in (record.error or {}).get("log_tail", [])[-10:]:
                print(f"  | {line}", file=sys.stderr)
        raise CliError(f"run {record.id} failed: {reason}")
    return EXIT_OK if record.status in ("completed", "queued", "running") else EXIT_FAILED


def cmd_runs(args: argparse.Namespace) -> int:
    from core.runs.store import BrokenRun

    runs = _store(args).list()
    if args.json:
        _print_json(
            [
                {"run_id": r.id, "status": "broken", "reason": r.reason}
                if isinstance(r, BrokenRun)
                else _run_json(r)
                for r in runs
            ]
        )
        return EXIT_OK
    if not runs:
        print(f"no runs in {_store(args).root}")
    for r in runs:
        if isinstance(r, BrokenRun):
            print(f"{r.id}  broken     {r.reason}")
            continue
        f1 = f"F1 {r.final.metrics.f1:.3f}" if r.final else ""
        print(
            f"{r.id}  {r.status:<10} {r.config.base_model:<6} "
            f"{r.data.get('train_rows', '?'):>6} rows  {r.created_at}  {f1}"
        )
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    record = _store(args).get(args.run)
    if not args.json and record.active:
        p = record.progress
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
        print(f"run {record.id}: {record.status}, {p.phase} step {p.step}/{p.total}{eta}")
        return EXIT_OK
    return _report_run(record, args.json)


def cmd_cancel(args: argparse.Namespace) -> int:
    record = _store(args).request_cancel(args.run)
    if record.active:
        print(f"cancel requested for run {record.id}: it stops at its next step")
    else:
        print(f"run {record.id} is already {record.status}")
    return EXIT_OK


def _load_run_classifier(args: argparse.Namespace) -> Any:
    from core.model.classifier import load_run

    return load_run(args.run, _store(args))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.errors import DataError
    from core.train.metrics import evaluate_predictions

    classifier = _load_run_classifier(args)
    test = _read_labeled(args.test, args.header)
    labels = [str(c) for c in classifier.classes_]
    unknown = sorted(set(test.labels) - set(labels))
    if unknown:
        rows = [r for r, lab in zip(test.rows, test.labels, strict=True) if lab in unknown]
        raise DataError(
            f"row {rows[0]}: label {unknown[0]!r} was not in the training data "
            f"(the model knows {', '.join(labels)})"
        )
    evaluation = evaluate_predictions(list(test.labels), classifier.predict(test.texts), labels)
    if args.json:
        _print_json(
            {
                **_metrics_json(evaluation),
                "n": evaluation.n,
                "labels": labels,
                "per_class": evaluation.to_dict()["per_class"],
                "confusion_matrix": evaluation.to_dict()["confusion_matrix"],
            }
        )
        return EXIT_OK
    print(_format_metrics("test", evaluation))
    print(f"\n{'label':<20} precision  recall  f1     support")
    for c in evaluation.per_class:
        print(f"{c.label:<20} {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:.3f}  {c.support:7d}")
    return EXIT_OK


def _batch(args: argparse.Namespace, kind: str, model: str) -> int | None:
    """With --out: stream the --file through core.batch.job (chunks, resumable, --engine ray)."""
    if not args.out:
        if args.engine != "local":
            raise CliError(f"--engine {args.engine} needs --out (a file to write the results to)")
        return None
    if args.texts or not args.file:
        raise CliError("--out takes the texts from --file only (one text per row, first column)")
    from core.batch.job import CHUNK_ROWS, run_batch

    result = run_batch(
        kind,
        model,
        args.file,
        args.out,
        header=args.header,
        store=_store(args),
        engine=args.engine,
        chunk_rows=args.chunk_rows or CHUNK_ROWS,
        workers=args.workers,
    )
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.describe(), file=sys.stderr)
    return EXIT_OK


def cmd_classify(args: argparse.Namespace) -> int:
    _warn_encoding(args.file)
    batched = _batch(args, "classify", args.run)
    if batched is not None:
        return batched
    classifier = _load_run_classifier(args)
    results = classifier.classify(_read_texts(args))
    if args.json:
        _print_json(results)
    else:
        for r in results:
            print(f"{r['prediction']}\t{r['confidence']:.3f}\t{r['input']}")
    return EXIT_OK


def cmd_embed(args: argparse.Namespace) -> int:
    from core.model.catalogue import CATALOGUE
    from core.model.classifier import load_embedder, load_run

    _warn_encoding(args.file)
    batched = _batch(args, "embed", args.model)
    if batched is not None:
        return batched
    texts = _read_texts(args)
    if args.model in CATALOGUE:
        embedder = load_embedder(args.model)
    else:
        embedder = load_run(args.model, _store(args))
    vectors = embedder.embed(texts)
    if args.json:
        _print_json({"texts": texts, "embeddings": vectors.tolist()})
    else:
        writer = csv.writer(sys.stdout)
        for text, vector in zip(texts, vectors, strict=True):
            writer.writerow([text, *(f"{v:.6f}" for v in vector)])
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from core.errors import RunError
    from core.model.classifier import HEAD_FILE, LABELS_FILE, MODEL_DIR
    from core.runs.store import RUN_FILE

    store = _store(args)
    record = store.get(args.run)
    if record.status != "completed":
        raise RunError(f"run {record.id} is {record.status}: only a completed run can be exported")
    dest = Path(args.dest)
    if dest.exists() and any(dest.iterdir()):
        raise CliError(f"{dest} exists and is not empty: choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    source = store.path(record.id)
    shutil.copytree(source / MODEL_DIR, dest / MODEL_DIR)
    for name in (HEAD_FILE, LABELS_FILE, RUN_FILE):
        shutil.copy2(source / name, dest / name)
    print(f"exported run {record.id} to {dest}")
    print(f"load the body alone with SentenceTransformer('{dest / MODEL_DIR}')")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from core.model.catalogue import choose_device, list_models

    models = list_models()
    if args.json:
        _print_json({"models": [m.to_dict() for m in models], "device": choose_device().to_dict()})
        return EXIT_OK
    for m in models:
        state = "installed" if m.installed else f"not installed: {m.install_command}"
        print(
            f"{m.key:<6} {m.name:<20} {m.parameters / 1e6:5.1f}M params  dim {m.embedding_dim}  "
            f"max {m.max_seq_length} tokens  {m.disk_mb} MB  {state}"
        )
    print(f"device: {choose_device().describe()}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from core.serve.app import api_key_from_env, serve

    key = api_key_from_env(args.api_key)
    store = _store(args)
    auth = "Authorization: Bearer KEY required" if key else "no API key (--api-key to require one)"
    print(
        f"serving runs in {store.root} on http://{args.host}:{args.port} ({auth})", file=sys.stderr
    )
    serve(store, host=args.host, port=args.port, api_key=key, rate_per_s=args.rate_limit or None)
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from core.quality.review import DROP_KINDS

    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Embedtune: finetune sentence-embedding models into text classifiers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        p.add_argument("--runs-dir", default=None, help="runs folder (default ./runs)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        return p

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("train", help="training CSV: text,label per row, no header by default")
        p.add_argument("--valid", help="validation CSV (default: a stratified 20%% split)")
        p.add_argument("--header", action="store_true", help="the first row is a header")
        p.add_argument("--model", default="small", help="small, large or a model folder")
        p.add_argument("--clean", action="store_true", help="strip URLs, HTML, stray symbols")

    p = add("review", cmd_review, "review a data set before finetuning")
    data_args(p)
    p.add_argument(
        "--label-issues",
        action="store_true",
        help="also flag likely wrong labels and near-duplicate texts (embeds the training texts)",
    )

    p = add("train", cmd_train, "finetune a base model on a data set (blocks; progress on stderr)")
    data_args(p)
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--loss", choices=["softmax", "batch_all_triplet"])
    p.add_argument("--device", choices=["cpu", "cuda", "mps"])
    p.add_argument("--balanced", action="store_true", help="balanced class weights")
    p.add_argument(
        "--drop",
        action="append",
        choices=sorted(DROP_KINDS),
        help="drop the rows the review flags of this kind (repeatable)",
    )

    add("runs", cmd_runs, "list runs")
    p = add("status", cmd_status, "show a run")
    p.add_argument("run")
    p = add("cancel", cmd_cancel, "stop a queued or running run")
    p.add_argument("run")
    p = add("evaluate", cmd_evaluate, "score a completed run on a labelled test CSV")
    p.add_argument("run")
    p.add_argument("test")
    p.add_argument("--header", action="store_true")
    for name, handler, help in (
        ("classify", cmd_classify, "classify texts with a completed run"),
        ("embed", cmd_embed, "embed texts with a completed run or a base model"),
    ):
        p = add(name, handler, help)
        p.add_argument("run" if name == "classify" else "model")
        p.add_argument("texts", nargs="*")
        p.add_argument("--file", help="a CSV whose first column holds the texts")
        p.add_argument("--header", action="store_true")
        p.add_argument(
            "--out",
            help="stream --file into this file in chunks, resumable "
            + ("(.csv or .parquet)" if name == "classify" else "(.parquet)"),
        )
        p.add_argument(
            "--engine",
            choices=["local", "ray"],
            default="local",
            help="with --out: this process (default) or Ray Data (RAY_ADDRESS joins a cluster)",
        )
        p.add_argument("--chunk-rows", type=int, help="rows per written chunk (default 1024)")
        p.add_argument(
            "--workers", type=int, help="Ray actors (default: one per GPU in the cluster, else 2)"
        )
    p = add("export", cmd_export, "copy a completed run's model, head and labels to a folder")
    p.add_argument("run")
    p.add_argument("dest")
    add("models", cmd_models, "list base models and the compute device")
    p = add("serve", cmd_serve, "serve Embed and Classify over HTTP (the hosted API's format)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key",
        default=None,
        help="require 'Authorization: Bearer KEY' (default: EMBEDTUNE_API_KEY, else none)",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        default=200.0,
        help="requests per second per client address (0: no limit; default 200)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except EmbedtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_ERROR
