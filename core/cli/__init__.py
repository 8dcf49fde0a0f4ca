"""`python -m core ...`: parse arguments, call the core API, print, exit 0 or 2 (`error: ...`).

parser.py says what each command takes; review.py, runs.py, predict.py and serve.py do it (with
common.py and inputs.py, what they share); render.py prints the results."""

from __future__ import annotations

import sys

from core.cli.common import EXIT_ERROR, Interrupted
from core.errors import EmbedtuneError


def main(argv: list[str] | None = None) -> int:
    from core.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except EmbedtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Interrupted as stop:
        print(f"error: {stop}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
