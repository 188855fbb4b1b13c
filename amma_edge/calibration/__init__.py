"""INT8 calibration: an fp32 export folder + real clips → Q/DQ ONNX graphs (TensorRT's explicit quantization,
also run by ONNX Runtime), TensorRT calibration caches for implicit quantization, and a report.

Modules, in the order the stage uses them: `clips` (calibration inputs from a dataset, through the runtime's
preprocessing), `reader` (the data-reader protocol and the clip cache), `collect` (every activation of the
fp32 graph in ONNX Runtime), `calibrators` (min-max, entropy, percentile), `qdq` (the Q/DQ graph),
`trt_cache`, `sensitivity`, `accuracy`, `latency`, `calibrate` (the stage) and `cli` (`amma-edge calibrate`).

Importing this package needs only NumPy; onnx and onnxruntime are imported where they are used.
"""
from amma_edge.calibration.calibrators import (
    METHODS,
    Calibrator,
    EntropyCalibrator,
    MinMaxCalibrator,
    PercentileCalibrator,
    TensorStatistics,
    int8_scale,
    make_calibrator,
)
from amma_edge.calibration.options import CalibrationOptions
from amma_edge.calibration.reader import ArrayReader, CalibrationDataReader, ClipCache
from amma_edge.calibration.trt_cache import CalibrationCache, read_cache, write_cache

__all__ = [
    "METHODS",
    "ArrayReader",
    "CalibrationCache",
    "CalibrationDataReader",
    "CalibrationOptions",
    "Calibrator",
    "ClipCache",
    "EntropyCalibrator",
    "MinMaxCalibrator",
    "PercentileCalibrator",
    "TensorStatistics",
    "int8_scale",
    "make_calibrator",
    "read_cache",
    "write_cache",
]
