import random

import numpy as np
import pytest
import torch

from amma_edge.errors import AmmaEdgeError
from amma_edge.models import config_to_dict, get_config
from amma_edge.train.checkpoint import (
    load_checkpoint,
    load_model,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def _draws():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)], np.random.randn()


def test_rng_states_survive_a_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()  # leaves a cached Gaussian in numpy's state
    save_checkpoint(tmp_path / "c.pt", {"rng": rng_state()})
    expected = _draws()
    _draws()  # move every generator on
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert _draws() == expected


def test_a_checkpoint_with_arbitrary_objects_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "amma-edge-checkpoint", "version": 1, "payload": np.arange(3)}, path)
    with pytest.raises(AmmaEdgeError, match="not loaded"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable checkpoint"),
        (None, "not an amma-edge training checkpoint"),
        ({"format": "amma-edge-checkpoint", "version": 99}, "upgrade amma-edge"),
    ],
)
def test_unusable_files_are_named_with_what_to_do(tmp_path, content, message):
    path = tmp_path / "c.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content if content is not None else {"weights": torch.zeros(1)}, path)
    with pytest.raises(AmmaEdgeError, match=message):
        load_checkpoint(path)
    with pytest.raises(AmmaEdgeError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"step": 1, "w": torch.ones(4)})
    before = path.read_bytes()
    real_save = torch.save

    def crash_halfway(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(10)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"step": 2, "w": torch.zeros(4)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind
    assert load_checkpoint(path)["step"] == 1


def test_load_model_rebuilds_the_network_from_the_checkpoint_alone(tmp_path):
    config = get_config("amma-s", input_size=(64, 64), num_classes=3, K=2, t=2, width=0.5, feature_dim=16,
                        head_conv=8, box_head_conv=8)
    from amma_edge.models import build

    model = build(config).eval()
    save_checkpoint(tmp_path / "m.pt", {"model_config": config_to_dict(config), "model": model.state_dict(),
                                        "class_names": ["a", "b", "c"]})
    loaded, state = load_model(tmp_path / "m.pt")
    x = torch.randn(1, 2, 2, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert loaded.config == config and state["class_names"] == ["a", "b", "c"]
