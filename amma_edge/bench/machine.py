"""The machine a benchmark ran on, recorded beside its figures: numbers mean little without it.

`machine_kind` is what two runs must share for their figures to be comparable (CPU model, GPU name), and
`device_slug` names the committed baseline of a kind of device (`benches/baselines/<slug>.json`).
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

TEGRA_RELEASE = Path("/etc/nv_tegra_release")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key = line.split(":")[0].strip()
            if key in ("model name", "Model", "Hardware") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def l4t_release(text: str | None = None) -> str | None:
    """'R36.3.0' from /etc/nv_tegra_release ('# R36 (release), REVISION: 3.0, ...'), None off Jetson."""
    if text is None:
        try:
            text = TEGRA_RELEASE.read_text()
        except OSError:
            return None
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    if match:
        return f"R{match.group(1)}.{match.group(2)}"
    lines = text.strip().splitlines()
    return lines[0] if lines else None


def _jetpack_package() -> str | None:
    """The installed nvidia-jetpack meta-package's version (JetPack itself), where dpkg knows it."""
    if shutil.which("dpkg-query") is None:
        return None
    try:
        out = subprocess.run(["dpkg-query", "--showformat=${Version}", "--show", "nvidia-jetpack"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _version(module: str) -> str | None:
    """The version of an importable module, None when it is not installed (imported here only)."""
    import importlib

    try:
        return str(getattr(importlib.import_module(module), "__version__", "unknown"))
    except Exception:  # a broken optional install must not break the machine description
        return None


def _gpu() -> dict[str, Any]:
    """Name, memory and driver of GPU 0 through NVML, else the Jetson's device tree, else torch.cuda."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            name = pynvml.nvmlDeviceGetName(handle)
            driver = pynvml.nvmlSystemGetDriverVersion()
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle).total
            decode = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
            return {"name": decode(name), "driver": decode(driver), "memory_gib": round(memory / 2**30, 1),
                    "count": int(pynvml.nvmlDeviceGetCount()), "via": "nvml"}
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        pass
    try:  # Jetson: no NVML; the device tree names the module
        model = DEVICE_TREE_MODEL.read_text().strip("\x00\n ")
        if TEGRA_RELEASE.exists():
            return {"name": model, "driver": None, "integrated": True, "via": "device tree"}
    except OSError:
        pass
    # Last resort, after the others: asking torch.cuda creates a CUDA context in this process, which would
    # then count in every row's device memory.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"name": props.name, "driver": None, "memory_gib": round(props.total_memory / 2**30, 1),
                "count": torch.cuda.device_count(), "cuda": torch.version.cuda, "via": "torch.cuda"}
    return {"name": None}


def describe_machine() -> dict[str, Any]:
    import psutil

    l4t = l4t_release()
    jetson = {"l4t": l4t, "jetpack": _jetpack_package(),
              "nv_tegra_release": TEGRA_RELEASE.read_text().strip() if l4t else None} if l4t else None
    return {
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "gpu": _gpu(),
        "jetson": jetson,
        "versions": {"amma_edge": _version("amma_edge"), "onnxruntime": _version("onnxruntime"),
                     "torch": _version("torch"), "tensorrt": _version("tensorrt"), "numpy": _version("numpy")},
        "loadavg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def machine_kind(machine: dict[str, Any]) -> dict[str, Any]:
    """What must match for two runs' speeds to be comparable."""
    return {"cpu": machine.get("cpu"), "gpu": (machine.get("gpu") or {}).get("name")}


def device_slug(machine: dict[str, Any]) -> str:
    """'nvidia-h200', 'nvidia-jetson-orin-nano-developer-kit', or the CPU ('cpu-amd-epyc-7b13') without a GPU."""
    gpu = (machine.get("gpu") or {}).get("name")
    name = gpu or f"cpu {machine.get('cpu') or 'unknown'}"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "unknown"
