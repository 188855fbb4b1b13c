"""Helpers of the export tests: the shared tiny AMMA (see tests/tiny_models.py)."""
from tiny_models import CLASSES, save_tiny_checkpoint, tiny_amma_config

__all__ = ["CLASSES", "save_tiny_checkpoint", "tiny_amma_config"]
