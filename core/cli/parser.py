"""The argument parser of `python -m core`: every command, its arguments and their help."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from core.cli.label import cmd_suggest
from core.cli.predict import cmd_classify, cmd_embed, cmd_evaluate
from core.cli.review import cmd_review
from core.cli.runs import cmd_cancel, cmd_rename, cmd_runs, cmd_status, cmd_train
from core.cli.serve import cmd_export, cmd_models, cmd_serve


def build_parser() -> argparse.ArgumentParser:
    from core.config import TrainConfig
    from core.label.strategy import DEFAULT_STRATEGY, STRATEGIES
    from core.quality.review import DROP_KINDS
    from core.train.metrics import UNSEEN_CHOICES

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

    def file_args(p: argparse.ArgumentParser, labels: bool = True) -> None:
        """Which sheet and columns of a file to read (the labels' only for labelled files)."""
        p.add_argument("--sheet", help="the sheet of an .xlsx file to read (default: the first)")
        p.add_argument(
            "--text-column",
            help="the column (name or number) or JSON field holding the texts (default: 'text', "
            "or the first of two)",
        )
        if not labels:
            return
        p.add_argument(
            "--label-column",
            help="the column or JSON field holding the labels (default: 'label', or the second "
            "of two)",
        )
        p.add_argument(
            "--multi-label",
            action="store_true",
            help="a text can carry several labels: a JSON list, or one cell joined by "
            "--separator (a label column of JSON lists is read so without it)",
        )
        p.add_argument(
            "--separator",
            default="|",
            help="with --multi-label: what joins the labels in one cell (default |; quote a "
            'label that contains it: "a|b"|c)',
        )

    def backend_arg(p: argparse.ArgumentParser) -> None:
        from core.model.onnx import BACKENDS

        p.add_argument(
            "--backend",
            choices=BACKENDS,
            default=None,
            help="what runs the model: torch (PyTorch fp32), torch-bf16 (PyTorch bf16 autocast, "
            "CPUs with bf16 units), onnx / onnx-int8 (ONNX Runtime fp32, int8), openvino / "
            "openvino-int8 (OpenVINO in bf16 where the CPU has it, NNCF int8), static (a model2vec "
            "model distilled from the run: far faster, much less accurate). A run's body is made "
            "and checked on first use. Default: EMBEDTUNE_BACKEND, else openvino (or torch-bf16 "
            "without OpenVINO) on CPUs with bf16 units, else torch (docs/SERVING.md)",
        )

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "train",
            help="training file: CSV/TSV (text,label per row, no header by default), .xlsx, "
            ".jsonl / .json records or .parquet",
        )
        p.add_argument(
            "--valid",
            help="validation file, read like the training file (default: a stratified 20%% split)",
        )
        p.add_argument("--header", action="store_true", help="the first row is a header")
        file_args(p)
        p.add_argument(
            "--model",
            default="small",
            help="base model: small, large or a model folder (default: small)",
        )
        p.add_argument("--clean", action="store_true", help="strip URLs, HTML, stray symbols")

    def valid_fraction_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--valid-fraction",
            type=float,
            default=0.2,
            metavar="F",
            help="share of the rows held out for validation, stratified by label, when there is "
            "no --valid file; --seed chooses which rows (default: 0.2)",
        )

    p = add("review", cmd_review, "review a data set before finetuning")
    data_args(p)
    valid_fraction_arg(p)
    p.add_argument(
        "--seed",
        type=int,
        default=TrainConfig.seed,
        metavar="N",
        help="the seed of the run you will train: with a multi-label file it chooses which rows "
        f"the split holds out, so the review shows that run's split (default: {TrainConfig.seed})",
    )
    p.add_argument(
        "--label-issues",
        action="store_true",
        help="also flag likely wrong labels and near-duplicate texts (embeds the training texts)",
    )

    p = add("train", cmd_train, "finetune a base model on a data set (blocks; progress on stderr)")
    data_args(p)
    train_settings(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="train again even when a completed run has the same data and settings",
    )
    p.add_argument(
        "--name",
        default="",
        help="a name for the run (plain text, up to 60 characters): shown beside its id; "
        "the id stays the hash of the data and settings",
    )
    p.add_argument(
        "--detach",
        action="store_true",
        help="start the run and return: it trains in the background (follow it with "
        "`python -m core status RUN --follow`)",
    )
    p.add_argument(
        "--drop",
        action="append",
        choices=sorted(DROP_KINDS),
        help="drop the rows the review flags of this kind (repeatable)",
    )
    valid_fraction_arg(p)

    add("runs", cmd_runs, "list runs")
    p = add("status", cmd_status, "show a run")
    p.add_argument("run")
    p.add_argument(
        "--follow",
        action="store_true",
        help="show its progress until it ends (Ctrl-C stops following)",
    )
    p = add("rename", cmd_rename, "name a run (its id stays); an empty name clears it")
    p.add_argument("run")
    p.add_argument("name")
    p = add("cancel", cmd_cancel, "stop a queued or running run")
    p.add_argument("run")
    p = add(
        "evaluate",
        cmd_evaluate,
        "score a completed run beside its base model on a labelled test file (kept with the run)",
    )
    p.add_argument("run")
    p.add_argument("test")
    p.add_argument(
        "--header",
        action="store_true",
        help="the first row names the columns (without it, a first row that looks like column "
        "names is read as the header, and said so)",
    )
    p.add_argument(
        "--unseen",
        choices=UNSEEN_CHOICES,
        default="count",
        help="rows of labels the run never learnt: count them as errors (default) or skip them",
    )
    file_args(p)
    backend_arg(p)
    for name, handler, help in (
        ("classify", cmd_classify, "classify texts with a completed run"),
        ("embed", cmd_embed, "embed texts with a completed run or a base model"),
    ):
        p = add(name, handler, help)
        p.add_argument("run" if name == "classify" else "model")
        p.add_argument("texts", nargs="*")
        p.add_argument(
            "--file",
            help="a file of texts: CSV (the first column), .xlsx (the first sheet), .jsonl / "
            ".json or .parquet (the 'text' column); --out streams CSV only",
        )
        file_args(p, labels=False)
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
        backend_arg(p)
    p = add(
        "export",
        cmd_export,
        "copy a completed run's model, head and labels to a folder, with a model card",
    )
    p.add_argument("run")
    p.add_argument("dest")
    p.add_argument(
        "--format",
        choices=[
            "torch",
            "torch-bf16",
            "onnx",
            "openvino",
            "static",
            "onnx-int8",
            "openvino-int8",
        ],
        default="torch",
        help="the body as PyTorch safetensors (default; torch-bf16: the same, checked under bf16 "
        "autocast), ONNX, OpenVINO, or static (a model2vec model distilled from the body with "
        "its head refitted: far faster, less accurate; its card says by how much); every body "
        "but PyTorch's is checked against it on the run's validation texts",
    )
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="with --format onnx: int8 weights (dynamic activation scales); with --format "
        "openvino: NNCF's int8, calibrated on the run's training texts",
    )
    p.add_argument(
        "--max-f1-drop",
        type=float,
        help="with --format static: accept a static model whose validation macro-F1 is up to "
        "this much below the run's (default 0.15; e.g. 0.35 for 35 points)",
    )
    p = add(
        "suggest",
        cmd_suggest,
        "the next texts of a pool to label, with the model's guess and confidence: label the "
        "file written and pass it back with --train to continue",
    )
    p.add_argument("model", help="the base model (small, large) or a completed run that embeds")
    p.add_argument("pool", help="the texts to label: any file the readers take (a text column)")
    p.add_argument("--n", type=int, default=20, help="texts to suggest (default 20)")
    p.add_argument(
        "--labels",
        help="the labels, comma-separated (e.g. billing,delivery,other); names that are words "
        "let the model guess before anything is labelled (default: those of --train and of the "
        "pool's label column, or a run's own)",
    )
    p.add_argument(
        "--train",
        action="append",
        help="a labelled file (text, label; the file this command wrote, with its label column "
        "filled): its answers teach the model and are not asked again (repeatable)",
    )
    p.add_argument(
        "--out", required=True, help="the .csv file to write (text,label,guess,confidence)"
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=DEFAULT_STRATEGY,
        help=f"how to choose (default {DEFAULT_STRATEGY}; random is the benchmark's baseline)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="the sample of a pool over 10,000 texts (default 0)"
    )
    p.add_argument("--text-column", help="the column (name or number) of the texts")
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
    backend_arg(p)
    p.add_argument(
        "--backends",
        default="",
        help="comma-separated backends a request may choose besides --backend (its `backend` "
        "field); each one's packages are checked at start",
    )
    return parser


