import io
import os
import re
import signal

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from amma_edge.bench.machine import cpu_model
from amma_edge.data.annotations import GroundTruth, save_ground_truth
from amma_edge.data.dataset import AMMATrainDataset
from amma_edge.errors import AmmaEdgeError
from amma_edge.models import get_config
from amma_edge.train import trainer as trainer_module
from amma_edge.train.checkpoint import live_weights_state, load_checkpoint, load_model, save_checkpoint
from amma_edge.train.cli import coerce, split_overrides
from amma_edge.train.cli import train as train_command
from amma_edge.train.gradients import SpikeWatch
from amma_edge.train.losses import AStarLossConfig
from amma_edge.train.progress import ProgressLine, format_duration, read_log
from amma_edge.train.trainer import (
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    default_train_config,
    describe_schedule,
    lr_factor,
    resumed_config,
)

H, W = 32, 48
TINY = {"input_size": (64, 64), "K": 2, "t": 2, "width": 0.5, "feature_dim": 16, "head_conv": 8, "box_head_conv": 8}
LABELS = ["walk", "wave", "jump"]


def tiny_gt(videos=4, frames=4) -> GroundTruth:
    names = [f"v{i}" for i in range(videos)]
    tubes = {}
    for i, v in enumerate(names):
        f = np.arange(1, frames + 1, dtype=np.float32)
        x = 2.0 + i + f
        tubes[v] = {i % 3: [np.stack([f, x, 4 + 0 * f, x + 14, 28 + 0 * f], 1)]}
    return GroundTruth(labels=list(LABELS), splits=[(names[:-1], names[-1:])], nframes={v: frames for v in names},
                       resolution={v: (H, W) for v in names}, gttubes=tubes)


def read_frame(video: str, frame: int) -> np.ndarray:
    img = np.full((H, W, 3), 40, np.uint8)
    x = 2 + int(video[1:]) + frame
    img[4:28, x:x + 14] = (60 * (int(video[1:]) % 3) + 80, 200, 120)
    return img


def tiny_amma(num_classes=3):
    return get_config("amma-s", num_classes=num_classes, **TINY)


def datasets(config):
    gt = tiny_gt()
    return (AMMATrainDataset("unused", gt, config, read_frame=read_frame),  # 12 samples: 3 steps of 4
            AMMATrainDataset("unused", gt, config, "test", None, read_frame=read_frame))


def make_config(out, **overrides):
    base = {"out": str(out), "epochs": 2, "batch_size": 4, "workers": 0, "log_every": 1, "lr": 1e-3,
            "lr_milestones": (1,), "lr_gamma": 0.5}
    base.update(overrides)
    return default_train_config(tiny_amma(), **base)


def fit(config, train_set, *, stream=None, **kwargs):
    trainer = Trainer(config, tiny_amma(), train_set, class_names=LABELS, stream=stream or io.StringIO(), **kwargs)
    return trainer, trainer.fit()


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """2 epochs × 3 steps without interruption: the reference every resumed run must reproduce."""
    train_set, _ = datasets(tiny_amma())
    _, result = fit(make_config(tmp_path_factory.mktemp("straight")), train_set)
    return {k: v.clone() for k, v in result.model.state_dict().items()}, result


# -------------------------------------------------------------------------------------------- resume


def test_stop_and_resume_mid_epoch_gives_bit_identical_weights(tmp_path, straight_run):
    reference, straight = straight_run
    train_set, _ = datasets(tiny_amma())
    config = make_config(tmp_path, max_steps=4, workers=1)  # one step into epoch 2; workers do not matter
    fit(config, train_set)
    state = load_checkpoint(tmp_path / "last.pt")
    assert (state["epoch"], state["step_in_epoch"], state["step"]) == (1, 1, 4)
    _, result = fit(resumed_config(config, max_steps=0, workers=0), train_set, resume=state)
    assert result.step == straight.step == 6
    assert same_weights(result.model.state_dict(), reference)
    steps = [r for r in read_log(tmp_path / "log.jsonl") if r["event"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, 7))  # the resumed run extends the same log
    assert {r["lr"] for r in steps if r["epoch"] == 1} == {1e-3}
    assert {r["lr"] for r in steps if r["epoch"] == 2} == {5e-4}  # × 0.5 after epoch 1


