"""TensorRT 10 backend: deserialises an amma-edge plan file and runs it on one CUDA stream.

The engine file is a TensorRT plan behind a JSON header of the model metadata (`amma_edge.build.plan`), so
the engine alone is enough to run; a bare plan is refused.

Memory. Every input and output gets page-locked host memory (cudaHostAlloc, mapped). On an integrated GPU
(Jetson: CPU and GPU share DRAM) the engine reads and writes those host buffers directly through their mapped
device pointers: no copies at all. On a discrete GPU each tensor also gets device memory, and `infer` copies in
and out asynchronously on the runner's stream. Either way `infer` copies the feeds into the pinned inputs and
returns the pinned outputs themselves, reused on every call. All TensorRT and cuda-python imports are inside
functions: this module imports on machines without them.
"""
from __future__ import annotations

import ctypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.build.plan import read_plan
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.metadata import ModelMetadata
from amma_edge.runtime.runners.base import Runner, TensorInfo, import_optional
from amma_edge.runtime.runners.cuda_runtime import cuda_check, cuda_runtime


def _cudart() -> Any:
    return cuda_runtime("running TensorRT engines")


class _Buffer:
    """One tensor's pinned (mapped) host array, and its device pointer (the mapped one, or separate memory)."""

    def __init__(self, info: TensorInfo, zero_copy: bool):
        cudart = _cudart()
        self.info = info
        shape = tuple(int(d) for d in info.shape)
        self.nbytes = max(int(np.prod(shape)) * info.dtype.itemsize, 1)
        self.host_ptr = cuda_check(cudart.cudaHostAlloc(self.nbytes, cudart.cudaHostAllocMapped), "cudaHostAlloc")
        raw = (ctypes.c_uint8 * self.nbytes).from_address(int(self.host_ptr))
        self.host = np.frombuffer(raw, dtype=np.uint8)[: int(np.prod(shape)) * info.dtype.itemsize]
        self.host = self.host.view(info.dtype).reshape(shape)
        self.zero_copy = zero_copy
        if zero_copy:
            self.device_ptr = cuda_check(cudart.cudaHostGetDevicePointer(self.host_ptr, 0), "cudaHostGetDevicePointer")
        else:
            self.device_ptr = cuda_check(cudart.cudaMalloc(self.nbytes), "cudaMalloc")

    def free(self) -> None:
        cudart = _cudart()
        if not self.zero_copy:
            cudart.cudaFree(self.device_ptr)
        self.host = None  # type: ignore[assignment]
        cudart.cudaFreeHost(self.host_ptr)


class TensorRTRunner(Runner):
    backend = "trt"

    def __init__(self, path: str | Path, *, zero_copy: bool | None = None):
        """`zero_copy`: None decides by the GPU (integrated: yes); True / False force it."""
        super().__init__(str(path))
        self.path = Path(path)
        self.zero_copy = zero_copy
        self.metadata: ModelMetadata | None = None  # the plan header, read at activation
        self._engine: Any = None
        self._context: Any = None
        self._runtime: Any = None
        self._stream: Any = None
        self._buffers: dict[str, _Buffer] = {}
        self._input_names: list[str] = []
        self._output_names: list[str] = []

    def _activate(self) -> None:
        header, plan = read_plan(self.path)
        self.metadata = ModelMetadata.from_dict(header, str(self.path))
        trt = import_optional("tensorrt", "tensorrt", "running TensorRT engines",
                              "TensorRT 10; on Jetson it comes with JetPack")
        cudart = _cudart()
        device = cuda_check(cudart.cudaGetDevice(), "cudaGetDevice")
        props = cuda_check(cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
        zero_copy = bool(props.integrated and props.canMapHostMemory) if self.zero_copy is None else self.zero_copy
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise AmmaEdgeError(f"TensorRT could not deserialize {self.path}: engines only run with the TensorRT "
                                "version and GPU they were built on; build it again on this device")
        self._context = self._engine.create_execution_context()
        self._stream = cuda_check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        try:
            for i in range(self._engine.num_io_tensors):
                name = self._engine.get_tensor_name(i)
                is_input = self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
                shape = tuple(self._engine.get_tensor_shape(name))
                if any(d < 0 for d in shape):  # a dynamic engine: run it at the exported (static) shape
                    known = (self.metadata.inputs if is_input else self.metadata.outputs).get(name)
                    if known is None:
                        raise AmmaEdgeError(f"{self.path}: tensor {name} has dynamic shape {shape} and the metadata "
                                            "gives none; build the engine with static shapes")
                    if is_input:
                        self._context.set_input_shape(name, known)
                    shape = tuple(known)
                info = TensorInfo(name, shape, np.dtype(trt.nptype(self._engine.get_tensor_dtype(name))))
                buffer = _Buffer(info, zero_copy)
                self._buffers[name] = buffer
                (self._input_names if is_input else self._output_names).append(name)
                if not self._context.set_tensor_address(name, int(buffer.device_ptr)):
                    raise AmmaEdgeError(f"TensorRT refused the address of tensor {name} of {self.path}")
        except BaseException:
            self._deactivate()
            raise

    def _deactivate(self) -> None:
        for buffer in self._buffers.values():
            buffer.free()
        self._buffers.clear()
        self._input_names.clear()
        self._output_names.clear()
        if self._stream is not None:
            _cudart().cudaStreamDestroy(self._stream)
            self._stream = None
        self._context = self._engine = self._runtime = None

    def _inputs(self) -> dict[str, TensorInfo]:
        return {n: self._buffers[n].info for n in self._input_names}

    def _outputs(self) -> dict[str, TensorInfo]:
        return {n: self._buffers[n].info for n in self._output_names}

    def _infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        cudart = _cudart()
        to_device, to_host = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name in self._input_names:
            buffer = self._buffers[name]
            np.copyto(buffer.host, feeds[name])
            if not buffer.zero_copy:
                cuda_check(cudart.cudaMemcpyAsync(buffer.device_ptr, buffer.host_ptr, buffer.nbytes, to_device,
                                                  self._stream), "cudaMemcpyAsync (to device)")
        if not self._context.execute_async_v3(self._stream):
            raise AmmaEdgeError(f"TensorRT failed to run {self.path} (see its log above)")
        for name in self._output_names:
            buffer = self._buffers[name]
            if not buffer.zero_copy:
                cuda_check(cudart.cudaMemcpyAsync(buffer.host_ptr, buffer.device_ptr, buffer.nbytes, to_host,
                                                  self._stream), "cudaMemcpyAsync (to host)")
        cuda_check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return {name: self._buffers[name].host for name in self._output_names}
