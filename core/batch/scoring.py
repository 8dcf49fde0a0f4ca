"""Scoring a batch job's chunk: texts in, the output rows out (a pyarrow table), the same in
this process and inside each Ray actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from core.runs.resolve import ModelRef

if TYPE_CHECKING:
    import pyarrow as pa

    from core.model.classifier import Classifier


class Scorer:
    """Turns a list of texts into the output rows of one chunk (a pyarrow table). The same code
    runs in-process and inside each Ray actor, so both engines write the same values."""

    def __init__(
        self, kind: str, ref: ModelRef, device: str | None = None, backend: str = "torch"
    ) -> None:
        from core.runs.resolve import load

        self.kind, self.ref = kind, ref
        self.model = load(ref, device, backend)

    def __call__(self, texts: list[str]) -> pa.Table:
        import numpy as np
        import pyarrow as pa

        if self.kind == "embed":
            vectors = np.ascontiguousarray(self.model.embed(texts), dtype=np.float32)
            dim = vectors.shape[1]
            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            return pa.table(
                {
                    "input": pa.array(texts, type=pa.string()),
                    "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
                }
            )
        classifier = cast("Classifier", self.model)  # a run: resolved with classify=True
        results = classifier.classify(texts)
        columns: dict[str, Any] = {"input": pa.array(texts, type=pa.string())}
        if classifier.multi_label:
            from core.data.multilabel import join_labels

            # One cell of every chosen label ("a|b", as a multi-label file gives them), then
            # each label's own confidence below.
            columns["predictions"] = pa.array(
                [join_labels(r.get("predictions", [])) for r in results], type=pa.string()
            )
        else:
            columns["prediction"] = pa.array([r["prediction"] for r in results], type=pa.string())
            columns["confidence"] = pa.array([r["confidence"] for r in results], type=pa.float64())
        for label in classifier.classes_:
            columns[f"confidence_{label}"] = pa.array(
                [r["labels"][str(label)] for r in results], type=pa.float64()
            )
        return pa.table(columns)