def _sigint_inside_step(trainer, where, at_step, times=1):
    """Send Ctrl-C from inside step `at_step` + 1: after the forward pass (batch-norm statistics have moved)
    or after the optimizer update (weights have moved), in both cases before the step is counted."""

    def hook(*args):
        if trainer.step == at_step:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)

    if where == "forward":
        trainer.step_module.model.register_forward_hook(hook)
    else:
        trainer.optimizer.register_step_post_hook(hook)


@pytest.mark.parametrize("where", ["forward", "update"])
def test_ctrl_c_inside_a_step_saves_a_checkpoint_that_resumes_exactly(tmp_path, straight_run, where):
    reference, _ = straight_run
    train_set, _ = datasets(tiny_amma())
    config = make_config(tmp_path)
    out = io.StringIO()
    trainer = Trainer(config, tiny_amma(), train_set, class_names=LABELS, stream=out)
    _sigint_inside_step(trainer, where, at_step=2)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 3  # the step in progress was finished, then saved
    assert f"--resume {tmp_path / 'last.pt'}" in out.getvalue()
    _, result = fit(resumed_config(config), train_set, resume=state)
    assert same_weights(result.model.state_dict(), reference)  # batch-norm statistics included


def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_checkpoint(tmp_path):
    train_set, _ = datasets(tiny_amma())
    out = io.StringIO()
    trainer = Trainer(make_config(tmp_path, checkpoint_every=1), tiny_amma(), train_set, class_names=LABELS,
                      stream=out)
    _sigint_inside_step(trainer, "forward", at_step=2, times=2)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2
    assert "nothing saved" in out.getvalue()


def test_resume_refuses_changes_that_would_not_continue_the_same_run(tmp_path):
    config = make_config(tmp_path)
    assert resumed_config(config, epochs=5, workers=3).epochs == 5
    with pytest.raises(AmmaEdgeError, match="cannot change lr"):
        resumed_config(config, lr=0.1)


def test_a_new_run_will_not_overwrite_an_old_one(tmp_path):
    train_set, _ = datasets(tiny_amma())
    fit(make_config(tmp_path, max_steps=1), train_set)
    with pytest.raises(AmmaEdgeError, match="--resume"):
        fit(make_config(tmp_path, max_steps=1), train_set)


# ------------------------------------------------------------------------------------- failure modes


class PoisonAfter(torch.utils.data.Dataset):
    """Clips of NaN from the n-th item loaded on (the loader runs in this process, in batch order)."""

    def __init__(self, dataset, n):
        self.dataset, self.n, self.calls = dataset, n, 0

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        item = self.dataset[i]
        self.calls += 1
        if self.calls > self.n:
            item["clips"] = torch.full_like(item["clips"], float("nan"))
        return item


def test_a_nan_loss_stops_training_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    train_set, _ = datasets(tiny_amma())
    config = make_config(tmp_path, checkpoint_every=1)
    with pytest.raises(NonFiniteLossError, match="step 3 ") as error:
        fit(config, PoisonAfter(train_set, 8))  # batches 1 and 2 are clean
    assert "last.pt (step 2) is untouched" in str(error.value)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert read_log(tmp_path / "log.jsonl")[-1]["event"] == "nonfinite_loss"


def test_amp_on_a_cpu_without_bfloat16_says_so_and_trains_in_float32(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "cpu_has_bfloat16", lambda: False)
    train_set, _ = datasets(tiny_amma())
    out = io.StringIO()
    trainer, result = fit(make_config(tmp_path, amp=True, max_steps=1), train_set, stream=out)
    assert "--amp: this CPU has no bfloat16 instructions" in out.getvalue()
    assert not trainer.amp and result.step == 1
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    start = read_log(tmp_path / "log.jsonl")[0]
    assert start["train_config"]["amp"] is True and start["precision"] == "float32"  # asked for, and what ran
    # the machine that ran it, so its minutes can be compared with another run's
    assert start["machine"]["cpu"] == cpu_model() and start["machine"]["cpu_bfloat16"] is False
    assert start["machine"]["gpu"] is None


