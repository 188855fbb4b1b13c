"""Multi-GPU and multi-node training under `torchrun`, and the same code path for a single process.

torchrun starts one process per device and tells each its place through the environment (WORLD_SIZE, RANK,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT). When WORLD_SIZE > 1 every process joins one process group — NCCL
between GPUs, gloo on CPU — wraps the model in DistributedDataParallel (gradients are averaged, so every
rank keeps identical weights) and reads its own shard of the data. Only rank 0 logs and writes checkpoints:
the weights are the same everywhere, and several writers of one file would race.

    torchrun --nproc-per-node 4 -m amma_edge.cli train --model amma-s --data DIR
    torchrun --nnodes 2 --node-rank 0 --master-addr HOST --nproc-per-node 8 -m amma_edge.cli train ...

`--batch` is per process: the batch of one optimizer step is batch × WORLD_SIZE.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from amma_edge.errors import AmmaEdgeError


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: its rank among `world_size` processes and the device it trains on."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None  # None: a single process, no process group

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise AmmaEdgeError(f"environment variable {name}={value!r} is not an integer: launch with torchrun") from None


def resolve_device(device: str | None) -> str:
    """"cpu", "cuda" or "cuda:N"; None picks CUDA when there is one. Asking for CUDA without one is an error."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AmmaEdgeError(f"--device {device} was asked for but this machine has no usable CUDA GPU "
                            "(or this torch build has no CUDA): use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise AmmaEdgeError(f"unknown device {device!r}: use cpu or cuda")
    return device


def init_distributed(device: str | None = None) -> DistributedContext:
    """Join the torchrun process group when WORLD_SIZE > 1; otherwise describe a single process.

    On CUDA each process trains on GPU LOCAL_RANK. Calling it when the group already exists (tests that start
    the group themselves) reuses that group.
    """
    device = resolve_device(device)
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return DistributedContext(device=device)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if device.startswith("cuda"):
        if local_rank >= torch.cuda.device_count():
            raise AmmaEdgeError(f"process LOCAL_RANK={local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
                                "start at most that many processes per node (torchrun --nproc-per-node)")
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_available():
        raise AmmaEdgeError("this torch build has no torch.distributed: train with a single process")
    if not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
            raise AmmaEdgeError(f"WORLD_SIZE={world_size} but MASTER_ADDR / MASTER_PORT are not set: start "
                                "multi-process training with torchrun, which sets them")
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistributedContext(world_size=world_size, rank=rank, local_rank=local_rank, device=device, backend=backend)


def shutdown(ctx: DistributedContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(module: nn.Module, ctx: DistributedContext) -> nn.Module:
    """DistributedDataParallel around `module` in a multi-process run; `module` itself otherwise."""
    if not ctx.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [ctx.local_rank] if ctx.device.startswith("cuda") else None
    return DistributedDataParallel(module, device_ids=device_ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if hasattr(module, "module") and isinstance(module, nn.parallel.DistributedDataParallel) else module


def all_mean(values: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """Mean of `values` over all ranks (a copy; `values` itself is untouched)."""
    values = values.detach().clone()
    if ctx.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= ctx.world_size
    return values


def from_main(value: float, ctx: DistributedContext) -> float:
    """Rank 0's `value` on every rank, for decisions that must not follow each rank's own clock."""
    if not ctx.distributed:
        return value
    t = torch.tensor([float(value)], dtype=torch.float64, device=ctx.device)
    dist.broadcast(t, src=0)
    return float(t.item())


def any_rank(flag: bool, ctx: DistributedContext) -> bool:
    """True when `flag` is true on any rank, so that every rank takes the same branch."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def average_buffers(module: nn.Module, ctx: DistributedContext) -> None:
    """Average floating-point buffers (batch-norm running statistics) over ranks, in place.

    DDP keeps parameters identical but lets each rank update its running statistics from its own shard
    (and re-broadcasts rank 0's before every forward). Averaging them when an epoch ends gives every rank,
    and the checkpoint, statistics gathered from all the data instead of from rank 0's share.
    """
    if not ctx.distributed:
        return
    for buffer in module.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            buffer /= ctx.world_size


def barrier(ctx: DistributedContext) -> None:
    if ctx.distributed:
        if ctx.backend == "nccl":
            dist.barrier(device_ids=[ctx.local_rank])
        else:
            dist.barrier()


__all__ = [
    "DistributedContext",
    "all_mean",
    "any_rank",
    "average_buffers",
    "barrier",
    "init_distributed",
    "resolve_device",
    "shutdown",
    "unwrap",
    "wrap_model",
]
