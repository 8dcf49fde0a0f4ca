"""`python -m core review`: the review of a data set, and the label check with --label-issues."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.common import EXIT_OK, CliError
from core.cli.inputs import read_labeled
from core.cli.render import phase_bars, print_json

PROGRESS_FROM_ROWS = 2000
"""The label check shows a progress bar on stderr from this many rows (about 10 s on a CPU)."""


def cmd_review(args: argparse.Namespace) -> int:
    from core.data.cleaning import CleaningConfig
    from core.quality.prepare import review_for_model

    train = read_labeled(args.train, args)
    valid = read_labeled(args.valid, args, train.multi_label) if args.valid else None
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
