"""Training: the AMMA and A* losses, the resumable (multi-GPU) training loop, checkpoints and `amma-edge train`."""
from amma_edge.train.checkpoint import load_checkpoint, load_model, save_checkpoint
from amma_edge.train.losses import (
    AMMALoss,
    AMMALossConfig,
    AStarLoss,
    AStarLossConfig,
    ProxyAnchorLoss,
    build_loss,
)
from amma_edge.train.trainer import (
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    TrainResult,
    default_train_config,
    train,
    validation_loss,
)

__all__ = [
    "AMMALoss",
    "AMMALossConfig",
    "AStarLoss",
    "AStarLossConfig",
    "NonFiniteLossError",
    "ProxyAnchorLoss",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "build_loss",
    "default_train_config",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
    "train",
    "validation_loss",
]
