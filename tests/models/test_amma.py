import pytest
import torch
from torch import nn

from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.models import AMMAConfig, build, create, get_config
from amma_edge.models.amma.micro_motion import MICRO_MOTION_EPS, MicroMotion
from amma_edge.models.complexity import count_parameters, measure

BACKBONES = ["shufflenet_v2", "mobilenet_v2", "resnet18"]


def small(backbone: str, micro_motion: str = "conv_diff", **kw) -> AMMAConfig:
    base = dict(name="tiny", backbone=backbone, num_classes=5, K=3, t=4, input_size=(64, 96), micro_motion=micro_motion)
    base.update(kw)
    return AMMAConfig(**base)


DECODERS = {"published": dict(decoder="amma"), "skip": dict(decoder="skip"),
            "skip-stride4": dict(decoder="skip", output_stride=4)}


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("decoder", DECODERS)
def test_streaming_split_equals_full_forward(backbone, decoder):
    model = build(small(backbone, **DECODERS[decoder])).eval()
    clips = torch.randn(2, 3, 4, 3, 64, 96)
    with torch.no_grad():
        full = model(clips)
        features = torch.stack([model.encode(clips[:, k]) for k in range(3)], dim=1)
        streamed = model.head(features)
    assert set(full) == {"center", "trajectory", "box"}
    for name in full:
        torch.testing.assert_close(streamed[name], full[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("decoder", DECODERS)
def test_output_shapes_follow_the_grid(backbone, decoder):
    config = small(backbone, **DECODERS[decoder])
    model = build(config).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 4, 3, 64, 96))
    grid = (64 // config.stride, 96 // config.stride)
    assert config.output_size == grid == ((8, 12) if decoder != "skip-stride4" else (16, 24))
    assert out["center"].shape == (1, 5, *grid)
    assert out["trajectory"].shape == (1, 6, *grid)
    assert out["box"].shape == (1, 6, *grid)
    assert float(out["center"].min()) >= 0 and float(out["center"].max()) <= 1


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("micro_motion,decoder", [("conv_diff", "published"), ("rgb_diff", "published"),
                                                  ("none", "published"), ("conv_diff", "skip"), ("none", "skip"),
                                                  ("conv_diff", "skip-stride4")])
def test_every_parameter_learns(backbone, micro_motion, decoder):
    model = build(small(backbone, micro_motion, **DECODERS[decoder])).train()
    out = model(torch.randn(2, 3, 4, 3, 64, 64))
    loss = sum(v.float().pow(2).mean() for v in out.values())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing[:5]}"


