"""The tiny AMMA checkpoint the export, build, bench and calibration tests share: 32×64 input (non-square, so a
swapped height and width shows), half width, three classes. Exporting even this takes seconds, so each test
package makes it once per session in its conftest."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.train.checkpoint import save_checkpoint

CLASSES = ("walk", "wave", "sit_down")


def tiny_amma_config(**overrides):
    settings = dict(num_classes=len(CLASSES), input_size=(32, 64), width=0.5, feature_dim=32, head_conv=32,
                    box_head_conv=16)
    settings.update(overrides)
    return get_config("amma-s", **settings)


def save_tiny_checkpoint(path: Path, config=None, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    config = config or tiny_amma_config()
    model = build(config).eval()
    # Untrained batch norms have unit statistics; give them some so the graphs see non-trivial normalisation.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    names = CLASSES if config.num_classes == len(CLASSES) else tuple(f"c{i}" for i in range(config.num_classes))
    return save_checkpoint(path, {"model_config": config_to_dict(config), "class_names": list(names),
                                  "model": model.state_dict(), "metrics": {}})


def relabelled_copy(folder: Path, out: Path, precision: str) -> Path:
    """A copy of an export whose graphs say `precision` while staying fp32: enough for the checks that read only
    the metadata (which folder a stage picks or refuses); no figure measured on it means anything about INT8."""
    import onnx

    from amma_edge.export.metadata import read_metadata, write_metadata

    shutil.copytree(folder, out)
    for path in out.glob("*.onnx"):
        model = onnx.load(str(path))
        write_metadata(model, read_metadata(model).replace(precision=precision))
        onnx.save(model, str(path))
    return out
