"""NVIDIA GPUs with NVML (nvidia-ml-py's `pynvml`): memory used, utilisation and power of GPU 0.

NVML reports memory for the whole device; this process's own share comes from the list of compute
processes where the driver can tell (not inside every container), and is preferred when it can.
Figures the GPU does not support (power on some boards) are left out from the first refusal on.
"""
from __future__ import annotations

import os
from typing import Any

from amma_edge.bench.telemetry.base import SourceUnavailable, TelemetrySource

MB = 2**20


class NvmlSource(TelemetrySource):
    name = "nvml"

    def __init__(self, index: int = 0) -> None:
        try:
            import pynvml  # type: ignore[import-not-found]
        except ImportError:
            raise SourceUnavailable("pynvml is not installed: pip install nvidia-ml-py (NVIDIA GPUs)") from None
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ... (Jetson has no NVML)
            raise SourceUnavailable(f"NVML did not start ({exc}): no NVIDIA driver with NVML here") from None
        self._nvml = pynvml
        try:
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(self._handle)
        except Exception as exc:
            pynvml.nvmlShutdown()
            raise SourceUnavailable(f"NVML sees no GPU {index} ({exc})") from None
        self.gpu_name = name.decode() if isinstance(name, bytes) else str(name)
        self._unsupported: set[str] = set()
        self._pid = os.getpid()

    def _read(self, metric: str, read: Any) -> float | None:
        if metric in self._unsupported:
            return None
        try:
            return float(read())
        except self._nvml.NVMLError:
            self._unsupported.add(metric)
            return None

    def sample(self) -> dict[str, float]:
        nvml, h = self._nvml, self._handle
        values = {
            "gpu_mem_used_mb": self._read("memory", lambda: nvml.nvmlDeviceGetMemoryInfo(h).used / MB),
            "gpu_util_pct": self._read("utilisation", lambda: nvml.nvmlDeviceGetUtilizationRates(h).gpu),
            "gpu_power_w": self._read("power", lambda: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),  # mW
            "process_gpu_mem_mb": self._read_process_memory(),
        }
        return {k: v for k, v in values.items() if v is not None}

    def _read_process_memory(self) -> float | None:
        """This process's GPU memory, None where the driver does not list it (or before it touched the GPU)."""
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        except self._nvml.NVMLError:
            return None
        used = sum(p.usedGpuMemory or 0 for p in procs if p.pid == self._pid)
        return used / MB if used else None

    def describe(self) -> dict[str, Any]:
        return {"gpu": self.gpu_name}

    def close(self) -> None:
        self._nvml.nvmlShutdown()
