"""The collective operations of a training launched by torchrun / accelerate launch: which
process this is, agreeing to stop, and sharing rank 0's head and flags with every rank."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

    from core.train.reporting import Reporter


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


def broadcast_flag(value: int) -> int:
    """Rank 0's value of a small integer, on every rank."""
    import torch
    import torch.distributed as dist

    flag = torch.tensor([value], device=collective_device())
    dist.broadcast(flag, src=0)
    return int(flag.item())


def world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) unless launched by torchrun / accelerate."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def collective_device() -> Any:
    import torch
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def stop_everywhere(reporter: Reporter) -> bool:
    """Whether to stop: the reporter's answer, agreed by every process of a distributed
    launch (only rank 0 reads the run's cancel request; all must leave the loop together)."""
    stop = reporter.should_stop()
    if world()[1] == 1:
        return stop
    import torch
    import torch.distributed as dist

    flag = torch.tensor([int(stop)], device=collective_device())
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def broadcast_head(head: LogisticRegression | None, rows: int, dim: int) -> LogisticRegression:
    """Rank 0's logistic-regression head on every rank (it initialises the softmax loss)."""
    import torch
    import torch.distributed as dist
    from sklearn.linear_model import LogisticRegression

    packed = torch.zeros((rows, dim + 1), dtype=torch.float64, device=collective_device())
    if head is not None:
        both = np.hstack([head.coef_, head.intercept_[:, None]]).astype(np.float64)
        packed.copy_(torch.from_numpy(both))
    dist.broadcast(packed, src=0)
    values = packed.cpu().numpy()
    if head is not None:
        return head
    received = LogisticRegression()
    received.coef_, received.intercept_ = values[:, :dim], values[:, dim]
    return received