@pytest.mark.skipif(not trainer_module.cpu_has_bfloat16(), reason="this CPU has no bfloat16 instructions")
def test_amp_on_a_bfloat16_cpu_runs_the_convolutions_in_bfloat16_and_keeps_float32_weights(tmp_path):
    train_set, _ = datasets(tiny_amma())
    config = make_config(tmp_path, amp=True, max_steps=2)
    out = io.StringIO()
    trainer = Trainer(config, tiny_amma(), train_set, class_names=LABELS, stream=out)
    seen: list[torch.dtype] = []
    conv = next(m for m in trainer.step_module.model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    result = trainer.fit()
    assert trainer.amp_dtype is torch.bfloat16 and "--amp" not in out.getvalue()
    assert seen and set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in result.model.parameters())
    assert load_checkpoint(tmp_path / "last.pt")["scaler"] is None  # bfloat16 needs no loss scaling
    assert read_log(tmp_path / "log.jsonl")[0]["precision"] == "bfloat16"


# ---------------------------------------------------------------------------- validation, checkpoints


def test_best_checkpoint_follows_the_pluggable_metric(tmp_path):
    train_set, _ = datasets(tiny_amma())
    scores = iter([0.2, 0.5, 0.4])
    seen_modes = []

    def evaluate(model):
        seen_modes.append(model.training)
        return {"frame_map": next(scores)}

    config = make_config(tmp_path, epochs=3, batch_size=6, best_metric="frame_map", best_mode="max")
    _, result = fit(config, train_set, evaluate=evaluate)
    assert seen_modes == [False, False, False]  # evaluated in eval mode
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    assert best["epoch"] == 2 and best["metrics"] == {"frame_map": 0.5}
    assert best["best"] == {"metric": "frame_map", "value": 0.5}
    assert last["epoch"] == 3 and last["metrics"] == {"frame_map": 0.4}
    assert result.best == 0.5 and result.best_checkpoint == tmp_path / "best.pt"
    assert last["class_names"] == LABELS and last["model_config"]["num_classes"] == 3
    assert last["train_config"]["best_metric"] == "frame_map"
    model, _ = load_model(tmp_path / "last.pt")
    assert same_weights(model.state_dict(), {k: v.cpu() for k, v in result.model.state_dict().items()})


def test_a_max_steps_stop_inside_an_epoch_validates_the_final_weights(tmp_path):
    """--max-steps ends the schedule mid-epoch: the final weights are validated, and best.pt is them when
    they score best, instead of the last full epoch's."""
    train_set, _ = datasets(tiny_amma())
    scores = iter([0.3, 0.6])
    config = make_config(tmp_path, epochs=2, max_steps=4, best_metric="frame_map", best_mode="max")  # 3 + 1 steps
    _, result = fit(config, train_set, evaluate=lambda model: {"frame_map": next(scores)})
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    assert best["step"] == last["step"] == result.step == 4 and best["metrics"] == {"frame_map": 0.6}
    model, _ = load_model(tmp_path / "best.pt")
    assert same_weights(model.state_dict(), {k: v.cpu() for k, v in result.model.state_dict().items()})
    final = [r for r in read_log(tmp_path / "log.jsonl") if r["event"] == "validation"]
    assert len(final) == 1 and final[0]["step"] == 4 and final[0]["best_saved"] is True


def test_a_worse_final_validation_keeps_the_earlier_best(tmp_path):
    train_set, _ = datasets(tiny_amma())
    scores = iter([0.6, 0.3])
    config = make_config(tmp_path, epochs=2, max_steps=4, best_metric="frame_map", best_mode="max")
    fit(config, train_set, evaluate=lambda model: {"frame_map": next(scores)})
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    assert (best["step"], best["metrics"]) == (3, {"frame_map": 0.6})
    assert (last["step"], last["metrics"]) == (4, {"frame_map": 0.3})


def test_default_validation_is_the_loss_on_the_test_split(tmp_path):
    train_set, val_set = datasets(tiny_amma())
    _, result = fit(make_config(tmp_path, epochs=1), train_set, val_dataset=val_set)
    assert set(result.metrics) == {"val_loss", "val_center", "val_movement", "val_size"}
    assert load_checkpoint(tmp_path / "best.pt")["best"]["metric"] == "val_loss"


def test_astar_proxies_get_their_own_faster_parameter_group(tmp_path):
    config = get_config("astar-x3dm", backbone="x3d_xs", input_size=(64, 64), num_classes=3, clip_len=4, width=0.25,
                        head_channels=16, embedding_dim=8, astpp_rates=(1,))
    train_cfg = default_train_config(config, out=str(tmp_path), workers=0, loss=AStarLossConfig(multilabel=True))
    trainer = Trainer(train_cfg, config, list(range(20)), class_names=LABELS, stream=io.StringIO())
    model_group, proxy_group = trainer.optimizer.param_groups
    assert proxy_group["params"] == [trainer.step_module.criterion.pal.proxies]
    assert proxy_group["lr"] == pytest.approx(100 * model_group["lr"])
    assert proxy_group["weight_decay"] == 0.0 and model_group["weight_decay"] == 0.01
    assert type(trainer.optimizer).__name__ == "AdamW"


