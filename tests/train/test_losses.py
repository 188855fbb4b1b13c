import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amma_edge.data.targets import amma_targets, astar_targets
from amma_edge.errors import AmmaEdgeError
from amma_edge.models import get_config
from amma_edge.train.losses import (
    AMMALoss,
    AMMALossConfig,
    AStarLoss,
    AStarLossConfig,
    ProxyAnchorLoss,
    build_loss,
    center_focal_loss,
    decode_anchor_boxes,
    generalized_iou,
)

# ------------------------------------------------------------------------------------------------ AMMA


def test_focal_loss_matches_the_formula_on_a_two_cell_map():
    # one peak predicted at 0.5, one neighbour (gt 0.5) predicted at 0.5
    pred = torch.tensor([0.5, 0.5]).view(1, 1, 1, 2)
    gt = torch.tensor([1.0, 0.5]).view(1, 1, 1, 2)
    positive = -math.log(0.5) * 0.5**2
    negative = -math.log(0.5) * 0.5**2 * 0.5**4
    assert center_focal_loss(pred, gt).item() == pytest.approx(positive + negative, rel=1e-6)


def test_focal_loss_is_normalised_by_the_number_of_peaks():
    gt = torch.zeros(1, 2, 8, 8)
    gt[0, 0, 2, 3] = 1.0
    pred = torch.full_like(gt, 0.2)
    one = center_focal_loss(pred, gt)
    two = center_focal_loss(torch.cat([pred, pred]), torch.cat([gt, gt]))
    assert two.item() == pytest.approx(one.item(), rel=1e-6)


def test_focal_loss_stays_finite_when_the_head_is_certain_and_wrong():
    gt = torch.zeros(1, 1, 4, 4)
    gt[0, 0, 1, 1] = 1.0
    pred = 1.0 - gt  # 0 at the peak, 1 everywhere else
    loss = center_focal_loss(pred, gt)
    assert math.isfinite(loss.item())
    assert loss.item() > 100  # clamped at 1e-4: -log(1e-4) · 15 negatives + the peak


def test_focal_loss_is_near_zero_for_a_perfect_heatmap():
    gt = torch.zeros(1, 1, 6, 6)
    gt[0, 0, 3, 3] = 1.0
    assert center_focal_loss(gt.clone(), gt).item() < 1e-3


def _amma_batch(K=2, num_classes=3, size=(64, 64)):
    boxes = np.array([[[8, 8, 24, 40], [10, 8, 26, 40]], [[30, 20, 60, 60], [34, 20, 62, 60]]], np.float32)
    t = amma_targets(np.array([0, 2]), boxes, num_classes, size, 8, max_objs=4)
    return {k: torch.from_numpy(v)[None] for k, v in t.items()}


def _perfect_amma_outputs(batch, K=2):
    h = w = 8
    traj = torch.zeros(1, 2 * K, h * w)
    box = torch.zeros(1, 2 * K, h * w)
    for i in range(int(batch["mask"].sum())):
        cell = batch["index"][0, i]
        traj[0, :, cell] = batch["movement"][0, i]
        box[0, :, cell] = batch["size"][0, i]
    return {"center": batch["heatmap"].clone(), "trajectory": traj.view(1, 2 * K, h, w),
            "box": box.view(1, 2 * K, h, w)}


def test_amma_regressions_read_the_maps_at_each_objects_cell():
    batch = _amma_batch()
    outputs = _perfect_amma_outputs(batch)
    losses = AMMALoss()(outputs, batch)
    assert losses["movement"].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["size"].item() == pytest.approx(0.0, abs=1e-6)
    # off by one grid cell in every value: the L1 mean is 1
    shifted = dict(outputs, trajectory=outputs["trajectory"] + 1, box=outputs["box"] - 1)
    losses = AMMALoss()(shifted, batch)
    assert losses["movement"].item() == pytest.approx(1.0, rel=1e-3)
    assert losses["size"].item() == pytest.approx(1.0, rel=1e-3)


