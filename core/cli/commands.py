"""The commands of `python -m core`: each reads its arguments, calls the core API and returns
the exit code (0 done, 1 a run that did not complete, 2 an error the user can fix)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from core.cli.render import (
    format_comparison,
    format_metrics,
    metrics_json,
    phase_bars,
    print_json,
    progress_printer,
    run_json,
)
from core.errors import EmbedtuneError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2  # and 128 + the signal after Ctrl-C / SIGTERM


class CliError(EmbedtuneError):
    """A command-line usage problem (missing texts, bad option value)."""


def _store(args: argparse.Namespace) -> Any:
    from core.runs.store import RunStore

    return RunStore(args.runs_dir)


def _read_texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.texts or [])
    if args.file:
        texts += _read_text_column(
            Path(args.file), args.header, sheet=args.sheet, text_column=args.text_column
        )
    if not texts:
        raise CliError("no texts given: pass them as arguments or with --file")
    return texts


def _read_text_column(
    path: Path, header: bool, sheet: str | None = None, text_column: str | None = None
) -> list[str]:
    """The texts of a file of any format `core.data.files` reads: the column named "text", else
    the first (texts to classify or embed; other columns are ignored)."""
    from core.data.inputs import read_texts
    from core.errors import DataError

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    # The command line has no upload limit: the file is the user's own.
    given = read_texts(
        raw,
        name=path.name,
        header=header,
        sheet=sheet,
        text_column=text_column,
        limit=sys.maxsize,
        max_bytes=len(raw),
    )
    _warn(*given.notes)
    return list(given.texts)


def _warn(*notes: str | None) -> None:
    """`warning: ...` on stderr for each thing the user should know about a file read."""
    for note in notes:
        if note:
            print(f"warning: {note}", file=sys.stderr)


def _warn_encoding(path: str | None) -> None:
    """A warning for a file read in an encoding other than UTF-8."""
    from core.io import encoding_warning

    _warn(encoding_warning(path) if path else None)


def _read_labeled(
    path: str, args: argparse.Namespace, multi: bool = False, infer_header: bool = False
) -> Any:
    """A labelled file of any format `core.data.files` reads, with the sheet and columns the
    command's options choose, and a warning for each thing the user should know (not UTF-8,
    JSON although named .csv, labels that look multi-label, a first row read as the header).
    Multi-label with --multi-label, `multi`, or when the label column holds lists.
    `infer_header`: without --header, a first row that looks like column names is the header
    (as the Metrics page reads a test file)."""
    from core.data.files import read_table
    from core.data.multilabel import labeled_multi, looks_multi_label

    header: bool | Literal["infer"] = True if args.header else "infer" if infer_header else False
    table = read_table(path, header=header, sheet=args.sheet)
    text, label, chosen = _columns(table, args.text_column, args.label_column)
    multi = multi or args.multi_label
    hint = None if multi else looks_multi_label(table, text, label)
    if hint is not None and "list" in hint:
        multi, hint = True, f"read as multi-label: {hint}"
    elif hint is not None:
        hint += " (--multi-label)"
    if multi:
        data = labeled_multi(table, text, label, args.separator)
    else:
        data = table.labeled(text, label)
    _warn_encoding(path)
    _warn(*table.notes, chosen, hint)
    return data


def _columns(table: Any, text: str | None, label: str | None) -> tuple[Any, Any, str | None]:
    """The text and label columns to read: those given; else, where the file has columns to
    choose and its names do not say which, the app's first offer (`Table.suggested_columns`),
    with a warning that names them."""
    if text is not None or label is not None or not table.choose_columns:
        return text, label, None
    if table.default_columns() is not None or len(table.columns) < 2:
        return text, label, None
    ti, li = table.suggested_columns()
    names = [
        name if table.columns.count(name) == 1 else str(i + 1)
        for i, name in ((ti, table.columns[ti]), (li, table.columns[li]))
    ]
    what = "field" if table.format in ("jsonl", "json") else "column"
    note = (
        f"the file has {len(table.columns)} {what}s: texts read from {table.columns[ti]!r} (the "
        f"longest texts), labels from {table.columns[li]!r} (few distinct values); choose others "
        "with --text-column and --label-column"
    )
    return names[0], names[1], note


# -- commands --------------------------------------------------------------------------------


def cmd_review(args: argparse.Namespace) -> int:
    from core.data.cleaning import CleaningConfig
    from core.quality.prepare import review_for_model

    train = _read_labeled(args.train, args)
    valid = _read_labeled(args.valid, args, train.multi_label) if args.valid else None
    cleaning = CleaningConfig.ALL if args.clean else None
    report = review_for_model(
        train,
        valid,
        model=args.model,
        cleaning=cleaning,
        valid_fraction=args.valid_fraction,
        seed=args.seed,
    )
    checked = None
    if args.label_issues and report.ok:
        checked = _label_issues(train, args.model, cleaning)
    if args.json:
        payload = report.to_dict()
        if checked is not None:
            payload["label_issues"] = checked.to_dict()
        print_json(payload)
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
    progress = phase_bars() if len(train) >= PROGRESS_FROM_ROWS else None
    try:
        return find_label_issues(train, model, on_progress=progress)
    finally:
        if progress is not None:
            progress("", 0, 0)  # closes the last bar


def _config_from_args(args: argparse.Namespace) -> Any:
    """The TrainConfig of the command line: the defaults, and every setting given."""
    import dataclasses

    from core.config import TrainConfig
    from core.data.cleaning import CleaningConfig

    changes: dict[str, Any] = {"base_model": args.model}
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.name, None)
        if value is not None and field.name not in ("base_model", "cleaning"):
            changes[field.name] = value
    if args.clean:
        changes["cleaning"] = CleaningConfig.ALL
    return TrainConfig().replace(**changes)


def _training_set(args: argparse.Namespace, config: Any) -> Any:
    """The DataSet a `train` command trains on: its files read, the rows it drops dropped, and
    the split made with the run's seed (as the app makes it)."""
    from core.quality.prepare import prepare_dataset, review_for_model

    train = _read_labeled(args.train, args)
    valid = _read_labeled(args.valid, args, train.multi_label) if args.valid else None
    report = None
    if args.drop:
        # The same review the app's drop choices come from: the model's tokenizer, the cleaning.
        report = review_for_model(
            train,
            valid,
            model=config.base_model,
            cleaning=config.cleaning,
            valid_fraction=args.valid_fraction,
            seed=config.seed,
        )
    return prepare_dataset(
        train,
        valid,
        report=report,
        drop=args.drop or (),
        valid_fraction=args.valid_fraction,
        seed=config.seed,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from core.runs.jobs import submit, wait

    config = _config_from_args(args)
    dataset = _training_set(args, config)
    store = _store(args)
    from core.train.distributed import launched

    if launched():  # torchrun / accelerate launch: train here, in every process (rank 0 reports)
        from core.runs.launched import train_distributed

        record = train_distributed(config, dataset, store)
        return EXIT_OK if record is None else _report_run(record, args.json)
    from core.model.catalogue import choose_device
    from core.quality.validation import thin_dataset_message
    from core.runs.estimate import estimate
    from core.runs.status import about, rough
    from core.train.label_names import finetune_rows

    rows = finetune_rows(len(dataset.train), dataset.classes, config.label_names)
    guess = estimate(config, rows, len(dataset.valid), store, choose_device(config.device).kind)
    submission = submit(config, dataset, store, force=args.force, name=args.name)
    hint = " --force trains again." if submission.reused and not submission.record.active else ""
    print(submission.message + hint, file=sys.stderr)
    if not submission.reused:
        _warn(thin_dataset_message(dataset))  # what the validation figures to come rest on
        queue = f", {about(guess.queue_s)} of it in the queue" if guess.ahead else ""
        print(
            f"estimated time: {about(guess.seconds)} ({rough(guess.low)} to {rough(guess.high)}"
            f"{queue}), {guess.source}",
            file=sys.stderr,
        )
    run_id = submission.record.id
    if args.detach and submission.record.active:
        if args.json:
            print_json(run_json(submission.record))
        else:
            print(f"run {run_id}: {submission.record.status} in the background")
            print(f"follow it: python -m core status {run_id} --follow{_runs_dir_flag(args)}")
            print(f"stop it:   python -m core cancel {run_id}{_runs_dir_flag(args)}")
        return EXIT_OK
    try:
        with _signals_interrupt():
            record = wait(store, run_id, on_update=progress_printer(_queue_line(store)))
    except Interrupted as stop:
        store.request_cancel(run_id)
        print(f"cancelling run {run_id} ...", file=sys.stderr)
        record = wait(store, run_id)
        _report_run(record, args.json)
        raise stop from None
    return _report_run(record, args.json)


def _runs_dir_flag(args: argparse.Namespace) -> str:
    return f" --runs-dir {args.runs_dir}" if args.runs_dir else ""


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM while the command waits: exit 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While waiting, SIGINT and SIGTERM raise Interrupted (a closed terminal or `kill` is
    treated like Ctrl-C), in the main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _report_run(record: Any, as_json: bool) -> int:
    if as_json:
        print_json(run_json(record))
    else:
        print(f"run {record.id}: {record.status}" + (f" ({record.name})" if record.name else ""))
        if record.device:
            print(f"device     {record.device.get('kind')} ({record.device.get('name')})")
        if record.baseline is not None:
            print(format_metrics("baseline", record.baseline))
        if record.final is not None:
            print(format_metrics("finetuned", record.final, record.baseline))
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
        print_json(
            [
                {"run_id": r.id, "status": "broken", "reason": r.reason}
                if isinstance(r, BrokenRun)
                else run_json(r)
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
        name = f"  {r.name}" if r.name else ""
        print(
            f"{r.id}  {r.status:<10} {r.config.base_model:<6} "
            f"{r.data.get('train_rows', '?'):>6} rows  {r.created_at}  {f1}{name}"
        )
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from core.runs.jobs import wait

    store = _store(args)
    record = store.get(args.run)
    if args.follow and record.active:
        try:
            with _signals_interrupt():
                record = wait(store, record.id, on_update=progress_printer(_queue_line(store)))
        except Interrupted as stop:
            print(f"stopped following run {record.id}; it goes on", file=sys.stderr)
            raise stop from None
    if not args.json and record.active:
        from core.runs.status import status_line

        print(f"run {record.id}: {record.status} · {status_line(record, store)}")
        return EXIT_OK
    return _report_run(record, args.json)


def _queue_line(store: Any) -> Any:
    from core.runs.status import status_line

    return lambda record: status_line(record, store)


def cmd_rename(args: argparse.Namespace) -> int:
    record = _store(args).rename(args.run, args.name)
    if args.json:
        print_json(run_json(record))
    elif record.name:
        print(f"run {record.id} is now named {record.name!r}")
    else:
        print(f"run {record.id} has no name now")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    record = _store(args).request_cancel(args.run)
    if record.active:
        print(f"cancel requested for run {record.id}: it stops at its next step")
    else:
        print(f"run {record.id} is already {record.status}")
    return EXIT_OK


def _load_run_classifier(args: argparse.Namespace) -> Any:
    from core.runs.resolve import load_run

    return load_run(args.run, _store(args), backend=args.backend)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.runs.evaluate import evaluate_run
    from core.train.metrics import FEW_EXAMPLES, describe_unseen, unseen_labels
    from core.train.outcome import judge

    store = _store(args)
    record = store.get(args.run)
    # A multi-label run reads its test file as multi-label (label lists or joined cells).
    multi = bool(record.data.get("multi_label"))
    test = _read_labeled(args.test, args, multi=multi, infer_header=True)
    kept = {t.key: t.evaluated_at for t in record.tests}
    result = evaluate_run(store, args.run, test, unseen=args.unseen)
    reused = kept.get(result.key) == result.evaluated_at
    if reused:
        when = result.evaluated_at[:16].replace("T", " ")
        print(
            f"Reused the evaluation of these rows kept on {when} UTC: a completed run scores the "
            "same rows the same way.",
            file=sys.stderr,
        )
    final, baseline = result.final, result.baseline
    known = [label for label in final.labels if label not in final.unseen_labels]
    unseen = unseen_labels(test, known)
    gains = final.metrics.gain_over(baseline.metrics)
    gain_intervals = final.gain_intervals(baseline)
    outcome = judge(final, baseline, finetune_kept=result.finetune_kept, where="test")
    if args.json:
        print_json(
            {
                **(metrics_json(final) or {}),
                "n": final.n,
                "labels": list(final.labels),
                "per_class": final.to_dict()["per_class"],
                "confusion_matrix": final.to_dict()["confusion_matrix"],
                "base_model": {
                    **(metrics_json(baseline) or {}),
                    "per_class": baseline.to_dict()["per_class"],
                    "confusion_matrix": baseline.to_dict()["confusion_matrix"],
                },
                "gain": gains,
                "gain_intervals": {k: list(v) for k, v in gain_intervals.items() if k in gains},
                "few_examples": final.few_examples(),
                "unseen_labels": list(final.unseen_labels),
                "skipped": final.skipped,
                "reused": reused,
                "outcome": outcome.kind,
            }
        )
        return EXIT_OK
    if unseen:
        if final.skipped:
            rows = f"{final.skipped} row{'s' if final.skipped != 1 else ''}"
            what = f"their {rows} are left out (--unseen count scores them as errors)"
        else:
            what = "their rows count as errors (--unseen skip leaves them out)"
        print(f"{describe_unseen(unseen)}; {what}")
    print(format_comparison(result.name, final, baseline, gain_intervals))
    print(f"\n{'label':<20} precision  recall  f1     base f1  support")
    for c, b in zip(final.per_class, baseline.per_class, strict=True):
        few = "  (few examples)" if c.support < FEW_EXAMPLES else ""
        few = "  (never learnt)" if c.label in final.unseen_labels else few
        print(
            f"{c.label:<20} {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:.3f}  {b.f1:7.3f}  "
            f"{c.support:7d}{few}"
        )
    print(f"\n{outcome.message}")
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
        backend=args.backend,
    )
    if args.json:
        print_json(result.to_dict())
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
        print_json(results)
    else:
        for r in results:
            if "predictions" in r:  # multi-label: every chosen label with its confidence
                chosen = ", ".join(
                    f"{label} {p:.3f}"
                    for label, p in zip(r["predictions"], r["confidences"], strict=True)
                )
                print(f"{chosen or '(no label)'}\t{r['input']}")
            else:
                print(f"{r['prediction']}\t{r['confidence']:.3f}\t{r['input']}")
    _suggest_serve(args)
    return EXIT_OK


def cmd_embed(args: argparse.Namespace) -> int:
    _warn_encoding(args.file)
    batched = _batch(args, "embed", args.model)
    if batched is not None:
        return batched
    from core.runs.resolve import load, resolve

    texts = _read_texts(args)
    embedder = load(resolve(args.model, _store(args)), backend=args.backend)
    vectors = embedder.embed(texts)
    if args.json:
        print_json({"texts": texts, "embeddings": vectors.tolist()})
    else:
        writer = csv.writer(sys.stdout)
        for text, vector in zip(texts, vectors, strict=True):
            writer.writerow([text, *(f"{v:.6f}" for v in vector)])
    _suggest_serve(args)
    return EXIT_OK


CALLS_FILE = ".cli-calls"  # in the runs folder: when the last classify / embed call ran
REPEAT_WITHIN_S = 600
"""A call within this time of the last one is a repeat: the tip about `serve` is shown then."""


def _suggest_serve(args: argparse.Namespace) -> None:
    """Where a user repeats classify / embed calls, say that the service answers them without a
    cold start (docs/BENCHMARKS.md, "Cold start": most of a call is importing PyTorch)."""
    store = _store(args)
    if not store.root.is_dir():
        return
    marker = store.root / CALLS_FILE
    try:
        repeated = time.time() - marker.stat().st_mtime < REPEAT_WITHIN_S
    except OSError:
        repeated = False
    with contextlib.suppress(OSError):
        marker.touch()
    if repeated:
        print(
            "tip: most of each call is starting Python and loading PyTorch (about 6.5 s on 2 "
            "CPU cores); `python -m core serve` keeps the model loaded and answers the same "
            "call over HTTP in milliseconds (README: Embed and Classify over HTTP)",
            file=sys.stderr,
        )


def cmd_export(args: argparse.Namespace) -> int:
    from core.model.classifier import MODEL_DIR
    from core.runs.export import CARD_FILE, export_backend, export_run

    export_backend(args.format, args.quantize)  # wrong options fail before any work
    dest, check = export_run(args.run, args.dest, _store(args), args.format, args.quantize)
    if args.json:
        print_json(
            {"run_id": args.run, "dest": str(dest), "check": check.to_dict() if check else None}
        )
        return EXIT_OK
    print(f"exported run {args.run} to {dest} (model card: {dest / CARD_FILE})")
    if check is None:
        print(f"load the body alone with SentenceTransformer('{dest / MODEL_DIR}')")
    else:
        print(f"checked: {check.describe()}")
        print(f"the body: {dest / MODEL_DIR / check.file} (README.md says how to run it)")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from core.model.catalogue import choose_device, list_models

    models = list_models()
    if args.json:
        print_json({"models": [m.to_dict() for m in models], "device": choose_device().to_dict()})
        return EXIT_OK
    for m in models:
        state = "installed" if m.installed else f"not installed: {m.install_command}"
        print(
            f"{m.key:<6} {m.name:<20} {(m.parameters or 0) / 1e6:5.1f}M params  "
            f"dim {m.embedding_dim}  "
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
    serve(
        store,
        host=args.host,
        port=args.port,
        api_key=key,
        rate_per_s=args.rate_limit or None,
        backend=args.backend,
    )
    return EXIT_OK
