"""The host: this process's resident memory and CPU use, and the whole machine's CPU use (psutil)."""
from __future__ import annotations

from amma_edge.bench.telemetry.base import SourceUnavailable, TelemetrySource

MB = 2**20


class HostSource(TelemetrySource):
    name = "host"

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:
            raise SourceUnavailable("psutil is not installed: pip install psutil") from None
        self._psutil = psutil
        self._process = psutil.Process()
        # cpu_percent measures since the previous call: prime both counters so the first sample means something.
        self._process.cpu_percent(None)
        psutil.cpu_percent(None)

    def sample(self) -> dict[str, float]:
        return {
            "host_rss_mb": self._process.memory_info().rss / MB,
            # Of one core: a process using two cores fully reads 200.
            "process_cpu_pct": self._process.cpu_percent(None),
            "system_cpu_pct": self._psutil.cpu_percent(None),
        }
