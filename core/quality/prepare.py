"""From uploaded files to a trainable data set: review, the user's drop choices, the split."""

from __future__ import annotations

from collections.abc import Iterable

from core.config import TrainConfig
from core.data.cleaning import CleaningConfig
from core.data.labeled import DataSet, LabeledTexts, TrainingData, check_trainable
from core.model.catalogue import get_model_info, load_tokenizer
from core.quality.review import DROP_KINDS, Review, droppable_rows, review

DEFAULT_SEED = TrainConfig.seed  # the run's seed also makes the split


def review_for_model(
    train: LabeledTexts,
    valid: LabeledTexts | None = None,
    *,
    model: str = "small",
    cleaning: CleaningConfig | None = None,
    valid_fraction: float = 0.2,
    seed: int = DEFAULT_SEED,
) -> Review:
    """The data review with token counts from the chosen base model's own tokenizer, previewing
    the split a run with this share and seed makes."""
    return review(
        train,
        valid,
        tokenizer=load_tokenizer(model),
        max_tokens=get_model_info(model).max_seq_length,
        cleaning=cleaning,
        valid_fraction=valid_fraction,
        seed=seed,
    )


def prepare_data(
    train: LabeledTexts,
    valid: LabeledTexts | None = None,
    *,
    report: Review | None = None,
    drop: Iterable[str] = (),
    valid_fraction: float = 0.2,
) -> TrainingData:
    """Drop the rows the user chose to drop (by review finding) and check the rest can be
    trained on; the split waits for the run's seed (`TrainingData.split`)."""
    drop = list(drop)
    unknown = sorted(set(drop) - set(DROP_KINDS))
    if unknown:
        from core.errors import DataError

        raise DataError(
            f"unknown drop choice(s) {', '.join(unknown)}: choose from {', '.join(DROP_KINDS)}"
        )
    if drop:
        report = report or review(train, valid, valid_fraction=valid_fraction)
        rows = droppable_rows(report, drop)
        train = train.without_rows(rows.get("train", set()))
        if valid is not None:
            valid = valid.without_rows(rows.get("valid", set()))
    data = TrainingData(train, valid, valid_fraction)
    # Which rows are held out depends on the seed, how many of each label does not: any seed
    # tells whether the split leaves something to train and validate on.
    check_trainable(data.split(seed=0))
    return data


def prepare_dataset(
    train: LabeledTexts,
    valid: LabeledTexts | None = None,
    *,
    report: Review | None = None,
    drop: Iterable[str] = (),
    valid_fraction: float = 0.2,
    seed: int = DEFAULT_SEED,
) -> DataSet:
    """`prepare_data` split with a run's seed (by default TrainConfig's, as the app and the
    command line use it)."""
    data = prepare_data(train, valid, report=report, drop=drop, valid_fraction=valid_fraction)
    dataset = data.split(seed)
    check_trainable(dataset)
    return dataset
