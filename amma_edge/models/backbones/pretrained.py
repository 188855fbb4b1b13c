"""Loading ImageNet (or any saved) weights into a backbone, with errors that say which file fits instead.

Weights are only ever read from a local file the user names: nothing here downloads. Loading is strict, since
a silently half-loaded backbone trains to a worse model with no error anywhere; the one tolerated gap is the
classifier, which a headless backbone does not have.
"""
from __future__ import annotations

import os
import pickle
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from amma_edge.errors import AmmaEdgeError

# Top-level modules that hold only the ImageNet classifier in the torchvision layouts we mirror.
_CLASSIFIER_MODULES = ("fc", "classifier")
# Keys common checkpoint formats wrap the state dict in, tried in this order.
_WRAPPER_KEYS = ("state_dict", "model")
_SHOWN = 5


def load_pretrained(module: nn.Module, path: str | os.PathLike, *, prefix: str = "") -> None:
    """Load the state dict stored at `path` into `module`, strictly.

    `path` may hold a raw state dict or a checkpoint wrapping one under "state_dict" or "model". With
    `prefix` (e.g. "backbone.") only the keys under it are used, with it stripped, so a backbone can be
    taken out of a larger checkpoint. Classifier keys (`fc.*`, `classifier.*`) are dropped when `module`
    has no such submodule. Nothing in `module` changes unless every key and shape fits.
    """
    path = Path(path)
    state = _read(path)
    if prefix:
        state = _select_prefix(state, prefix if prefix.endswith(".") else prefix + ".", path)
    _check_tensors(state, path)
    children = dict(module.named_children())
    for name in _CLASSIFIER_MODULES:
        if name not in children:
            state = _drop_group(state, name)
    _check_fits(module, state, path, prefix)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # pre-checks cover keys and shapes; this catches what a custom module adds
        raise AmmaEdgeError(f"{path} could not be loaded into {_describe(module)}: {exc}") from exc


def read_state_dict(path: str | os.PathLike) -> Mapping[str, Any]:
    """The state dict stored at `path` (unwrapped from "state_dict" / "model"), read with weights_only=True."""
    return _read(Path(path))


def _read(path: Path) -> Mapping[str, Any]:
    if not path.exists():
        raise AmmaEdgeError(f"weights file {path} does not exist; check the path (nothing is downloaded)")
    if not path.is_file():
        raise AmmaEdgeError(f"weights path {path} is not a file; point it at a .pth / .pt state dict")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for unreadable or unsafe pickles
        raise AmmaEdgeError(
            f"{path} could not be read as PyTorch weights ({_load_failure(exc)}); "
            "save weights with torch.save(model.state_dict(), path)"
        ) from exc
    if not isinstance(obj, Mapping):
        raise AmmaEdgeError(
            f"{path} holds a {type(obj).__name__}, not a state dict; "
            "save weights with torch.save(model.state_dict(), path)"
        )
    for key in _WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping):
            return inner
    return obj


def _load_failure(exc: Exception) -> str:
    """One line on why torch.load failed; its own message for refused pickles runs to a page."""
    if isinstance(exc, pickle.UnpicklingError):
        match = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        found = f" such as {match.group(1)}" if match else ""
        return f"it holds pickled Python objects{found}, which are not loaded because they could run code"
    detail = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {detail[0]}" if detail else "") + "; is it a PyTorch file at all?"


def _select_prefix(state: Mapping[str, Any], prefix: str, path: Path) -> Mapping[str, Any]:
    selected = _with_metadata(
        state,
        {key[len(prefix) :]: value for key, value in state.items() if isinstance(key, str) and key.startswith(prefix)},
        lambda name: _strip_module_prefix(name, prefix),
    )
    if not selected:
        groups = sorted({str(key).split(".", 1)[0] for key in state})
        raise AmmaEdgeError(
            f"{path} has no keys under prefix {prefix!r}; its top-level key groups are "
            f"{_sample(groups)}: pass one of them as prefix, or prefix='' for a plain state dict"
        )
    return selected


