"""Shared-demo mode: settings from the environment, workspace ids, caps per visitor."""

from __future__ import annotations

import pytest

from core.config import TrainConfig
from core.data.labeled import LabeledTexts, split
from core.errors import LimitError, RunError
from core.runs.sharing import DemoSettings, check_submission, workspace_store
from core.runs.store import RunStore
from tests.helpers import (
    tiny_pairs,
)


def test_shared_demo_settings_come_from_the_environment():
    assert not DemoSettings.from_env({}).shared
    assert DemoSettings.from_env({}).train_time_limit_s is None
    demo = DemoSettings.from_env(
        {"EMBEDTUNE_SHARED_DEMO": "1", "EMBEDTUNE_DEMO_MAX_ROWS": "10"}
        | {"EMBEDTUNE_DEMO_MAX_TRAIN_S": "60", "EMBEDTUNE_DEMO_MAX_JOBS": "2"}
    )
    assert (demo.shared, demo.max_rows, demo.train_time_limit_s, demo.max_jobs) == (
        True,
        10,
        60.0,
        2,
    )


@pytest.mark.parametrize("bad", ["../other", "/tmp/x", "a/b", "..", "WS"])
def test_workspace_ids_that_could_escape_are_refused(tmp_path, bad):
    with pytest.raises(RunError, match="^invalid run id"):
        workspace_store(RunStore(tmp_path), bad)


def test_shared_demo_caps_rows_and_concurrent_finetunes_per_visitor(tmp_path):
    demo = DemoSettings(shared=True, max_rows=10, max_jobs=1)
    store = workspace_store(RunStore(tmp_path / "runs"), "ws-0123456789abcdef")
    big = split(LabeledTexts.from_pairs(tiny_pairs(6)), seed=0)
    with pytest.raises(LimitError, match="^12 rows: this shared demo trains on at most 10 rows"):
        check_submission(demo, store, TrainConfig(), big)
    check_submission(DemoSettings(), store, TrainConfig(), big)  # local mode: no caps
    small = split(LabeledTexts.from_pairs(tiny_pairs(4)), seed=0)
    check_submission(demo, store, TrainConfig(), small)
    store.create(TrainConfig(), small)  # queued: this visitor's one finetune
    check_submission(demo, store, TrainConfig(), small)  # the same again is reused, allowed
    with pytest.raises(LimitError, match="^you already have 1 finetune"):
        check_submission(demo, store, TrainConfig(seed=1), small)
    other = workspace_store(RunStore(tmp_path / "runs"), "ws-fedcba9876543210")
    check_submission(demo, other, TrainConfig(seed=1), small)  # another visitor is not blocked
    assert store.lock_root == other.lock_root == tmp_path / "runs"  # one device queue for all
