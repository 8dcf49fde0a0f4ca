"""One FastFit training run for bench/accuracy.py, in FastFit's own virtual environment.

FastFit 1.2.1 needs the transformers / datasets it was released with (see
bench/requirements-fastfit.txt and ../shared/MODELS.md), so bench/accuracy.py runs this script
with `.venv-fastfit/bin/python` and reads its predictions back:

    .venv-fastfit/bin/python bench/fastfit_run.py --data rows.json --model PATH --seed 0 \\
        --epochs 10 --out predictions.json

`rows.json` holds {"train": [[text, label], ...], "test": [[text, label], ...]}; the test rows
are only predicted, never seen in training (FastFit gets no validation split). Offline: the base
model is a local folder, and `datasets.load_metric` (which FastFit calls and which would fetch
a script from the hub) is replaced by a local accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class _Accuracy:
    """What FastFit's trainer needs of a `datasets` metric."""

    def compute(self, predictions, references):  # noqa: ANN001, ANN201
        import numpy as np

        return {"accuracy": float(np.mean(np.asarray(predictions) == np.asarray(references)))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True, help="a local sentence-transformers folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import tempfile

    import fastfit.train
    import numpy as np
    import torch
    from datasets import Dataset, DatasetDict

    fastfit.train.load_metric = lambda *a, **k: _Accuracy()
    torch.set_num_threads(int(os.environ.get("FASTFIT_THREADS", "2")))

    rows = json.loads(open(args.data, encoding="utf-8").read())
    # FastFit encodes the label names: "card_arrival" reads better as "card arrival".
    names = sorted({label for _, label in rows["train"]})
    shown = {name: name.replace("_", " ") for name in names}
    back = {v: k for k, v in shown.items()}

    def part(pairs: list[list[str]]) -> Dataset:
        return Dataset.from_dict(
            {"text": [t for t, _ in pairs], "label": [shown.get(lab, lab) for _, lab in pairs]}
        )

    dataset = DatasetDict({"train": part(rows["train"]), "test": part(rows["test"])})
    started = time.perf_counter()
    trainer = fastfit.train.FastFitTrainer(
        model_name_or_path=args.model,
        label_column_name="label",
        text_column_name="text",
        num_train_epochs=args.epochs,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=64,
        max_text_length=128,
        dataloader_drop_last=False,
        num_repeats=4,
        optim="adafactor",
        clf_loss_factor=0.1,
        seed=args.seed,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        output_dir=tempfile.mkdtemp(prefix="fastfit-"),
        dataset=dataset,
    )
    trainer.train()
    train_s = time.perf_counter() - started
    output = trainer.trainer.predict(trainer.predict_dataset)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    id2label = trainer.model.config.id2label
    predicted = [back.get(id2label[int(i)], id2label[int(i)]) for i in np.argmax(logits, axis=1)]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"predictions": predicted, "train_s": train_s, "epochs": args.epochs}, f)


if __name__ == "__main__":
    main()
