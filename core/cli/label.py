"""`core suggest`: the labelling loop from the command line. It writes the next texts to label,
with the model's guess and confidence; labelling that file and passing it back with --train
continues (the file carries the rows labelled before, so one file grows with the session)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.cli.common import EXIT_OK, CliError, open_store, runs_dir_flag, warn, warn_encoding
from core.cli.render import print_json

if TYPE_CHECKING:
    from core.label.loop import Extra
    from core.model.classifier import Embedder

OUT_COLUMNS = ("text", "label", "guess", "confidence")


def cmd_suggest(args: argparse.Namespace) -> int:
    from core.label.loop import EMBEDDINGS_DIR, Extra, embed, join_answers, next_turn
    from core.label.pool import merge_labels, parse_labels, read_pool
    from core.label.session import SESSIONS_DIR, new_session

    if args.n < 1:
        raise CliError(f"--n must be at least 1, not {args.n}")
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".txt"):
        raise CliError(f"--out must be a .csv file (the texts to label), not {out.name!r}")
    warn_encoding(args.pool)
    pool = read_pool(args.pool, text_column=args.text_column, seed=args.seed)
    warn(*pool.notes)
    typed = parse_labels(args.labels) if args.labels else ()
    files = [_read_answers(path) for path in args.train or []]
    used = [label for *_, labels, _ in files for label in labels if label]
    labels = merge_labels(typed, [*used, *pool.given_labels]) if typed or used else ()
    if labels:
        new_session(pool, labels)  # says what is wrong with the labels before a model loads
    embedder, model_key, trained = _load(args)
    if not labels and hasattr(embedder, "classes_"):
        labels = tuple(str(label) for label in embedder.classes_)  # a run: label more for it
    session = new_session(pool, labels, model=args.model, model_key=model_key)
    # A run's training rows teach the head from the first batch (as on the Label page).
    kept = [(t, a) for t, a in zip(trained.texts, trained.labels, strict=True) if a in labels]
    extra_texts: list[str] = [t for t, _ in kept]
    extra_labels: list[str] = [a for _, a in kept]
    carried: list[tuple[str, str]] = []
    for path, texts, answers, rows in files:
        session, extra = join_answers(session, texts, answers, rows, Path(path).name)
        extra_texts += extra.texts
        extra_labels += extra.labels
        carried += [(t, a) for t, a in zip(texts, answers, strict=True) if t.strip() and a]
    carried = list(dict(carried).items())  # a text in several files: once, its last answer

    extra = Extra(tuple(extra_texts), tuple(extra_labels))
    outside = len(extra.texts) - len(kept)  # the files' rows (the run's are said below)
    if outside:
        warn(
            f"{outside} labelled {'text is' if outside == 1 else 'texts are'} "
            "not in the pool: they teach the model too"
        )
    folder = open_store(args).root / SESSIONS_DIR / EMBEDDINGS_DIR
    vectors = embed(session, embedder.embed, folder, extra, progress=_progress())
    turn = next_turn(session, vectors, args.n, extra=extra, strategy=args.strategy)
    _write(out, turn.suggestions, carried)
    if turn.unknown_labels:
        shown = ", ".join(repr(label) for label in turn.unknown_labels)
        warn(
            f"{'label' if len(turn.unknown_labels) == 1 else 'labels'} {shown}: no example yet, "
            "and the name says nothing the model can use: it cannot guess "
            f"{'it' if len(turn.unknown_labels) == 1 else 'them'} until a text is labelled so"
        )
    next_command = _next_command(args, turn.session.labels, out)
    if args.json:
        print_json(
            {
                "out": str(out),
                "suggestions": [
                    {"text": s.text, "guess": s.guess, "confidence": s.confidence}
                    for s in turn.suggestions
                ],
                "labels": list(turn.session.labels),
                "labelled": len(turn.session.labelled),
                "answered": len(turn.session.answers),
                "pool": len(pool),
                "unknown_labels": list(turn.unknown_labels),
                "next": next_command,
            }
        )
        return EXIT_OK
    g = turn.guesses
    learnt = (
        "no guesses yet: no two labels have an example (type labels whose names are words, or "
        "label a few of these texts)"
        if g is None
        else f"the model learnt from {g.labelled} labelled "
        f"{'text' if g.labelled == 1 else 'texts'}"
        + (f" ({len(kept)} of them the run's training rows)" if kept else "")
        + f", {g.names} label "
        f"{'name' if g.names == 1 else 'names'} and the {g.pseudo} pool texts it is surest of"
    )
    print(
        f"Wrote {len(turn.suggestions)} texts to label to {out}"
        + (f", then the {len(carried)} answered before" if carried else "")
        + f" ({len(turn.session.labelled)} of {len(pool)} pool texts labelled; {learnt})."
    )
    print(
        "Fill its 'label' column (a label, 'skip' or 'none of these'; leave it empty to be asked "
        f"again), then: {next_command}"
    )
    return EXIT_OK


def _read_answers(path: str) -> tuple[str, list[str], list[str], list[int]]:
    """A labelled file's texts, answers (empty where not answered yet) and row numbers."""
    from core.downloads import FORMULA_STARTS
    from core.label.pool import read_rows

    warn_encoding(path)
    found = read_rows(path)
    warn(*found.notes)
    # The file this command wrote: a text a spreadsheet would run as a formula got an apostrophe.
    texts = [
        t[1:] if t.startswith("'") and t[1:].startswith(FORMULA_STARTS) else t for t in found.texts
    ]
    return path, texts, list(found.labels), list(found.rows)


