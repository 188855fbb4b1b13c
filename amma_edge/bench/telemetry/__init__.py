"""Telemetry sampled in a background thread while a benchmark row runs.

One small class per source behind one interface (`base.TelemetrySource`): the host (psutil: RSS, CPU %),
NVIDIA GPUs (NVML: memory, utilisation, power) and Jetson boards (jetson-stats' jtop: power per rail and in
total, temperatures, GPU load and clock, jetson_clocks). Each optional library is imported only when its
source opens; a missing one makes the source absent with a reason, never an error.
"""
from amma_edge.bench.telemetry.base import SourceUnavailable, TelemetrySource, open_sources
from amma_edge.bench.telemetry.sampler import MetricSummary, TelemetrySampler

__all__ = ["MetricSummary", "SourceUnavailable", "TelemetrySampler", "TelemetrySource", "open_sources"]
