"""Networks: the AMMA and A* detectors, their backbones, and the registry of named presets."""
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig, config_from_dict, config_to_dict
from amma_edge.models.registry import build, create, get_config, preset_names

__all__ = [
    "AMMAConfig",
    "AStarConfig",
    "ModelConfig",
    "build",
    "config_from_dict",
    "config_to_dict",
    "create",
    "get_config",
    "preset_names",
]