def test_amma_loss_ignores_padding_rows_and_weights_the_parts_1_1_0_1():
    batch = _amma_batch()
    outputs = _perfect_amma_outputs(batch)
    outputs["trajectory"] = outputs["trajectory"] + 0.5
    outputs["box"] = outputs["box"] + 2.0
    base = AMMALoss()(outputs, batch)
    padded = dict(batch, movement=batch["movement"].clone(), size=batch["size"].clone())
    padded["movement"][0, 2:] = 99.0  # rows past the real objects (mask 0)
    padded["size"][0, 2:] = -99.0
    again = AMMALoss()(outputs, padded)
    assert again["loss"].item() == pytest.approx(base["loss"].item(), rel=1e-6)
    expected = base["center"] + base["movement"] + 0.1 * base["size"]
    assert base["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    custom = AMMALoss(AMMALossConfig(size_weight=1.0))(outputs, batch)
    assert custom["loss"].item() == pytest.approx((base["center"] + base["movement"] + base["size"]).item(), rel=1e-6)


# -------------------------------------------------------------------------------------------------- A*


def test_giou_of_known_boxes():
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 1, 1]])
    b = torch.tensor([[0.0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 3, 3]])
    g = generalized_iou(a, b)
    assert g[0].item() == pytest.approx(1.0)
    assert g[1].item() == pytest.approx(1 / 7 - 2 / 9, rel=1e-6)
    assert g[2].item() == pytest.approx(0 - (9 - 2) / 9, rel=1e-6)  # disjoint: negative


ANCHORS = ((1.0, 1.5), (2.0, 2.0))


def _astar_config(**kw):
    return get_config("astar-x3dm", input_size=(64, 64), num_classes=3, anchors=ANCHORS, embedding_dim=4, **kw)


def _astar_batch(classes=((1, 0, 0),), boxes=((4, 8, 30, 50),)):
    t = astar_targets(np.array(classes, np.float32), np.array(boxes, np.float32), np.array(ANCHORS), (64, 64), 32,
                      max_objs=4)
    return {k: torch.from_numpy(v)[None] for k, v in t.items()}


def _perfect_astar_outputs(batch):
    """Raw outputs that decode exactly to the targets: the inverse of `astar_targets`' encoding."""
    txty = batch["txty"].clamp(1e-4, 1 - 1e-4)
    raw = torch.cat([torch.log(txty / (1 - txty)), batch["twth"]], dim=-1)  # (1, A, h, w, 4)
    positive = batch["obj_mask"]
    return {
        "box": raw.permute(0, 1, 4, 2, 3).contiguous(),
        "objectness": positive * 20 - 10,
        "classes": (batch["classes"] * 20 - 10).permute(0, 1, 4, 2, 3).contiguous(),
        "embedding": torch.randn(1, 2, 4, 2, 2),
    }


def test_decoded_boxes_invert_the_dataset_targets():
    batch = _astar_batch()
    boxes = decode_anchor_boxes(_perfect_astar_outputs(batch)["box"], torch.tensor(ANCHORS), 32)
    where = batch["obj_mask"] > 0
    assert torch.allclose(boxes[where], batch["boxes"][where], atol=1e-2)


