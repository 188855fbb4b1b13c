"""Export: training checkpoints → ONNX graphs with the metadata, golden files and parity checks the device needs.

Importing this package is light (no torch, no onnx): the runtime and the calibration stage use its contract
(`graphs`), metadata readers, `load_bundle` and `compare_golden`. The export itself is
`amma_edge.export.exporter.export_model`, or `amma-edge export` on the command line.
"""
from amma_edge.export.bundle import ModelBundle, graph_file_name, load_bundle
from amma_edge.export.golden import Golden, GoldenReport, compare_golden, golden_path, load_golden
from amma_edge.export.graphs import GRAPH_FILES, GraphSpec, graph_names, graph_spec
from amma_edge.export.metadata import (
    METADATA_KEY,
    ModelMetadata,
    read_metadata,
    read_metadata_ort,
    write_metadata,
)

__all__ = [
    "GRAPH_FILES",
    "METADATA_KEY",
    "Golden",
    "GoldenReport",
    "GraphSpec",
    "ModelBundle",
    "ModelMetadata",
    "compare_golden",
    "golden_path",
    "graph_file_name",
    "graph_names",
    "graph_spec",
    "load_bundle",
    "load_golden",
    "read_metadata",
    "read_metadata_ort",
    "write_metadata",
]
