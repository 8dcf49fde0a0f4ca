"""A base model on a backend other than torch: its body exported once into the cache folder and
checked on sample texts (a base model has no validation split)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.model.onnx.check import ensure_body, load_body
from core.model.onnx.runtime import require_backend

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Texts a base model's exported body is checked on (a base model has no validation split):
# short and long, several languages and registers, digits and symbols.
SAMPLE_TEXTS = (
    "I love how fast this works!",
    "Total waste of money, it broke after a day.",
    "What time does the pharmacy on Main Street open on Sundays?",
    "Transfer 250 dollars from my savings to my checking account",
    "The match was postponed because of heavy rain in the second half.",
    "A spicy curry with rice and a cold beer",
    "The laptop overheats whenever I open more than three browser tabs",
    "Das Essen war kalt und der Kellner unfreundlich.",
    "Le film était long mais magnifique.",
    "ok",
    "Error 404: page not found (see https://example.com/help)",
    "Can you remind me to call mom at 6pm tomorrow?",
    "The quarterly report shows revenue up 12% year over year, driven by subscriptions, while "
    "costs rose only 3%; the board expects the trend to continue into the next fiscal year.",
    "i am feeling really anxious about the exam next week and cannot sleep",
    "Free entry in a weekly competition to win cup final tickets, text WIN to 80086 now!",
    "The plot was predictable but the acting saved it.",
)


def base_body(model: str, backend: str) -> SentenceTransformer:
    """A base model (key or folder) on an ONNX backend: its body exported once into the cache
    folder (`EMBEDTUNE_CACHE_DIR`), checked on SAMPLE_TEXTS."""
    import hashlib

    from core.model.catalogue import cache_dir, model_path

    folder = model_path(model)
    require_backend(backend)
    where = hashlib.sha256(folder.resolve().as_posix().encode()).hexdigest()[:12]
    onnx_dir = cache_dir() / "onnx" / f"{folder.name}-{where}"
    ensure_body(folder, backend, SAMPLE_TEXTS, onnx_dir=onnx_dir)
    return load_body(folder, backend, onnx_dir)
