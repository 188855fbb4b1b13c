"""cuda-python's runtime API, found under either of its module names, and its (error, value) convention.

The TensorRT runner and the engine builder both need it; the import is inside a function so that the
package imports on machines without CUDA, and a missing install says what to get.
"""
from __future__ import annotations

from typing import Any

from amma_edge.errors import AmmaEdgeError
from amma_edge.runtime.runners.base import import_optional


def cuda_runtime(purpose: str) -> Any:
    """`cuda.bindings.runtime` (cuda-python >= 12.6) or `cuda.cudart` (older); `purpose` goes in the install hint."""
    try:
        from cuda.bindings import runtime  # type: ignore[import-not-found]

        return runtime
    except ImportError:
        pass
    return import_optional("cuda.cudart", "cuda-python", purpose,
                           "the CUDA runtime bindings; use the version matching your CUDA / JetPack")


def cuda_check(result: Any, what: str) -> Any:
    """cuda-python returns (error, value...) tuples: raise on an error, return the value(s)."""
    cudart = cuda_runtime("calling the CUDA runtime")
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        _, name = cudart.cudaGetErrorName(err)
        raise AmmaEdgeError(f"CUDA {what} failed: {name.decode() if isinstance(name, bytes) else name}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)
