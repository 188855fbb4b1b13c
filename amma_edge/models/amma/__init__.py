"""AMMA (paper 003): accumulated micro-motion, lateral fusion, tubelet head, and the streaming split."""
from amma_edge.models.amma.detector import AMMA, ClipEncoder
from amma_edge.models.amma.head import TubeletHead
from amma_edge.models.amma.micro_motion import MicroMotion
from amma_edge.models.config import AMMAConfig
from amma_edge.models.registry import register_family


@register_family("amma")
def build_amma(config: AMMAConfig) -> AMMA:
    return AMMA(config)


__all__ = ["AMMA", "ClipEncoder", "MicroMotion", "TubeletHead", "build_amma"]
