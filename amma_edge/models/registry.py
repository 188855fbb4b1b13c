"""Named presets: `create("amma-s")` builds AMMA-S, `create("amma-s", K=5)` a variant of it.

A preset is a frozen configuration; a family builder turns any configuration of its family into a network.
Users pick models by name on the command line, which is why this is a registry and the rest is not.
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig

if TYPE_CHECKING:  # torch is imported by the family modules, on the first `build`: the runtime reads presets
    from torch import nn  # and configurations on devices where torch is not installed.

_PRESETS: dict[str, ModelConfig] = {}
_BUILDERS: dict[str, Callable[[Any], nn.Module]] = {}
_FAMILY_MODULES = {"amma": "amma_edge.models.amma", "astar": "amma_edge.models.astar"}


def register_preset(config: ModelConfig) -> ModelConfig:
    if config.name in _PRESETS:
        raise ValueError(f"preset {config.name!r} is already registered")
    _PRESETS[config.name] = config
    return config


def register_family(family: str) -> Callable[[Callable[[Any], nn.Module]], Callable[[Any], nn.Module]]:
    def wrap(builder: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        _BUILDERS[family] = builder
        return builder

    return wrap


def preset_names() -> list[str]:
    return list(_PRESETS)


def get_config(name: str, **overrides: Any) -> ModelConfig:
    """The preset's configuration with `overrides` applied; unknown names and fields raise a clear error."""
    if name not in _PRESETS:
        raise AmmaEdgeError(f"unknown model {name!r}; available: {', '.join(_PRESETS)}")
    config = _PRESETS[name]
    if not overrides:
        return config
    fields = {f.name for f in dataclasses.fields(config) if f.init}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise AmmaEdgeError(f"model {name!r} has no setting {', '.join(unknown)}; settings: {', '.join(sorted(fields))}")
    try:
        return dataclasses.replace(config, **overrides)
    except ValueError as exc:
        raise AmmaEdgeError(f"invalid setting for {name!r}: {exc}") from exc


def build(config: ModelConfig) -> nn.Module:
    """Build the network of any configuration (a preset's or one loaded from a checkpoint)."""
    if config.family not in _BUILDERS:
        # Imported on first use, so that reading presets does not import every network.
        importlib.import_module(_FAMILY_MODULES[config.family])
    return _BUILDERS[config.family](config)


def create(name: str, **overrides: Any) -> nn.Module:
    return build(get_config(name, **overrides))


# The papers' models. AMMA presets use the UCF101-24 setting (K = 3); the JHMDB-21 setting is K=5, num_classes=21.
register_preset(AMMAConfig(name="amma-s", backbone="shufflenet_v2"))
register_preset(AMMAConfig(name="amma-m", backbone="mobilenet_v2"))
register_preset(AMMAConfig(name="amma-r18", backbone="resnet18"))
register_preset(AStarConfig(name="astar-x3dm", backbone="x3d_m"))
