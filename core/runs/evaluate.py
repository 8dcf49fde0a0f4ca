"""A run scored on a test file it never saw, beside its base model scored the same way, kept
with the run (`tests/` in its folder, a summary in run.json) for the Metrics page, the Dashboard
and `core evaluate`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import TrainConfig
from core.data.labeled import LabeledTexts
from core.errors import DataError, RunError
from core.io import atomic_write_text
from core.records import Record
from core.runs.store import RunRecord, RunStore, TestSummary, now_iso
from core.train.metrics import UNSEEN_CHOICES, Evaluation, describe_unseen, unseen_labels
from core.train.task import task_for

if TYPE_CHECKING:
    from core.model.classifier import Classifier

TESTS_DIR = "tests"


@dataclass(frozen=True)
class TestResult(Record):
    """The finetuned model and its base model (frozen embeddings with the run's head recipe,
    fitted on the same training rows) scored on one test file; the texts for the table of
    errors. `backend` ran the finetuned model (core.model.onnx.BACKENDS); the base model is
    scored on PyTorch (torch), the reference every backend's body is checked against."""

    key: str
    name: str
    final: Evaluation
    baseline: Evaluation
    texts: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()
    evaluated_at: str = ""
    finetune_kept: bool = True
    backend: str = "torch"

    @property
    def n(self) -> int:
        return self.final.n

    def summary(self) -> TestSummary:
        return TestSummary(
            key=self.key,
            name=self.name,
            n=self.n,
            f1=self.final.metrics.f1,
            f1_interval=self.final.intervals.get("f1"),
            base_f1=self.baseline.metrics.f1,
            evaluated_at=self.evaluated_at,
        )


def test_key(test: LabeledTexts, unseen: str = "count") -> str:
    """16 hex digits naming a test file's rows (the same rows are stored once per run) and, when
    the rows of labels the run never learnt were left out, that choice."""
    payload = test.fingerprint() + ("" if unseen == "count" else f":{unseen}")
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def evaluate_classifier(
    classifier: Classifier, test: LabeledTexts, unseen: str = "count"
) -> Evaluation:
    """A classifier scored on labelled texts it was not trained on. Rows of a label it never
    learnt count as errors (`unseen="count"`) or are left out (`"skip"`)."""
    if unseen not in UNSEEN_CHOICES:
        raise ValueError(f"unseen must be one of {UNSEEN_CHOICES}, got {unseen!r}")
    labels = [str(c) for c in classifier.classes_]
    new = unseen_labels(test, labels)
    skipped = 0
    if new and unseen == "skip":
        drop = {row for rows in new.values() for row in rows}
        keep = [i for i, row in enumerate(test.rows) if row not in drop]
        if not keep:
            raise DataError(
                "every row of the test file has a label the run never learnt "
                f"({describe_unseen(new)})"
            )
        skipped, test = len(test) - len(keep), test.subset(keep)
    extra = tuple(new) if unseen == "count" else ()
    task = task_for([*labels, *extra], classifier.multi_label, TrainConfig())
    evaluation = task.score_classifier(classifier, test)
    return replace(evaluation, unseen_labels=tuple(new), skipped=skipped)


def base_classifier(record: RunRecord, store: RunStore) -> Classifier:
    """What the user would get without finetuning: the run's base model with the head the
    run's own validation baseline measured and would have served (core.train.task.base_head:
    the same rows, label names and settings)."""
    from core.model.catalogue import load_base_model
    from core.model.classifier import Classifier
    from core.model.heads import encode
    from core.train.task import base_head, dataset_task, training_rows

    config = record.config
    dataset = store.load_dataset(record.id)
    task = dataset_task(dataset, config)
    rows = training_rows(task, dataset, config)
    model = load_base_model(config)
    x_train, x_valid = encode(model, rows.train_texts), encode(model, rows.valid_texts)
    head = base_head(task, rows, x_train, x_valid, config).served
    return Classifier(model, head, task.labels, config.cleaning, name=config.base_model)


def evaluate_run(
    store: RunStore,
    run_id: str,
    test: LabeledTexts,
    *,
    save: bool = True,
    unseen: str = "count",
    reuse: bool = True,
    backend: str = "torch",
) -> TestResult:
    """Score a completed run (on `backend`, its body made and checked on first use) and its
    base model (on torch) on labelled texts; kept with the run when `save`. Rows of a label the
    run never learnt count as errors (`unseen="count"`) or are left out ("skip"). A completed
    run never changes: with `reuse`, rows it was scored on before, on the same backend, give
    back that stored result (another backend scores them again and is kept in its place)."""
    from core.runs.resolve import load_run

    record = store.get(run_id)
    if record.status != "completed":
        raise RunError(f"run {run_id} is {record.status}: only a completed run can be evaluated")
    if not len(test):
        raise RunError("the test file has no rows to evaluate")
    key = test_key(test, unseen)
    kept = kept_result(store, run_id, test, unseen, backend) if reuse else None
    if kept is not None:
        return kept
    final = evaluate_classifier(load_run(run_id, store, backend=backend), test, unseen)
    baseline = evaluate_classifier(base_classifier(record, store), test, unseen)
    result = TestResult(
        key=key,
        name=test.name or "test file",
        final=final,
        baseline=baseline,
        texts=tuple(test.texts),
        rows=tuple(test.rows),
        evaluated_at=now_iso(),
        finetune_kept=record.finetune_kept is not False,
        backend=backend,
    )
    if save:
        save_test(store, run_id, result)
    return result


def kept_result(
    store: RunStore, run_id: str, test: LabeledTexts, unseen: str = "count", backend: str = "torch"
) -> TestResult | None:
    """The stored evaluation of these rows (and `unseen` choice) when it was scored on
    `backend` and can be read, else None."""
    key = test_key(test, unseen)
    if key not in {t.key for t in store.get(run_id).tests}:
        return None
    try:
        kept = load_test(store, run_id, key)
    except RunError:
        return None  # unreadable: scored again, and kept anew
    return kept if kept.backend == backend else None


def save_test(store: RunStore, run_id: str, result: TestResult) -> None:
    """Write the result into the run's folder and its summary into run.json (newest first)."""
    path = _path(store, run_id, result.key)
    path.parent.mkdir(exist_ok=True)
    atomic_write_text(path, json.dumps(result.to_dict()))
    summary = result.summary()
    store.modify(
        run_id,
        lambda r: r.replace(
            tests=(summary, *(s for s in r.tests if s.key != summary.key)),
        ),
    )


def load_test(store: RunStore, run_id: str, key: str) -> TestResult:
    """A stored test evaluation of a run."""
    path = _path(store, run_id, key)
    try:
        return TestResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise RunError(f"run {run_id} has no test evaluation {key}") from exc
    except (OSError, ValueError) as exc:
        raise RunError(f"run {run_id}: its test evaluation {key} cannot be read ({exc})") from exc


def _path(store: RunStore, run_id: str, key: str) -> Path:
    if len(key) != 16 or any(c not in "0123456789abcdef" for c in key):
        raise RunError(f"invalid test evaluation key {key!r}")
    return store.path(run_id) / TESTS_DIR / f"{key}.json"