def test_astar_loss_is_small_for_perfect_outputs_and_large_for_wrong_ones():
    config = _astar_config()
    criterion = AStarLoss(config)
    batch = _astar_batch()
    good = criterion(_perfect_astar_outputs(batch), batch)
    assert good["box"].item() < 1e-3
    assert good["objectness"].item() < 1e-3
    assert good["classes"].item() < 1e-3
    bad_outputs = _perfect_astar_outputs(batch)
    bad_outputs["objectness"] = -bad_outputs["objectness"]
    bad_outputs["classes"] = -bad_outputs["classes"]
    bad_outputs["box"] = bad_outputs["box"] + torch.tensor([0.0, 0, 2, -2]).view(1, 1, 4, 1, 1)
    bad = criterion(bad_outputs, batch)
    for part in ("objectness", "classes", "box"):
        assert bad[part].item() > 100 * max(good[part].item(), 1e-5)
    weights = criterion.config
    expected = (weights.objectness_weight * good["objectness"] + weights.class_weight * good["classes"]
                + weights.box_weight * good["box"] + weights.pal_weight * good["pal"])
    assert good["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_an_anchor_already_covering_a_box_is_not_pushed_to_background():
    criterion = AStarLoss(_astar_config())
    batch = _astar_batch()
    outputs = _perfect_astar_outputs(batch)
    # the other anchor of the responsible cell predicts the same box: IoU > 0.5, so its "object" score is free
    responsible = (batch["obj_mask"][0] > 0).nonzero()[0].tolist()
    other = 1 - responsible[0]
    cell = (responsible[1], responsible[2])
    anchors = torch.tensor(ANCHORS)
    outputs["box"][0, other, 2:, cell[0], cell[1]] = outputs["box"][0, responsible[0], 2:, cell[0], cell[1]] + torch.log(
        anchors[responsible[0]] / anchors[other])
    outputs["box"][0, other, :2, cell[0], cell[1]] = outputs["box"][0, responsible[0], :2, cell[0], cell[1]]
    base = criterion(outputs, batch)["objectness"].item()
    outputs["objectness"][0, other, cell[0], cell[1]] = 10.0
    assert criterion(outputs, batch)["objectness"].item() == pytest.approx(base, abs=1e-6)
    # a far-away anchor claiming an object is penalised
    outputs["objectness"][0, other, 1 - cell[0], 1 - cell[1]] = 10.0
    assert criterion(outputs, batch)["objectness"].item() > base + 5


def test_multilabel_switches_classification_to_per_class_bce():
    batch = _astar_batch(classes=((1, 0, 1),))
    outputs = _perfect_astar_outputs(batch)
    outputs["classes"] = torch.randn_like(outputs["classes"])
    criterion = AStarLoss(_astar_config(), AStarLossConfig(multilabel=True))
    where = batch["obj_mask"] > 0
    logits = outputs["classes"].permute(0, 1, 3, 4, 2)[where]
    expected = F.binary_cross_entropy_with_logits(logits, batch["classes"][where], reduction="sum")
    assert criterion(outputs, batch)["classes"].item() == pytest.approx(expected.item(), rel=1e-5)
    focal = AStarLoss(_astar_config())(outputs, batch)["classes"].item()
    assert focal < expected.item()  # the focal loss down-weights every term


def test_proxy_anchor_loss_rewards_embeddings_near_their_class_proxy():
    torch.manual_seed(0)
    pal = ProxyAnchorLoss(num_classes=3, embedding_dim=8)
    labels = torch.eye(3)
    near = pal(pal.proxies.detach().clone(), labels)
    wrong = pal(pal.proxies.detach().roll(1, dims=0), labels)
    assert near.item() < wrong.item()
    wrong = pal(pal.proxies.detach().roll(1, dims=0).requires_grad_(), labels)
    wrong.backward()
    assert pal.proxies.grad is not None and pal.proxies.grad.abs().sum() > 0


def test_proxy_anchor_loss_without_embeddings_is_zero_and_backpropagates():
    pal = ProxyAnchorLoss(num_classes=3, embedding_dim=8)
    embeddings = torch.zeros(0, 8, requires_grad=True)
    loss = pal(embeddings, torch.zeros(0, 3))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(pal.proxies.grad, torch.zeros_like(pal.proxies))


def test_proxies_are_parameters_of_the_astar_loss_and_amma_has_none():
    astar = build_loss(_astar_config())
    assert [name for name, _ in astar.named_parameters()] == ["pal.proxies"]
    assert tuple(astar.pal.proxies.shape) == (3, 4)
    amma = build_loss(get_config("amma-s", num_classes=3))
    assert list(amma.parameters()) == []


def test_build_loss_refuses_settings_of_the_other_family():
    with pytest.raises(AmmaEdgeError, match="AMMA loss settings"):
        build_loss(get_config("amma-s"), AStarLossConfig())
    with pytest.raises(AmmaEdgeError, match="A\\* loss settings"):
        build_loss(_astar_config(), AMMALossConfig())
