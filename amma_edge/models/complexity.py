"""Parameters and multiply-accumulates of a model, counted the way the papers report them.

Convention: one MAC is one multiply-add of a convolution or matrix product, counted by
`torch.utils.flop_counter` (which reports 2 FLOPs per MAC; we halve it). Element-wise work (batch norm,
activations, interpolation, the micro-motion norm) is not counted; it is a small share of these models.

For AMMA three per-clip figures matter and differ:
  * streaming, E + H: what each new clip really costs on a live stream (one encoder pass, one head pass);
  * a full K-clip pass, K·E + H: a cold start, or a model without feature caching;
  * the paper's Table 3 figure, (K·E + H) / K: the full pass spread over K clips. It understates the
    streaming cost, because the head over K stacked features is paid for every clip.
A* runs once per key frame, so its three figures coincide.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from amma_edge.models.config import ModelConfig
from amma_edge.models.registry import build

MAC_CONVENTION = "GMACs = conv/matmul multiply-adds (torch.utils.flop_counter FLOPs / 2)"


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of `module` on `inputs`."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*inputs)
    return counter.get_total_flops() // 2


@dataclass(frozen=True)
class Complexity:
    name: str
    family: str
    params: int
    input_shape: tuple[int, ...]
    encoder_macs: int | None  # one clip (AMMA)
    head_macs: int | None  # one head pass over K features (AMMA)
    stream_macs: int  # per new clip (AMMA) or per key frame (A*)
    full_pass_macs: int  # K clips from scratch (AMMA) or one pass (A*)
    paper_macs_per_clip: int  # (K·E + H) / K, AMMA Table 3's figure; A*: one pass

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(config: ModelConfig, model: nn.Module | None = None) -> Complexity:
    """Count parameters and MACs of `config` at its input size (builds the model unless one is given)."""
    model = (model or build(config)).eval()
    h, w = config.input_size
    if config.family == "amma":
        clip = torch.zeros(1, config.t, 3, h, w)
        encoder = count_macs(model.encoder, clip)
        features = torch.zeros(1, config.K, model.feature_channels, *config.output_size)
        head = count_macs(model.head, features)
        return Complexity(
            name=config.name,
            family=config.family,
            params=count_parameters(model),
            input_shape=(1, config.K, config.t, 3, h, w),
            encoder_macs=encoder,
            head_macs=head,
            stream_macs=encoder + head,
            full_pass_macs=config.K * encoder + head,
            paper_macs_per_clip=(config.K * encoder + head) // config.K,
        )
    clip = torch.zeros(1, config.clip_len, 3, h, w)
    macs = count_macs(model, clip)
    return Complexity(
        name=config.name,
        family=config.family,
        params=count_parameters(model),
        input_shape=tuple(clip.shape),
        encoder_macs=None,
        head_macs=None,
        stream_macs=macs,
        full_pass_macs=macs,
        paper_macs_per_clip=macs,
    )
