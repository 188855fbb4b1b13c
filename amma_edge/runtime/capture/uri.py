"""Source URIs: the URI is the configuration, as in jetson-utils.

    video.mp4, file:///data/video.mp4          a video file
    /path/to/frames/                            a folder of images, in name order
    0, /dev/video0, v4l2:///dev/video0          a V4L2 camera (by index or device)
    csi://0?width=1280&height=720&fps=30&flip=0 a Jetson CSI camera (GStreamer nvarguscamerasrc)
    rtsp://host:8554/stream                     an RTSP stream
    gst://videotestsrc ! videoconvert ! appsink a GStreamer pipeline ending in appsink
    synthetic://?seed=1&classes=walk,sit_down&size=320x240&frames=200&fps=25[&live=1][&prerender=1]
                                                the synthetic action generator (live: paced at fps, frames
                                                dropped when behind; prerender: rendered into memory first)

Kinds are registered by scheme (`register_source`), so a new source type is one function.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2

from amma_edge.errors import AmmaEdgeError
from amma_edge.runtime.capture.grabbers import Grabber, ImageFolderGrabber, OpenCVGrabber, SyntheticGrabber


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # the registry key: file, images, v4l2, csi, rtsp, gst, synthetic
    target: str  # path, device, URL or pipeline
    options: dict[str, str] = field(default_factory=dict)
    uri: str = ""  # as the user wrote it

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)


_FACTORIES: dict[str, Callable[[SourceSpec], Grabber]] = {}


def register_source(kind: str, factory: Callable[[SourceSpec], Grabber]) -> None:
    _FACTORIES[kind] = factory


def source_kinds() -> tuple[str, ...]:
    return tuple(_FACTORIES)


def parse_source(uri: str | int) -> SourceSpec:
    """What kind of source `uri` names, and its target and options."""
    if isinstance(uri, int) or (isinstance(uri, str) and uri.strip().isdigit()):
        return SourceSpec("v4l2", str(int(uri)), {}, str(uri))
    text = str(uri).strip()
    if not text:
        raise AmmaEdgeError("the source is empty: pass a video file, a folder, a camera (0, /dev/video0) or a URI")
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(.*)$", text, re.DOTALL)
    if match is None:
        return _path_spec(Path(text), text)
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "gst":  # a pipeline: '!' and '?' belong to it, nothing to parse
        return SourceSpec("gst", rest, {}, text)
    if scheme in ("rtsp", "rtsps", "http", "https", "rtmp"):
        return SourceSpec("rtsp", text, {}, text)
    parts = urlsplit(text)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    if scheme == "file":
        return _path_spec(Path(unquote(parts.netloc + parts.path)), text, options)
    if scheme == "v4l2":
        device = unquote(parts.netloc + parts.path)
        return SourceSpec("v4l2", device, options, text)
    if scheme == "csi":
        return SourceSpec("csi", parts.netloc or "0", options, text)
    if scheme in _FACTORIES:
        return SourceSpec(scheme, unquote(parts.netloc + parts.path), options, text)
    raise AmmaEdgeError(f"unknown source scheme {scheme}:// in {text!r}: use a path, file://, v4l2://, csi://, "
                        f"rtsp://, gst://, synthetic:// or a camera index")


def _path_spec(path: Path, uri: str, options: dict[str, str] | None = None) -> SourceSpec:
    options = options or {}
    if str(path).startswith("/dev/video"):
        return SourceSpec("v4l2", str(path), options, uri)
    if path.is_dir():
        return SourceSpec("images", str(path), options, uri)
    if path.is_file():
        return SourceSpec("file", str(path), options, uri)
    raise AmmaEdgeError(f"source {uri!r} does not exist: pass a video file, an image folder, a camera (0, "
                        "/dev/video0) or a URI (csi://0, rtsp://..., synthetic://)")


def make_grabber(spec: SourceSpec) -> Grabber:
    try:
        factory = _FACTORIES[spec.kind]
    except KeyError:
        raise AmmaEdgeError(f"no source of kind {spec.kind!r}: choose from {', '.join(_FACTORIES)}") from None
    return factory(spec)


# --- the built-in kinds -----------------------------------------------------------------------------------------


def _int(spec: SourceSpec, name: str, default: int) -> int:
    value = spec.option(name)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise AmmaEdgeError(f"{spec.uri}: option {name}={value!r} is not a whole number") from None


def _float(spec: SourceSpec, name: str, default: float) -> float:
    value = spec.option(name)
    try:
        number = default if value is None else float(value)
    except ValueError:
        raise AmmaEdgeError(f"{spec.uri}: option {name}={value!r} is not a number") from None
    if not number > 0:
        raise AmmaEdgeError(f"{spec.uri}: option {name} must be positive, got {value}")
    return number


def _flag(spec: SourceSpec, name: str, default: bool) -> bool:
    value = spec.option(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on", ""):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise AmmaEdgeError(f"{spec.uri}: option {name}={value!r} is not true/false")


def _size(spec: SourceSpec, default: tuple[int, int]) -> tuple[int, int]:
    value = spec.option("size")
    if value is None:
        return default
    m = re.fullmatch(r"(\d+)[xX×](\d+)", value)
    if m is None:
        raise AmmaEdgeError(f"{spec.uri}: size={value!r} is not WIDTHxHEIGHT (320x240)")
    return int(m.group(1)), int(m.group(2))


def _has_gstreamer() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


_NO_GSTREAMER = ("this OpenCV build has no GStreamer support (cv2.getBuildInformation() says GStreamer: NO); on "
                 "Jetson use JetPack's system OpenCV (python3-opencv) instead of the opencv-python wheel")


def _file(spec: SourceSpec) -> Grabber:
    return OpenCVGrabber(spec.target, cv2.CAP_ANY, live=False, description=f"video file {spec.target}",
                         hint="not a video OpenCV can decode (is FFmpeg support built in?)")


def _images(spec: SourceSpec) -> Grabber:
    fps = spec.option("fps")
    return ImageFolderGrabber(Path(spec.target), _float(spec, "fps", 25.0) if fps is not None else None)


def _v4l2(spec: SourceSpec) -> Grabber:
    target: str | int = int(spec.target) if spec.target.isdigit() else spec.target
    grabber = OpenCVGrabber(target, cv2.CAP_V4L2, live=True, description=f"camera {spec.target}",
                            hint="no such camera, or it is busy (check `v4l2-ctl --list-devices`)")
    return grabber


def csi_pipeline(sensor: int, width: int, height: int, fps: int, flip: int) -> str:
    """The GStreamer pipeline for a Jetson CSI camera: NVMM capture, hardware conversion to BGR, latest frame only."""
    return (f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
            f"framerate={fps}/1, format=NV12 ! nvvidconv flip-method={flip} ! video/x-raw, width={width}, "
            f"height={height}, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1")


def _csi(spec: SourceSpec) -> Grabber:
    if not spec.target.isdigit():
        raise AmmaEdgeError(f"{spec.uri}: a CSI camera is csi://N with N the sensor id (csi://0)")
    pipeline = csi_pipeline(int(spec.target), _int(spec, "width", 1280), _int(spec, "height", 720),
                            _int(spec, "fps", 30), _int(spec, "flip", 0))
    hint = _NO_GSTREAMER if not _has_gstreamer() else "is nvargus-daemon running and the camera connected?"
    return OpenCVGrabber(pipeline, cv2.CAP_GSTREAMER, live=True, description=f"CSI camera {spec.target}", hint=hint)


def _rtsp(spec: SourceSpec) -> Grabber:
    return OpenCVGrabber(spec.target, cv2.CAP_FFMPEG, live=True, description=f"stream {spec.target}",
                         hint="unreachable, or a codec FFmpeg lacks")


def _gst(spec: SourceSpec) -> Grabber:
    hint = _NO_GSTREAMER if not _has_gstreamer() else "check the pipeline with gst-launch-1.0; it must end in appsink"
    return OpenCVGrabber(spec.target, cv2.CAP_GSTREAMER, live=_flag(spec, "live", True),
                         description=f"GStreamer pipeline '{spec.target}'", hint=hint)


def _synthetic(spec: SourceSpec) -> Grabber:
    classes = spec.option("classes")
    frames = spec.option("frames")
    return SyntheticGrabber(
        seed=_int(spec, "seed", 0),
        classes=[c.strip() for c in classes.split(",") if c.strip()] if classes else None,
        size=_size(spec, (320, 240)),
        frames=None if frames is None else _int(spec, "frames", 0),
        fps=_float(spec, "fps", 25.0),
        live=_flag(spec, "live", False),
        start_index=_int(spec, "start", 0),
        prerender=_flag(spec, "prerender", False),
    )


register_source("file", _file)
register_source("images", _images)
register_source("v4l2", _v4l2)
register_source("csi", _csi)
register_source("rtsp", _rtsp)
register_source("gst", _gst)
register_source("synthetic", _synthetic)
