"""Training objectives of both model families, each returning its total and its parts.

AMMA (paper 003, eq. 4-7) is CenterNet's objective over a tubelet: a focal loss on the centre heatmap and L1
losses on movement and box size read at each tubelet's key-frame centre, weighted 1, 1 and 0.1.

The paper's eq. 5-6 divide the L1 sums by the number of instances n; the authors' code (MOC, which AMMA is
built on, as CenterNet) divides by the number of regressed values (n · 2K). We follow the code: the weights
1 / 1 / 0.1 were tuned with that normalisation, and it keeps the size loss independent of K.

A* (paper 000, §3.4) is YOLO's objective plus the action proxy-anchor loss (PAL, Kim et al. 2020):
BCE objectness, focal (or, for multi-label AVA, per-class BCE) classification, GIoU boxes and PAL on the
action embeddings of the anchors responsible for a box. The proxies are learnable parameters of the loss
module, so the trainer can give them their own learning rate (PAL's authors train them 100× faster).

Both criteria take the model's output dict and a collated batch (see `amma_edge.data.dataset`), compute in
float32 whatever the model ran in, and return a dict: "loss" (the weighted total) and one entry per part
(unweighted, for logging).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig


@dataclass(frozen=True)
class AMMALossConfig:
    """Weights of AMMA's eq. 7 (a, b, c = 1, 1, 0.1, from CenterNet) and the focal loss exponents (2 and 4)."""

    center_weight: float = 1.0
    movement_weight: float = 1.0
    size_weight: float = 0.1
    focal_alpha: float = 2.0
    focal_beta: float = 4.0
    family: str = dataclasses.field(default="amma", init=False)


@dataclass(frozen=True)
class AStarLossConfig:
    """A*'s eq. 4 weights and the settings of its parts.

    The paper names the weights λ but gives no values: all four default to 1. `multilabel` switches the
    classification loss from focal to per-class BCE, as the paper does for AVA. PAL's α = 32 and δ = 0.1 are
    the proxy-anchor paper's defaults; `ignore_iou` is YOLO's rule that a non-responsible anchor whose box
    already overlaps a ground-truth box that much is not pushed towards "no object".
    """

    objectness_weight: float = 1.0
    class_weight: float = 1.0
    box_weight: float = 1.0
    pal_weight: float = 1.0
    multilabel: bool = False
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    ignore_iou: float = 0.5
    pal_alpha: float = 32.0
    pal_margin: float = 0.1
    family: str = dataclasses.field(default="astar", init=False)


LossConfig = AMMALossConfig | AStarLossConfig


def loss_config_to_dict(config: LossConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def loss_config_from_dict(data: dict[str, Any]) -> LossConfig:
    data = dict(data)
    family = data.pop("family", "amma")
    cls = {"amma": AMMALossConfig, "astar": AStarLossConfig}.get(family)
    if cls is None:
        raise AmmaEdgeError(f"unknown loss family {family!r} in the training configuration: expected 'amma' or 'astar'")
    return cls(**data)


def default_loss_config(model_config: ModelConfig) -> LossConfig:
    return AMMALossConfig() if isinstance(model_config, AMMAConfig) else AStarLossConfig()


# ---------------------------------------------------------------------------------------------------- AMMA


def center_focal_loss(pred: Tensor, heatmap: Tensor, alpha: float = 2.0, beta: float = 4.0, eps: float = 1e-4) -> Tensor:
    """CenterNet's penalty-reduced focal loss, summed and divided by the number of heatmap peaks (at least 1).

    `pred` holds probabilities (the head applies the sigmoid); they are clamped to [eps, 1 − eps] so that a
    confidently wrong cell costs a bounded amount instead of an infinite one.
    """
    pred = pred.float().clamp(eps, 1.0 - eps)
    heatmap = heatmap.float()
    positive = heatmap.eq(1.0).float()
    negative_weight = (1.0 - heatmap).pow(beta) * (1.0 - positive)
    positive_loss = torch.log(pred) * (1.0 - pred).pow(alpha) * positive
    negative_loss = torch.log(1.0 - pred) * pred.pow(alpha) * negative_weight
    num_peaks = positive.sum().clamp(min=1.0)
    return -(positive_loss.sum() + negative_loss.sum()) / num_peaks


def gather_at(maps: Tensor, index: Tensor) -> Tensor:
    """Values of `maps` (B, D, h, w) at flat cells `index` (B, N) → (B, N, D)."""
    b, d, h, w = maps.shape
    flat = maps.reshape(b, d, h * w).permute(0, 2, 1)
    return flat.gather(1, index.long().unsqueeze(-1).expand(-1, -1, d))


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over the regressed values of real objects (`mask` (B, N) selects them)."""
    weight = mask.float().unsqueeze(-1).expand_as(pred)
    return ((pred.float() - target.float()).abs() * weight).sum() / (weight.sum() + 1e-4)


class AMMALoss(nn.Module):
    """Eq. 7: a·l_center + b·l_trajectory + c·l_box, on the head's center, trajectory and box maps."""

    def __init__(self, config: AMMALossConfig = AMMALossConfig()):
        super().__init__()
        self.config = config

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        c = self.config
        center = center_focal_loss(outputs["center"], batch["heatmap"], c.focal_alpha, c.focal_beta)
        index, mask = batch["index"], batch["mask"]
        movement = masked_l1(gather_at(outputs["trajectory"], index), batch["movement"], mask)
        size = masked_l1(gather_at(outputs["box"], index), batch["size"], mask)
        total = c.center_weight * center + c.movement_weight * movement + c.size_weight * size
        return {"loss": total, "center": center, "movement": movement, "size": size}


# ------------------------------------------------------------------------------------------------------ A*


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU of boxes (..., N, 4) and (..., M, 4), x1 y1 x2 y2 → (..., N, M)."""
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a[..., :, None] + area_b[..., None, :] - inter).clamp(min=1e-9)


def generalized_iou(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise GIoU of matched boxes (N, 4) and (N, 4): IoU minus the empty share of their hull, in [−1, 1]."""
    lt = torch.maximum(a[:, :2], b[:, :2])
    rb = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(-1)
    union = (area_a + area_b - inter).clamp(min=1e-9)
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).clamp(min=0).prod(-1).clamp(min=1e-9)
    return inter / union - (hull - union) / hull


