"""Sinks: tube events as JSON lines, the annotated video, a display window, the run summary, and the timing table."""
from amma_edge.runtime.sinks.base import FrameBoxes, Sink, StreamInfo, open_sink
from amma_edge.runtime.sinks.events import JsonlEventSink, TubeReporter
from amma_edge.runtime.sinks.summary import SummarySink
from amma_edge.runtime.sinks.timing import StageTimer
from amma_edge.runtime.sinks.video import VideoFileSink, draw_boxes

__all__ = ["FrameBoxes", "JsonlEventSink", "Sink", "StageTimer", "StreamInfo", "SummarySink", "TubeReporter",
           "VideoFileSink", "draw_boxes", "open_sink"]
