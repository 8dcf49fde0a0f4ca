"""What every command shares: exit codes, the usage error, the runs folder, warnings on stderr
and Ctrl-C / SIGTERM while a command waits."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from core.errors import EmbedtuneError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2  # and 128 + the signal after Ctrl-C / SIGTERM


class CliError(EmbedtuneError):
    """A command-line usage problem (missing texts, bad option value)."""


def open_store(args: argparse.Namespace) -> Any:
    """The runs folder the command's --runs-dir names (else the default)."""
    from core.runs.store import RunStore

    return RunStore(args.runs_dir)


def runs_dir_flag(args: argparse.Namespace) -> str:
    """` --runs-dir DIR` where the command was given one, for the commands it suggests."""
    return f" --runs-dir {args.runs_dir}" if args.runs_dir else ""


def warn(*notes: str | None) -> None:
    """`warning: ...` on stderr for each thing the user should know about a file read."""
    for note in notes:
        if note:
            print(f"warning: {note}", file=sys.stderr)


def warn_encoding(path: str | None) -> None:
    """A warning for a file read in an encoding other than UTF-8."""
    from core.io import encoding_warning

    warn(encoding_warning(path) if path else None)


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM while the command waits: exit 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
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
