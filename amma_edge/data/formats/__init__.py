"""Readers for the published dataset formats; each turns a file into amma-edge's in-memory annotations.

`ucf_jhmdb`: the UCF101-24 / JHMDB-21 ground-truth pickle (read without running code) -> `GroundTruth`.
`ava`: AVA v2.2 box CSVs, label maps and excluded timestamps -> key frames of persons with actions.
"""
from amma_edge.data.formats.ava import (
    AVAAnnotations,
    AVAKeyframe,
    AVALabelMap,
    AVAPerson,
    load_ava,
    load_ava_csv,
    load_ava_excluded,
    load_ava_label_map,
)
from amma_edge.data.formats.ucf_jhmdb import (
    JHMDB_PICKLE,
    UCF_PICKLE,
    FrameLayout,
    SafeUnpickler,
    load_pickle,
    read_pickle,
)

__all__ = [
    "AVAAnnotations", "AVAKeyframe", "AVALabelMap", "AVAPerson", "load_ava", "load_ava_csv", "load_ava_excluded",
    "load_ava_label_map", "JHMDB_PICKLE", "UCF_PICKLE", "FrameLayout", "SafeUnpickler", "load_pickle", "read_pickle",
]