def test_learning_through_some_clips_keeps_the_outputs_and_stops_the_encoder_gradient_of_the_others():
    model = build(small("shufflenet_v2", decoder="skip")).eval()  # eval: batch norm identical for any sub-batch
    clips = torch.randn(2, 3, 4, 3, 64, 96, requires_grad=True)
    full = model(clips)
    partial = model(clips, grad_clips=[1])
    for name in full:
        torch.testing.assert_close(partial[name], full[name], rtol=1e-4, atol=1e-5)
    sum(v.float().sum() for v in partial.values()).backward()
    per_clip = clips.grad.abs().sum(dim=(0, 2, 3, 4, 5))
    assert per_clip[1] > 0 and per_clip[0] == 0 and per_clip[2] == 0
    head_grads = [p.grad.clone() for p in model.head.parameters()]
    model.zero_grad()
    sum(v.float().sum() for v in model(clips).values()).backward()
    for got, want in zip(head_grads, model.head.parameters()):
        torch.testing.assert_close(got, want.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("depth,reach", [(1, 1), (2, 2), (3, 3)])
def test_a_deeper_center_branch_sees_farther_and_the_others_are_unchanged(depth, reach):
    from amma_edge.models.amma.head import TubeletHead
    torch.manual_seed(0)
    head = TubeletHead(in_channels=4, K=3, num_classes=2, head_conv=8, box_head_conv=8, center_depth=depth)
    nn.init.normal_(head.center[-1].weight)  # the prior init leaves the last layer near zero
    features = torch.randn(1, 3, 4, 12, 12)
    changed = features.clone()
    changed[..., 6, 6] += 5.0
    with torch.no_grad():
        diff = (head(changed)["center"] - head(features)["center"]).abs().amax(dim=(0, 1))
    moved = (diff > 0).nonzero()
    assert int((moved - 6).abs().max()) == reach  # one more cell of context per 3×3 convolution
    assert len(head.trajectory) == len(head.box) == 3


@pytest.mark.parametrize("grad_clips", [[], [3], [-1]])
def test_grad_clips_outside_the_k_clips_are_refused(grad_clips):
    model = build(small("shufflenet_v2")).train()
    with pytest.raises(ValueError, match="grad_clips must name one or more of clips 0…2"):
        model(torch.randn(1, 3, 4, 3, 64, 64), grad_clips=grad_clips)


@pytest.mark.parametrize("backbone,strides", [("shufflenet_v2", [8, 16]), ("mobilenet_v2", [8]), ("resnet18", [8])])
def test_skip_decoder_reads_the_stages_that_end_at_stride_8_and_16(backbone, strides):
    model = build(small(backbone, decoder="skip"))
    assert sorted(model.encoder.skip_strides) == strides
    assert sorted(int(s) for s in model.encoder.decoder.laterals) == strides
    assert build(small(backbone)).encoder.skip_strides == {}


# ResNet-18 is left out: untrained, its deep path amplifies any change to the whole map, which hides the effect.
@pytest.mark.parametrize("backbone", ["shufflenet_v2", "mobilenet_v2"])
def test_skip_decoder_keeps_a_fine_change_where_it_happened(backbone):
    """What the stride-8 stage carries reaches the clip feature in place: a change at one cell of it shows most
    at that cell. With the published decoder it reaches the output only through stride 32, blurred."""
    model = build(small(backbone, decoder="skip")).eval()
    torch.manual_seed(0)
    clip = torch.randn(1, 4, 3, 64, 96)
    segment = model.encoder.skip_strides[8]
    calls = []

    def nudge(module, args, output):  # the fused stride-8 feature, moved at one cell only
        calls.append(output.shape)
        output = output.clone()
        output[..., 3, 5] += 5.0
        return output

    target = model.encoder.backbone.appearance.get_submodule(model.encoder.backbone._segments[segment][-1])
    with torch.no_grad():
        before = model.encode(clip)
        handle = target.register_forward_hook(nudge)
        try:
            after = model.encode(clip)
        finally:
            handle.remove()
    assert calls and calls[0][-2:] == (8, 12)
    change = (after - before).abs().amax(dim=1)[0]
    # The later stages see the nudge too and spread it thinly; the skip puts its largest effect on its own cell.
    assert divmod(int(change.argmax()), change.shape[1]) == (3, 5)
    assert change[3, 5] > 3 * change.median()


@pytest.mark.parametrize("backbone,strides", [("shufflenet_v2", [4, 8, 16]), ("mobilenet_v2", [4, 8]),
                                              ("resnet18", [4, 8])])
def test_a_stride_4_output_also_reads_the_stride_4_stage(backbone, strides):
    model = build(small(backbone, decoder="skip", output_stride=4))
    assert sorted(model.encoder.skip_strides) == strides
    assert sorted(int(s) for s in model.encoder.decoder.laterals) == strides


def test_a_stride_4_output_needs_the_skip_decoder_and_says_so():
    with pytest.raises(ValueError, match="output_stride=4 reads the backbone's stride-4 features.*set decoder=skip"):
        small("shufflenet_v2", output_stride=4)
    with pytest.raises(ValueError, match="output_stride must be one of 8, 4; got 2"):
        small("shufflenet_v2", decoder="skip", output_stride=2)


def test_a_frame_step_must_be_a_whole_number_of_frames_and_sets_the_clip_span():
    assert small("shufflenet_v2", frame_step=3).clip_span == 12
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match=f"frame_step must be a whole number of frames, at least 1.*got {bad}"):
            small("shufflenet_v2", frame_step=bad)


