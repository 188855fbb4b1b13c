"""A* (paper 000): X3D backbone, LLFA with ASTPP, IVFF self-attention fusion, YOLO anchor head."""
from amma_edge.models.astar.astpp import ASTPP
from amma_edge.models.astar.detector import AStar
from amma_edge.models.astar.head import AnchorHead
from amma_edge.models.astar.ivff import IVFF
from amma_edge.models.astar.llfa import LLFA
from amma_edge.models.config import AStarConfig
from amma_edge.models.registry import register_family


@register_family("astar")
def build_astar(config: AStarConfig) -> AStar:
    return AStar(config)


__all__ = ["ASTPP", "AStar", "AnchorHead", "IVFF", "LLFA", "build_astar"]
