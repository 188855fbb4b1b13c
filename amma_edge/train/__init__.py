"""Training: the AMMA and A* losses, the resumable (multi-GPU) training loop, checkpoints and `amma-edge train`.

The names below are loaded on first use (PEP 562): they all need torch, and the command line imports this
package to register `amma-edge train` on devices that run models without torch installed.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "live_weights_state": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_model": "checkpoint",
    "save_checkpoint": "checkpoint",
    "AMMALoss": "losses",
    "AMMALossConfig": "losses",
    "AStarLoss": "losses",
    "AStarLossConfig": "losses",
    "ProxyAnchorLoss": "losses",
    "build_loss": "losses",
    "NonFiniteLossError": "trainer",
    "TrainConfig": "trainer",
    "Trainer": "trainer",
    "TrainResult": "trainer",
    "default_train_config": "trainer",
    "train": "trainer",
    "validation_loss": "trainer",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