def test_a_hop_overlaps_clips_and_sets_how_far_apart_clip_ends_are():
    assert small("shufflenet_v2").clip_hop == 4  # hop 0: clips do not overlap
    assert small("shufflenet_v2", hop=2, frame_step=3).clip_hop == 6
    for bad in (5, -1, 1.5):
        with pytest.raises(ValueError, match=f"hop must be a whole number of sampled frames from 1 to t=4.*got {bad}"):
            small("shufflenet_v2", hop=bad)


def test_unknown_decoder_names_the_choices():
    with pytest.raises(ValueError, match="decoder must be one of amma, skip; got 'fpn'"):
        small("shufflenet_v2", decoder="fpn")


def test_configs_saved_before_the_decoder_setting_load_with_the_published_one():
    from amma_edge.models.config import config_from_dict, config_to_dict

    saved = config_to_dict(small("shufflenet_v2"))
    del saved["decoder"], saved["output_stride"]
    assert config_from_dict(saved).decoder == "amma" and config_from_dict(saved).output_stride == 8
    assert config_from_dict(config_to_dict(small("resnet18", decoder="skip"))).decoder == "skip"


def test_rgb_only_variant_has_no_motion_stream():
    with_motion = count_parameters(build(small("resnet18", "conv_diff")))
    rgb_only = build(small("resnet18", "none"))
    assert rgb_only.encoder.micro_motion is None and rgb_only.encoder.backbone.motion is None
    # the motion stream duplicates conv1, layer1 and layer2 of ResNet-18 (AMMA Table 2: +0.68 M)
    assert 0.6e6 < with_motion - count_parameters(rgb_only) < 0.75e6


def test_fusion_weights_stay_between_zero_and_one():
    model = build(small("shufflenet_v2"))
    for fusion in model.encoder.backbone.fusions:
        fusion.weight_logit.data.fill_(50.0)
        assert 0.0 < fusion.appearance_weight <= 1.0
        fusion.weight_logit.data.fill_(-50.0)
        assert 0.0 <= fusion.appearance_weight < 1.0
        a, m = torch.ones(1), torch.zeros(1)
        fusion.weight_logit.data.fill_(0.3)
        w = fusion.appearance_weight
        torch.testing.assert_close(fusion(a, m), torch.tensor([w]))  # w·a + (1−w)·m


@pytest.mark.parametrize(
    "shape, problem",
    [
        ((1, 3, 5, 3, 64, 64), "t=4"),  # wrong clip length
        ((1, 3, 4, 1, 64, 64), "channels"),  # grey frames
        ((1, 3, 4, 3, 70, 64), "multiple of 32"),
        ((1, 2, 4, 3, 64, 64), "K=3"),
        ((3, 4, 3, 64, 64), "dimensions"),
    ],
)
def test_wrong_input_names_the_expected_shape(shape, problem):
    model = build(small("shufflenet_v2")).eval()
    with pytest.raises(InputShapeError) as err:
        model(torch.zeros(shape))
    assert "(batch, K=3, t=4, 3, H, W)" in str(err.value) and problem in str(err.value)


def test_encode_and_head_check_their_inputs():
    model = build(small("shufflenet_v2")).eval()
    with pytest.raises(InputShapeError, match=r"\(batch, t=4, 3, H, W\)"):
        model.encode(torch.zeros(1, 3, 3, 64, 64))
    with pytest.raises(InputShapeError, match="K=3"):
        model.head(torch.zeros(1, 2, 64, 8, 8))


