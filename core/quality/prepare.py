"""From uploaded files to a trainable data set: review, the user's drop choices, the split."""

from __future__ import annotations

from collections.abc import Iterable

from core.data.cleaning import CleaningConfig
from core.data.labeled import DataSet, LabeledTexts, check_trainable, make_dataset
from core.model.catalogue import get_model_info, load_tokenizer
from core.quality.review import DROP_KINDS, Review, droppable_rows, review


def review_for_model(
    train: LabeledTexts,
    valid: LabeledTexts | None = None,
    *,
    model: str = "small",
    cleaning: CleaningConfig | None = None,
    valid_fraction: float = 0.2,
) -> Review:
    """The data review with token counts from the chosen base model's own tokenizer."""
    return review(
        train,
        valid,
        tokenizer=load_tokenizer(model),
        max_tokens=get_model_info(model).max_seq_length,
        cleaning=cleaning,
        valid_fraction=valid_fraction,
    )


def prepare_dataset(
    train: LabeledTexts,
    valid: LabeledTexts | None = None,
    *,
    report: Review | None = None,
    drop: Iterable[str] = (),
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> DataSet:
    """Drop the rows the user chose to drop (by review finding), split off validation data when
    there is no validation file, and check the result can be trained on."""
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
    dataset = make_dataset(train, valid, valid_fraction=valid_fraction, seed=seed)
    check_trainable(dataset)
    return dataset
