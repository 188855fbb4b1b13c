import pytest
import torch
from torch import nn

from amma_edge.train.averaging import WeightAverage, ramped_decay


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 1, 1))


def test_the_average_is_the_ramped_exponential_average_of_the_weights_seen():
    net = small_net()
    average = WeightAverage(net, decay=0.9)
    expected = {k: v.clone() for k, v in net.state_dict().items()}
    for step in range(1, 31):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
            net(torch.randn(4, 2, 8, 8))  # moves the batch-norm statistics (train mode)
        average.update(net)
        d = ramped_decay(0.9, step)
        for k, v in net.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    for k, v in average.state_dict().items():
        assert torch.allclose(v, expected[k], atol=1e-5), k
    assert int(average.state_dict()["1.num_batches_tracked"]) == 30  # integer buffers follow the live model
    assert not torch.equal(average.state_dict()["0.weight"], net.state_dict()["0.weight"])


def test_the_decay_ramps_up_so_the_first_random_weights_fade_at_once():
    assert ramped_decay(0.999, 1) == pytest.approx(2 / 11)
    assert ramped_decay(0.999, 100) == pytest.approx(101 / 110)
    assert ramped_decay(0.999, 100_000) == 0.999


def test_the_average_does_not_train_and_leaves_the_live_model_alone():
    net = small_net()
    average = WeightAverage(net, decay=0.5)
    assert not any(p.requires_grad for p in average.model.parameters())
    assert all(p.requires_grad for p in net.parameters())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    average.update(net)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_a_decay_outside_zero_to_one_is_refused(decay):
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        WeightAverage(small_net(), decay)


def test_another_model_is_refused():
    average = WeightAverage(small_net(), 0.9)
    with pytest.raises(ValueError, match="not the one"):
        average.update(nn.Linear(2, 2))
