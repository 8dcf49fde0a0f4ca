"""The commands that hand models out: list the base models, export a run, serve runs over
HTTP."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import EXIT_OK, open_store
from core.cli.predict import chosen_backend
from core.cli.render import print_json


def cmd_export(args: argparse.Namespace) -> int:
    from core.model.classifier import MODEL_DIR
    from core.model.static import STATIC_DIR, StaticCheck
    from core.runs.export import CARD_FILE, export_backend, export_run

    export_backend(args.format, args.quantize)  # wrong options fail before any work
    dest, check = export_run(
        args.run, args.dest, open_store(args), args.format, args.quantize, args.max_f1_drop
    )
    if args.json:
        print_json(
            {"run_id": args.run, "dest": str(dest), "check": check.to_dict() if check else None}
        )
        return EXIT_OK
    print(f"exported run {args.run} to {dest} (model card: {dest / CARD_FILE})")
    if check is None:
        print(f"load the body alone with SentenceTransformer('{dest / MODEL_DIR}')")
    elif isinstance(check, StaticCheck):
        print(f"checked: {check.describe()}")
        print(
            f"the static model: {dest / STATIC_DIR} (faster and less accurate than the run; "
            "README.md says by how much and how to run it)"
        )
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
    store = open_store(args)
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
        backend=chosen_backend(args),
        backends=tuple(b.strip() for b in args.backends.split(",") if b.strip()),
    )
    return EXIT_OK
