"""Telemetry: the host source here, the sampler's summary and its tolerance of failing sensors, and the
NVML and jtop sources reading the structures those libraries document (through stand-in modules, since
neither a GPU nor a Jetson is here)."""
import os
import sys
import time
import types

import pytest

from amma_edge.bench.telemetry import SourceUnavailable, TelemetrySampler, TelemetrySource, open_sources
from amma_edge.bench.telemetry.host import HostSource


class Counter(TelemetrySource):
    name = "counter"

    def __init__(self):
        self.n = 0

    def sample(self):
        self.n += 1
        return {"count": float(self.n)}


class Broken(TelemetrySource):
    name = "broken"

    def sample(self):
        raise OSError("sensor gone")


def test_the_host_source_reads_this_process():
    values = HostSource().sample()
    assert values["host_rss_mb"] > 10 and values["process_cpu_pct"] >= 0 and 0 <= values["system_cpu_pct"] <= 100


def test_the_sampler_summarises_every_sample_and_survives_a_failing_source():
    counter = Counter()
    with TelemetrySampler([counter, Broken()], interval_s=0.01) as sampler:
        time.sleep(0.1)
    summary = sampler.summary()["count"]
    assert summary.samples == counter.n >= 3  # one at the start, one at the end, and in between
    assert summary.min == 1 and summary.max == counter.n and summary.mean == pytest.approx((counter.n + 1) / 2)
    assert sampler.errors == {"broken": "OSError: sensor gone"}
    assert sampler.peak("count") == counter.n and sampler.mean("missing") is None
    assert sampler.as_dict()["metrics"]["count"]["samples"] == counter.n


def test_absent_sources_say_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # an import of it fails
    monkeypatch.setitem(sys.modules, "jtop", None)
    sources, status = open_sources()
    assert [s.name for s in sources] == ["host"] and status["host"] == "ok"
    assert status["nvml"].startswith("absent: pynvml is not installed: pip install nvidia-ml-py")
    assert status["jetson"].startswith("absent: jetson-stats is not installed")


def fake_pynvml(power_supported=True):
    class NVMLError(Exception):
        pass

    calls = []
    mod = types.ModuleType("pynvml")
    mod.NVMLError = NVMLError
    mod.nvmlInit = lambda: calls.append("init")
    mod.nvmlShutdown = lambda: calls.append("shutdown")
    mod.nvmlDeviceGetHandleByIndex = lambda i: f"gpu{i}"
    mod.nvmlDeviceGetName = lambda h: b"NVIDIA H200"
    mod.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=3 * 2**30, total=141 * 2**30)
    mod.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=87, memory=40)

    def power(h):
        if not power_supported:
            raise NVMLError("Not Supported")
        return 215_500  # mW

    mod.nvmlDeviceGetPowerUsage = power
    mod.nvmlDeviceGetComputeRunningProcesses = lambda h: [
        types.SimpleNamespace(pid=os.getpid(), usedGpuMemory=512 * 2**20),
        types.SimpleNamespace(pid=1, usedGpuMemory=2**30)]
    return mod, calls


def test_nvml_reads_memory_utilisation_power_and_this_process(monkeypatch):
    from amma_edge.bench.telemetry.nvml import NvmlSource

    mod, calls = fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", mod)
    source = NvmlSource()
    assert source.sample() == {"gpu_mem_used_mb": 3072.0, "gpu_util_pct": 87.0, "gpu_power_w": 215.5,
                               "process_gpu_mem_mb": 512.0}
    assert source.describe() == {"gpu": "NVIDIA H200"}
    source.close()
    assert calls == ["init", "shutdown"]

    mod, _ = fake_pynvml(power_supported=False)
    monkeypatch.setitem(sys.modules, "pynvml", mod)
    assert "gpu_power_w" not in NvmlSource().sample()  # unsupported figures are left out, not errors


def fake_jtop(ok=True, start_error=None):
    mod = types.ModuleType("jtop")

    class jtop:
        def __init__(self, interval=0.5):
            self.interval, self.closed = interval, False
            self.power = {"rail": {"VDD_GPU_SOC": {"online": True, "power": 3120, "volt": 5000, "curr": 624},
                                   "VDD_CPU_CV": {"online": True, "power": 880},
                                   "VIN_SYS_5V0": {"online": False, "power": 0}},
                          "tot": {"power": 7450, "avg": 7000, "name": "VDD_IN"}}
            self.temperature = {"gpu": {"online": True, "temp": 48.5}, "cv0": {"online": False, "temp": -256}}
            self.gpu = {"gpu": {"type": "integrated", "status": {"load": 63.0, "railgate": False},
                                "freq": {"cur": 612000, "max": 918000, "min": 306000, "governor": "nvhost"}}}
            self.jetson_clocks = True
            self.memory = {"RAM": {"tot": 7_800_000, "used": 3_000_000, "shared": 512_000}}
            self.nvpmodel = types.SimpleNamespace(name="15W")

        def start(self):
            if start_error:
                raise RuntimeError(start_error)

        def ok(self):
            return ok

        def close(self):
            self.closed = True

    mod.jtop = jtop
    return mod


def test_jtop_reads_power_per_rail_temperatures_gpu_and_clocks(monkeypatch):
    from amma_edge.bench.telemetry.jetson import JtopSource

    monkeypatch.setitem(sys.modules, "jtop", fake_jtop())
    source = JtopSource(interval_s=0.05)
    assert source._jetson.interval == 0.1  # jtop is not asked for faster than it refreshes
    assert source.sample() == {
        "board_power_w": 7.45, "power_vdd_gpu_soc_w": 3.12, "power_vdd_cpu_cv_w": 0.88, "temp_gpu_c": 48.5,
        "gpu_load_pct": 63.0, "gpu_freq_mhz": 612.0, "jetson_clocks_on": 1.0, "gpu_shared_mem_mb": 500.0}
    assert source.describe() == {"nvpmodel": "15W", "jetson_clocks": True}
    source.close()
    assert source._jetson.closed


def test_jtop_without_its_service_is_absent_with_the_fix(monkeypatch):
    from amma_edge.bench.telemetry.jetson import JtopSource

    monkeypatch.setitem(sys.modules, "jtop", fake_jtop(start_error="The jetson_stats.service is not active.\nmore"))
    with pytest.raises(SourceUnavailable, match="jtop did not connect .*not active.*systemctl restart"):
        JtopSource()
    monkeypatch.setitem(sys.modules, "jtop", fake_jtop(ok=False))
    with pytest.raises(SourceUnavailable, match="sends no data"):
        JtopSource()
