"""`amma-edge train`: flags → a model configuration and a `TrainConfig`, then `amma_edge.train.trainer.train`.

Every setting has a flag or a `--set KEY=VALUE`. Keys name a field of the model configuration
(`--set K=5`), of `TrainConfig` (`--set warmup_steps=100`) or of the loss settings (`--set multilabel=true`);
prefix them with `model.`, `train.` or `loss.` when a name is ambiguous. Values are read as the field's
type: numbers, true/false, comma-separated tuples (`--set lr_milestones=3,5`) or JSON (`--set
anchors=[[1,2],[3,4]]`).

Under torchrun (multi-GPU, multi-node) the same flags apply to every process:
    torchrun --nproc-per-node 4 -m amma_edge.cli train --model amma-s --data DIR
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from amma_edge.errors import AmmaEdgeError

# flag name → TrainConfig field, for flags that map one to one.
_TRAIN_FLAGS = {"epochs": "epochs", "batch": "batch_size", "lr": "lr", "lr_steps": "lr_milestones",
                "lr_gamma": "lr_gamma", "device": "device", "amp": "amp", "workers": "workers", "out": "out",
                "data": "data", "seed": "seed", "max_steps": "max_steps", "max_minutes": "max_minutes",
                "log_every": "log_every"}


def parse_input_size(text: str) -> tuple[int, int]:
    """"160" → (160, 160); "160x128" → (160, 128) as height × width."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        raise AmmaEdgeError(f"--input-size {text!r} is not a size: give one number (160) or HEIGHTxWIDTH (160x224)") from None
    if len(size) == 1:
        size = size * 2
    if len(size) != 2:
        raise AmmaEdgeError(f"--input-size {text!r} is not a size: give one number (160) or HEIGHTxWIDTH (160x224)")
    return size  # type: ignore[return-value]


def coerce(text: str, current: Any, key: str) -> Any:
    """`text` read as the type of the field's `current` value."""
    try:
        if isinstance(current, bool):
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, tuple):
            stripped = text.strip()
            if stripped.startswith("["):
                return _tuples(json.loads(stripped))
            if not stripped:
                return ()
            items = [s.strip() for s in stripped.replace("x", ",").split(",")]
            sample = current[0] if current else None
            return tuple(coerce(s, sample, key) if sample is not None else _number(s) for s in items)
        if current is None:
            try:
                return _tuples(json.loads(text))
            except json.JSONDecodeError:
                return text
        return text
    except (ValueError, json.JSONDecodeError) as exc:
        raise AmmaEdgeError(f"--set {key}={text}: not a valid value for {key} (currently {current!r}): {exc}") from None


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def split_overrides(pairs: tuple[str, ...], model_fields: set[str], train_fields: set[str],
                    loss_fields: set[str]) -> dict[str, dict[str, str]]:
    """`KEY=VALUE` strings sorted into {"model": {...}, "train": {...}, "loss": {...}}, values still text."""
    scopes = {"model": model_fields, "train": train_fields, "loss": loss_fields}
    out: dict[str, dict[str, str]] = {"model": {}, "train": {}, "loss": {}}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AmmaEdgeError(f"--set {pair!r} is not KEY=VALUE (e.g. --set K=5)")
        scope, dot, name = key.partition(".")
        if dot:
            if scope not in scopes:
                raise AmmaEdgeError(f"--set {key}: the prefix must be model., train. or loss., not {scope}.")
            if name not in scopes[scope]:
                raise AmmaEdgeError(f"--set {key}: {scope} has no setting {name!r}; it has: "
                                    f"{', '.join(sorted(scopes[scope]))}")
            out[scope][name] = value
            continue
        matches = [s for s, fields in scopes.items() if key in fields]
        if not matches:
            known = "; ".join(f"{s}: {', '.join(sorted(f))}" for s, f in scopes.items())
            raise AmmaEdgeError(f"--set {key}: no such setting. Known settings — {known}")
        if len(matches) > 1:
            raise AmmaEdgeError(f"--set {key} is ambiguous: prefix it with {' or '.join(m + '.' for m in matches)}")
        out[matches[0]][key] = value
    return out


def _init_fields(obj: Any) -> set[str]:
    # TrainConfig's `loss` is a group of its own (loss.KEY) and its `model` is --model
    skip = {"loss", "model"} if obj is _train_config_class() else set()
    return {f.name for f in dataclasses.fields(obj) if f.init and f.name not in skip}


def _train_config_class() -> type:
    from amma_edge.train.trainer import TrainConfig

    return TrainConfig


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", default=None, help="Model preset (see `amma-edge models`). Default: amma-s.")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Dataset folder (made by `amma-edge data synth` or `data convert`) or a published .pkl.")
@click.option("--epochs", type=int, default=None, help="Epochs to train. Default: the paper's (AMMA 10, A* 5).")
@click.option("--batch", type=int, default=None, help="Clips per step and process (×processes under torchrun). Default 16.")
@click.option("--lr", type=float, default=None,
              help="Initial learning rate. Default: the paper's (AMMA 5e-4 ResNet-18, 2.5e-4 MobileNetV2/ShuffleNetV2; A* 1e-4).")
@click.option("--lr-steps", default=None, help="Comma-separated epochs after which the lr is multiplied by --lr-gamma.")
@click.option("--lr-gamma", type=float, default=None, help="Learning-rate decay factor at each --lr-steps epoch.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None,
              help="Default: cuda when available. Under torchrun each process takes GPU LOCAL_RANK.")
@click.option("--amp/--no-amp", default=False, help="Mixed precision: float16 autocast on CUDA, bfloat16 on CPUs with "
              "bfloat16 instructions (AVX512-BF16, AMX); float32 elsewhere, with a message.")
