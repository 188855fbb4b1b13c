import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from amma_edge.errors import AmmaEdgeError
from amma_edge.train.checkpoint import load_checkpoint
from amma_edge.train.distributed import init_distributed
from amma_edge.train.progress import read_log
from amma_edge.train.trainer import EpochSampler

REPO = Path(__file__).resolve().parents[2]


def test_ranks_read_disjoint_shards_that_cover_the_epoch():
    shards = []
    for rank in range(2):
        sampler = EpochSampler(10, seed=7, num_replicas=2, rank=rank)
        sampler.set_epoch(3)
        shards.append([i for i, _ in sampler])
    assert not set(shards[0]) & set(shards[1])
    assert set(shards[0]) | set(shards[1]) == set(range(10))


def test_the_epoch_order_is_reproducible_and_a_skip_continues_it():
    sampler = EpochSampler(12, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, skip=5)
    assert list(sampler) == full[5:]  # same indices, same per-sample seeds
    sampler.set_epoch(3)
    assert [i for i, _ in sampler] != [i for i, _ in full]
    assert len({seed for _, seed in full}) == 12


def test_a_single_process_needs_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = init_distributed("cpu")
    assert not ctx.distributed and ctx.is_main and ctx.device == "cpu"


def test_world_size_without_a_rendezvous_address_says_to_use_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(AmmaEdgeError, match="torchrun"):
        init_distributed("cpu")


# Each rank trains the same tiny AMMA on its half of the data and saves the weights it ends with.
WORKER = textwrap.dedent('''
    import os, signal, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from amma_edge.data.annotations import GroundTruth
    from amma_edge.data.dataset import AMMATrainDataset
    from amma_edge.models import get_config
    from amma_edge.train.trainer import Trainer, default_train_config

    out = sys.argv[1]
    H, W = 32, 48
    names = [f"v{i}" for i in range(3)]
    tubes = {}
    for i, v in enumerate(names):
        f = np.arange(1, 7, dtype=np.float32)
        x = 2.0 + i + f
        tubes[v] = {i: [np.stack([f, x, 4 + 0 * f, x + 14, 28 + 0 * f], 1)]}
    gt = GroundTruth(labels=["a", "b", "c"], splits=[(names, [])], nframes={v: 6 for v in names},
                     resolution={v: (H, W) for v in names}, gttubes=tubes)

    def read_frame(video, frame):
        img = np.full((H, W, 3), 40, np.uint8)
        x = 2 + int(video[1:]) + frame
        img[4:28, x:x + 14] = 200
        return img

    config = get_config("amma-s", input_size=(64, 64), num_classes=3, K=2, t=2, width=0.5, feature_dim=16,
                        head_conv=8, box_head_conv=8)
    dataset = AMMATrainDataset("unused", gt, config, read_frame=read_frame)
    train_config = default_train_config(config, out=out, epochs=1, batch_size=3, workers=0, log_every=1,
                                         lr=1e-3, device="cpu")
    if sys.argv[2:] == ["budget"]:  # 12 s of budget, far fewer steps than 50 epochs
        train_config = default_train_config(config, out=out, epochs=50, batch_size=3, workers=0, log_every=1,
                                             lr=1e-3, device="cpu", max_minutes=0.2, lr_schedule="cosine")
    trainer = Trainer(train_config, config, dataset, class_names=gt.labels)
    assert trainer.ctx.world_size == 2 and trainer.ctx.backend == "gloo"
    if sys.argv[2:] == ["budget"]:  # the ranks' clocks disagree: rank 1 alone would plan four times the steps
        from amma_edge.train.budget import TimeBudget
        trainer.budget = TimeBudget(0.2, min_steps=3)
        tick = 1.0 if trainer.ctx.rank == 0 else 0.25
        clock = iter(tick * n for n in range(1, 100000))
        trainer._clock = lambda: next(clock)
    if sys.argv[2:] == ["interrupt"] and trainer.ctx.rank == 1:  # Ctrl-C reaches rank 1 alone, inside step 2
        def hook(*args):
            if trainer.step == 1:
                os.kill(os.getpid(), signal.SIGINT)
        trainer.model.register_forward_hook(hook)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        pass
    torch.save(trainer.model.state_dict(), os.path.join(out, f"rank{trainer.ctx.rank}.weights"))
    torch.save(torch.tensor([trainer.step]), os.path.join(out, f"rank{trainer.ctx.rank}.steps"))
''')


def torchrun(tmp_path, *args):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script), str(out),
         *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    weights = [torch.load(out / f"rank{r}.weights", weights_only=True) for r in range(2)]
    steps = [int(torch.load(out / f"rank{r}.steps")[0]) for r in range(2)]
    return out, weights, steps


@pytest.mark.slow
def test_two_gloo_processes_under_torchrun_end_with_identical_weights(tmp_path):
    out, (w0, w1), steps = torchrun(tmp_path)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    # 18 samples, 9 per rank, batch 3: three steps, each averaging the gradients of both ranks
    assert steps == [3, 3]
    state = load_checkpoint(out / "last.pt")
    assert state["world_size"] == 2
    assert all(torch.equal(state["model"][k], w0[k]) for k in w0)
    records = read_log(out / "log.jsonl")
    assert [r["event"] for r in records].count("start") == 1  # rank 0 alone logs
    assert sorted(p.name for p in out.glob("*.pt")) == ["last.pt"]


@pytest.mark.slow
def test_ctrl_c_on_one_rank_stops_every_rank_after_the_same_step(tmp_path):
    out, _, steps = torchrun(tmp_path, "interrupt")
    assert steps == [2, 2]  # rank 0 never saw the signal, yet stopped with rank 1
    state = load_checkpoint(out / "last.pt")
    assert (state["step"], state["step_in_epoch"]) == (2, 2)
    assert [r["event"] for r in read_log(out / "log.jsonl")][-1] == "interrupted"


@pytest.mark.slow
def test_a_time_budget_stops_every_rank_at_rank_0s_plan(tmp_path):
    out, (w0, w1), steps = torchrun(tmp_path, "budget")
    assert steps[0] == steps[1] and 3 <= steps[0] < 150
    # the same learnt weights; batch-norm statistics are averaged at epoch ends only, as for a --max-steps stop
    learnt = [k for k in w0 if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert all(torch.equal(w0[k], w1[k]) for k in learnt)
    rows = [r for r in read_log(out / "log.jsonl") if r["event"] == "step"]
    assert rows[-1]["planned_steps"] == steps[0]