def _load(args: argparse.Namespace) -> tuple[Embedder, str, Extra]:
    """The model that embeds the pool, the name of its weights for the embeddings cache, and
    (a run) the rows it was trained on (core.label.models)."""
    from core.errors import EmbedtuneError
    from core.label.models import base_model, run_model
    from core.runs.resolve import load, resolve

    store = open_store(args)
    ref = resolve(args.model, store)
    if ref.source == "base":
        chosen = base_model(ref.name)
    else:
        record = store.get(ref.name)
        try:
            train = store.load_dataset(ref.name).train
        except EmbedtuneError:
            train = None
        chosen = run_model(
            ref.name, ref.finished_at, record.data.classes, record.data.multi_label, train
        )
    return load(ref), chosen.key, chosen.rows


def _progress():
    """A progress line on stderr while the pool is embedded (none when it was kept)."""
    last = [0.0]

    def report(done: int, total: int, seconds: float) -> None:
        if seconds == 0.0 and done == total:
            return  # read from the cache
        now = time.monotonic()
        if done < total and now - last[0] < 2.0:
            return
        last[0] = now
        left = seconds / done * (total - done) if done else 0.0
        tail = f", about {left:.0f} s left" if done < total else f" in {seconds:.0f} s"
        print(f"Embedding the pool: {done:,} of {total:,} texts{tail}", file=sys.stderr)

    return report


def _write(out: Path, suggestions, carried: list[tuple[str, str]]) -> None:
    from core.downloads import csv_bytes
    from core.errors import DataError
    from core.io import atomic_write_bytes

    rows = [
        (s.text, "", s.guess, "" if s.confidence is None else f"{s.confidence:.3f}")
        for s in suggestions
    ]
    rows += [(text, answer, "", "") for text, answer in carried]
    try:
        atomic_write_bytes(out, csv_bytes(OUT_COLUMNS, rows))
    except OSError as exc:
        raise DataError(f"cannot write {out}: {exc.strerror or exc}") from exc


def _next_command(args: argparse.Namespace, labels, out: Path) -> str:
    import shlex

    following = out.with_name(f"{out.stem}-next{out.suffix}")
    return (
        f"python -m core suggest {shlex.quote(args.model)} {shlex.quote(args.pool)} "
        f"--n {args.n} --labels {shlex.quote(','.join(labels))} --train {shlex.quote(str(out))} "
        f"--out {shlex.quote(str(following))}{runs_dir_flag(args)}"
    )
