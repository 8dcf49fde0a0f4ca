"""The commands about runs: train one, follow its status, list, rename and cancel them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    Interrupted,
    open_store,
    runs_dir_flag,
    signals_interrupt,
    warn,
)
from core.cli.inputs import read_labeled
from core.cli.render import format_metrics, print_json, progress_printer, run_json


def config_from_args(args: argparse.Namespace) -> Any:
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


def training_set(args: argparse.Namespace, config: Any) -> Any:
    """The DataSet a `train` command trains on: its files read, the rows it drops dropped, and
    the split made with the run's seed (as the app makes it)."""
    from core.quality.prepare import prepare_dataset, review_for_model

    train = read_labeled(args.train, args)
    valid = read_labeled(args.valid, args, train.multi_label) if args.valid else None
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

    config = config_from_args(args)
    dataset = training_set(args, config)
    store = open_store(args)
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
    guess = estimate(
        config,
        rows,
        len(dataset.valid),
        store,
        choose_device(config.device).kind,
        labels=len(dataset.classes),
        multi_label=dataset.train.multi_label,
    )
    submission = submit(config, dataset, store, force=args.force, name=args.name)
    hint = " --force trains again." if submission.reused and not submission.record.active else ""
    print(submission.message + hint, file=sys.stderr)
    if not submission.reused:
        warn(thin_dataset_message(dataset))  # what the validation figures to come rest on
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
            print(f"follow it: python -m core status {run_id} --follow{runs_dir_flag(args)}")
            print(f"stop it:   python -m core cancel {run_id}{runs_dir_flag(args)}")
        return EXIT_OK
    try:
        with signals_interrupt():
            record = wait(store, run_id, on_update=progress_printer(_queue_line(store)))
    except Interrupted as stop:
        store.request_cancel(run_id)
        print(f"cancelling run {run_id} ...", file=sys.stderr)
        record = wait(store, run_id)
        _report_run(record, args.json)
        raise stop from None
    return _report_run(record, args.json)


def _report_run(record: Any, as_json: bool) -> int:
    if as_json:
        print_json(run_json(record))
    else:
        print(f"run {record.id}: {record.status}" + (f" ({record.name})" if record.name else ""))
        if record.device:
            kind, name, precision = (record.device.get(k) for k in ("kind", "name", "precision"))
            print(f"device     {kind} ({name}, {precision})")
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


def _queue_line(store: Any) -> Any:
    from core.runs.status import status_line

    return lambda record: status_line(record, store)


def cmd_runs(args: argparse.Namespace) -> int:
    from core.runs.store import BrokenRun

    runs = open_store(args).list()
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
        print(f"no runs in {open_store(args).root}")
    for r in runs:
        if isinstance(r, BrokenRun):
            print(f"{r.id}  broken     {r.reason}")
            continue
        f1 = f"F1 {r.final.metrics.f1:.3f}" if r.final else ""
        name = f"  {r.name}" if r.name else ""
        print(
            f"{r.id}  {r.status:<10} {r.config.base_model:<6} "
            f"{r.data.train_rows:>6} rows  {r.created_at}  {f1}{name}"
        )
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from core.runs.jobs import wait

    store = open_store(args)
    record = store.get(args.run)
    if args.follow and record.active:
        try:
            with signals_interrupt():
                record = wait(store, record.id, on_update=progress_printer(_queue_line(store)))
        except Interrupted as stop:
            print(f"stopped following run {record.id}; it goes on", file=sys.stderr)
            raise stop from None
    if not args.json and record.active:
        from core.runs.status import status_line

        print(f"run {record.id}: {record.status} · {status_line(record, store)}")
        return EXIT_OK
    return _report_run(record, args.json)


def cmd_rename(args: argparse.Namespace) -> int:
    record = open_store(args).rename(args.run, args.name)
    if args.json:
        print_json(run_json(record))
    elif record.name:
        print(f"run {record.id} is now named {record.name!r}")
    else:
        print(f"run {record.id} has no name now")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    record = open_store(args).request_cancel(args.run)
    if record.active:
        print(f"cancel requested for run {record.id}: it stops at its next step")
    else:
        print(f"run {record.id} is already {record.status}")
    return EXIT_OK
