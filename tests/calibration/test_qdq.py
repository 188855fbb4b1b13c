"""Q/DQ graphs: the scales in the file are the calibrator's, bit for bit; weights are per-channel symmetric
INT8; only the inputs of weighted layers are quantized; ONNX Runtime runs the result close to fp32."""
import platform

import numpy as np
import pytest
from calibration_fixtures import conv_net, random_weights

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from amma_edge.calibration.calibrators import MinMaxCalibrator, int8_scale, make_calibrator  # noqa: E402
from amma_edge.calibration.collect import (  # noqa: E402
    collect_statistics,
    float_activations,
    ort_session,
    tensor_ranges,
)
from amma_edge.calibration.metrics import sqnr_db  # noqa: E402
from amma_edge.calibration.qdq import (  # noqa: E402
    QDQOptions,
    activation_scales,
    find_layers,
    opset_version,
    quantize_model,
)
from amma_edge.calibration.reader import ArrayReader  # noqa: E402
from amma_edge.errors import AmmaEdgeError  # noqa: E402

SHAPES = [(8, 3), (8, 8), (4, 8)]


@pytest.fixture(scope="module")
def net():
    model = conv_net(random_weights(SHAPES))
    x = np.random.default_rng(0).normal(size=(16, 3, 8, 8)).astype(np.float32)
    calibrator = make_calibrator("entropy")
    stats = collect_statistics(model, float_activations(model), ArrayReader(x, "x"), calibrator, threads=1)
    return model, x, tensor_ranges(stats, calibrator)


def run(model, x):
    session = ort_session(model.SerializeToString(), threads=1)
    return np.concatenate([session.run(None, {"x": x[i:i + 1]})[0] for i in range(len(x))])


def test_every_activation_of_the_graph_is_calibrated(net):
    model, _, ranges = net
    assert set(ranges) == {"x", "c0", "r0", "c1", "r1", "y"}
    assert all(v > 0 for v in ranges.values())


def test_the_scales_in_the_model_are_the_calibrators_exactly(net):
    model, _, ranges = net
    q = quantize_model(model, ranges)
    written = activation_scales(q.model)
    assert set(written) == {"x", "r0", "r1"}  # the inputs of the three convolutions, nothing else
    for tensor, scale in written.items():
        assert np.float32(scale).tobytes() == int8_scale(ranges[tensor]).tobytes()
    assert q.activation_scales == written


