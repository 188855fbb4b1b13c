"""The device runtime: everything between a camera and action tubes.

    capture/   sources by URI, a capture thread, the frame ring          (open_source)
    runners/   ONNX Runtime, TensorRT, PyTorch behind one contract       (open_model, Runner)
    native     C kernels with NumPy twins (reference): preprocess, micro-motion, feature cache, decode, IoU, NMS
    decode, linking, boxes, streaming, frame_stream   the per-clip detection and online linking
    pipeline   source → ring → preprocess → engines → decode → link → sinks, timed per stage (Pipeline)
    sinks/     JSON-lines tube events, annotated video, display, summary, timing table
    cli        `amma-edge run`

Each kernel is a pure function of arrays, so the C extension can be tested against its NumPy twin.
"""
