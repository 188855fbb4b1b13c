"""Bench: every backend and precision of one model through the device's streaming pipeline, side by side.

`amma-edge bench` (see `cli.py`) runs each (backend, precision) through the real `Pipeline` while telemetry
is sampled in the background (`telemetry/`), prints a table, writes JSON and a chart (`report.py`), and can
fail a CI job when a figure regressed against an earlier run (`regression.py`, a pure function). The golden
check (`golden_check.py`) is the harness the device tests and the CPU tests share.

Importing this package is light: no torch, onnxruntime, TensorRT, NVML or jtop until a row runs.
"""