def test_learning_through_one_clip_trains_and_resumes_exactly(tmp_path):
    train_set, _ = datasets(tiny_amma())
    straight_dir, stopped_dir = tmp_path / "straight", tmp_path / "stopped"
    _, straight = fit(make_config(straight_dir, learn_clips=1), train_set)
    assert straight.step == 6 and all(torch.isfinite(v).all() for v in straight.model.state_dict().values()
                                      if v.is_floating_point())
    config = make_config(stopped_dir, learn_clips=1, max_steps=4)
    fit(config, train_set)
    _, resumed = fit(resumed_config(config, max_steps=0), train_set, resume=load_checkpoint(stopped_dir / "last.pt"))
    assert same_weights(resumed.model.state_dict(), straight.model.state_dict())  # the clip draws resume too


def test_a_weight_average_is_what_is_validated_and_shipped_and_it_resumes_exactly(tmp_path):
    train_set, val_set = datasets(tiny_amma())
    straight_dir, stopped_dir = tmp_path / "straight", tmp_path / "stopped"
    _, straight = fit(make_config(straight_dir, ema_decay=0.9), train_set, val_dataset=val_set)
    state = load_checkpoint(straight_dir / "last.pt")
    assert state["average_updates"] == 6
    assert not same_weights(state["model"], state["train_model"])  # the average is not the last step's weights
    assert same_weights(state["model"], straight.model.state_dict())
    shipped, _ = load_model(straight_dir / "last.pt")  # what eval, export and the device load
    assert same_weights(shipped.state_dict(), state["model"])
    # the validation loss in the checkpoint is the average's, not the live weights'
    evaluate = trainer_module.validation_loss(val_set, trainer_module.build_loss(tiny_amma(), None), batch_size=4,
                                              device="cpu")
    with torch.no_grad():
        assert evaluate(shipped)["val_loss"] == pytest.approx(state["metrics"]["val_loss"], rel=1e-6)
    # the live weights can be scored on their own (benches/live_weights.py), as a checkpoint claiming no average
    live, live_state = load_model(save_checkpoint(tmp_path / "live.pt", live_weights_state(state)))
    assert same_weights(live.state_dict(), state["train_model"])
    assert live_state["train_config"]["ema_decay"] == 0.0 and "train_model" not in live_state
    assert live_state["metrics"] == {} and live_state["best"] is None

    config = make_config(stopped_dir, ema_decay=0.9, max_steps=4)
    fit(config, train_set, val_dataset=val_set)
    _, resumed = fit(resumed_config(config, max_steps=0), train_set, val_dataset=val_set,
                     resume=load_checkpoint(stopped_dir / "last.pt"))
    final = load_checkpoint(stopped_dir / "last.pt")
    assert same_weights(final["model"], state["model"]) and same_weights(final["train_model"], state["train_model"])


def test_live_weights_of_a_run_without_an_average_are_refused_as_already_live():
    with pytest.raises(AmmaEdgeError, match="without a weight average .* evaluate it as it is"):
        live_weights_state({"model": {}, "train_config": {"ema_decay": 0.0}})


def test_ema_decay_outside_zero_to_one_is_refused_with_a_hint(tmp_path):
    with pytest.raises(AmmaEdgeError, match="ema_decay must be in \\[0, 1\\)"):
        make_config(tmp_path, ema_decay=1.0)


def test_learn_clips_is_refused_for_a_model_that_encodes_its_clip_in_one_pass(tmp_path):
    config = get_config("astar-x3dm", backbone="x3d_xs", input_size=(64, 64), num_classes=3, clip_len=4, width=0.25,
                        head_channels=16, embedding_dim=8, astpp_rates=(1,))
    train_cfg = default_train_config(config, out=str(tmp_path), workers=0, learn_clips=1)
    with pytest.raises(AmmaEdgeError, match="learn_clips is for the AMMA models"):
        Trainer(train_cfg, config, list(range(20)), class_names=LABELS, stream=io.StringIO())