def test_activations_are_signed_symmetric_and_weights_per_channel_int8(net):
    model, _, ranges = net
    q = quantize_model(model, ranges).model
    inits = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    quantize = [n for n in q.graph.node if n.op_type == "QuantizeLinear"]
    assert all(inits[n.input[2]].dtype == np.int8 and inits[n.input[2]] == 0 for n in quantize)
    weight_dq = [n for n in q.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert len(weight_dq) == len(SHAPES)
    original = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node, (cout, _) in zip(weight_dq, SHAPES):
        values, scales, zeros = (inits[i] for i in node.input)
        assert values.dtype == np.int8 and np.abs(values.astype(int)).max() <= 127
        assert scales.shape == (cout,) and zeros.shape == (cout,) and not zeros.any()
        assert {a.name: a.i for a in node.attribute} == {"axis": 0}
        w = original[f"w{weight_dq.index(node)}"]
        np.testing.assert_array_equal(scales, (np.abs(w).max(axis=(1, 2, 3)) / np.float32(127)).astype(np.float32))
        dequantized = values.astype(np.float32) * scales[:, None, None, None]
        assert np.all(np.abs(dequantized - w) <= scales[:, None, None, None] / 2 + 1e-7)
    assert not any(name.startswith("w") and name[1:].isdigit() for name in inits)  # float weights are gone
    assert all(o.name == "y" for o in q.graph.output)  # the output is not quantized: no Q/DQ feeds it
    assert not any(n.output[0] == "y" for n in q.graph.node if n.op_type == "DequantizeLinear")


def test_onnx_runtime_runs_the_qdq_model_close_to_fp32(net):
    model, x, ranges = net
    q = quantize_model(model, ranges).model
    reference, quantized = run(model, x), run(q, x)
    assert 25.0 < sqnr_db(reference, quantized) < 100.0  # close, and really quantized


def test_layers_left_float_keep_their_weights_and_inputs(net):
    model, x, ranges = net
    q = quantize_model(model, ranges, exclude=["conv1"])
    assert q.float_layers == ("conv1",) and q.layers == ("conv0", "conv2")
    conv1 = next(n for n in q.model.graph.node if n.name == "conv1")
    assert list(conv1.input) == ["r0", "w1", "b1"]
    assert set(activation_scales(q.model)) == {"x", "r1"}
    assert sqnr_db(run(model, x), run(quantize_model(model, ranges, exclude=["conv0", "conv1", "conv2"]).model,
                                       x)) == np.inf


def test_quantizing_a_tensor_without_a_range_or_an_unknown_layer_is_refused(net):
    model, _, ranges = net
    with pytest.raises(AmmaEdgeError, match="no calibration range for tensor r0"):
        quantize_model(model, {k: v for k, v in ranges.items() if k != "r0"})
    with pytest.raises(AmmaEdgeError, match="no quantizable layer named relu0"):
        quantize_model(model, ranges, exclude=["relu0"])


def test_an_old_opset_is_raised_to_13_for_per_axis_qdq():
    model = conv_net(random_weights(SHAPES[:2]), opset=11)
    x = np.random.default_rng(1).normal(size=(4, 3, 8, 8)).astype(np.float32)
    stats = collect_statistics(model, float_activations(model), ArrayReader(x, "x"), MinMaxCalibrator(), threads=1)
    q = quantize_model(model, tensor_ranges(stats, MinMaxCalibrator())).model
    assert opset_version(model) == 11 and opset_version(q) >= 13
    assert sqnr_db(run(model, x), run(q, x)) > 25.0


def _x86_without_vnni() -> bool:
    """ONNX Runtime's u8 x s8 kernels on x86 without VNNI sum pairs of products in 16 bits, which saturate."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return False
    return not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}


def test_the_cpu_comparison_variant_quantizes_layer_outputs_with_unsigned_activations(net):
    model, x, ranges = net
    options = QDQOptions(activation_type="uint8", quantize_outputs=True, weight_bits=7)
    q = quantize_model(model, ranges, options=options).model
    assert set(activation_scales(q)) == {"x", "c0", "c1", "r0", "r1"}  # y is a graph output: never quantized
    zero_points = {numpy_helper.to_array(i).dtype for i in q.graph.initializer if i.name.endswith("zero_point")
                   and not i.name.startswith("w")}
    assert zero_points == {np.dtype(np.uint8)}
    weights = [numpy_helper.to_array(i) for i in q.graph.initializer if i.name.endswith("_quantized")]
    assert weights and max(int(np.abs(w).max()) for w in weights) == 63  # 7 bits: no 16-bit saturation
    assert sqnr_db(run(model, x), run(q, x)) > 25.0  # on any CPU


@pytest.mark.skipif(_x86_without_vnni(), reason="this x86 CPU has no VNNI: ONNX Runtime's u8 x s8 kernels "
                    "saturate 16-bit sums with 8-bit weights (the reason weight_bits=7 exists)")
def test_unsigned_activations_with_8_bit_weights_are_close_where_products_accumulate_in_32_bits(net):
    model, x, ranges = net
    q = quantize_model(model, ranges, options=QDQOptions(activation_type="uint8", quantize_outputs=True)).model
    assert sqnr_db(run(model, x), run(q, x)) > 25.0


def test_weight_bits_other_than_7_or_8_are_refused():
    with pytest.raises(ValueError, match="weight_bits must be 7 or 8"):
        QDQOptions(weight_bits=4)


def test_find_layers_lists_the_weighted_nodes_in_graph_order(net):
    model, _, _ = net
    layers = find_layers(model)
    assert [(lay.name, lay.activations, lay.weight, lay.axis) for lay in layers] == [
        ("conv0", ("x",), "w0", 0), ("conv1", ("r0",), "w1", 0), ("conv2", ("r1",), "w2", 0)]