def decode_anchor_boxes(raw: Tensor, anchors: Tensor, stride: int) -> Tensor:
    """Raw (tx, ty, tw, th) (B, A, 4, h, w) → boxes (B, A, h, w, 4) x1 y1 x2 y2 in input pixels (YOLOv2 form).

    tw and th are capped at 8 before exp: an untrained head can emit large values, and exp would overflow.
    """
    _, _, _, h, w = raw.shape
    ys = torch.arange(h, device=raw.device, dtype=raw.dtype).view(1, 1, h, 1)
    xs = torch.arange(w, device=raw.device, dtype=raw.dtype).view(1, 1, 1, w)
    cx = (xs + torch.sigmoid(raw[:, :, 0])) * stride
    cy = (ys + torch.sigmoid(raw[:, :, 1])) * stride
    bw = anchors[:, 0].view(1, -1, 1, 1) * torch.exp(raw[:, :, 2].clamp(max=8.0)) * stride
    bh = anchors[:, 1].view(1, -1, 1, 1) * torch.exp(raw[:, :, 3].clamp(max=8.0)) * stride
    return torch.stack((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), dim=-1)


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, gamma: float = 2.0, alpha: float = 0.25) -> Tensor:
    """RetinaNet's focal loss per element (not reduced): BCE scaled down where the prediction is already right."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_true = p * targets + (1 - p) * (1 - targets)
    weight = alpha * targets + (1 - alpha) * (1 - targets) if alpha >= 0 else 1.0
    return ce * (1 - p_true).pow(gamma) * weight


class ProxyAnchorLoss(nn.Module):
    """Proxy-anchor loss (Kim et al. 2020; A* eq. 3) with one learnable proxy per class.

    Every proxy pulls the embeddings of its class towards it and pushes the others away, the pull and push
    of each embedding weighted by how hard it is (a soft-max over the batch): positives are averaged over
    the proxies present in the batch, negatives over all proxies, as in the proxy-anchor paper. A*'s eq. 3
    as printed has no log; the proxy-anchor paper's log(1 + Σ e^…) is used here, which is what makes the
    pull hardness-weighted rather than dominated by one term.
    """

    def __init__(self, num_classes: int, embedding_dim: int, alpha: float = 32.0, margin: float = 0.1):
        super().__init__()
        self.alpha = alpha
        self.margin = margin
        self.proxies = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """`embeddings` (N, E), `labels` multi-hot (N, C); zero when the batch has no embeddings."""
        proxies = self.proxies.float()
        if embeddings.shape[0] == 0:
            return embeddings.sum() * 0.0 + proxies.sum() * 0.0  # keeps both in the graph for DDP
        cos = F.normalize(embeddings.float(), dim=1) @ F.normalize(proxies, dim=1).t()  # (N, C)
        labels = labels.float()
        pull = (torch.exp(-self.alpha * (cos - self.margin)) * labels).sum(0)
        push = (torch.exp(self.alpha * (cos + self.margin)) * (1 - labels)).sum(0)
        present = labels.sum(0) > 0
        positive = torch.log1p(pull)[present].sum() / present.sum().clamp(min=1)
        negative = torch.log1p(push).sum() / proxies.shape[0]
        return positive + negative


class AStarLoss(nn.Module):
    """Eq. 4: λ_obj·BCE + λ_cls·focal (or per-class BCE) + λ_box·GIoU + λ_pal·PAL.

    Expects the model outputs documented in `amma_edge.models.astar.detector` — "box" (B, A, 4, h, w) raw
    tx ty tw th, "objectness" (B, A, h, w) logits, "classes" (B, A, C, h, w) logits and "embedding"
    (B, A, E, h, w) — and the targets of `AStarTrainDataset`. Classification, box and objectness are summed
    and divided by the number of responsible anchors in the batch (at least 1), so their scale does not
    depend on the grid size. The tx/ty/tw/th targets are not used: GIoU compares decoded boxes.
    """

    anchors: Tensor

    def __init__(self, model_config: AStarConfig, config: AStarLossConfig = AStarLossConfig()):
        super().__init__()
        self.config = config
        self.stride = model_config.stride
        self.register_buffer("anchors", torch.tensor(model_config.anchors, dtype=torch.float32), persistent=False)
        self.pal = ProxyAnchorLoss(model_config.num_classes, model_config.embedding_dim, config.pal_alpha,
                                   config.pal_margin)

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        c = self.config
        raw = outputs["box"].float()
        objectness = outputs["objectness"].float()  # (B, A, h, w)
        class_logits = outputs["classes"].float().permute(0, 1, 3, 4, 2)  # (B, A, h, w, C)
        embedding = outputs["embedding"].float().permute(0, 1, 3, 4, 2)  # (B, A, h, w, E)
        positive = batch["obj_mask"] > 0.5
        num_pos = positive.sum().clamp(min=1).float()

        boxes = decode_anchor_boxes(raw, self.anchors.to(raw), self.stride)  # (B, A, h, w, 4)
        with torch.no_grad():
            b = boxes.shape[0]
            iou = box_iou(boxes.reshape(b, -1, 4), batch["gt_boxes"].float())  # (B, A·h·w, M)
            iou = iou.masked_fill(batch["gt_mask"][:, None, :] < 0.5, 0.0)
            best = iou.amax(-1) if iou.shape[-1] else iou.new_zeros(iou.shape[:-1])
            ignored = best.reshape(positive.shape) > c.ignore_iou
            weight = (positive | ~ignored).float()
        obj = F.binary_cross_entropy_with_logits(objectness, positive.float(), weight=weight, reduction="sum") / num_pos

        targets = batch["classes"].float()[positive]
        logits = class_logits[positive]
        if c.multilabel:
            cls = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / num_pos
        else:
            cls = sigmoid_focal_loss(logits, targets, c.focal_gamma, c.focal_alpha).sum() / num_pos

        giou = generalized_iou(boxes[positive], batch["boxes"].float()[positive])
        box = (1.0 - giou).sum() / num_pos
        pal = self.pal(embedding[positive], targets)

        total = c.objectness_weight * obj + c.class_weight * cls + c.box_weight * box + c.pal_weight * pal
        return {"loss": total, "objectness": obj, "classes": cls, "box": box, "pal": pal}


def build_loss(model_config: ModelConfig, config: LossConfig | None = None) -> nn.Module:
    """The criterion of `model_config`'s family; its parameters (A*'s proxies) must be trained with the model."""
    config = config if config is not None else default_loss_config(model_config)
    if isinstance(model_config, AMMAConfig):
        if not isinstance(config, AMMALossConfig):
            raise AmmaEdgeError(f"an AMMA model needs AMMA loss settings, got {type(config).__name__}")
        return AMMALoss(config)
    if not isinstance(config, AStarLossConfig):
        raise AmmaEdgeError(f"an A* model needs A* loss settings, got {type(config).__name__}")
    return AStarLoss(model_config, config)


LOSS_PARTS = {"amma": ("center", "movement", "size"), "astar": ("objectness", "classes", "box", "pal")}

__all__ = [
    "LOSS_PARTS",
    "AMMALoss",
    "AMMALossConfig",
    "AStarLoss",
    "AStarLossConfig",
    "LossConfig",
    "ProxyAnchorLoss",
    "box_iou",
    "build_loss",
    "center_focal_loss",
    "decode_anchor_boxes",
    "default_loss_config",
    "gather_at",
    "generalized_iou",
    "loss_config_from_dict",
    "loss_config_to_dict",
    "masked_l1",
    "sigmoid_focal_loss",
]
