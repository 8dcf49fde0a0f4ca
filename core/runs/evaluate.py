"""A run scored on a test file it never saw, beside its base model scored the same way, kept
with the run (`tests/` in its folder, a summary in run.json) for the Metrics page, the Dashboard
and `core evaluate`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.data.labeled import DataSet, LabeledTexts
from core.errors import RunError
from core.io import atomic_write_text
from core.records import Record
from core.runs.store import RunRecord, RunStore, TestSummary, now_iso
from core.train.metrics import Evaluation, evaluate_classifier

if TYPE_CHECKING:
    from core.model.classifier import Classifier

TESTS_DIR = "tests"


@dataclass(frozen=True)
class TestResult(Record):
    """The finetuned model and its base model (frozen embeddings with the run's head recipe,
    fitted on the same training rows) scored on one test file; the texts for the table of
    errors."""

    key: str
    name: str
    final: Evaluation
    baseline: Evaluation
    texts: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()
    evaluated_at: str = ""
    finetune_kept: bool = True

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


def base_classifier(record: RunRecord, store: RunStore) -> Classifier:
    """The run's base model with a head fitted as the run's head was (same settings, same
    training rows, and the validation rows too when the run's head learnt from them): what the
    user would get without finetuning."""
    import numpy as np

    from core.model.catalogue import load_model
    from core.model.classifier import Classifier
    from core.model.heads import encode, fit_head

    config = record.config
    dataset = store.load_dataset(record.id)
    labels = tuple(dataset.classes)
    if dataset.train.multi_label:
        return _multilabel_base(record, dataset)
    parts = [dataset.train, dataset.valid] if config.refit_head_on_all else [dataset.train]
    texts = [config.cleaning.apply(t) for part in parts for t in part.texts]
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[label] for part in parts for label in part.labels], dtype=np.int64)
    model = load_model(config.base_model)
    if config.max_seq_length:
        model.max_seq_length = min(config.max_seq_length, model.max_seq_length or 10**9)
    head = fit_head(encode(model, texts), y, config)
    return Classifier(model, head, labels, config.cleaning, name=config.base_model)


def _multilabel_base(record: RunRecord, dataset: DataSet) -> Classifier:
    """A multi-label run's baseline as its recipe builds it: one-vs-rest heads on the frozen
    embeddings, thresholds chosen on the validation rows, refitted on all rows if the run's were."""
    import numpy as np

    from core.model.catalogue import load_model
    from core.model.classifier import Classifier
    from core.model.heads import encode, fit_multilabel_head
    from core.train.multilabel import fit_thresholded_head, indicator, label_sets_of

    config = record.config
    labels = tuple(dataset.classes)
    model = load_model(config.base_model)
    if config.max_seq_length:
        model.max_seq_length = min(config.max_seq_length, model.max_seq_length or 10**9)
    x_train = encode(model, [config.cleaning.apply(t) for t in dataset.train.texts])
    x_valid = encode(model, [config.cleaning.apply(t) for t in dataset.valid.texts])
    y_train = indicator(label_sets_of(dataset.train), labels)
    y_valid = indicator(label_sets_of(dataset.valid), labels)
    head, _ = fit_thresholded_head(x_train, y_train, x_valid, y_valid, labels, config)
    if config.refit_head_on_all and len(x_valid) and head.thresholds_ is not None:
        refitted = fit_multilabel_head(
            np.vstack([x_train, x_valid]), np.vstack([y_train, y_valid]), config
        )
        head = refitted.with_thresholds(head.thresholds_)
    return Classifier(model, head, labels, config.cleaning, name=config.base_model)


def evaluate_run(
    store: RunStore,
    run_id: str,
    test: LabeledTexts,
    *,
    save: bool = True,
    unseen: str = "count",
    reuse: bool = True,
) -> TestResult:
    """Score a completed run and its base model on labelled texts; kept with the run when
    `save`. Rows of a label the run never learnt count as errors (`unseen="count"`) or are left
    out ("skip"). A completed run never changes: with `reuse`, rows it was scored on before
    give back that stored result."""
    from core.runs.resolve import load_run

    record = store.get(run_id)
    if record.status != "completed":
        raise RunError(f"run {run_id} is {record.status}: only a completed run can be evaluated")
    if not len(test):
        raise RunError("the test file has no rows to evaluate")
    key = test_key(test, unseen)
    if reuse and key in {t.key for t in record.tests}:
        try:
            return load_test(store, run_id, key)
        except RunError:
            pass  # unreadable: scored again below, and kept anew
    final = evaluate_classifier(load_run(run_id, store), test, unseen)
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
    )
    if save:
        save_test(store, run_id, result)
    return result


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