# ------------------------------------------------------------------------------------ schedule, progress


def test_every_log_row_reports_the_gradient_norm_and_a_clip_reports_how_often_it_bit(tmp_path):
    train_set, _ = datasets(tiny_amma())
    fit(make_config(tmp_path / "free", epochs=1), train_set)
    rows = [r for r in read_log(tmp_path / "free" / "log.jsonl") if r["event"] == "step"]
    assert len(rows) == 3 and all(r["grad_norm_max"] >= r["grad_norm"] > 0 for r in rows)
    assert all("clipped_fraction" not in r for r in rows)
    free_norm = rows[0]["grad_norm"]

    # a clip far below the norm: every step is clipped, and the log keeps the norm from before the clip
    _, clipped = fit(make_config(tmp_path / "clip", epochs=1, grad_clip=1e-4), train_set)
    rows = [r for r in read_log(tmp_path / "clip" / "log.jsonl") if r["event"] == "step"]
    assert [r["clipped_fraction"] for r in rows] == [1.0, 1.0, 1.0]
    assert rows[0]["grad_norm"] == pytest.approx(free_norm, rel=1e-5)  # same seed, same first step
    _, unclipped = fit(make_config(tmp_path / "loose", epochs=1, grad_clip=1e6), train_set)
    rows = [r for r in read_log(tmp_path / "loose" / "log.jsonl") if r["event"] == "step"]
    assert [r["clipped_fraction"] for r in rows] == [0.0, 0.0, 0.0]
    assert not same_weights(clipped.model.state_dict(), unclipped.model.state_dict())


def test_a_gradient_spike_is_logged_with_its_step_and_shown_with_the_clip_to_rerun_with(tmp_path, monkeypatch):
    """The run's third step reports a norm 10^4 times its real one: log.jsonl gets a gradient_spike row naming
    the step, and the screen the flag to rerun with. The watch judges from the second step here (a real
    run waits 50)."""
    train_set, _ = datasets(tiny_amma())
    measure = Trainer._clip_and_measure_gradients

    def spiking(self):
        norm = measure(self)
        return norm * 1e4 if self.step == 2 else norm  # self.step: the steps finished before this one

    monkeypatch.setattr(Trainer, "_clip_and_measure_gradients", spiking)
    monkeypatch.setattr(trainer_module, "SpikeWatch", lambda: SpikeWatch(min_history=1))
    screen = io.StringIO()
    fit(make_config(tmp_path / "run", epochs=1), train_set, stream=screen)
    rows = read_log(tmp_path / "run" / "log.jsonl")
    spikes = [r for r in rows if r["event"] == "gradient_spike"]
    assert [r["step"] for r in spikes] == [3] and spikes[0]["ratio"] > 1000 and not spikes[0]["clipped"]
    step_rows = {r["step"]: r for r in rows if r["event"] == "step"}
    assert spikes[0]["grad_norm"] == pytest.approx(step_rows[3]["grad_norm_max"])
    assert f"--set grad_clip={spikes[0]['suggested_grad_clip']:g}" in screen.getvalue()
    assert "step 3: gradient norm" in screen.getvalue()


def test_paper_schedules_are_the_defaults():
    amma_s = default_train_config(get_config("amma-s"))
    assert (amma_s.optimizer, amma_s.lr, amma_s.lr_milestones, amma_s.lr_gamma, amma_s.epochs) == \
        ("adam", 2.5e-4, (6, 8), 0.1, 10)
    assert default_train_config(get_config("amma-r18")).lr == 5e-4
    astar = default_train_config(get_config("astar-x3dm"))
    assert (astar.optimizer, astar.lr, astar.lr_gamma, astar.epochs) == ("adamw", 1e-4, 0.5, 5)


def test_lr_factor_warms_up_then_decays_by_epoch():
    f = [lr_factor(s, steps_per_epoch=10, milestones=(2, 3), gamma=0.1, warmup_steps=4) for s in range(40)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[19] == 1.0 and f[20] == pytest.approx(0.1) and f[30] == pytest.approx(0.01)


def test_cosine_schedule_warms_up_then_anneals_to_zero_at_the_last_step():
    f = [lr_factor(s, steps_per_epoch=10, milestones=(2,), gamma=0.1, warmup_steps=4, schedule="cosine",
                   total_steps=24) for s in range(30)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])  # warm-up as for the step schedule
    assert f[14] == pytest.approx(0.5)  # half-way through the 20 steps after warm-up
    assert all(a >= b for a, b in zip(f[4:], f[5:]))  # never rises again, milestones ignored
    assert f[24] == 0.0 and f[29] == 0.0


