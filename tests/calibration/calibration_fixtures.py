"""Helpers of the calibration tests: graphs built in code, a tiny AMMA export and a tiny synthetic dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tiny_models import CLASSES


def conv_net(weights: list[np.ndarray], *, opset: int = 17, size: int = 8, name: str = "tiny"):
    """x (1, C0, size, size) → Conv → Relu → Conv → Relu → … → Conv → y, 3×3 convs with padding 1 and biases;
    `weights[i]` is the i-th kernel (C_out, C_in, 3, 3). Nodes are named conv0, relu0, conv1, …"""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    current = "x"
    for i, w in enumerate(weights):
        inits.append(numpy_helper.from_array(np.asarray(w, np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(np.linspace(-0.1, 0.1, w.shape[0]).astype(np.float32), f"b{i}"))
        out = "y" if i == len(weights) - 1 else f"c{i}"
        nodes.append(helper.make_node("Conv", [current, f"w{i}", f"b{i}"], [out], name=f"conv{i}", pads=[1, 1, 1, 1]))
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"], name=f"relu{i}"))
            current = f"r{i}"
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                        [1, weights[0].shape[1], size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                        [1, weights[-1].shape[0], size, size])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    return model


def random_weights(shapes: list[tuple[int, int]], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, (2.0 / (cin * 9)) ** 0.5, (cout, cin, 3, 3)).astype(np.float32) for cout, cin in shapes]


def tiny_amma_config(**overrides):
    """The shared tiny AMMA with K = 2 clips of t = 2 frames, so calibration sequences stay short."""
    from tiny_models import tiny_amma_config as shared

    return shared(**{"K": 2, "t": 2, **overrides})


def save_tiny_checkpoint(path: Path, config=None, seed: int = 0) -> Path:
    from tiny_models import save_tiny_checkpoint as shared

    return shared(path, config or tiny_amma_config(), seed)


def write_tiny_dataset(path: Path, videos: int = 6, seed: int = 1) -> Path:
    from amma_edge.data.synth import SynthConfig, write_dataset

    write_dataset(path, SynthConfig(videos=videos, seed=seed, width=96, height=72, classes=CLASSES,
                                    test_fraction=0.5, min_frames=16, max_frames=20), workers=1)
    return path
