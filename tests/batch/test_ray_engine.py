"""The Ray engine of batch jobs: the same output file as the local engine."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from core.batch.job import run_batch
from core.model.classifier import load_embedder
from tests.helpers import batch_texts, write_texts_csv

pytestmark = pytest.mark.slow


def test_ray_engine_equals_the_local_engine(completed_run, tmp_path):
    import ray  # requirements-scale.txt, which `make test` installs

    store, run_id = completed_run.store, completed_run.run_id
    source = write_texts_csv(tmp_path / "in.csv", batch_texts(200), blank_every=61)
    local = run_batch(
        "classify", run_id, source, tmp_path / "local.csv", store=store, progress=False
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_batch(
            "classify",
            run_id,
            source,
            tmp_path / "ray.csv",
            store=store,
            engine="ray",
            workers=2,
            progress=False,
        )
        embedded = run_batch(
            "embed", "small", source, tmp_path / "ray.parquet", engine="ray", progress=False
        )
    finally:
        ray.shutdown()
    assert local.rows == on_ray.rows == embedded.rows == 200
    a = pcsv.read_csv(tmp_path / "local.csv").to_pandas()
    b = pcsv.read_csv(tmp_path / "ray.csv").to_pandas()
    assert list(a.columns) == list(b.columns)
    assert a["input"].tolist() == b["input"].tolist()
    assert a["prediction"].tolist() == b["prediction"].tolist()
    numeric = [c for c in a.columns if c.startswith("confidence")]
    np.testing.assert_allclose(a[numeric].to_numpy(), b[numeric].to_numpy(), atol=1e-5)
    vectors = np.array(pq.read_table(tmp_path / "ray.parquet").column("embedding").to_pylist())
    texts = a["input"].tolist()
    expected = load_embedder("small", device="cpu").embed(texts)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_ray_actors_run_the_onnx_int8_backend(onnx_run, tmp_path):
    import ray

    store, run_id = onnx_run.store, onnx_run.run_id
    source = write_texts_csv(tmp_path / "in.csv", batch_texts(120))
    local = run_batch(
        "classify", run_id, source, tmp_path / "local.csv", store=store, backend="onnx-int8",
        progress=False,
    )  # fmt: skip
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_batch(
            "classify", run_id, source, tmp_path / "ray.csv", store=store, engine="ray",
            workers=2, backend="onnx-int8", progress=False,
        )  # fmt: skip
    finally:
        ray.shutdown()
    assert local.rows == on_ray.rows == 120
    a = pcsv.read_csv(tmp_path / "local.csv").to_pandas()
    b = pcsv.read_csv(tmp_path / "ray.csv").to_pandas()
    assert a["prediction"].tolist() == b["prediction"].tolist()
    numeric = [c for c in a.columns if c.startswith("confidence")]
    np.testing.assert_allclose(a[numeric].to_numpy(), b[numeric].to_numpy(), atol=1e-5)