def test_micro_motion_is_silent_on_still_frames_and_lights_up_where_things_move():
    mm = MicroMotion("rgb_diff")
    still = torch.rand(1, 1, 3, 64, 64).expand(1, 4, 3, 64, 64).contiguous()
    out = mm(still)
    assert out.shape == (1, 3, 64, 64)
    torch.testing.assert_close(out, torch.full_like(out, MICRO_MOTION_EPS**0.5))

    moving = torch.zeros(1, 4, 3, 64, 64)
    for i in range(4):
        moving[0, i, :, 20:30, 10 + 5 * i : 20 + 5 * i] = 1.0  # a square sliding right
    out = mm(moving)
    assert float(out[0, :, 20:30, 8:40].mean()) > 10 * float(out[0, :, 45:, 45:].mean())
    # the oldest frame is farthest from the key frame, so its map covers the most motion
    assert float(out[0, 0].sum()) > float(out[0, 2].sum())


def test_conv_diff_motion_has_one_map_per_earlier_frame():
    mm = MicroMotion("conv_diff")
    assert mm(torch.randn(2, 6, 3, 32, 32)).shape == (2, 5, 32, 32)


def test_clip_length_other_than_four_adapts_the_motion_stream():
    model = build(small("mobilenet_v2", t=6)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 6, 3, 64, 64))
    assert out["center"].shape == (1, 5, 8, 8)


def test_presets_and_overrides():
    assert get_config("amma-s").backbone == "shufflenet_v2"
    assert get_config("amma-m", K=5).K == 5
    with pytest.raises(AmmaEdgeError, match="available: .*amma-s"):
        get_config("amma-xl")
    with pytest.raises(AmmaEdgeError, match="no setting colour"):
        get_config("amma-s", colour="red")
    with pytest.raises(AmmaEdgeError, match="multiples of 32"):
        get_config("amma-s", input_size=(100, 100))
    with pytest.raises(AmmaEdgeError, match="micro_motion"):
        create("amma-s", micro_motion="optical_flow")


# AMMA Table 3 (JHMDB-21 setting: K = 5, 21 classes, 288×288, t = 4): params (M) and GMACs per clip, (K·E + H)/K.
TABLE_3 = {"amma-r18": (15.8, 5.2), "amma-m": (6.8, 1.3), "amma-s": (6.0, 1.0)}


@pytest.mark.parametrize("name", list(TABLE_3))
def test_sizes_match_the_paper(name):
    params_m, gmacs = TABLE_3[name]
    result = measure(get_config(name, K=5, num_classes=21))
    assert result.params / 1e6 == pytest.approx(params_m, rel=0.10)
    assert result.paper_macs_per_clip / 1e9 == pytest.approx(gmacs, rel=0.15)
    # streaming pays the whole head for every clip, more than the paper's per-clip figure
    assert result.stream_macs > result.paper_macs_per_clip


def test_imagenet_weights_start_both_streams(tmp_path):
    from amma_edge.models.amma.pretrained import load_backbone_weights
    from amma_edge.models.backbones.resnet import resnet18

    imagenet = resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet.state_dict(), path)
    model = build(small("resnet18"))
    loaded = load_backbone_weights(model, path)
    backbone = model.encoder.backbone
    torch.testing.assert_close(backbone.appearance.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)
    torch.testing.assert_close(backbone.motion.layer2[0].conv1.weight, imagenet.layer2[0].conv1.weight)
    assert loaded == len(backbone.motion.state_dict())


def test_wrong_weights_file_is_refused_before_anything_loads(tmp_path):
    from amma_edge.models.amma.pretrained import load_backbone_weights
    from amma_edge.models.backbones.mobilenet_v2 import mobilenet_v2

    path = tmp_path / "mobilenet.pth"
    torch.save(mobilenet_v2().state_dict(), path)
    model = build(small("resnet18"))
    before = model.encoder.backbone.appearance.conv1.weight.clone()
    with pytest.raises(AmmaEdgeError, match="mobilenet.pth"):
        load_backbone_weights(model, path)
    torch.testing.assert_close(model.encoder.backbone.appearance.conv1.weight, before)
