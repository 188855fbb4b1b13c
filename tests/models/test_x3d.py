"""X3D backbones: pytorchvideo's checkpoint layout, published size and cost, stage outputs, training."""
import hashlib

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from amma_edge.errors import InputShapeError
from amma_edge.models.backbones.x3d import x3d_m, x3d_s, x3d_xs

# sha256 of the sorted "key shape" lines of pytorchvideo 0.1.5's
# create_x3d(input_clip_length=16, input_crop_size=224, depth_factor=2.2).state_dict(): 563 entries.
PYTORCHVIDEO_X3D_M_KEYS = 563
PYTORCHVIDEO_X3D_M_LAYOUT = "92cf6db9a1a738225146f7437e37d7696dcce71a7dd76afdd119768769bb9421"


def _layout(model: torch.nn.Module) -> tuple[int, str]:
    lines = sorted(f"{k} {tuple(v.shape)}" for k, v in model.state_dict().items())
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_x3d_m_state_dict_has_pytorchvideo_keys_and_shapes():
    assert _layout(x3d_m()) == (PYTORCHVIDEO_X3D_M_KEYS, PYTORCHVIDEO_X3D_M_LAYOUT)


def test_state_dict_keeps_pytorchvideo_naming_quirks():
    sd = x3d_m().state_dict()
    # pytorchvideo calls the stem's spatial convolution conv_t and its temporal one conv_xy.
    assert sd["blocks.0.conv.conv_t.weight"].shape == (24, 3, 1, 3, 3)
    assert sd["blocks.0.conv.conv_xy.weight"].shape == (24, 1, 5, 1, 1)
    # Stage 1 keeps 24 channels: strided shortcut convolution, but no shortcut batch norm.
    assert "blocks.1.res_blocks.0.branch1_conv.weight" in sd
    assert "blocks.1.res_blocks.0.branch1_norm.weight" not in sd
    assert sd["blocks.2.res_blocks.0.branch1_norm.weight"].shape == (48,)
    # Squeeze-excitation on every other block, stored inside norm_b, 1/16 of the 2.25× bottleneck rounded to 8.
    se = "blocks.3.res_blocks.{}.branch2.norm_b.1.block.0.weight"
    assert [se.format(i) in sd for i in range(5)] == [True, False, True, False, True]
    assert sd[se.format(0)].shape == (16, 216, 1, 1, 1)
    assert sd["blocks.4.res_blocks.6.branch2.conv_b.weight"].shape == (432, 1, 3, 3, 3)
    assert sd["blocks.5.pool.pre_conv.weight"].shape == (432, 192, 1, 1, 1)
    assert sd["blocks.5.pool.post_conv.weight"].shape == (2048, 432, 1, 1, 1)
    assert sd["blocks.5.proj.weight"].shape == (400, 2048)


def test_xs_and_s_are_x3d_m_fed_smaller_clips():
    weights = x3d_m().state_dict()
    for builder in (x3d_xs, x3d_s):
        builder().load_state_dict(weights, strict=True)
    assert (x3d_xs().clip_shape, x3d_s().clip_shape, x3d_m().clip_shape) == ((4, 160, 160), (13, 160, 160), (16, 224, 224))


def test_headless_backbone_loads_a_checkpoint_without_its_head():
    full = x3d_m().state_dict()
    backbone = {k: v for k, v in full.items() if not k.startswith("blocks.5.")}
    x3d_m(include_head=False).load_state_dict(backbone, strict=True)


def test_x3d_m_has_3_79_million_parameters():
    params = sum(p.numel() for p in x3d_m(num_classes=400).parameters())
    assert params == pytest.approx(3.79e6, rel=0.02)


def test_x3d_m_costs_4_73_gflops_at_16x224():
    # X3D counts one multiply-add as one FLOP; FlopCounterMode counts two.
    model = x3d_m().eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, 16, 224, 224))
    assert counter.get_total_flops() / 2 == pytest.approx(4.73e9, rel=0.10)


def test_stages_keep_time_and_halve_space():
    model = x3d_xs(include_head=False).eval()
    clip = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        stages = model.forward_stages(clip)
        picked = model.forward_stages(clip, (4, 2))
        last = model(clip)
    assert [tuple(s.shape) for s in stages] == [
        (1, 24, 4, 16, 16),
        (1, 48, 4, 8, 8),
        (1, 96, 4, 4, 4),
        (1, 192, 4, 2, 2),
    ]
    assert model.stage_channels == (24, 48, 96, 192)
    torch.testing.assert_close(picked[0], stages[3])
    torch.testing.assert_close(picked[1], stages[1])
    torch.testing.assert_close(last, stages[3])


def test_unknown_stage_is_rejected():
    with pytest.raises(ValueError, match="1 to 4"):
        x3d_xs(include_head=False).forward_stages(torch.zeros(1, 3, 2, 32, 32), (5,))


@pytest.mark.parametrize("width, channels", [(0.5, (16, 24, 48, 96)), (0.25, (8, 16, 24, 48))])
def test_width_multiplier_narrows_every_stage(width, channels):
    narrow = x3d_m(include_head=False, width=width)
    assert narrow.stage_channels == channels
    assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in x3d_m(include_head=False).parameters())
    with torch.no_grad():
        out = narrow.eval()(torch.randn(1, 3, 2, 64, 64))
    assert out.shape == (1, channels[-1], 2, 2, 2)


def test_small_clip_trains_every_parameter():
    model = x3d_xs(num_classes=5, width=0.5).train()
    logits = model(torch.randn(2, 3, 4, 64, 64))
    assert logits.shape == (2, 5)
    torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("shape", [(1, 16, 3, 64, 64), (3, 16, 64, 64), (1, 1, 4, 64, 64)])
def test_wrong_clip_layout_names_the_expected_shape(shape):
    with pytest.raises(InputShapeError, match=r"\(B, 3, T, H, W\)"):
        x3d_xs()(torch.zeros(shape))

