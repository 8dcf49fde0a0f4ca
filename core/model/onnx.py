"""Inference backends: a body exported to ONNX (fp32) or quantised to int8, run by ONNX Runtime
inside the same SentenceTransformer pipeline (tokenizer, pooling, normalisation), and the check
that an exported body answers as the PyTorch one does.

Why not sentence-transformers' own `backend="onnx"`: it loads through optimum-onnx, whose
releases (0.1.0) require transformers < 4.58 and fail to import under the transformers 5 this
project uses. So the body is exported with PyTorch's own exporter (`torch.onnx.export`),
quantised with ONNX Runtime's `quantize_dynamic` (what optimum's `ORTQuantizer` calls), and run by
`OnnxBody`, which takes the place of the transformer inside the SentenceTransformer as optimum's
`ORTModelForFeatureExtraction` does. The files sit where sentence-transformers looks for them
(`onnx/model.onnx` in the model folder)."""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelError
from core.records import Record

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from core.model.heads import Head

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "torch"  # until docs/BENCHMARKS.md "Backends" shows another is better here
ONNX_DIR = "onnx"  # inside a model folder, where sentence-transformers looks for ONNX files
FILES = {"onnx": "model.onnx", "onnx-int8": "model_qint8.onnx"}
CHECKS_FILE = "checks.json"  # beside the ONNX files: each body's check figures
INSTALL = "pip install -r requirements-onnx.txt"

# The check: every validation text's exported embedding against the PyTorch one (cosine), and the
# share of texts whose predicted label stays the same. fp32 differs from PyTorch only in the order
# of float additions (measured cosine > 0.9999); int8 loses more (measured 0.98-0.99 per text).
MIN_COSINE = {"onnx": 0.99, "onnx-int8": 0.95}
MIN_AGREEMENT = {"onnx": 0.98, "onnx-int8": 0.98}
# How each backend's body is made now, tried in order until one passes the check; a kept body
# made another way is exported again. fp32: the graph ONNX Runtime's transformer optimizer fuses
# (`_export_fused`), else PyTorch's dynamo export as it is. int8 (quantised from the fp32 body
# kept) keeps the feed-forward down-projections in fp32, or, when that still answers too
# differently (MPNet: min cosine 0.947), both feed-forward products.
RECIPES = {
    "onnx": ("fused", "torch.onnx"),
    "onnx-int8": ("int8-fp32-down-projections", "int8-fp32-feed-forward"),
}
CHECK_TEXTS = 512  # validation texts checked at most (a few seconds on 2 CPU cores)
OPSET = 18


class OnnxUnavailable(ModelError):
    """The optional ONNX packages are not installed."""


class ExportRefused(ModelError):
    """An exported body answers differently from the PyTorch one: nothing was written."""