# TrainConfig fields with a flag other than --field-name (the first flag is the one --help shows).
FLAGS = {
    "base_model": None,  # --model, with the data arguments (review takes it too)
    "cleaning": None,  # --clean, with the data arguments
    "early_stopping_patience": ("--patience",),
    "head_learning_rate": ("--head-lr",),
    "balanced_weights": ("--balanced",),
}


def train_settings(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig setting, its help and default from the field (no drift)."""
    import dataclasses
    import typing

    from core.config import TrainConfig

    group = p.add_argument_group("training settings (TrainConfig)")
    hints = typing.get_type_hints(TrainConfig)
    defaults = TrainConfig()
    choices = {"device": ("cpu", "cuda", "mps")}
    for field in dataclasses.fields(TrainConfig):
        flags = FLAGS.get(field.name, (f"--{field.name.replace('_', '-')}",))
        if flags is None:
            continue
        default = getattr(defaults, field.name)
        shown = "auto" if default is None else default
        text = f"{field.metadata.get('help', '')} (default: {shown})".replace("%", "%%")
        kind = hints[field.name]
        if kind is bool:
            group.add_argument(
                *flags, dest=field.name, action=argparse.BooleanOptionalAction, help=text
            )
            continue
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        group.add_argument(
            *flags,
            dest=field.name,
            type=base,
            choices=choices.get(field.name),
            metavar=None if field.name in choices else ("N" if base is int else "VALUE"),
            help=text,
        )