def test_the_start_line_says_which_budget_the_cosine_anneals_over():
    line = describe_schedule(TrainConfig(lr_schedule="cosine", max_steps=3600, epochs=8, warmup_steps=200))
    assert "cosine to 0 over 3600 steps or 8 epochs, whichever ends first, 200-step linear warm-up" in line


def test_unknown_lr_schedule_is_refused_with_the_choices():
    with pytest.raises(AmmaEdgeError, match="lr_schedule must be one of step, cosine"):
        TrainConfig(lr_schedule="linear")


def test_progress_is_one_line_in_place_on_a_terminal_and_every_n_steps_in_a_log():
    common = {"total_steps": 6, "epoch": 1, "epochs": 1, "loss": 1.5, "parts": {"center": 1.0},
              "clips_per_second": 32.0, "eta_seconds": 75}
    tty, log = io.StringIO(), io.StringIO()
    on_tty, in_log = ProgressLine(tty, every=3, tty=True, min_interval=0), ProgressLine(log, every=3, tty=False)
    for step in range(1, 7):
        on_tty.update(step=step, **common)
        in_log.update(step=step, **common)
    assert "\n" not in tty.getvalue() and tty.getvalue().count("\r") == 6
    lines = log.getvalue().splitlines()
    assert [line.split("step ")[1].split()[0] for line in lines] == ["3/6", "6/6"]
    assert "loss 1.5000 (center 1.000)  32.0 clips/s  ETA 1:15" in lines[0]
    assert format_duration(3725) == "1:02:05" and format_duration(float("nan")) == "?"


# --------------------------------------------------------------------------------------------------- CLI


def test_set_overrides_are_routed_and_typed():
    sets = split_overrides(("K=5", "train.warmup_steps=10", "multilabel=yes"), {"K", "input_size"},
                           {"warmup_steps"}, {"multilabel"})
    assert sets == {"model": {"K": "5"}, "train": {"warmup_steps": "10"}, "loss": {"multilabel": "yes"}}
    assert coerce("160x128", (288, 288), "input_size") == (160, 128)
    assert coerce("yes", False, "multilabel") is True
    with pytest.raises(AmmaEdgeError, match="no such setting"):
        split_overrides(("kk=1",), {"K"}, set(), set())


def _write_dataset(root):
    gt = tiny_gt(videos=3)
    gt.frame_dir, gt.frame_pattern = "frames", "{video}/{frame:05d}.png"
    for video in gt.videos:
        for frame in range(1, gt.nframes[video] + 1):
            path = gt.frame_path(root, video, frame)
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), read_frame(video, frame))
    save_ground_truth(gt, root)
    return root


