"""A recording stand-in for the parts of the TensorRT 10 and cuda-python APIs the builder calls, so that the
builder's own logic (which flags, profiles and caches it sets; how it reports parser and build failures)
runs on machines without a GPU. It checks nothing about TensorRT itself: `test_device_build.py` does, on a
GPU. Names follow the TensorRT 10 Python API."""
from __future__ import annotations

import enum
import types


class Severity(enum.Enum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger:
    Severity = Severity

    def __init__(self):
        pass


class BuilderFlag(enum.Enum):
    FP16 = "FP16"
    BF16 = "BF16"
    INT8 = "INT8"
    TF32 = "TF32"
    GPU_FALLBACK = "GPU_FALLBACK"


class NetworkDefinitionCreationFlag(enum.IntEnum):
    STRONGLY_TYPED = 0


class MemoryPoolType(enum.Enum):
    WORKSPACE = "WORKSPACE"


class DeviceType(enum.Enum):
    GPU = "GPU"
    DLA = "DLA"


class Tensor:
    def __init__(self, name, shape):
        self.name, self.shape = name, shape


class Network:
    def __init__(self, flags):
        self.flags = flags
        self.inputs: list[Tensor] = []

    @property
    def num_inputs(self):
        return len(self.inputs)

    def get_input(self, i):
        return self.inputs[i]


class ParserError:
    def __init__(self, node, name, op, desc):
        self._node, self._name, self._op, self._desc = node, name, op, desc

    def node(self):
        return self._node

    def node_name(self):
        return self._name

    def node_operator(self):
        return self._op

    def code(self):
        return "UNSUPPORTED_NODE"

    def desc(self):
        return self._desc


class OnnxParser:
    """Parses by looking at the file name: inputs come from `state.inputs[stem]`, errors from
    `state.parser_errors`."""

    def __init__(self, network, logger):
        self.network, self.errors = network, []

    def parse_from_file(self, path):
        from pathlib import Path

        stem = Path(path).stem
        state.parsed.append(stem)
        if state.parser_errors:
            self.errors = list(state.parser_errors)
            return False
        self.network.inputs = [Tensor(n, s) for n, s in state.inputs[stem].items()]
        return True

    @property
    def num_errors(self):
        return len(self.errors)

    def get_error(self, i):
        return self.errors[i]


class TimingCache:
    def __init__(self, data):
        self.data = bytes(data)

    def serialize(self):
        return self.data + b"+built"


class Profile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, low, opt, high):
        self.shapes[name] = (tuple(low), tuple(opt), tuple(high))


class BuilderConfig:
    def __init__(self):
        self.flags = {BuilderFlag.TF32}  # TensorRT enables TF32 by default
        self.pools, self.profiles = {}, []
        self.default_device_type, self.DLA_core = DeviceType.GPU, -1
        self.timing_cache = None

    def set_memory_pool_limit(self, pool, size):
        self.pools[pool] = size

    def set_flag(self, flag):
        self.flags.add(flag)

    def clear_flag(self, flag):
        self.flags.discard(flag)

    def get_flag(self, flag):
        return flag in self.flags

    def add_optimization_profile(self, profile):
        self.profiles.append(profile)

    def create_timing_cache(self, data):
        return TimingCache(data)

    def set_timing_cache(self, cache, ignore_mismatch):
        if cache.data.startswith(b"other-device"):
            return False
        self.timing_cache = cache
        return True


class Builder:
    def __init__(self, logger):
        self.logger = logger
        self.num_DLA_cores = state.dla_cores
        self.platform_has_fast_fp16 = True
        state.builders.append(self)

    def create_network(self, flags):
        network = Network(flags)
        state.networks.append(network)
        return network

    def create_builder_config(self):
        config = BuilderConfig()
        state.configs.append(config)
        return config

    def create_optimization_profile(self):
        return Profile()

    def build_serialized_network(self, network, config):
        if state.fail_build:
            self.logger.log(Severity.ERROR, "out of\nworkspace")
            return None
        return memoryview(b"plan-of-" + str(len(state.configs)).encode())


state = types.SimpleNamespace()


def reset(inputs, dla_cores=0):
    state.inputs, state.dla_cores = inputs, dla_cores
    state.parser_errors, state.fail_build = [], False
    state.builders, state.networks, state.configs, state.parsed = [], [], [], []


def tensorrt_module():
    module = types.ModuleType("tensorrt")
    module.__version__ = "10.3.0-test"
    for name in ("ILogger", "BuilderFlag", "NetworkDefinitionCreationFlag", "MemoryPoolType", "DeviceType",
                 "OnnxParser", "Builder"):
        setattr(module, name, globals()[name])
    return module


class _CudaError(enum.Enum):
    cudaSuccess = 0


def cudart_module():
    module = types.ModuleType("cuda.bindings.runtime")
    module.cudaError_t = _CudaError
    module.cudaGetDevice = lambda: (_CudaError.cudaSuccess, 0)
    props = types.SimpleNamespace(name=b"Orin (test)\0\0", major=8, minor=7, integrated=1)
    module.cudaGetDeviceProperties = lambda device: (_CudaError.cudaSuccess, props)
    module.cudaGetErrorName = lambda err: (_CudaError.cudaSuccess, b"cudaErrorTest")
    return module
