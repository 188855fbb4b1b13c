"""Build: exported ONNX graphs → TensorRT engines on the target device (`amma-edge build`).

Importing this package is light: `plan` (the engine file format) needs neither TensorRT nor CUDA, and the
builder imports TensorRT only when it runs.
"""
