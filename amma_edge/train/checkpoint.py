"""Training checkpoints: everything to rebuild the model alone, or to continue the run bit for bit.

A checkpoint is a plain dict of tensors, numbers, strings and containers, so that it loads with
`torch.load(weights_only=True)` — unpickling arbitrary objects from a downloaded checkpoint can run code.
That rules out numpy arrays and Python RNG objects: random-number states are stored as tensors.

It is written to a temp file and renamed over the old one (`amma_edge.fileio.atomic_write`), so a crash or
Ctrl-C while saving leaves the previous checkpoint whole.

Keys:
    format, version            "amma-edge-checkpoint", CHECKPOINT_VERSION
    model_config               amma_edge.models.config_to_dict(config): rebuilds the network
    class_names                list[str]
    model                      the network's state_dict: with a weight average (TrainConfig.ema_decay) the
                               averaged weights, which validation scored and which inference loads
    train_model, average_updates   with a weight average only: the live training weights, and how many steps
                               the average has taken in (both for --resume)
    train_config               amma_edge.train.trainer.TrainConfig as a dict
    criterion                  the loss module's state_dict (A*'s proxies)
    optimizer, scheduler, scaler   their state_dicts (scaler None without AMP)
    epoch, step_in_epoch, step     where training stands: `epoch` is the epoch in progress (0-based) and
                                   `step_in_epoch` the batches of it already done; `step` counts all batches
    steps_per_epoch, world_size    the data layout the position refers to
    rng                        generator states as tensors (torch CPU, this process's CUDA device, numpy,
                               Python); in a multi-process run, rank 0's
    metrics                    the latest validation metrics, {name: float}
    best                       {"metric": name, "value": float} or None
"""
from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write
from amma_edge.models.config import ModelConfig, config_from_dict

CHECKPOINT_FORMAT = "amma-edge-checkpoint"
CHECKPOINT_VERSION = 1
_MT19937_WORDS = 624


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` atomically; it must hold only what `torch.load(weights_only=True)` accepts."""
    state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`, refusing anything that would need arbitrary unpickling."""
    path = Path(path)
    if not path.is_file():
        raise AmmaEdgeError(f"checkpoint {path} does not exist: pass the last.pt or best.pt a training run wrote")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "Unsupported global" in line), "")
        raise AmmaEdgeError(
            f"{path} holds objects other than tensors and plain values, so it was not written by amma-edge "
            f"and is not loaded (loading it could run code){': ' + detail if detail else ''}"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise AmmaEdgeError(f"{path} is not a readable checkpoint ({exc}); it may be truncated: use another one") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise AmmaEdgeError(f"{path} is not an amma-edge training checkpoint (no 'format': '{CHECKPOINT_FORMAT}')")
    if state.get("version", 0) > CHECKPOINT_VERSION:
        raise AmmaEdgeError(
            f"{path} has checkpoint version {state['version']}, newer than this amma-edge reads "
            f"({CHECKPOINT_VERSION}): upgrade amma-edge"
        )
    return state


def checkpoint_model_config(state: dict[str, Any]) -> ModelConfig:
    try:
        return config_from_dict(state["model_config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AmmaEdgeError(f"the checkpoint's model configuration is unusable ({exc}): it is damaged") from exc


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The trained network of a checkpoint (in eval mode) and the checkpoint itself, for inference and export."""
    from amma_edge.models import build

    state = load_checkpoint(path, map_location)
    model = build(checkpoint_model_config(state))
    model.load_state_dict(state["model"])
    model.eval()
    return model.to(map_location), state


def live_weights_state(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of a weight-averaged checkpoint whose `model` is the last step's live weights instead.

    Why: it is the paired measurement of what averaging bought. The averaged and the live weights come out of
    one trajectory, so scoring both separates the average's effect from run-to-run noise, which on this budget
    is several mAP points between seeds. The copy claims no average (ema_decay 0) and no validation metrics,
    since those scored the average; resuming from it continues without one.
    """
    if "train_model" not in state:
        raise AmmaEdgeError("the checkpoint was trained without a weight average (ema_decay 0), so its 'model' "
                            "already is the last step's weights: evaluate it as it is")
    live = {k: v for k, v in state.items() if k not in ("train_model", "average_updates", "format", "version")}
    live["model"] = state["train_model"]
    live["train_config"] = {**dict(state.get("train_config") or {}), "ema_decay": 0.0}
    live["metrics"], live["best"] = {}, None
    return live


# ----------------------------------------------------------------------------------------------- RNG state


def rng_state() -> dict[str, torch.Tensor]:
    """The torch (CPU and CUDA), numpy and Python generator states, each as a tensor."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, words, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_extra": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor([cached], dtype=torch.float64),
        "python": torch.tensor(words, dtype=torch.int64),
        "python_extra": torch.tensor([version, gauss_next is not None], dtype=torch.int64),
        "python_gauss": torch.tensor([gauss_next or 0.0], dtype=torch.float64),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this process's device only: never touch the other GPUs
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    keys = state["numpy"].cpu().numpy().astype(np.uint32)
    if len(keys) != _MT19937_WORDS:
        raise AmmaEdgeError("the checkpoint's numpy random state is damaged: resume from another checkpoint")
    pos, has_gauss = (int(v) for v in state["numpy_extra"].tolist())
    np.random.set_state(("MT19937", keys, pos, has_gauss, float(state["numpy_gauss"][0])))
    version, has_next = (int(v) for v in state["python_extra"].tolist())
    gauss_next = float(state["python_gauss"][0]) if has_next else None
    random.setstate((version, tuple(int(w) for w in state["python"].tolist()), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "checkpoint_model_config",
    "live_weights_state",
    "load_checkpoint",
    "load_model",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]
