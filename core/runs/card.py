"""The model card written with every export: a README.md in the Hugging Face model-card format
(YAML metadata through huggingface_hub's ModelCardData, then the data, the recipe and settings,
the validation figures against the base model, the export's check figures, and how to load and
call it), as sentence-transformers and SetFit write one."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from core.model.catalogue import CATALOGUE
from core.model.classifier import HEAD_FILE, LABELS_FILE, MODEL_DIR
from core.model.onnx import BodyCheck
from core.model.static import StaticCheck
from core.runs.store import RunRecord
from core.train.metrics import METRIC_TITLES, Evaluation

# The Hugging Face id of each catalogue model (the card's `base_model`).
HUB_IDS = {
    "small": "sentence-transformers/all-MiniLM-L6-v2",
    "large": "sentence-transformers/all-mpnet-base-v2",
}


def _metadata(record: RunRecord, files: str) -> str:
    from huggingface_hub import EvalResult, ModelCardData

    results = []
    for which, evaluation in (("finetuned", record.final), ("base model", record.baseline)):
        if evaluation is None:
            continue
        for name in ("accuracy", "macro_f1"):
            results.append(
                EvalResult(
                    task_type="text-classification",
                    task_name="Text Classification",
                    dataset_type="custom",
                    dataset_name=str(record.data.valid_name or "validation split"),
                    dataset_split="validation",
                    metric_type="accuracy" if name == "accuracy" else "f1",
                    metric_name=f"{METRIC_TITLES.get(name, name)} ({which})",
                    metric_value=round(getattr(evaluation.metrics, name), 4),
                    metric_config=None if name == "accuracy" else "macro",
                )
            )
    base = record.config.base_model
    tags = ["embedtune", "sentence-transformers", "text-classification"]
    tags += ["onnx"] if "onnx" in files else []
    tags += ["openvino"] if "openvino" in files else []
    tags += ["bf16"] if "bf16" in files else []
    tags += ["model2vec", "static-embeddings"] if "static" in files else []
    tags += ["int8"] if "int8" in files else []
    data = ModelCardData(
        base_model=HUB_IDS.get(base, base),
        library_name="sentence-transformers",
        pipeline_tag="text-classification",
        tags=tags,
        labels=[str(label) for label in record.data.classes],
        metrics=["accuracy", "f1"],
        model_name=record.id,
        eval_results=results or None,
    )
    return data.to_yaml()


def _scores(evaluation: Evaluation | None) -> dict[str, float]:
    return evaluation.metrics.scores() if evaluation is not None else {}


def _results(record: RunRecord) -> list[str]:
    base, tuned = _scores(record.baseline), _scores(record.final)
    if not tuned:
        return ["The run stored no evaluation."]
    lines = [
        f"On the validation split ({record.data.valid_rows} rows), the base model "
        "(its body frozen, the same kind of head) against the finetuned model:",
        "",
        "| metric | base model | finetuned | gain |",
        "|---|---:|---:|---:|",
    ]
    for name, value in tuned.items():
        before = base.get(name)
        gain = f"{value - before:+.4f}" if before is not None else ""
        shown = f"{before:.4f}" if before is not None else "-"
        lines.append(f"| {METRIC_TITLES.get(name, name)} | {shown} | {value:.4f} | {gain} |")
    if record.finetune_kept is False:
        lines += ["", "Finetuning did not beat the base model on validation: the body is the base"]
        lines[-1] += " model's, only the head was fitted."
    lines += [
        "",
        "No test figures are stored with a run: score a labelled file you kept out with "
        f"`python -m core evaluate {record.id} TEST.csv`.",
    ]
    return lines


def _checks(checks: Mapping[str, BodyCheck]) -> list[str]:
    if not checks:
        return [
            "This export is the PyTorch model itself (safetensors): nothing was converted, so "
            "there is nothing to check."
        ]
    lines = [
        "Each exported body was checked against the PyTorch body on the run's validation texts "
        "before it was written (an export below the thresholds is refused):",
        "",
        "| file | texts | cosine with PyTorch, min / mean (required) "
        "| same prediction (required) | size |",
        "|---|---:|---:|---:|---:|",
    ]
    for check in checks.values():
        agreement = "-" if check.agreement is None else f"{check.agreement:.1%}"
        file = f"`{MODEL_DIR}/{check.file}`" if check.file else f"`{MODEL_DIR}/` in bf16"
        lines.append(
            f"| {file} | {check.texts} | {check.min_cosine:.4f} / "
            f"{check.mean_cosine:.4f} (>= {check.min_cosine_required}) | {agreement} "
            f"(>= {check.agreement_required:.0%}) | {check.bytes / 1e6:.0f} MB |"
        )
    return lines


def _usage(record: RunRecord, checks: Mapping[str, BodyCheck]) -> list[str]:
    labels = ", ".join(repr(str(c)) for c in record.data.classes[:3])
    lines = ["The folder holds the body (`model/`), the logistic-regression head"]
    lines[-1] += f" (`{HEAD_FILE}`: `coef`, `intercept`) and its labels (`{LABELS_FILE}`)."
    backend = _backend(checks) if checks else ""
    if not checks or backend == "torch-bf16":
        lines += [
            "",
            "With sentence-transformers and NumPy alone"
            + (
                " (this export's check ran the body under `torch.autocast('cpu', "
                "dtype=torch.bfloat16)`, faster on CPUs with bf16 units; plain fp32 works too):"
                if backend
                else ":"
            ),
            "",
            "```python",
            "import json",
            "import numpy as np",
            "from safetensors.numpy import load_file",
            "from sentence_transformers import SentenceTransformer",
            "",
            'body = SentenceTransformer("model")',
            'embeddings = body.encode(["a text to classify"])',
        ]
    elif backend.startswith("openvino"):
        check = next(iter(checks.values()))
        lines += [
            "",
            "With OpenVINO, transformers' tokenizer and NumPy alone (the body outputs token "
            "vectors, mean-pooled and normalised as the model's `1_Pooling` and `2_Normalize` "
            "modules say; OpenVINO runs it in bf16 where the CPU has bf16 units):",
            "",
            "```python",
            "import json",
            "import numpy as np",
            "import openvino as ov",
            "from safetensors.numpy import load_file",
            "from transformers import AutoTokenizer",
            "",
            'tokenizer = AutoTokenizer.from_pretrained("model")',
            f'body = ov.Core().compile_model("model/{check.file}", "CPU")',
            'tokens = tokenizer(["a text to classify"], padding=True, truncation=True, '
            'return_tensors="np")',
            "feeds = {p.get_any_name(): tokens[p.get_any_name()].astype(np.int64) "
            "for p in body.inputs}",
            "hidden = body(feeds)[0]",
            'mask = tokens["attention_mask"][..., None]',
            "pooled = (hidden * mask).sum(1) / mask.sum(1)",
            "embeddings = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)",
        ]
    else:
        check = next(iter(checks.values()))
        lines += [
            "",
            "With ONNX Runtime, transformers' tokenizer and NumPy alone (no PyTorch needed to run "
            "it; the body outputs token vectors, which are mean-pooled and normalised as the "
            "model's `1_Pooling` and `2_Normalize` modules say):",
            "",
            "```python",
            "import json",
            "import numpy as np",
            "import onnxruntime as ort",
            "from safetensors.numpy import load_file",
            "from transformers import AutoTokenizer",
            "",
            'tokenizer = AutoTokenizer.from_pretrained("model")',
            f'session = ort.InferenceSession("model/{check.file}")',
            'tokens = tokenizer(["a text to classify"], padding=True, truncation=True, '
            'return_tensors="np")  # truncated at the model\'s max_seq_length',
            "feeds = {i.name: tokens[i.name].astype(np.int64) for i in session.get_inputs()}",
            "hidden = session.run(None, feeds)[0]",
            'mask = tokens["attention_mask"][..., None]',
            "pooled = (hidden * mask).sum(1) / mask.sum(1)",
            "embeddings = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)",
        ]
    lines += [
        "",
        f'head = load_file("{HEAD_FILE}")',
        f'labels = json.load(open("{LABELS_FILE}"))["labels"]  # e.g. {labels}',
        'scores = embeddings @ head["coef"].T + head["intercept"]',
        "if scores.shape[1] == 1:  # two labels: one logistic score for the second",
        "    scores = np.hstack([-scores, scores]) / 2",
        "probabilities = np.exp(scores - scores.max(1, keepdims=True))",
        "probabilities /= probabilities.sum(1, keepdims=True)",
        "print(labels[int(probabilities[0].argmax())])",
        "```",
        "",
    ]
    if checks and backend.startswith("onnx"):
        check = next(iter(checks.values()))
        lines += [
            "sentence-transformers loads the same folder with "
            f'`SentenceTransformer("model", backend="onnx", model_kwargs={{"file_name": '
            f'"{check.file}"}})` once its ONNX extra (`pip install sentence-transformers[onnx]`, '
            "optimum-onnx) is installed; optimum-onnx 0.1.0 needs transformers < 4.58. The "
            "graph may use ONNX Runtime's fused operators (the `com.microsoft` domain: "
            "`Attention`, `SkipLayerNormalization`, ...), as optimum's optimised exports do: run "
            "it with ONNX Runtime.",
            "",
        ]
    lines += [
        "With Embedtune, put the run back into a runs folder (or serve the original one): "
        f"`python -m core classify {record.id} 'a text'"
        + (f" --backend {_backend(checks)}" if checks else "")
        + f"`, or `python -m core serve{' --backend ' + _backend(checks) if checks else ''}` "
        "and `POST /v1/classify` (the hosted Classify API's shape).",
    ]
    return lines


def _backend(checks: Mapping[str, BodyCheck]) -> str:
    return next(iter(checks), "onnx")


def _settings(record: RunRecord) -> list[str]:
    lines = ["| setting | value |", "|---|---|"]
    for field in dataclasses.fields(record.config):
        value: Any = getattr(record.config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            enabled = [k for k, v in dataclasses.asdict(value).items() if v]
            value = ", ".join(enabled) or "none"
        lines.append(f"| {field.name} | {value} |")
    return lines


def model_card(
    record: RunRecord,
    checks: Mapping[str, BodyCheck] | None = None,
    static: StaticCheck | None = None,
) -> str:
    """The README.md of an export of `record` (`checks`: the exported bodies' check figures;
    none for a PyTorch export; `static`: a static export's check)."""
    if static is not None:
        from core.runs.static_card import static_card

        return static_card(record, static, _metadata(record, "static"))
    checks = dict(checks or {})
    files = " ".join(checks)
    base = record.config.base_model
    base_name = CATALOGUE[base].name if base in CATALOGUE else base
    data = record.data
    counts = data.train_class_counts
    kind = {
        "": "PyTorch (safetensors)",
        "torch-bf16": "PyTorch (safetensors), checked under bf16 autocast",
        "onnx": "ONNX fp32",
        "onnx-int8": "ONNX int8",
        "onnx-int8-static": "ONNX int8, activation scales calibrated on the training texts",
        "openvino": "ONNX fp32, run by OpenVINO",
        "openvino-int8": "OpenVINO int8 (NNCF, calibrated on the training texts)",
    }
    fmt = kind.get(_backend(checks) if checks else "", "ONNX")
    lines = [
        "---",
        _metadata(record, files).rstrip("\n"),
        "---",
        "",
        f"# {record.id}: a text classifier finetuned from {base_name}",
        "",
        f"The sentence-embedding model [{base_name}](https://huggingface.co/"
        f"{HUB_IDS.get(base, base)}) finetuned with Embedtune, with a logistic-regression head "
        "over its normalised "
        f"embeddings. Labels: {', '.join(f'`{c}`' for c in data.classes)}. This "
        f"export's body: {fmt}.",
        "",
        "## Data",
        "",
        f"- training: {data.train_rows} rows from `{data.train_name or '?'}`",
        f"- validation: {data.valid_rows} rows "
        + (
            f"(a stratified {data.split.valid_fraction} split, seed {data.split.seed})"
            if data.split.valid_source == "split"
            else f"from `{data.valid_name or '?'}`"
        ),
        f"- data fingerprint: `{data.fingerprint or '?'}`",
        "",
        "| label | training rows |",
        "|---|---:|",
        *(f"| {label} | {n} |" for label, n in counts.items()),
        "",
        "## Recipe and settings",
        "",
        "Embedtune's recipe: the base model's frozen embeddings and a logistic-regression head "
        "(the baseline), then the body finetuned with sentence-transformers' trainer "
        "(cross-entropy through a head started from the baseline's, early stopping on "
        "validation), then the head fitted again; the "
        "finetuned body is kept only when it beats the baseline on validation.",
        "",
        *_settings(record),
        "",
        f"Trained on {(record.device or {}).get('name', 'an unknown device')}, finished "
        f"{record.finished_at or '?'}.",
        "",
        "## Results",
        "",
        *_results(record),
        "",
        "## Export check",
        "",
        *_checks(checks),
        "",
        "## How to use it",
        "",
        *_usage(record, checks),
        "",
    ]
    return "\n".join(lines)
