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
    from core.data import DataSet
    from core.runs import RunRecord, RunStore


def launched() -> bool:
    """Whether this process is one of several started by torchrun / accelerate launch."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def init_process_group(device_kind: str) -> tuple[int, int]:
    """Join the launcher's process group (env:// rendezvous); returns (rank, world size)."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if device_kind == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _broadcast_flag(value: int) -> int:
    import torch
    import torch.distributed as dist

    device = (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )
    flag = torch.tensor([value], device=device)
    dist.broadcast(flag, src=0)
    return int(flag.item())


def train_distributed(config: TrainConfig, dataset: DataSet, store: RunStore) -> RunRecord | None:
    """Train one run with every launched process; the finished record on rank 0, None on the
    others. A completed (or active) run with the same id is reused, as `submit` does."""
    import torch.distributed as dist
    from filelock import FileLock

    from core.data import check_trainable
    from core.models import choose_device
    from core.runs import WORKER_LOCK, compute_run_id
    from core.training import Cancelled, SilentReporter, check_batch_split, train
    from core.worker import run_job

    check_trainable(dataset)
    rank, world_size = init_process_group(choose_device(config.device).kind)
    check_batch_split(config, world_size)  # every rank stops here alike, before any run exists
    run_id = compute_run_id(config, dataset)
    try:
        created = 0
        if rank == 0:
            record, new = store.create(config, dataset)
            created = int(new)
        if not _broadcast_flag(created):
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
