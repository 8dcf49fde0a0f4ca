"""Data quality before training: the review, the label check, prepare_dataset."""
