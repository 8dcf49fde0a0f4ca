"""The model card of a static export: what it is (a model2vec model distilled from the run's
body, with the head refitted on it), its price in accuracy against the run, measured on the run's
validation texts, and how to load it."""

from __future__ import annotations

from core.model.classifier import HEAD_FILE, LABELS_FILE
from core.model.static import STATIC_DIR, StaticCheck
from core.runs.store import RunRecord


def static_card(record: RunRecord, check: StaticCheck, metadata: str) -> str:
    """The README.md of a static export of `record`."""
    drop = (check.macro_f1_torch - check.macro_f1) * 100
    labels = ", ".join(f"`{c}`" for c in record.data.classes)
    lines = [
        "---",
        metadata.rstrip("\n"),
        "---",
        "",
        f"# {record.id} (static): a fast, less accurate copy of a finetuned text classifier",
        "",
        "**Faster and less accurate than the run it comes from.** This is not the finetuned "
        "transformer: it is a static-embedding model distilled from it with model2vec (every "
        "vocabulary token embedded once by the finetuned body, reduced by PCA), so a text's "
        "embedding is the average of its tokens' vectors — no transformer runs, which is why it "
        "is one to two orders of magnitude faster on a CPU — and the run's logistic-regression "
        f"head was fitted again on its embeddings of the run's training rows. Labels: {labels}.",
        "",
        "## Its price, measured on the run's validation texts",
        "",
        "| | macro-F1 |",
        "|---|---:|",
        f"| the run (finetuned transformer) | {check.macro_f1_torch:.4f} |",
        f"| this static model | {check.macro_f1:.4f} |",
        f"| difference | {-drop:+.2f} points |",
        "",
        f"On {check.texts} validation texts the two predict the same label(s) for "
        f"{check.agreement:.1%} of them. An export is refused when the static model's "
        f"validation macro-F1 is more than {check.max_drop * 100:.0f} points below the run's. "
        f"Distilled and refitted in {check.seconds:.0f} s; {check.dims} dimensions, a "
        f"vocabulary of {check.vocabulary} tokens, {check.bytes / 1e6:.0f} MB of weights.",
        "",
        "Use it where throughput matters more than the last points (bulk jobs over millions of "
        "texts, a first pass before the full model); use the run itself where they matter.",
        "",
        "## How to use it",
        "",
        f"`{STATIC_DIR}/` holds the static model (`model.safetensors`, `tokenizer.json`, "
        f"model2vec's format), its head (`{STATIC_DIR}/{HEAD_FILE}`: `coef`, `intercept`) and "
        f"its labels (`{STATIC_DIR}/{LABELS_FILE}`). With model2vec and NumPy:",
        "",
        "```python",
        "import json",
        "import numpy as np",
        "from model2vec import StaticModel",
        "from safetensors.numpy import load_file",
        "",
        f'model = StaticModel.from_pretrained("{STATIC_DIR}")',
        'embeddings = model.encode(["a text to classify"])',
        "embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)",
        f'head = load_file("{STATIC_DIR}/{HEAD_FILE}")',
        f'labels = json.load(open("{STATIC_DIR}/{LABELS_FILE}"))["labels"]',
        'scores = embeddings @ head["coef"].T + head["intercept"]',
        "if scores.shape[1] == 1:  # two labels: one logistic score for the second",
        "    scores = np.hstack([-scores, scores]) / 2",
        "print(labels[int(scores[0].argmax())])",
        "```",
        "",
        "Embedtune itself averages the same token vectors with sentence-transformers' "
        "`StaticEmbedding` (model2vec is needed only to distil): put the run back into a runs "
        f"folder and `python -m core classify {record.id} 'a text' --backend static`, or "
        "`python -m core batch ... --backend static` for bulk jobs.",
        "",
    ]
    return "\n".join(lines)