@click.option("--workers", type=int, default=None, help="DataLoader worker processes per training process. Default 4.")
@click.option("--resume", type=click.Path(path_type=Path), default=None,
              help="Continue the run of this checkpoint (OUT/last.pt) exactly where it stopped.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder: last.pt, best.pt, log.jsonl. Default runs/train (the checkpoint's folder on --resume).")
@click.option("--input-size", default=None, help="Network input: 160 or HEIGHTxWIDTH, multiples of 32.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Any model, training or loss setting (repeatable), e.g. --set K=5 --set warmup_steps=100.")
@click.option("--seed", type=int, default=None, help="Seed of initialisation, data order and augmentation. Default 0.")
@click.option("--max-steps", type=int, default=None, help="Stop (resumably) after this many optimizer steps in all.")
@click.option("--max-minutes", type=float, default=None,
              help="Stop (resumably) when the training loop has run this many minutes in all; the cosine schedule "
                   "re-plans its step count from the measured pace so that it ends annealed there.")
@click.option("--log-every", type=int, default=None, help="Steps between log.jsonl records (and progress lines off a TTY).")
@click.pass_context
def train(ctx: click.Context, **options: Any) -> None:
    """Train an AMMA or A* model; Ctrl-C saves OUT/last.pt and prints how to resume."""
    try:
        config, model_config, resume_state, dataset = _configure(ctx, options)
        from amma_edge.train.trainer import train as run

        run(config, model_config, resume=resume_state, dataset=dataset)
    except AmmaEdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        sys.exit(130)  # the trainer has saved last.pt and printed how to resume


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def _train_changes(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for flag, field in _TRAIN_FLAGS.items():
        if not _given(ctx, flag):
            continue
        value = options[flag]
        if flag == "lr_steps":
            value = coerce(value, (6, 8), "lr_steps")
        elif flag in ("out", "data"):
            value = str(value)
        changes[field] = value
    return changes


def _configure(ctx: click.Context, options: dict[str, Any]) -> tuple[Any, Any, dict | None, Any]:
    from amma_edge.models import get_config
    from amma_edge.train.checkpoint import checkpoint_model_config, load_checkpoint
    from amma_edge.train.losses import default_loss_config
    from amma_edge.train.trainer import (
        TrainConfig,
        default_train_config,
        resumed_config,
        train_config_from_dict,
    )

    changes = _train_changes(ctx, options)
    if options["resume"] is not None:
        state = load_checkpoint(options["resume"])
        model_config = checkpoint_model_config(state)
        saved = train_config_from_dict(state["train_config"])
        sets = split_overrides(options["overrides"], _init_fields(model_config), _init_fields(TrainConfig),
                               _init_fields(saved.loss or default_loss_config(model_config)))
        _refuse_model_changes(options, sets, model_config)
        if sets["loss"]:
            raise AmmaEdgeError("loss settings cannot change when resuming: start a new run to change "
                                f"{', '.join(sets['loss'])}")
        changes.update({k: coerce(v, getattr(saved, k), k) for k, v in sets["train"].items()})
        changes.setdefault("out", str(Path(options["resume"]).parent))
        return resumed_config(saved, **changes), model_config, state, None

    from amma_edge.data.loading import load_dataset

    name = options["model"] or "amma-s"
    base = get_config(name)
    default_loss = default_loss_config(base)
    sets = split_overrides(options["overrides"], _init_fields(base), _init_fields(TrainConfig),
                           _init_fields(default_loss))
    model_overrides = {k: coerce(v, getattr(base, k), k) for k, v in sets["model"].items()}
    if options["input_size"]:
        model_overrides["input_size"] = parse_input_size(options["input_size"])
    data = changes.get("data") or (sets["train"].get("data"))
    if not data:
        raise AmmaEdgeError("no dataset given: pass --data DIR (a folder made by `amma-edge data synth` or "
                            "`amma-edge data convert`), or --resume a checkpoint")
    dataset = load_dataset(data)
    labels = dataset.gt.labels
    if "num_classes" in model_overrides and model_overrides["num_classes"] != len(labels):
        raise AmmaEdgeError(f"num_classes={model_overrides['num_classes']} but the dataset has {len(labels)} classes "
                            f"({', '.join(labels[:5])}{', …' if len(labels) > 5 else ''}): leave num_classes out")
    model_overrides["num_classes"] = len(labels)
    model_config = get_config(name, **model_overrides)
    loss = dataclasses.replace(default_loss, **{k: coerce(v, getattr(default_loss, k), k)
                                                for k, v in sets["loss"].items()})
    defaults = default_train_config(model_config)
    train_sets = {k: coerce(v, getattr(defaults, k), k) for k, v in sets["train"].items()}
    config = dataclasses.replace(defaults, **{**train_sets, **changes, "loss": loss})
    return config, model_config, None, dataset


def _refuse_model_changes(options: dict[str, Any], sets: dict[str, dict[str, str]], model_config: Any) -> None:
    asked = {k: coerce(v, getattr(model_config, k), k) for k, v in sets["model"].items()}
    if options["input_size"]:
        asked["input_size"] = parse_input_size(options["input_size"])
    if options["model"] and options["model"] != model_config.name:
        asked["name"] = options["model"]
    changed = {k: v for k, v in asked.items() if getattr(model_config, k) != v}
    if changed:
        detail = ", ".join(f"{k} (checkpoint {getattr(model_config, k)!r}, asked {v!r})" for k, v in changed.items())
        raise AmmaEdgeError(f"the model cannot change when resuming: {detail}. Resume without these flags, or start "
                            f"a new run")


if __name__ == "__main__":
    train()
