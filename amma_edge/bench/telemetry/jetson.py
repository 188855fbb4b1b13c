"""Jetson boards through jetson-stats (`from jtop import jtop`, which talks to the jtop service).

Read per sample: total board power and power per rail (jtop reports mW), temperatures (°C), GPU load and
clock, whether jetson_clocks pins the clocks, and the RAM the GPU holds (Jetson's GPU shares the DRAM, so
this is its "device memory"). jtop refreshes at its own interval; samples between two refreshes repeat it.
"""
from __future__ import annotations

from typing import Any

from amma_edge.bench.telemetry.base import SourceUnavailable, TelemetrySource, metric_name


class JtopSource(TelemetrySource):
    name = "jetson"

    def __init__(self, interval_s: float = 0.5) -> None:
        try:
            from jtop import jtop  # type: ignore[import-not-found]
        except ImportError:
            raise SourceUnavailable("jetson-stats is not installed (Jetson only): sudo pip3 install jetson-stats") \
                from None
        self._jetson = jtop(interval=max(interval_s, 0.1))
        try:
            self._jetson.start()
            ok = self._jetson.ok()
        except Exception as exc:  # JtopException: the service is not running, no permission, ...
            self._safe_close()
            raise SourceUnavailable(f"jtop did not connect ({str(exc).splitlines()[0]}): "
                                    "sudo systemctl restart jtop.service") from None
        if not ok:
            self._safe_close()
            raise SourceUnavailable("jtop connected but sends no data: sudo systemctl restart jtop.service")

    def sample(self) -> dict[str, float]:
        j = self._jetson
        out: dict[str, float] = {}
        power = j.power or {}
        total = power.get("tot") or {}
        if "power" in total:
            out["board_power_w"] = total["power"] / 1000.0
        for rail, values in (power.get("rail") or {}).items():
            if values.get("online", True) and "power" in values:
                out[f"power_{metric_name(rail)}_w"] = values["power"] / 1000.0
        for sensor, values in (j.temperature or {}).items():
            if values.get("online", True) and "temp" in values:
                out[f"temp_{metric_name(sensor)}_c"] = float(values["temp"])
        gpus = list((j.gpu or {}).values())
        if gpus:
            status, freq = gpus[0].get("status") or {}, gpus[0].get("freq") or {}
            if "load" in status:
                out["gpu_load_pct"] = float(status["load"])
            if "cur" in freq:
                out["gpu_freq_mhz"] = freq["cur"] / 1000.0  # kHz
        if j.jetson_clocks is not None:
            out["jetson_clocks_on"] = 1.0 if bool(j.jetson_clocks) else 0.0
        ram = (j.memory or {}).get("RAM") or {}
        if "shared" in ram:
            out["gpu_shared_mem_mb"] = ram["shared"] / 1024.0  # KB
        return out

    def describe(self) -> dict[str, Any]:
        j = self._jetson
        facts: dict[str, Any] = {}
        try:
            facts["nvpmodel"] = j.nvpmodel.name if j.nvpmodel is not None else None
            facts["jetson_clocks"] = bool(j.jetson_clocks) if j.jetson_clocks is not None else None
        except Exception as exc:  # the service went away: record that instead
            facts["error"] = str(exc).splitlines()[0]
        return facts

    def _safe_close(self) -> None:
        try:
            self._jetson.close()
        except Exception:
            pass

    def close(self) -> None:
        self._safe_close()