def check_backend(backend: str) -> str:
    """`backend` when it is one Embedtune knows, else a ModelError naming the choices."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")
    return backend


def require_onnx() -> None:
    """Raise OnnxUnavailable (with the pip command) unless ONNX, its exporter and ONNX Runtime
    are importable."""
    missing = []
    for module in ("onnxruntime", "onnx", "onnxscript"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise OnnxUnavailable(
            f"the ONNX backends need {', '.join(missing)}, which is not installed: run "
            f"`{INSTALL}` (the torch backend works without it)"
        )


def onnx_available() -> bool:
    """Whether the ONNX backends can be used here."""
    try:
        require_onnx()
    except OnnxUnavailable:
        return False
    return True


@dataclass(frozen=True)
class BodyCheck(Record):
    """How an exported body compares with the PyTorch one on the same texts."""

    backend: str
    texts: int
    min_cosine: float
    mean_cosine: float
    agreement: float | None  # share of texts with the same predicted label (None: no head)
    min_cosine_required: float
    agreement_required: float
    passed: bool
    file: str = ""
    bytes: int = 0
    recipe: str = ""  # how the body was made (RECIPES); an older recipe's body is made again

    def describe(self) -> str:
        agreement = (
            f", predictions agree on {self.agreement:.1%} (at least {self.agreement_required:.0%})"
            if self.agreement is not None
            else ""
        )
        return (
            f"{self.backend} on {self.texts} texts: cosine with PyTorch min {self.min_cosine:.4f} "
            f"(at least {self.min_cosine_required}), mean {self.mean_cosine:.4f}{agreement}"
        )


def compare(
    backend: str, reference: np.ndarray, candidate: np.ndarray, head: Head | None = None
) -> BodyCheck:
    """The check figures of `candidate` embeddings against the PyTorch `reference` ones."""
    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(candidate, dtype=np.float64)
    if ref.shape != got.shape or not len(ref):
        raise ModelError(f"cannot compare embeddings of shapes {ref.shape} and {got.shape}")
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cosine = (ref * got).sum(axis=1) / np.maximum(norms, 1e-12)
    cosine = np.nan_to_num(cosine, nan=-1.0)
    agreement = None
    if head is not None:
        agreement = float(np.mean(head.predict(ref) == head.predict(got)))
    min_cos, need_agree = MIN_COSINE[backend], MIN_AGREEMENT[backend]
    passed = bool(cosine.min() >= min_cos and (agreement is None or agreement >= need_agree))
    return BodyCheck(
        backend=backend,
        texts=len(ref),
        min_cosine=round(float(cosine.min()), 6),
        mean_cosine=round(float(cosine.mean()), 6),
        agreement=None if agreement is None else round(agreement, 6),
        min_cosine_required=min_cos,
        agreement_required=need_agree,
        passed=passed,
    )


# -- running an exported body ----------------------------------------------------------------


@functools.cache
def _body_class() -> type:
    """OnnxBody, defined on first use (torch is imported lazily: it takes seconds)."""
    import torch

    class OnnxBody(torch.nn.Module):
        """The transformer of a SentenceTransformer, run by ONNX Runtime: takes the tokenizer's
        tensors, returns `last_hidden_state` (pooling and normalisation stay the pipeline's)."""

        def __init__(self, session: Any, config: Any) -> None:
            super().__init__()
            self.session = session
            self.config = config
            self.inputs = [i.name for i in session.get_inputs()]
            self.device = torch.device("cpu")

        def forward(self, **features: Any) -> dict[str, Any]:
            feeds = {name: features[name].cpu().numpy().astype(np.int64) for name in self.inputs}
            (hidden,) = self.session.run(["last_hidden_state"], feeds)
            return {"last_hidden_state": torch.from_numpy(hidden)}

    return OnnxBody


def session(file: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for `file`, with as many threads as PyTorch uses."""
    require_onnx()
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own types for a damaged file
        raise ModelError(f"cannot load the ONNX body {file}: {exc}") from exc


def load_onnx(folder: Path, file: Path, threads: int | None = None) -> SentenceTransformer:
    """The SentenceTransformer in `folder` with its transformer run from the ONNX `file`: the
    PyTorch weights are never read (loaded on the meta device, then replaced)."""
    from sentence_transformers import SentenceTransformer

    body = session(file, threads)
    try:
        model = SentenceTransformer(
            str(folder), trust_remote_code=False, model_kwargs={"device_map": "meta"}
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the model in {folder}: {exc}") from exc
    transformer: Any = model[0]
    transformer.model = _body_class()(body, transformer.model.config)
    return model


# -- exporting a body ------------------------------------------------------------------------


def _export_fp32(model: SentenceTransformer, dest: Path, recipe: str = "torch.onnx") -> None:
    """The transformer of `model` as ONNX (inputs as its tokenizer names them, dynamic batch
    and sequence axes, output `last_hidden_state`), made the way `recipe` says (RECIPES)."""
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
        _export_fused(Body().eval(), transformer, inputs, names, dest)
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


def _export_fused(body: Any, transformer: Any, inputs: tuple, names: list[str], dest: Path) -> None:
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


def _quantize_int8(source: Path, dest: Path, recipe: str = RECIPES["onnx-int8"][0]) -> None:
    """Dynamic int8 quantisation of the matrix products' weights (activations quantised at run
    time), per channel, as optimum's AutoQuantizationConfig.avx512_vnni(is_static=False) sets it
    up, except the feed-forward products `recipe` keeps in fp32 (`feed_forward_products`).
    The embedding tables (Gather) stay fp32 too: quantising them measured the same cosine (0.991
    mean on 400 test texts, small model) and slower encoding (117 vs 184 texts/s)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source))
    keep = feed_forward_products(graph, up=recipe == "int8-fp32-feed-forward")
    quantize_dynamic(
        graph,
        str(dest),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],  # a fused graph's attention too
        nodes_to_exclude=keep,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def feed_forward_products(graph_model: Any, up: bool = False) -> list[str]:
    """The MatMul nodes that multiply by a constant weight with more inputs than outputs: in a
    BERT-style body, each feed-forward block's down-projection (e.g. 1536 -> 384), whose input,
    the GELU's output, has the outlying values that a per-tensor int8 activation scale loses;
    with `up`, the up-projections (more outputs than inputs) too.

    Measured on 4 shared sets x 300 test texts against fp32 (docs/BENCHMARKS.md, Backends):
    MiniLM with its 6 down-projections in fp32, prediction agreement 97.6-99.7 % and min cosine
    0.980 (every MatMul quantised: 95.6-99.0 %, 0.958); MPNet 97.0-100 % and 0.947 (all
    quantised: 91.3-99.3 %, 0.550), and with the up-projections in fp32 too 98.3-100 %, 0.986."""
    shapes = {init.name: tuple(init.dims) for init in graph_model.graph.initializer}
    names = []
    for node in graph_model.graph.node:
        if node.op_type != "MatMul":
            continue
        weight = next((shapes[i] for i in node.input if i in shapes), None)
        if weight is None or len(weight) != 2:
            continue
        if weight[0] > weight[1] or (up and weight[0] < weight[1]):
            names.append(node.name)
    return names


