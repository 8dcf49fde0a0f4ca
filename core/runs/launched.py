"""Finetuning under torchrun / accelerate launch: every process trains, rank 0 alone keeps the run.

`python -m core train ...` started by `torchrun --nproc_per_node=N` or `accelerate launch
--num_processes N` (the launcher sets WORLD_SIZE > 1) trains in the launched processes
themselves instead of handing the job to a background worker: sentence-transformers' trainer
then runs data-parallel (DistributedDataParallel, NCCL on GPUs, gloo on CPUs). Rank 0 creates
the run directory, holds the run's worker lock (so readers see it alive), writes progress and
metrics, fits the head and saves the model in the usual format; the other ranks only train, and
lend their devices to rank 0's encodes. The run id is the same as for one process: the config's
batch size stays the batch of one optimizer step, split between the processes, so 1 and N
processes train the same recipe (docs/BENCHMARKS.md#scale compares them); the differences are
dropout draws, float sums in another order, and the last partial batch of each epoch, which
transformers drops under DDP. A run of several processes does not wait in the one-job-at-a-time
device queue: the launcher was given its devices. Across machines the runs folder must be on a
shared filesystem (every rank reads the best checkpoint back).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data.labeled import DataSet
    from core.runs.store import RunRecord, RunStore


def train_distributed(config: TrainConfig, dataset: DataSet, store: RunStore) -> RunRecord | None:
    """Train one run with every launched process; the finished record on rank 0, None on the
    others. A completed (or active) run with the same id is reused, as `submit` does."""
    import torch.distributed as dist
    from filelock import FileLock

    from core.data.labeled import check_trainable
    from core.model.catalogue import choose_device
    from core.runs.store import WORKER_LOCK, compute_run_id
    from core.runs.worker import run_job
    from core.train.distributed import broadcast_flag, init_process_group
    from core.train.recipe import Cancelled, SilentReporter, check_batch_split, train

    check_trainable(dataset)
    rank, world_size = init_process_group(choose_device(config.device).kind)
    check_batch_split(config, world_size)  # every rank stops here alike, before any run exists
    run_id = compute_run_id(config, dataset)
    try:
        created = 0
        if rank == 0:
            record, new = store.create(config, dataset)
            created = int(new)
        if not broadcast_flag(created):
            return store.get(run_id) if rank == 0 else None
        if rank == 0:
            lock = FileLock(str(store.path(run_id) / WORKER_LOCK))
            lock.acquire(timeout=30)
            print(f"run {run_id}: finetuning with {world_size} processes", file=sys.stderr)
            try:
                store.update(run_id, pid=os.getpid())
                # The trainer prints its log lines; stdout is for the command's result.
                with contextlib.redirect_stdout(sys.stderr):
                    run_job(store, run_id, queue=False)
            finally:
                lock.release()
            return store.get(run_id)
        workdir = store.path(run_id) / ".checkpoints"
        try:
            train(config, dataset, workdir, SilentReporter())
        except Cancelled:
            pass
        return None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
