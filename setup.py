"""Build script: the Python package, the `amma-edge` console script, and the C extension.

The C sources of the runtime's hot paths live in `amma_edge/runtime/csrc/`. Every `*.c` file there is
compiled into the one extension module `amma_edge.runtime._native`, so adding a kernel needs no edit here.
"""
from pathlib import Path

from setuptools import Extension, find_packages, setup

HERE = Path(__file__).parent
CSRC = HERE / "amma_edge" / "runtime" / "csrc"


def native_extensions() -> list[Extension]:
    sources = sorted(str(p.relative_to(HERE)) for p in CSRC.glob("*.c")) if CSRC.is_dir() else []
    if not sources:
        return []
    return [
        Extension(
            "amma_edge.runtime._native",
            sources=sources,
            include_dirs=[str(CSRC.relative_to(HERE))],
            # No -ffast-math: it would break NaN handling and the bit-exact match with the NumPy twins.
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            # A machine without a compiler still installs and runs on the NumPy twins; `make test` sets
            # AMMA_EDGE_REQUIRE_NATIVE=1 so that a failed build fails the tests instead of passing unnoticed.
            optional=True,
        )
    ]


def read_version() -> str:
    for line in (HERE / "amma_edge" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("amma_edge/__init__.py has no __version__")


setup(
    name="amma-edge",
    version=read_version(),
    description="Real-time spatio-temporal action detection from workstation to Jetson",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["amma_edge", "amma_edge.*"]),
    # The demo model ships inside the package so `amma-edge run` works from any install.
    package_data={"amma_edge.demo": ["model/*", "model/golden/*", "model-int8/*", "model-int8/golden/*",
                                    "model-int8/calibration/*"]},
    ext_modules=native_extensions(),
    install_requires=[
        # torch is pinned by the Makefile on CPU machines; any recent release works.
        "torch>=2.1",
        "numpy>=1.24",
        "click>=8.1",
        "opencv-python-headless>=4.8",
        # The device runtime's default engine; the demo model ships as ONNX.
        "onnxruntime>=1.17",
        "psutil>=5.9",
    ],
    extras_require={
        # Export and INT8 calibration (workstation side).
        "export": ["onnx>=1.15", "onnxsim>=0.4"],
        # Precision-recall plots and benchmark charts.
        "plot": ["matplotlib>=3.7"],
        # TensorRT engines are built and run on the device, from JetPack's or NVIDIA's wheels.
        "tensorrt": ["tensorrt>=10", "cuda-python>=12"],
        "jetson": ["jetson-stats>=4.2"],
        "nvml": ["nvidia-ml-py>=12"],
        "test": ["pytest>=7", "hypothesis>=6", "onnx>=1.15", "onnxsim>=0.4", "matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["amma-edge=amma_edge.cli:main"]},
)
