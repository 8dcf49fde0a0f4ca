"""Exporting a SentenceTransformer's transformer to ONNX (fp32): PyTorch's own exporter
(`torch.onnx.export`), as it is or fused by ONNX Runtime's transformer optimizer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# The ways an fp32 body is made, tried in this order (core.model.onnx.check.RECIPES): the graph
# ONNX Runtime's transformer optimizer fuses (`export_fused`), else PyTorch's dynamo export.
FP32_RECIPES = ("fused", "torch.onnx")
OPSET = 18


def export_fp32(model: SentenceTransformer, dest: Path, recipe: str = "torch.onnx") -> None:
    """The transformer of `model` as ONNX (inputs as its tokenizer names them, dynamic batch
    and sequence axes, output `last_hidden_state`), made the way `recipe` says (FP32_RECIPES)."""
    import torch

    first: Any = model[0]
    transformer = first.auto_model.eval()
    sample = model.tokenizer(
        ["an example text to trace", "and a second, longer one to trace the model with"],
        padding=True,
        return_tensors="pt",
    )
    # The forward's order; a tokenizer without token types (MPNet) gives the first two only.
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise ModelError(f"cannot export a model whose tokenizer gives {sorted(sample)}")

    class Body(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            given = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                given["token_type_ids"] = token_type_ids
            return self.transformer(**given, return_dict=True).last_hidden_state

    inputs = tuple(sample[n] for n in names)
    if recipe == "fused":
        export_fused(Body().eval(), transformer, inputs, names, dest)
        return
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with torch.no_grad():
        torch.onnx.export(
            Body().eval(),
            inputs,
            str(dest),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_shapes=({0: batch, 1: seq},) * len(names),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def export_fused(body: Any, transformer: Any, inputs: tuple, names: list[str], dest: Path) -> None:
    """The body traced with eager attention (TorchScript exporter), then fused by ONNX
    Runtime's transformer optimizer as optimum's ORTOptimizer does it: each layer's attention
    becomes one `Attention` node, the GELUs `BiasGelu`, the residual layer norms
    `SkipLayerNormalization` (MiniLM: 46 nodes instead of about 330). What it cannot match
    stays as traced. Measured (docs/BENCHMARKS.md, "Backends"): the same vectors as the
    PyTorch model, and faster int8 bodies, since the fused `Attention` is quantised too."""
    import torch
    from onnxruntime.transformers import optimizer

    before = transformer.config._attn_implementation
    traced = dest.with_name(dest.name + ".traced")
    try:
        transformer.set_attn_implementation("eager")  # the pattern the optimizer fuses
        axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
        with torch.no_grad():
            torch.onnx.export(
                body,
                inputs,
                str(traced),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,  # the TorchScript exporter's newest
                dynamo=False,
            )
        config = transformer.config
        fused = optimizer.optimize_model(
            str(traced),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
        )
        fused.save_model_to_file(str(dest))
    finally:
        transformer.set_attn_implementation(before)
        traced.unlink(missing_ok=True)


def quiet(fn: Any, *args: Any) -> None:
    """Run an exporter with its progress lines (printed on stdout) and warnings held back."""
    import contextlib
    import io
    import logging
    import warnings

    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        loggers = [logging.root, logging.getLogger("torch"), logging.getLogger("onnxscript")]
        previous = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            fn(*args)
        finally:
            for logger, level in zip(loggers, previous, strict=True):
                logger.setLevel(level)
