"""Sensitivity analysis finds the layer INT8 breaks, and --keep-float's search finds the fewest float layers."""
import numpy as np
import pytest
from calibration_fixtures import conv_net, random_weights

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from amma_edge.calibration.calibrate import search_float_count  # noqa: E402
from amma_edge.calibration.calibrators import MinMaxCalibrator  # noqa: E402
from amma_edge.calibration.collect import collect_statistics, float_activations, tensor_ranges  # noqa: E402
from amma_edge.calibration.reader import ArrayReader  # noqa: E402
from amma_edge.calibration.sensitivity import layer_sensitivity  # noqa: E402


def fragile_net():
    """conv1 is fragile: each of its output channels has one weight of 40 on an input channel that is always 0
    (conv0's channel 0 has no weights and a negative bias, so its ReLU is 0), so per-channel INT8 steps of
    40/127 round its real weights (~0.2) to zero while the huge ones change nothing."""
    w = random_weights([(6, 3), (6, 6), (4, 6)], seed=3)
    w[0][0] = 0.0
    w[1][:, 0, 1, 1] = 40.0
    return conv_net(w)


def test_the_fragile_layer_ranks_first():
    model = fragile_net()
    x = np.random.default_rng(0).normal(size=(8, 3, 8, 8)).astype(np.float32)
    reader = ArrayReader(x, "x")
    stats = collect_statistics(model, float_activations(model), reader, MinMaxCalibrator(), threads=1)
    ranking = layer_sensitivity("net", model, tensor_ranges(stats, MinMaxCalibrator()), reader, threads=1)
    assert [r.layer for r in ranking][0] == "conv1"
    assert {r.layer for r in ranking} == {"conv0", "conv1", "conv2"}
    assert ranking[0].sqnr_db < 10.0 < 25.0 < min(r.sqnr_db for r in ranking[1:])
    assert set(ranking[0].outputs) == {"y"} and ranking[0].as_dict()["graph"] == "net"


def test_the_search_finds_the_fewest_float_layers_with_few_evaluations():
    tried = []

    def drop(n):  # each layer kept float recovers one point; 7 layers needed for a drop <= 1
        tried.append(n)
        return max(0.0, 8.0 - n)

    assert search_float_count(20, drop, 1.0) == 7
    assert len(tried) <= 8 and 7 in tried and 6 in tried
    tried.clear()
    assert search_float_count(20, lambda n: tried.append(n) or 0.5, 1.0) == 0 and tried == [0]
    assert search_float_count(5, lambda n: 3.0, 1.0) == 5  # all float: the fp32 model, not evaluated
