"""The training loop: one optimizer step at a time, resumable to the bit at any step boundary.

Why it is built the way it is:

* Exact resume. The data order of an epoch is a pure function of (seed, epoch) — `EpochSampler` — and every
  sample's augmentation is drawn from its own generator seeded by (seed, epoch, index) — `SeededDataset` —
  so a resumed run skips the batches already done and sees exactly the batches, augmentations included,
  that the uninterrupted run would have, whatever the number of DataLoader workers. The learning rate is a
  pure function of the step (`lr_factor`), and the checkpoint holds the optimizer, scheduler, AMP scaler and
  RNG states. On CPU, N steps straight and N/2 + resume + N/2 give identical weights.
* Ctrl-C is safe. A training step (forward, which moves batch-norm statistics, backward, update, step
  counter) is never cut: a Ctrl-C inside one asks for a stop at its end (`Trainer._on_sigint`), and in a
  multi-process run every rank learns of it there (one all-reduce), so all stop after the same step. The
  state after a whole step is what `last.pt` receives, with the command that continues the run. Between
  steps (data loading, validation) a single process stops at once. DataLoader workers ignore SIGINT (a
  terminal sends it to every process of the job); the main process stops them. A second Ctrl-C stops at
  once, and saves nothing when it cuts a step short.
* A NaN or infinite loss stops the run before the backward pass, on every rank at once, and writes nothing:
  the checkpoints on disk stay the last good ones.
* The loss module is trained with the model, inside one DistributedDataParallel, so A*'s proxies are
  averaged across ranks like every other parameter; they get their own parameter group (and learning rate).
* Validation is a plug: any `evaluate(model) -> {name: value}`. By default it is the loss on the test split;
  `best.pt` follows `TrainConfig.best_metric`.

Default schedules (`default_train_config`), from the papers:
  AMMA (paper 003, §4, "Implementation details"): Adam; lr 5e-4 with ResNet-18 and 2.5e-4 with MobileNetV2 /
      ShuffleNetV2; batch 16; 10 epochs with the lr × 0.1 after epochs 6 and 8 (their JHMDB-21 schedule,
      also MOC's default `lr_step 6,8`). Their UCF101-24 schedule halves the lr after every epoch from the
      2nd: `--lr-steps 2,3,4,5,6,7,8,9 --lr-gamma 0.5`.
  A* (paper 000, §4.2): AdamW; lr 1e-4; 5 epochs with the lr × 0.5 after every epoch; a warm-up whose length
      the paper does not give (we use 500 steps, linear); batch 16 (not given either: AMMA's). AdamW's weight
      decay is not given: PyTorch's default 0.01. PAL's proxies learn 100× faster (the proxy-anchor paper).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, ModelConfig, config_to_dict
from amma_edge.train import checkpoint as ckpt
from amma_edge.train.averaging import WeightAverage
from amma_edge.train.budget import TimeBudget
from amma_edge.train.distributed import (
    DistributedContext,
    all_mean,
    any_rank,
    average_buffers,
    barrier,
    from_main,
    init_distributed,
    shutdown,
    wrap_model,
)
from amma_edge.train.gradients import GradientSpike, SpikeWatch, gradient_norm_summary
from amma_edge.train.losses import (
    LossConfig,
    build_loss,
    default_loss_config,
    loss_config_from_dict,
    loss_config_to_dict,
)
from amma_edge.train.progress import JsonLog, ProgressLine, Throughput

Evaluate = Callable[[nn.Module], dict[str, float]]

LAST, BEST, LOG = "last.pt", "best.pt", "log.jsonl"
_LOADER_STREAM = 2**32 - 1  # the `index` of the DataLoader's own seed stream, apart from every sample's
_SPIKES_SHOWN = 3  # gradient spikes printed to the screen per run; all of them are in log.jsonl
OPTIMIZERS = ("adam", "adamw")
LR_SCHEDULES = ("step", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the model configuration; saved in every checkpoint.

    `lr_milestones` are epoch counts: the lr is multiplied by `lr_gamma` once each of them is completed.
    `batch_size` is per process (torchrun multiplies it by the number of processes). `max_steps` > 0 stops
    after that many optimizer steps (a resumable stop). `checkpoint_every` > 0 also writes last.pt every
    that many steps, not only at the end of each epoch. `val_max_samples` > 0 validates on that many
    evenly spaced test samples. `validation="map"` scores the test videos through the streaming evaluation
    instead (frame_mAP, video_mAP@0.5); best.pt then follows frame_mAP. `best_mode` is "min" for losses, "max"
    for mAPs. `expand_crop=False` keeps the augmentation but drops its SSD-style zoom-out and random crop:
    those put people at 0.28x to 2x their recorded size (5th to 95th percentile), which real footage needs and a
    dataset whose test videos share its training videos' camera does not.
    """

    model: str = "amma-s"
    data: str = ""
    out: str = "runs/train"
    epochs: int = 10
    batch_size: int = 16
    lr: float = 2.5e-4
    lr_milestones: tuple[int, ...] = (6, 8)
    lr_gamma: float = 0.1
    warmup_steps: int = 0
    lr_schedule: str = "step"  # "step": × lr_gamma at each of lr_milestones; "cosine": half-cosine to 0 over the run
    optimizer: str = "adam"
    weight_decay: float = 0.0
    proxy_lr_scale: float = 100.0
    grad_clip: float = 0.0
    device: str | None = None
    amp: bool = False
    workers: int = 4
    seed: int = 0
    split_index: int = 0
    augment: bool = True
    expand_crop: bool = True  # the augmentation's zoom-out (expand) and random crop; off: flip, jitter, colour
    max_steps: int = 0
    max_minutes: float = 0.0  # > 0: end when the run's time reaches this; cosine anneals there (budget.py)
    log_every: int = 20
    checkpoint_every: int = 0
    val_every: int = 1
    val_max_samples: int = 0
    validation: str = "loss"  # "loss" on test samples, or "map": streaming frame- and video-mAP on test videos
    val_max_videos: int = 0  # "map" validation on at most this many test videos (evenly spaced); 0: all
    best_metric: str = "val_loss"
    best_mode: str = "min"
    loss: LossConfig | None = None  # None: the model family's default
    heatmap_min_radius: int = 0  # AMMA: smallest Gaussian radius (cells) of a centre target; 0 = CenterNet's rule
    learn_clips: int = 0  # AMMA: the encoder learns through this many of each sample's K clips (random); 0: all K
    ema_decay: float = 0.0  # > 0: validate and ship an exponential moving average of the weights (averaging.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        if isinstance(self.loss, dict):
            object.__setattr__(self, "loss", loss_config_from_dict(self.loss))
        problems = []
        for name in ("epochs", "batch_size", "log_every", "val_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "workers", "max_steps", "heatmap_min_radius", "checkpoint_every", "val_max_samples",
                     "split_index", "weight_decay", "grad_clip", "learn_clips"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            problems.append(f"lr must be a positive number, got {self.lr}")
        if not 0 < self.lr_gamma <= 1:
            problems.append(f"lr_gamma must be in (0, 1], got {self.lr_gamma}")
        if self.proxy_lr_scale <= 0:
            problems.append(f"proxy_lr_scale must be positive, got {self.proxy_lr_scale}")
        if any(m < 1 for m in self.lr_milestones) or list(self.lr_milestones) != sorted(self.lr_milestones):
            problems.append(f"lr_milestones must be increasing epoch numbers from 1, got {list(self.lr_milestones)}")
        if self.lr_schedule not in LR_SCHEDULES:
            problems.append(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (self.max_minutes >= 0 and math.isfinite(self.max_minutes)):
            problems.append(f"max_minutes must be 0 (no time limit) or a positive number of minutes, got {self.max_minutes}")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append(f"ema_decay must be in [0, 1) (0: off; 0.999 averages about the last 1,000 steps), "
                            f"got {self.ema_decay}")
        if self.validation not in ("loss", "map"):
            problems.append(f"validation must be 'loss' or 'map', got {self.validation!r}")
        if self.val_max_videos < 0:
            problems.append(f"val_max_videos must not be negative, got {self.val_max_videos}")
        if self.best_mode not in ("min", "max"):
            problems.append(f"best_mode must be 'min' or 'max', got {self.best_mode!r}")
        if problems:
            raise AmmaEdgeError("invalid training setting: " + "; ".join(problems))


def train_config_to_dict(config: TrainConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    data["loss"] = None if config.loss is None else loss_config_to_dict(config.loss)
    return data


def train_config_from_dict(data: dict[str, Any]) -> TrainConfig:
    data = dict(data)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise AmmaEdgeError(f"the checkpoint's training configuration has settings this amma-edge does not know "
                            f"({', '.join(unknown)}): upgrade amma-edge")
    if data.get("loss") is not None:
        data["loss"] = loss_config_from_dict(data["loss"])
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def default_train_config(model_config: ModelConfig, **overrides: Any) -> TrainConfig:
    """The paper's optimizer and schedule for `model_config` (see the module docstring), then `overrides`."""
    if isinstance(model_config, AMMAConfig):
        base: dict[str, Any] = {"lr": 5e-4 if model_config.backbone == "resnet18" else 2.5e-4, "epochs": 10,
                                "lr_milestones": (6, 8), "lr_gamma": 0.1, "optimizer": "adam", "weight_decay": 0.0,
                                "warmup_steps": 0, "batch_size": 16}
    else:
        base = {"lr": 1e-4, "epochs": 5, "lr_milestones": (1, 2, 3, 4), "lr_gamma": 0.5, "optimizer": "adamw",
                "weight_decay": 0.01, "warmup_steps": 500, "batch_size": 16}
    base.update(model=model_config.name, loss=default_loss_config(model_config))
    base.update(overrides)
    return TrainConfig(**base)


# Settings that may change when a run is resumed: they do not alter what the remaining steps compute.
RESUMABLE_CHANGES = frozenset({"epochs", "max_steps", "max_minutes", "device", "amp", "workers", "out", "data", "log_every",
                               "checkpoint_every", "val_every", "val_max_samples", "best_metric", "best_mode",
                               "validation", "val_max_videos"})


def resumed_config(saved: TrainConfig, **changes: Any) -> TrainConfig:
    """The saved configuration with the changes a resumed run may make; any other change is an error."""
    refused = {k: v for k, v in changes.items() if k not in RESUMABLE_CHANGES and getattr(saved, k) != v}
    if refused:
        detail = ", ".join(f"{k} (checkpoint {getattr(saved, k)!r}, asked {v!r})" for k, v in refused.items())
        raise AmmaEdgeError(f"cannot change {detail} when resuming: it would not continue the same run. Resume "
                            f"without it, or start a new run in another --out. Changeable on resume: "
                            f"{', '.join(sorted(RESUMABLE_CHANGES))}")
    return dataclasses.replace(saved, **changes)


def lr_factor(step: int, steps_per_epoch: int, milestones: Sequence[int], gamma: float, warmup_steps: int,
              schedule: str = "step", total_steps: int = 0) -> float:
    """Learning-rate multiplier for optimizer step `step` (0-based): linear warm-up, then the decay.

    "step" decays by `gamma` at epoch milestones (the papers' schedule). "cosine" follows half a cosine from 1
    after the warm-up to 0 at `total_steps`: with a fixed compute budget the run always ends annealed, which a
    milestone schedule only does when the budget happens to cover its last milestone.
    """
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, max(0.0, (step - warmup_steps) / span))
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        epoch = step // max(1, steps_per_epoch)
        factor = gamma ** sum(1 for m in milestones if epoch >= m)
    if warmup_steps and step < warmup_steps:
        factor *= (step + 1) / warmup_steps
    return factor


def describe_schedule(config: TrainConfig) -> str:
    """One line, e.g. "adam, lr 0.00025, × 0.1 after epochs 6 and 8; 10 epochs of batch 16"."""
    steps = [str(m) for m in config.lr_milestones]
    if config.lr_schedule == "cosine":
        budget = f"{config.max_steps} steps or " if config.max_steps else ""
        budget += f"the steps that fit {config.max_minutes:g} minutes or " if config.max_minutes else ""
        decay = f", cosine to 0 over {budget}{config.epochs} epochs, whichever ends first"
    elif steps:
        listed = steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " and " + steps[-1]
        decay = f", × {config.lr_gamma:g} after epoch{'s' if len(steps) > 1 else ''} {listed}"
    else:
        decay = ", constant"
    if config.max_minutes and config.lr_schedule != "cosine":
        decay += f", stopping at {config.max_minutes:g} minutes"
    warm = f", {config.warmup_steps}-step linear warm-up" if config.warmup_steps else ""
    wd = f", weight decay {config.weight_decay:g}" if config.weight_decay else ""
    return f"{config.optimizer}, lr {config.lr:g}{decay}{warm}{wd}; {config.epochs} epochs of batch {config.batch_size}"


# ---------------------------------------------------------------------------------------------------- data


def sample_seed(seed: int, epoch: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, np.uint64)[0] % (2**63))


class EpochSampler(Sampler):
    """This rank's share of an epoch, as (dataset index, sample seed) pairs, optionally skipping a done prefix.

    The order comes from `DistributedSampler` (a permutation seeded by seed + epoch, split across ranks), so a
    single process and each torchrun rank use the same rule.
    """

    def __init__(self, size: int, *, seed: int, num_replicas: int = 1, rank: int = 0, shuffle: bool = True):
        self.inner = DistributedSampler(range(size), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.seed = seed
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch = epoch
        self.skip = skip
        self.inner.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in list(self.inner)[self.skip:]:
            yield index, sample_seed(self.seed, self.epoch, index)

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip)

    @property
    def samples_per_epoch(self) -> int:
        return len(self.inner)


class SeededDataset(Dataset):
    """Runs the wrapped dataset's `__getitem__` under its own torch generator state, seeded per sample.

    The global generator is saved and restored around it, so loading data never shifts the random stream the
    training step sees, in the main process or in a worker.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


def to_device(batch: dict[str, Any], device: str | torch.device) -> dict[str, Any]:
    non_blocking = str(device).startswith("cuda")
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, Tensor) else v for k, v in batch.items()}


class TrainStep(nn.Module):
    """Model and loss as one module, so that one DistributedDataParallel averages the gradients of both.

    `learn_clips` > 0 (AMMA): each step the encoder learns through that many of the K clips, drawn at random,
    and encodes the rest without autograd (AMMA.forward's `grad_clips`); the head still sees all K.
    """

    def __init__(self, model: nn.Module, criterion: nn.Module, learn_clips: int = 0):
        super().__init__()
        self.model = model
        self.criterion = criterion
        self.learn_clips = learn_clips

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        clips = batch["clips"]
        k = clips.shape[1]
        if self.learn_clips and self.training and self.learn_clips < k:
            chosen = torch.randperm(k)[: self.learn_clips].tolist()
            outputs = self.model(clips, grad_clips=chosen)
        else:
            outputs = self.model(clips)
        with torch.autocast(device_type=batch["clips"].device.type, enabled=False):
            return self.criterion({k: v.float() for k, v in outputs.items()}, batch)


def validation_loss(dataset: Dataset, criterion: nn.Module, *, batch_size: int, device: str, workers: int = 0,
                    max_samples: int = 0) -> Evaluate:
    """An `evaluate(model)` giving the criterion's mean parts on `dataset`, as val_loss, val_<part>."""
    size = len(dataset)  # type: ignore[arg-type]
    if max_samples and size > max_samples:
        dataset = torch.utils.data.Subset(dataset, np.linspace(0, size - 1, max_samples).round().astype(int).tolist())

    def evaluate(model: nn.Module) -> dict[str, float]:
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
        sums: dict[str, float] = {}
        count = 0
        for batch in loader:
            batch = to_device(batch, device)
            outputs = model(batch["clips"])
            losses = criterion({k: v.float() for k, v in outputs.items()}, batch)
            n = batch["clips"].shape[0]
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v) * n
            count += n
        return {("val_loss" if k == "loss" else f"val_{k}"): v / max(count, 1) for k, v in sums.items()}

    return evaluate


# ------------------------------------------------------------------------------------------------ the loop


class NonFiniteLossError(AmmaEdgeError):
    """The loss became NaN or infinite; training stopped without writing a checkpoint."""


@dataclass(frozen=True, eq=False)
class TrainResult:
    model: nn.Module  # the trained network (unwrapped, on the training device; the weight average with ema_decay)
    step: int
    epochs_done: int
    metrics: dict[str, float]
    best: float | None
    last_checkpoint: Path | None
    best_checkpoint: Path | None


class Trainer:
    """Trains `model_config`'s network on `train_dataset` (items as `amma_edge.data.dataset` makes them).

    `resume` is a checkpoint dict (`amma_edge.train.checkpoint.load_checkpoint`) to continue from. `ctx` is
    the process's place in a torchrun job; by default the trainer joins it (or stays single-process).
    """

    def __init__(
        self,
        config: TrainConfig,
        model_config: ModelConfig,
        train_dataset: Dataset,
        *,
        class_names: Sequence[str],
        evaluate: Evaluate | None = None,
        val_dataset: Dataset | None = None,
        resume: dict[str, Any] | None = None,
        ctx: DistributedContext | None = None,
        stream: IO[str] | None = None,
    ):
        from amma_edge.models import build

        if config.loss is None:
            config = dataclasses.replace(config, loss=default_loss_config(model_config))
        self.config = config
        self.model_config = model_config
        self.class_names = list(class_names)
        self.ctx = ctx if ctx is not None else init_distributed(config.device)
        self.device = torch.device(self.ctx.device)
        self.out = Path(config.out)
        self.progress = ProgressLine(stream, every=config.log_every, enabled=self.ctx.is_main)
        self.amp_dtype, why_not = autocast_dtype(self.device) if config.amp else (None, "")
        self.amp = self.amp_dtype is not None
        if why_not:
            self.progress.message(f"--amp: {why_not}: training in float32")
        if len(self.class_names) != model_config.num_classes:
            raise AmmaEdgeError(f"the dataset has {len(self.class_names)} classes but the model is built for "
                                f"{model_config.num_classes}: set num_classes={len(self.class_names)}")
        if resume is None and any_rank(self.ctx.is_main and (self.out / LAST).exists(), self.ctx):
            raise AmmaEdgeError(f"{self.out} already holds a training run ({self.out / LAST}): continue it with "
                                f"--resume {self.out / LAST}, or choose another --out")
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

        _seed_everything(config.seed)
        model = build(model_config)
        criterion = build_loss(model_config, config.loss)
        if config.learn_clips and not isinstance(model_config, AMMAConfig):
            raise AmmaEdgeError(f"learn_clips is for the AMMA models (K clip features per sample); {model_config.name} "
                                "encodes its clip in one pass: leave learn_clips at 0")
        self.step_module = TrainStep(model, criterion, config.learn_clips).to(self.device)
        self.average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
        self.spikes = SpikeWatch()
        self._spikes_shown = 0
        self.optimizer = self._make_optimizer(model, criterion)
        # float16 needs loss scaling; bfloat16 has float32's exponent range and does not
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)

        size = len(train_dataset)  # type: ignore[arg-type]
        if size == 0:
            raise AmmaEdgeError("the training split has no samples: check the dataset's train split and --set "
                                "train.split_index")
        self.sampler = EpochSampler(size, seed=config.seed, num_replicas=self.ctx.world_size, rank=self.ctx.rank)
        per_rank = self.sampler.samples_per_epoch
        drop_last = per_rank >= config.batch_size
        self.steps_per_epoch = per_rank // config.batch_size if drop_last else 1
        self._loader_generator = torch.Generator()
        self.loader = DataLoader(
            SeededDataset(train_dataset), batch_size=config.batch_size, sampler=self.sampler,
            num_workers=config.workers, drop_last=drop_last, pin_memory=self.device.type == "cuda",
            persistent_workers=config.workers > 0, generator=self._loader_generator,
            worker_init_fn=_ignore_sigint if config.workers > 0 else None,
        )
        self.budget = TimeBudget(config.max_minutes) if config.max_minutes else None
        self._clock: Callable[[], float] = time.monotonic  # the budget's clock
        self._planned_steps: int | None = None  # the budget's plan, the same on every rank
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_lambda())

        self.epoch = 0
        self.step_in_epoch = 0
        self.step = 0
        self.metrics: dict[str, float] = {}
        self.best: float | None = None
        self._last_saved: tuple[Path, int] | None = None
        self._best_path: Path | None = None
        self._warned_metric = False
        self._critical = False  # inside a step (or epoch bookkeeping): a Ctrl-C waits for its end
        self._stop_requested = False
        if resume is not None:
            self._restore(resume)
        self._rng = ckpt.rng_state()
        self.model = self.step_module.model
        self.train_module = wrap_model(self.step_module, self.ctx)
        if evaluate is None and val_dataset is not None and len(val_dataset):  # type: ignore[arg-type]
            evaluate = validation_loss(val_dataset, criterion, batch_size=config.batch_size, device=self.ctx.device,
                                       workers=min(config.workers, 2), max_samples=config.val_max_samples)
        self.evaluate = evaluate

    # ------------------------------------------------------------------------------------------- set-up

    def _make_optimizer(self, model: nn.Module, criterion: nn.Module) -> torch.optim.Optimizer:
        c = self.config
        groups: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if p.requires_grad]}]
        extra = [p for p in criterion.parameters() if p.requires_grad]
        if extra:  # A*'s proxies: faster, and never decayed towards zero
            groups.append({"params": extra, "lr": c.lr * c.proxy_lr_scale, "weight_decay": 0.0})
        cls = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
        return cls(groups, lr=c.lr, weight_decay=c.weight_decay)

    def _lr_lambda(self) -> Callable[[int], float]:
        c = self.config
        steps, milestones, gamma, warmup = (self.steps_per_epoch, c.lr_milestones, c.lr_gamma, c.warmup_steps)

        def factor(step: int) -> float:  # total_steps follows the time budget's plan when there is one
            return lr_factor(step, steps, milestones, gamma, warmup, c.lr_schedule, self.total_steps)

        return factor

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("world_size", 1) != self.ctx.world_size:
            raise AmmaEdgeError(f"the checkpoint was written by a run of {state.get('world_size', 1)} process(es) and "
                                f"this one has {self.ctx.world_size}: resume with the same number (torchrun "
                                f"--nproc-per-node), so that the data order continues where it stopped")
        if state.get("steps_per_epoch") != self.steps_per_epoch:
            raise AmmaEdgeError(f"the checkpoint's epochs had {state.get('steps_per_epoch')} steps and this data gives "
                                f"{self.steps_per_epoch}: resume on the same dataset and split")
        saved_names = list(state.get("class_names") or [])
        if saved_names and saved_names != self.class_names:
            raise AmmaEdgeError(f"the checkpoint was trained on classes {', '.join(saved_names[:5])}"
                                f"{', …' if len(saved_names) > 5 else ''} but this dataset has "
                                f"{', '.join(self.class_names[:5])}{', …' if len(self.class_names) > 5 else ''}: "
                                "resume on the dataset the run started with")
        if self.average is not None:
            if "train_model" not in state:
                raise AmmaEdgeError("the checkpoint holds no training weights beside its averaged ones: it was not "
                                    "written by a run with ema_decay; resume it without --set ema_decay")
            self.step_module.model.load_state_dict(state["train_model"])
            self.average.load_state_dict(state["model"], int(state.get("average_updates", state["step"])))
        else:
            self.step_module.model.load_state_dict(state["model"])
        self.step_module.criterion.load_state_dict(state["criterion"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch, self.step = int(state["epoch"]), int(state["step_in_epoch"]), int(state["step"])
        if self.budget is not None:  # the minutes already used count; a changed --max-minutes applies from here
            saved = state.get("budget") or {}
            self.budget = TimeBudget(self.config.max_minutes, float(saved.get("used_seconds", 0.0)),
                                     pace_hint=saved.get("seconds_per_step"))
            # re-planned from the last session's pace, so that a larger budget continues the run at once
            self._planned_steps = self.budget.planned_steps(self.step)
        self.metrics = dict(state.get("metrics") or {})
        best = state.get("best")
        if best and best.get("metric") == self.config.best_metric:
            self.best = float(best["value"])
        # Rebuilt with this run's step count, then positioned: the lr is a function of the step alone.
        self.scheduler.load_state_dict(state["scheduler"])
        ckpt.set_rng_state(state["rng"])

    # -------------------------------------------------------------------------------------------- state

    @property
    def deployed_model(self) -> nn.Module:
        """The weights validation scores and checkpoints ship: the average when there is one."""
        return self.average.model if self.average is not None else self.step_module.model

    @property
    def total_steps(self) -> int:
        """The step the run ends at: epochs, max_steps, and the time budget's current plan, whichever is first."""
        total = self.config.epochs * self.steps_per_epoch
        if self.config.max_steps:
            total = min(total, self.config.max_steps)
        if self._planned_steps is not None:
            total = min(total, self._planned_steps)
        return total

    def _reached_max_steps(self) -> bool:
        return (bool(self.config.max_steps) and self.step >= self.config.max_steps) or self._budget_reached()

    def _budget_reached(self) -> bool:
        return self._planned_steps is not None and self.step >= self._planned_steps

    def _plan(self) -> None:
        """Re-plan the step count from the budget left and the recent pace; rank 0's plan for every rank, so
        that all stop at the same step. Also a hard stop once the budget is spent (a stall the pace missed)."""
        if self.budget is None:
            return
        now = self._clock()
        self.budget.observe(self.step, now)
        planned = self.budget.planned_steps(self.step)
        if self.budget.spent:
            planned = self.step
        # every rank joins the broadcast, whether or not its own pace is known yet: -1 stands for "no plan"
        shared = from_main(-1.0 if planned is None else float(planned), self.ctx)
        if shared >= 0:
            self._planned_steps = int(shared)

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint of the current state (after `self.step` whole steps)."""
        best = None if self.best is None else {"metric": self.config.best_metric, "value": self.best}
        # "model" is always the network this checkpoint stands for (what was validated, what eval, export and the
        # device load); with a weight average that is the average, and the live weights go to "train_model".
        averaged = {} if self.average is None else {"train_model": self.step_module.model.state_dict(),
                                                    "average_updates": self.average.updates}
        return {
            "model_config": config_to_dict(self.model_config),
            "class_names": list(self.class_names),
            "model": self.deployed_model.state_dict(),
            **averaged,
            "train_config": train_config_to_dict(self.config),
            "criterion": self.step_module.criterion.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "step": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.ctx.world_size,
            "rng": self._rng,
            "metrics": dict(self.metrics),
            "best": best,
            **({} if self.budget is None else {"budget": self.budget.state_dict(), "planned_steps": self._planned_steps}),
            "torch_version": str(torch.__version__),
        }

    def _machine(self) -> dict:
        from amma_edge.bench.machine import cpu_model

        gpu = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None
        return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                "cpu_bfloat16": cpu_has_bfloat16(), "gpu": gpu}

    def _save(self, name: str) -> Path | None:
        if not self.ctx.is_main:
            return None
        path = ckpt.save_checkpoint(self.out / name, self.state_dict())
        if name == LAST:
            self._last_saved = (path, self.step)
        return path

    # ---------------------------------------------------------------------------------------------- run

    def fit(self) -> TrainResult:
        c = self.config
        self.log = JsonLog(self.out / LOG if self.ctx.is_main else None)
        self.throughput = Throughput()
        try:
            self.log.write("start", step=self.step, epoch=self.epoch, resumed=self.step > 0,
                           train_config=train_config_to_dict(c), model_config=config_to_dict(self.model_config),
                           class_names=self.class_names, world_size=self.ctx.world_size,
                           steps_per_epoch=self.steps_per_epoch, schedule=describe_schedule(c),
                           # what ran, not what was asked: --amp falls back to float32 on a CPU without bfloat16
                           precision=str(self.amp_dtype or torch.float32).removeprefix("torch."),
                           # a run's minutes and clips/s mean little without the machine that ran them: runs of
                           # one recipe land on different CPUs from session to session
                           machine=self._machine())
            where = f"resuming at step {self.step} (epoch {self.epoch + 1})" if self.step else "starting"
            procs = f" on {self.ctx.world_size} processes" if self.ctx.distributed else ""
            self.progress.message(f"{where}: {c.model} on {self.ctx.device}{procs}, {self.steps_per_epoch} steps/epoch; "
                                  f"{describe_schedule(c)}")
            previous = self._install_sigint_handler()
            if self.budget is not None:
                self.budget.start(self.step, self._clock())
            try:
                while self.epoch < c.epochs and not self._reached_max_steps():
                    self._run_epoch()
                if self._reached_max_steps() and self.epoch < c.epochs:
                    self._stop_at_max_steps()
                    why = (f"the {c.max_minutes:g}-minute budget after {self.step} steps" if self._budget_reached()
                           else f"max_steps={c.max_steps}")
                    self.progress.message(f"stopped at {why}; continue with {self._resume_command()}")
            except KeyboardInterrupt:
                self._on_interrupt()
                raise
            finally:
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
            self.log.write("end", step=self.step, epoch=self.epoch, metrics=self.metrics, best=self.best)
        finally:
            self.progress.close()
            self.log.close()
        return TrainResult(
            model=self.deployed_model, step=self.step, epochs_done=self.epoch, metrics=dict(self.metrics), best=self.best,
            last_checkpoint=self._last_saved[0] if self._last_saved else None, best_checkpoint=self._best_path,
        )

    def _run_epoch(self) -> None:
        c = self.config
        self.sampler.set_epoch(self.epoch, skip=self.step_in_epoch * c.batch_size)
        self._loader_generator.manual_seed(sample_seed(c.seed, self.epoch, _LOADER_STREAM))
        self.train_module.train()
        self._window: dict[str, float] = {}
        self._window_count = 0
        self._grad_norms: list[float] = []
        self._epoch_sums: dict[str, float] = {}
        self._epoch_count = 0
        if self.step_in_epoch < self.steps_per_epoch:
            for batch in self.loader:
                self._train_step(batch)
                if self._reached_max_steps():
                    break
        if self.step_in_epoch >= self.steps_per_epoch:
            self._end_epoch()

    def _train_step(self, batch: dict[str, Any]) -> None:
        """One optimizer step. Ctrl-C waits for its end: the forward pass already moves batch-norm statistics,
        so a step cut short would leave a state that no step count describes."""
        c = self.config
        batch = to_device(batch, self.device)
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this step uses, logged with it
        self._critical = True
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp):
            losses = self.train_module(batch)
        names = list(losses)
        values = torch.stack([losses[k].detach().float() for k in names]).tolist()
        if any_rank(not math.isfinite(values[0]), self.ctx):
            self._on_nonfinite(dict(zip(names, values)))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses["loss"]).backward()
        grad_norm = self._clip_and_measure_gradients()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.average is not None:
            self.average.update(self.step_module.model)
        self.step += 1
        self.step_in_epoch += 1
        self._rng = ckpt.rng_state()
        self._plan()
        self._critical = False

        for k, v in zip(names, values):
            self._window[k] = self._window.get(k, 0.0) + v
            self._epoch_sums[k] = self._epoch_sums.get(k, 0.0) + v
        self._window_count += 1
        self._epoch_count += 1
        self._grad_norms.append(grad_norm)
        spike = self.spikes.check(self.step, grad_norm, c.grad_clip)
        if spike is not None:
            self._report_spike(spike)
        self.throughput.tick(batch["clips"].shape[0] * self.ctx.world_size)
        if self.step % c.log_every == 0:
            names_, means = self._reduce(self._window, self._window_count)
            planned = {} if self.budget is None else {"planned_steps": self.total_steps,
                                                      "budget_used_s": round(self.budget.used_seconds, 1)}
            self.log.write("step", step=self.step, epoch=self.epoch + 1, lr=lr,
                           clips_per_s=self.throughput.clips_per_second, **dict(zip(names_, means)), **planned,
                           **gradient_norm_summary(self._grad_norms, c.grad_clip))
            self._show(dict(zip(names_, means)), force=True)
            self._window, self._window_count, self._grad_norms = {}, 0, []
        elif self.progress.tty:
            self._show({k: v / self._window_count for k, v in self._window.items()})
        if c.checkpoint_every and self.step % c.checkpoint_every == 0:
            self._save(LAST)
        self._stop_if_requested()

    def _report_spike(self, spike: GradientSpike) -> None:
        """Every spike goes to log.jsonl; the first few to the screen too, where a user watching the loss jump
        learns why and what to rerun with, without a flood if a run has many."""
        self.log.write("gradient_spike", epoch=self.epoch + 1, **spike.as_dict())
        if self._spikes_shown < _SPIKES_SHOWN:
            self._spikes_shown += 1
            more = "; further spikes go to log.jsonl only" if self._spikes_shown == _SPIKES_SHOWN else ""
            self.progress.message(spike.describe() + more)

    def _clip_and_measure_gradients(self) -> float:
        """The total gradient norm of this step, before any clipping, and the clip when `grad_clip` asks for
        it. Measured on every step, clipped or not, so a log shows the spikes that precede a loss blow-up and
        what a sensible `grad_clip` would be. The gradients are unscaled first (a no-op without float16 loss
        scaling): the norm and the clip are of the true gradients. Under DDP the gradients are already
        averaged, so every rank sees the same norm."""
        self.scaler.unscale_(self.optimizer)
        params = [p for p in self.step_module.parameters() if p.grad is not None]
        if not params:
            return 0.0
        if self.config.grad_clip:
            norm = nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        else:
            norm = nn.utils.get_total_norm([p.grad for p in params])
        return float(norm)

    def _reduce(self, sums: dict[str, float], count: int) -> tuple[list[str], list[float]]:
        names = list(sums)
        if not names:
            return [], []
        means = all_mean(torch.tensor([sums[k] / max(count, 1) for k in names], dtype=torch.float64,
                                      device=self.device), self.ctx)
        return names, means.tolist()

    def _show(self, means: dict[str, float], force: bool = False) -> None:
        if "loss" not in means:
            return
        parts = {k: v for k, v in means.items() if k != "loss"}
        self.progress.update(step=self.step, total_steps=self.total_steps, epoch=self.epoch + 1,
                             epochs=self.config.epochs, loss=means["loss"], parts=parts,
                             clips_per_second=self.throughput.clips_per_second,
                             eta_seconds=self._eta(), force=force)

    def _eta(self) -> float:
        """Time left: under a budget, the budget's own (the plan follows it); otherwise steps left at the pace."""
        if self.budget is not None and self._planned_steps is not None:
            return max(0.0, self.budget.seconds - self.budget.used_seconds)
        return self.throughput.eta(self.total_steps - self.step)

    def _end_epoch(self) -> None:
        c = self.config
        names, means = self._reduce(self._epoch_sums, self._epoch_count)
        train_means = {f"train_{k}": v for k, v in zip(names, means)}
        self._critical = True
        average_buffers(self.step_module, self.ctx)
        self.epoch += 1
        self.step_in_epoch = 0
        self._critical = False
        metrics, eval_seconds, improved = self._validate_and_save(self.epoch % c.val_every == 0)
        self.log.write("epoch", epoch=self.epoch, step=self.step, **train_means, **metrics,
                       eval_seconds=round(eval_seconds, 3), best=self.best, best_saved=improved)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in {**train_means, **metrics}.items())
        self.progress.message(f"epoch {self.epoch}/{c.epochs}: {shown}{'  (best)' if improved else ''}")
        barrier(self.ctx)
        self._stop_if_requested()

    def _validate_and_save(self, validate: bool) -> tuple[dict[str, float], float, bool]:
        """Validate (if asked and configured), then write last.pt, and best.pt when the metric improved."""
        metrics: dict[str, float] = {}
        started = time.perf_counter()
        budget_started = self._clock()
        if validate and self.evaluate is not None and self.ctx.is_main:
            metrics = self._run_evaluate()  # rank 0 only: the others wait at the caller's barrier
        eval_seconds = time.perf_counter() - started
        self.throughput.pause()
        self._critical = True  # metrics, best value and the two files go together
        if metrics:
            self.metrics = metrics
        improved = self._update_best(metrics)
        self._save(LAST)
        if improved:
            self._best_path = self._save(BEST)
        if self.budget is not None:  # used time, not training pace
            now = self._clock()
            self.budget.exclude(now - budget_started, now)
        self._critical = False
        return metrics, eval_seconds, improved

    def _stop_at_max_steps(self) -> None:
        """A `max_steps` stop inside an epoch is where the lr schedule ends, and the weights it ends with are
        usually the best of the run: validate them, so that best.pt can be them rather than the last full
        epoch's. The batch-norm buffers are not averaged across processes here (the epoch end does that), so
        a resumed run still continues exactly."""
        if self.step_in_epoch == 0 or self.evaluate is None:  # at an epoch end: validated there already
            if self._last_saved is None or self._last_saved[1] != self.step:
                self._save(LAST)
            return
        metrics, eval_seconds, improved = self._validate_and_save(True)
        self.log.write("validation", epoch=self.epoch + self.step_in_epoch / self.steps_per_epoch, step=self.step,
                       **metrics, eval_seconds=round(eval_seconds, 3), best=self.best, best_saved=improved)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        self.progress.message(f"step {self.step}: {shown}{'  (best)' if improved else ''}")
        barrier(self.ctx)

    def _run_evaluate(self) -> dict[str, float]:
        assert self.evaluate is not None
        model = self.deployed_model
        model.eval()
        try:
            with torch.no_grad():
                result = self.evaluate(model)
        finally:
            self.train_module.train()
        if not isinstance(result, dict):
            raise TypeError(f"evaluate(model) must return a dict of metric name to number, got {type(result).__name__}")
        return {str(k): float(v) for k, v in result.items()}

    def _update_best(self, metrics: dict[str, float]) -> bool:
        name = self.config.best_metric
        if not metrics:
            return False
        if name not in metrics:
            if not self._warned_metric:
                self.progress.message(f"best.pt is not written: the validation gives {', '.join(metrics)} but not "
                                      f"{name!r}; choose one with --set best_metric=NAME")
                self._warned_metric = True
            return False
        value = metrics[name]
        if not math.isfinite(value):
            return False
        better = (self.best is None or (value < self.best if self.config.best_mode == "min" else value > self.best))
        if better:
            self.best = value
        return better

    # ------------------------------------------------------------------------------------------ endings

    def _resume_command(self) -> str:
        launcher = f"torchrun --nproc-per-node {self.ctx.world_size} -m amma_edge.cli" if self.ctx.distributed else "amma-edge"
        return f"{launcher} train --resume {self.out / LAST}"

    def _install_sigint_handler(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """Stop at once where the state is whole (between steps, single process); otherwise at the step's end."""
        if self._stop_requested or (not self._critical and not self.ctx.distributed):
            raise KeyboardInterrupt
        self._stop_requested = True
        if self.ctx.is_main:  # stderr: the progress line may be half-written to its stream right now
            with contextlib.suppress(RuntimeError, OSError, ValueError):
                sys.stderr.write("\nCtrl-C: stopping after this step to save last.pt (Ctrl-C again to stop at once)\n")

    def _stop_if_requested(self) -> None:
        """Raise KeyboardInterrupt on every rank when a Ctrl-C reached any of them."""
        if any_rank(self._stop_requested, self.ctx):
            raise KeyboardInterrupt

    def _on_interrupt(self) -> None:
        self.progress.close()
        self.log.write("interrupted", step=self.step, epoch=self.epoch + 1, step_in_epoch=self.step_in_epoch,
                       saved=not self._critical)
        if self._critical:  # a second Ctrl-C cut a step short: what is in memory is no step's state
            kept = f"{self._last_saved[0]} (step {self._last_saved[1]})" if self._last_saved else "no checkpoint"
            self.progress.message(f"interrupted in the middle of step {self.step + 1}: nothing saved, {kept} is kept")
            return
        path = self._save(LAST)
        if path is not None:
            self.progress.message(f"interrupted after step {self.step} (epoch {self.epoch + 1}, batch "
                                  f"{self.step_in_epoch}/{self.steps_per_epoch}); saved {path}. Continue with: "
                                  f"{self._resume_command()}")

    def _on_nonfinite(self, values: dict[str, float]) -> None:
        self.progress.close()
        parts = ", ".join(f"{k} {v}" for k, v in values.items())
        self.log.write("nonfinite_loss", step=self.step + 1, epoch=self.epoch + 1, **values)
        if self._last_saved is not None:
            kept = f"{self._last_saved[0]} (step {self._last_saved[1]}) is untouched"
        elif (self.out / LAST).exists():
            kept = f"{self.out / LAST} is untouched"
        else:
            kept = "no checkpoint had been written yet"
        raise NonFiniteLossError(
            f"training stopped: the loss is not finite at step {self.step + 1} (epoch {self.epoch + 1}; {parts}); "
            f"{kept}. Lower the learning rate (--lr) or turn off --amp, then resume from the last good checkpoint "
            f"or start again"
        )


def _ignore_sigint(worker_id: int) -> None:
    """Ctrl-C in a terminal signals every process of the job; a worker dying of it would turn the main
    process's orderly stop (save last.pt, say how to resume) into a "DataLoader worker exited" error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def autocast_dtype(device: torch.device) -> tuple[torch.dtype | None, str]:
    """The reduced precision `--amp` trains in on `device`, or None and the reason there is none.

    CUDA gets float16 (with loss scaling), as the papers' GPU training does. A CPU gets bfloat16 only where it
    has bfloat16 instructions (AVX512-BF16 or AMX): oneDNN then runs an AMMA-S training step 1.18-1.51x faster
    at batches of 4-16, the stride-2 depthwise convolutions kept in float32 (benches/results/train_step.json);
    elsewhere bfloat16 is emulated and slower than float32."""
    if device.type == "cuda":
        return torch.float16, ""
    if device.type == "cpu":
        if cpu_has_bfloat16():
            return torch.bfloat16, ""
        return None, "this CPU has no bfloat16 instructions (AVX512-BF16 or AMX)"
    return None, f"no mixed precision on {device.type}"


def cpu_has_bfloat16() -> bool:
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------- from a dataset folder


def make_datasets(config: TrainConfig, model_config: ModelConfig, gt: Any, root: Path) -> tuple[Dataset, Dataset | None]:
    """The training dataset (augmented unless `config.augment` is off) and the unaugmented test split."""
    from amma_edge.data.augment import AugmentConfig
    from amma_edge.data.dataset import AMMATrainDataset, AStarTrainDataset

    cls = AMMATrainDataset if isinstance(model_config, AMMAConfig) else AStarTrainDataset
    augment = None
    if config.augment:
        augment = AugmentConfig.training(config.expand_crop)
    extra: dict[str, Any] = {"min_radius": config.heatmap_min_radius} if cls is AMMATrainDataset else {}
    train_set = cls(root, gt, model_config, "train", augment, split_index=config.split_index,  # type: ignore[arg-type]
                    **extra)
    val_set = None
    if gt.split_videos("test", config.split_index):
        val_set = cls(root, gt, model_config, "test", None, split_index=config.split_index,  # type: ignore[arg-type]
                      **extra)
    return train_set, val_set


def train(
    config: TrainConfig,
    model_config: ModelConfig,
    *,
    resume: dict[str, Any] | None = None,
    evaluate: Evaluate | None = None,
    stream: IO[str] | None = None,
    dataset: Any = None,
) -> TrainResult:
    """Train on the dataset at `config.data` (any folder `amma-edge data` reads); validation loss by default.

    `dataset` is that folder already loaded (`amma_edge.data.loading.load_dataset`), to skip reading it twice.
    """
    from amma_edge.data.loading import load_dataset

    if dataset is None:
        if not config.data:
            raise AmmaEdgeError("no dataset given: pass --data DIR (a folder made by `amma-edge data synth` or "
                                "`amma-edge data convert`)")
        dataset = load_dataset(config.data)
    gt, root = dataset
    train_set, val_set = make_datasets(config, model_config, gt, root)
    if evaluate is None and config.validation == "map" and val_set is not None:
        from amma_edge.eval.validation import streaming_map_evaluator

        evaluate = streaming_map_evaluator(model_config, gt, root, split_index=config.split_index,
                                           max_videos=config.val_max_videos, class_names=tuple(gt.labels))
        if config.best_metric == "val_loss":
            config = dataclasses.replace(config, best_metric="frame_mAP", best_mode="max")
    ctx = init_distributed(config.device)
    try:
        trainer = Trainer(config, model_config, train_set, class_names=gt.labels, evaluate=evaluate,
                          val_dataset=val_set if evaluate is None else None, resume=resume, ctx=ctx,
                          stream=stream if stream is not None else sys.stdout)
        return trainer.fit()
    finally:
        shutdown(ctx)


__all__ = [
    "BEST",
    "LAST",
    "LOG",
    "RESUMABLE_CHANGES",
    "EpochSampler",
    "Evaluate",
    "NonFiniteLossError",
    "SeededDataset",
    "TrainConfig",
    "TrainResult",
    "TrainStep",
    "Trainer",
    "default_train_config",
    "describe_schedule",
    "lr_factor",
    "make_datasets",
    "resumed_config",
    "train",
    "train_config_from_dict",
    "train_config_to_dict",
    "validation_loss",
]
