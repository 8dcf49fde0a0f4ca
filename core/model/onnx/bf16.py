"""The torch-bf16 backend: the PyTorch body as it is, its forward passes under PyTorch's CPU
bfloat16 autocast (weights stay fp32; matrix products run in bf16 on CPUs with AVX512-BF16 or
AMX units, which `core.model.catalogue.cpu_supports_bf16` detects; elsewhere it would be slower,
so it is refused there)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@functools.cache
def _body_class() -> type:
    """Bf16Body, defined on first use (torch is imported lazily: it takes seconds)."""
    import torch

    class Bf16Body(torch.nn.Module):
        """A transformer whose forward runs under CPU bf16 autocast; `last_hidden_state` comes
        back in fp32, so pooling, normalisation and the head stay fp32."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.inner = model
            self.config = model.config

        @property
        def device(self) -> Any:
            return self.inner.device

        def forward(self, *args: Any, **features: Any) -> Any:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                output = self.inner(*args, **features)
            output["last_hidden_state"] = output["last_hidden_state"].float()
            return output

    return Bf16Body


def load_bf16(folder: Path | str) -> SentenceTransformer:
    """The SentenceTransformer in `folder` on the CPU, its transformer under bf16 autocast."""
    from core.model.catalogue import load_model

    model = load_model(str(folder), device="cpu")
    return bf16_view(model)


def bf16_view(model: SentenceTransformer) -> SentenceTransformer:
    """`model` itself, its transformer wrapped to run under bf16 autocast (a CPU model)."""
    transformer: Any = model[0]
    if type(transformer.model).__name__ != "Bf16Body":
        transformer.model = _body_class()(transformer.model)
    return model


def bf16_module(model: Any) -> Any:
    """A Hugging Face transformer whose forward runs under bf16 autocast (its other methods, and
    whatever runs after the forward, stay as they are; `last_hidden_state` comes back fp32)."""
    import torch

    inner = model.forward

    @functools.wraps(inner)
    def forward(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output = inner(*args, **kwargs)
        output["last_hidden_state"] = output["last_hidden_state"].float()
        return output

    model.forward = forward
    return model