def _strip_module_prefix(name: str, prefix: str) -> str | None:
    """A module path in the stripped dict's metadata, or None when the module lies outside the prefix."""
    if name == prefix[:-1]:
        return ""
    return name[len(prefix) :] if name.startswith(prefix) else None


def _with_metadata(
    source: Mapping[str, Any], entries: dict[str, Any], rename: Callable[[str], str | None]
) -> OrderedDict:
    """Copy `entries` into a new state dict carrying over `source`'s per-module version metadata.

    The metadata tells modules such as batch norm which format the file was saved in; losing it would make
    them treat a current file as a legacy one.
    """
    result: OrderedDict = OrderedDict(entries)
    metadata = getattr(source, "_metadata", None)
    if metadata is not None:
        kept = OrderedDict()
        for name, value in metadata.items():
            new_name = rename(name)
            if new_name is not None:
                kept[new_name] = value
        result._metadata = kept  # type: ignore[attr-defined]
    return result


def _check_tensors(state: Mapping[str, Any], path: Path) -> None:
    odd = [
        f"{key!r} ({type(value).__name__})"
        for key, value in state.items()
        if not (isinstance(key, str) and isinstance(value, torch.Tensor))
    ]
    if odd:
        raise AmmaEdgeError(
            f"{path} is not a state dict: {len(odd)} entries are not named tensors, e.g. {_sample(odd)}; "
            "if the weights are nested inside a larger checkpoint, pass prefix= to select them"
        )


def _drop_group(state: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    start = name + "."
    if not any(key.startswith(start) for key in state):
        return state
    return _with_metadata(
        state,
        {key: value for key, value in state.items() if not key.startswith(start)},
        lambda module_name: None if module_name == name or module_name.startswith(start) else module_name,
    )


def _check_fits(module: nn.Module, state: Mapping[str, torch.Tensor], path: Path, prefix: str) -> None:
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not _filled_in_by_batch_norm(k, state)]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in state
        if k in expected and state[k].shape != expected[k].shape
    ]
    if not (missing or unexpected or wrong_shape):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys, e.g. {_sample(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys, e.g. {_sample(unexpected)}")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} keys with the wrong shape, e.g. {_sample(wrong_shape)}")
    hints = [f"Expected {_describe(module)}"]
    suggested = None if prefix else _guess_prefix(state, expected)
    if suggested:
        hints.append(f"the file's keys look nested under {suggested!r}: pass prefix={suggested!r}")
    if any(entry.split(".", 1)[0] in _CLASSIFIER_MODULES for entry in wrong_shape):
        hints.append(
            "for a classifier with a different number of classes, build the backbone with matching "
            "num_classes or with include_classifier=False"
        )
    raise AmmaEdgeError(f"{path} does not fit this backbone: {'; '.join(problems)}. " + "; ".join(hints))


def _filled_in_by_batch_norm(key: str, state: Mapping[str, Any]) -> bool:
    """Whether batch norm supplies this missing key itself: num_batches_tracked in files saved before it existed.

    Batch norm does so only when the file's metadata gives no version, or one below 2, for that module.
    """
    module_path, _, leaf = key.rpartition(".")
    if leaf != "num_batches_tracked":
        return False
    version = (getattr(state, "_metadata", None) or {}).get(module_path, {}).get("version")
    return version is None or version < 2


def _guess_prefix(state: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """A first key component (like 'module.' from DataParallel) that, stripped, makes most keys fit."""
    heads = {key.split(".", 1)[0] for key in state if "." in key}
    for head in sorted(heads):
        start = head + "."
        stripped = {key[len(start) :] for key in state if key.startswith(start)}
        if len(stripped & set(expected)) >= len(expected) / 2:
            return start
    return None


def _describe(module: nn.Module) -> str:
    arch = getattr(module, "arch", None)
    if isinstance(arch, str):
        children = dict(module.named_children())
        has_classifier = any(name in children for name in _CLASSIFIER_MODULES)
        headless = "" if has_classifier else " (its classifier keys are ignored: this backbone has none)"
        return f"a torchvision {arch} state dict{headless}"
    return f"a state dict for {type(module).__name__}"


def _sample(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
