"""The commands that use a model on texts: evaluate a run on a test file, classify, embed (one
call, or streamed over a file with --out)."""

from __future__ import annotations

import argparse
import csv
import sys

from core.cli.common import EXIT_OK, CliError, open_store, warn_encoding
from core.cli.inputs import read_labeled, read_texts
from core.cli.render import format_comparison, metrics_json, print_json


def chosen_backend(args: argparse.Namespace) -> str:
    """The backend a command runs on: --backend, else the default for this CPU (the fastest
    that kept every benchmark set's F1, where the CPU supports it; core.model.onnx)."""
    from core.model.onnx import default_backend

    return args.backend or default_backend()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.runs.evaluate import evaluate_run, kept_result
    from core.train.metrics import FEW_EXAMPLES, describe_unseen, unseen_labels
    from core.train.outcome import judge
    from core.train.task import gain_intervals as task_gain_intervals

    store = open_store(args)
    record = store.get(args.run)
    # A multi-label run reads its test file as multi-label (label lists or joined cells).
    multi = record.data.multi_label
    test = read_labeled(args.test, args, multi=multi, infer_header=True)
    backend = chosen_backend(args)
    kept = kept_result(store, args.run, test, args.unseen, backend)
    reused = kept is not None
    result = (
        kept
        if kept is not None
        else evaluate_run(store, args.run, test, unseen=args.unseen, backend=backend, reuse=False)
    )
    if reused:
        when = result.evaluated_at[:16].replace("T", " ")
        print(
            f"Reused the evaluation of these rows kept on {when} UTC: a completed run scores the "
            f"same rows the same way on the same backend ({backend}).",
            file=sys.stderr,
        )
    final, baseline = result.final, result.baseline
    known = [label for label in final.labels if label not in final.unseen_labels]
    unseen = unseen_labels(test, known)
    gains = final.metrics.gain_over(baseline.metrics)
    gain_intervals = task_gain_intervals(final, baseline)
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
                "backend": result.backend,
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
    print(
        f"finetuned scored on the {result.backend} backend; base model on torch (PyTorch, the "
        "reference each backend's body is checked against)"
    )
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
    """A warning for a --file not in UTF-8; then, with --out, stream the --file through
    core.batch.job (chunks, resumable, --engine ray)."""
    warn_encoding(args.file)
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
        store=open_store(args),
        engine=args.engine,
        chunk_rows=args.chunk_rows or CHUNK_ROWS,
        workers=args.workers,
        backend=chosen_backend(args),
    )
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.describe(), file=sys.stderr)
    return EXIT_OK


def cmd_classify(args: argparse.Namespace) -> int:
    batched = _batch(args, "classify", args.run)
    if batched is not None:
        return batched
    from core.runs.resolve import load_run

    classifier = load_run(args.run, open_store(args), backend=chosen_backend(args))
    results = classifier.classify(read_texts(args))
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
    return EXIT_OK


def cmd_embed(args: argparse.Namespace) -> int:
    batched = _batch(args, "embed", args.model)
    if batched is not None:
        return batched
    from core.runs.resolve import load, resolve

    texts = read_texts(args)
    embedder = load(resolve(args.model, open_store(args)), backend=chosen_backend(args))
    vectors = embedder.embed(texts)
    if args.json:
        print_json({"texts": texts, "embeddings": vectors.tolist()})
    else:
        writer = csv.writer(sys.stdout)
        for text, vector in zip(texts, vectors, strict=True):
            writer.writerow([text, *(f"{v:.6f}" for v in vector)])
    return EXIT_OK
