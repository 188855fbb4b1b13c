"""Capture: sources named by URI, decoded by a capture thread into a ring of preallocated frame slots."""
from amma_edge.runtime.capture.grabbers import Grabber
from amma_edge.runtime.capture.ring import CaptureResult, CaptureStatus, Frame, FrameRing
from amma_edge.runtime.capture.source import Backoff, SourceStats, VideoSource, open_source
from amma_edge.runtime.capture.uri import SourceSpec, parse_source, register_source, source_kinds

__all__ = [
    "Backoff",
    "CaptureResult",
    "CaptureStatus",
    "Frame",
    "FrameRing",
    "Grabber",
    "SourceSpec",
    "SourceStats",
    "VideoSource",
    "open_source",
    "parse_source",
    "register_source",
    "source_kinds",
]
