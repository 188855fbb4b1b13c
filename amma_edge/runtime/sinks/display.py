"""A window showing the annotated frames (`display://0`), where OpenCV has a GUI and a display exists."""
from __future__ import annotations

import os
import sys
from typing import Any

import cv2
import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.runtime.sinks.base import FrameBoxes, Sink, StreamInfo


def display_problem() -> str | None:
    """Why no window can be opened here, or None when one can."""
    gui = next((line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
                if line.strip().startswith("GUI:")), "")
    if gui.upper() in ("", "NONE"):
        return ("this OpenCV build has no GUI (opencv-python-headless): install opencv-python, or on Jetson use "
                "JetPack's OpenCV")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display is attached ($DISPLAY is not set): run with --headless, or forward X"
    return None


class DisplaySink(Sink):
    wants_frames = True

    def __init__(self, index: int = 0):
        problem = display_problem()
        if problem:
            raise AmmaEdgeError(f"display://{index} cannot open a window: {problem}")
        self.index = index
        self.window = f"amma-edge (display {index})"
        self.closed_by_user = False

    def open(self, info: StreamInfo) -> None:
        cv2.namedWindow(self.window, cv2.WINDOW_NORMAL)
        cv2.resizeWindow(self.window, info.frame_size[1], info.frame_size[0])

    def frame(self, index: int, image: np.ndarray, boxes: FrameBoxes) -> None:
        cv2.imshow(self.window, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (27, ord("q")):  # Esc or q: the user wants to stop
            self.closed_by_user = True

    def stop_requested(self) -> bool:
        return self.closed_by_user

    def close(self, summary: dict[str, Any]) -> None:
        cv2.destroyWindow(self.window)

    def describe(self) -> str:
        return f"display://{self.index}"