def test_cli_trains_resumes_and_explains_refusals(tmp_path):
    data, out = _write_dataset(tmp_path / "data"), tmp_path / "run"
    tiny = [f"--set={k}={v}" for k, v in (("K", 2), ("t", 2), ("width", 0.5), ("feature_dim", 16), ("head_conv", 8),
                                           ("box_head_conv", 8))]
    args = ["--model", "amma-s", "--data", str(data), "--epochs", "1", "--batch", "4", "--workers", "0",
            "--input-size", "64", "--device", "cpu", "--out", str(out), "--seed", "3", *tiny]
    runner = CliRunner()
    result = runner.invoke(train_command, args)
    assert result.exit_code == 0, result.output
    state = load_checkpoint(out / "last.pt")
    assert state["model_config"]["num_classes"] == 3  # taken from the dataset, not the preset's 24
    assert state["model_config"]["input_size"] == (64, 64) and state["train_config"]["seed"] == 3
    assert state["class_names"] == LABELS and state["step"] == 2  # 8 training samples / batch 4

    again = runner.invoke(train_command, args)
    assert again.exit_code != 0 and "--resume" in again.output

    resumed = runner.invoke(train_command, ["--resume", str(out / "last.pt"), "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert load_checkpoint(out / "last.pt")["step"] == 4

    refused = runner.invoke(train_command, ["--resume", str(out / "last.pt"), "--lr", "0.1"])
    assert refused.exit_code != 0 and "cannot change lr" in refused.output
    refused = runner.invoke(train_command, ["--resume", str(out / "last.pt"), "--input-size", "96"])
    assert refused.exit_code != 0 and "input_size" in refused.output


def test_map_validation_scores_test_videos_and_picks_best_by_frame_map(tmp_path):
    data, out = _write_dataset(tmp_path / "data"), tmp_path / "run"
    tiny = [f"--set={k}={v}" for k, v in (("K", 2), ("t", 2), ("width", 0.5), ("feature_dim", 16), ("head_conv", 8),
                                           ("box_head_conv", 8))]
    args = ["--model", "amma-s", "--data", str(data), "--epochs", "1", "--batch", "4", "--workers", "0",
            "--input-size", "64", "--device", "cpu", "--out", str(out), "--set", "validation=map", *tiny]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    best = load_checkpoint(out / "best.pt")
    assert set(best["metrics"]) == {"frame_mAP", "video_mAP@0.5"}
    assert all(0.0 <= v <= 100.0 for v in best["metrics"].values())
    assert best["best"]["metric"] == "frame_mAP" and best["train_config"]["best_mode"] == "max"


@pytest.mark.parametrize("expand_crop", [True, False])
def test_expand_crop_off_keeps_people_near_their_recorded_size(tmp_path, expand_crop):
    from amma_edge.data.augment import augment_clip
    from amma_edge.train.trainer import make_datasets

    config = make_config(tmp_path, expand_crop=expand_crop)
    train_set, _ = make_datasets(config, tiny_amma(), tiny_gt(), tmp_path)
    frames = np.stack([read_frame("v0", 1)] * 2)
    box = np.array([[12.0, 4.0, 26.0, 28.0]])
    heights = []
    for seed in range(300):
        _, out = augment_clip(frames, box, (H, W), train_set.augment, np.random.default_rng(seed))
        heights.append((out[0, 3] - out[0, 1]) / (box[0, 3] - box[0, 1]))
    heights = np.array(heights)
    # scale jitter alone moves a side by at most 1 / (1 - 0.2); the zoom-out shrinks people up to 4x
    assert (heights.min() < 0.5) == expand_crop
    assert (heights.max() > 1.3) == expand_crop


# ------------------------------------------------------------------------------------ time budget


class StepClock:
    """A machine where every clock reading is a second later than the last."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


def test_a_budgeted_run_stops_when_the_time_is_up_with_the_lr_annealed(tmp_path):
    train_set, _ = datasets(tiny_amma())
    # 3 steps an epoch, 20 epochs: 60 steps unless the budget (1 s per clock reading, 30 s) ends the run first
    config = make_config(tmp_path, epochs=20, max_minutes=0.5, lr_schedule="cosine", lr_milestones=())
    screen = io.StringIO()
    trainer = Trainer(config, tiny_amma(), train_set, class_names=LABELS, stream=screen)
    trainer.budget = type(trainer.budget)(0.5, min_steps=5)
    trainer._clock = StepClock()
    result = trainer.fit()
    assert 15 <= result.step < 40
    # once planned, the progress line's time left is the budget's, counting down to the stop
    etas = [int(m) * 60 + int(s) for m, s in re.findall(r"ETA (\d+):(\d\d)", screen.getvalue())]
    assert etas and 15 <= max(etas) <= 30 and etas[-1] <= 2  # a step of this tiny model takes milliseconds
    steps = [r for r in read_log(tmp_path / "log.jsonl") if r["event"] == "step"]
    assert steps[-1]["planned_steps"] == result.step  # the plan it logged is where it stopped
    assert steps[-1]["lr"] < 0.05 * config.lr  # annealed: the cosine ended at the plan
    assert steps[-1]["budget_used_s"] <= 32
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == result.step and state["budget"]["used_seconds"] >= 29
    # a resume with a larger budget continues from the minutes used, not from zero
    resumed = Trainer(resumed_config(config, max_minutes=1.0), tiny_amma(), train_set, class_names=LABELS,
                      stream=io.StringIO(), resume=state)
    assert resumed.budget.used_seconds == pytest.approx(state["budget"]["used_seconds"])
    resumed._clock = StepClock()
    more = resumed.fit()
    assert more.step > result.step  # twice the budget: the run goes on from where it stopped
    assert load_checkpoint(tmp_path / "last.pt")["budget"]["used_seconds"] <= 62