def _quiet_export(fn: Any, *args: Any) -> None:
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


def read_checks(onnx_dir: Path) -> dict[str, BodyCheck]:
    """The check figures stored beside the exported bodies (empty when none)."""
    try:
        raw = json.loads((onnx_dir / CHECKS_FILE).read_text(encoding="utf-8"))
        return {key: BodyCheck.from_dict(value) for key, value in raw.items()}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def write_checks(onnx_dir: Path, checks: dict[str, BodyCheck]) -> None:
    from core.io import atomic_write_text

    text = json.dumps({k: v.to_dict() for k, v in sorted(checks.items())}, indent=2)
    atomic_write_text(onnx_dir / CHECKS_FILE, text)


def ensure_body(
    folder: Path,
    backend: str,
    texts: Sequence[str],
    head: Head | None = None,
    onnx_dir: Path | None = None,
    reference: SentenceTransformer | None = None,
) -> BodyCheck:
    """The exported body of `backend` for the model `folder`, in `onnx_dir` (default
    folder/onnx): kept when it passed its check before, else exported, checked against the
    PyTorch body on `texts` (and `head`'s predictions), and written only when it passes.
    Raises ExportRefused (writing nothing) when it answers differently."""
    from filelock import FileLock

    from core.model.heads import encode

    check_backend(backend)
    if backend == "torch":
        raise ModelError("the torch backend is the model folder itself: nothing to export")
    require_onnx()
    onnx_dir = onnx_dir or folder / ONNX_DIR
    texts = [t for t in texts if t][:CHECK_TEXTS]
    if not texts:
        raise ModelError("no texts to check the exported body on")
    onnx_dir.mkdir(parents=True, exist_ok=True)
    target = onnx_dir / FILES[backend]
    if backend == "onnx-int8":  # quantised from the checked fp32 body
        ensure_body(folder, "onnx", texts, head, onnx_dir, reference)
    with FileLock(str(onnx_dir / ".export.lock")):
        known = read_checks(onnx_dir).get(backend)
        if known is not None and known.passed and _current(known) and target.is_file():
            return known
        if reference is None:
            from core.model.catalogue import load_model

            reference = load_model(str(folder), device="cpu")
        reference_vectors = encode(reference, texts)
        for recipe in RECIPES[backend]:
            try:
                check = _export_checked(
                    folder, backend, recipe, reference, reference_vectors, texts, head, onnx_dir
                )
            except ModelError:
                if recipe == RECIPES[backend][-1]:
                    raise
                continue  # this exporter cannot make this model: the next way may
            if check.passed:
                break
        else:
            tried = (
                f" (tried {len(RECIPES[backend])} ways: {', '.join(RECIPES[backend])})"
                if len(RECIPES[backend]) > 1
                else ""
            )
            raise ExportRefused(
                f"the {backend} export answers differently from the PyTorch model, so it was "
                f"not kept: {check.describe()}{tried}"
            )
        write_checks(onnx_dir, {**read_checks(onnx_dir), backend: check})
        return check


def _export_checked(
    folder: Path,
    backend: str,
    recipe: str,
    reference: SentenceTransformer,
    reference_vectors: np.ndarray,
    texts: Sequence[str],
    head: Head | None,
    onnx_dir: Path,
) -> BodyCheck:
    """Export the body one way, check it against the PyTorch vectors, and put it in place only
    when it passes (the figures are returned either way; a failed file is removed)."""
    from core.model.heads import encode

    target = onnx_dir / FILES[backend]
    fd, name = tempfile.mkstemp(prefix=".exporting-", suffix=".onnx", dir=onnx_dir)
    os.close(fd)
    staged = Path(name)
    try:
        try:
            if backend == "onnx":
                _quiet_export(_export_fp32, reference, staged, recipe)
            else:
                _quiet_export(_quantize_int8, onnx_dir / FILES["onnx"], staged, recipe)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - the exporters raise many types
            lines = str(exc).strip().splitlines()
            raise ModelError(
                f"the {backend} export of {folder} failed: "
                f"{lines[0] if lines else type(exc).__name__}"
            ) from exc
        exported = load_onnx(folder, staged)
        check = compare(backend, reference_vectors, encode(exported, texts), head)
        check = BodyCheck.from_dict(
            {
                **check.to_dict(),
                "file": f"{ONNX_DIR}/{target.name}",
                "bytes": staged.stat().st_size,
                "recipe": recipe,
            }
        )
        if check.passed:
            staged.chmod(0o644)  # mkstemp's 0600 would hide the model from other users
            os.replace(staged, target)
        return check
    finally:
        staged.unlink(missing_ok=True)


def _current(check: BodyCheck) -> bool:
    """Whether a kept body was made the way its backend's bodies are made now (an fp32 body
    kept before recipes were recorded is; an int8 one quantised its down-projections too)."""
    if check.backend == "onnx" and check.recipe == "":
        return True
    return check.recipe in RECIPES[check.backend]


def load_body(
    folder: Path, backend: str, onnx_dir: Path | None = None, threads: int | None = None
) -> SentenceTransformer:
    """The SentenceTransformer of `folder` on `backend` (its exported body must exist and have
    passed its check: `ensure_body` makes it)."""
    check_backend(backend)
    if backend == "torch":
        from core.model.catalogue import load_model

        return load_model(str(folder))
    require_onnx()
    onnx_dir = onnx_dir or folder / ONNX_DIR
    check = read_checks(onnx_dir).get(backend)
    file = onnx_dir / FILES[backend]
    if check is None or not check.passed or not file.is_file():
        raise ModelError(f"{folder} has no checked {backend} body: export it first")
    return load_onnx(folder, file, threads)


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
    require_onnx()
    where = hashlib.sha256(folder.resolve().as_posix().encode()).hexdigest()[:12]
    onnx_dir = cache_dir() / "onnx" / f"{folder.name}-{where}"
    ensure_body(folder, backend, SAMPLE_TEXTS, onnx_dir=onnx_dir)
    return load_body(folder, backend, onnx_dir)
