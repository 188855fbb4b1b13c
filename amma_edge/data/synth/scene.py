"""What the camera adds around the people: textured rooms and outdoor scenes, camera shake, changing light,
sensor noise and blur (JPEG compression is applied where frames are written).

Backgrounds are built once per video as a plate a little larger than the frame, so camera jitter is a crop.
Everything per frame is one vectorised pass: a crop, a lookup table for the light, a slice of a noise bank.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from amma_edge.data.synth.props import chair_for, draw_chair
from amma_edge.data.synth.render import random_color

BACKDROPS = ("room", "outdoor", "studio")


@dataclass(frozen=True)
class Perspective:
    """The floor as a camera sees it: a person standing at image row y is `scale * (y - horizon)` tall."""

    horizon: float
    scale: float
    floor_y: float  # where the back wall meets the floor (or the far edge of the ground)

    def person_height(self, ground_y: float) -> float:
        return self.scale * (ground_y - self.horizon)

    def ground_for(self, person_height: float) -> float:
        return self.horizon + person_height / self.scale


def random_perspective(rng: np.random.Generator, height: int, max_fraction: float, min_fraction: float) -> Perspective:
    """A horizon and floor such that the tallest person stands near the bottom, the smallest further back."""
    horizon = height * rng.uniform(0.12, 0.32)
    scale = max_fraction * height / (0.97 * height - horizon)
    floor_y = horizon + 0.85 * min_fraction * height / scale
    return Perspective(horizon=float(horizon), scale=float(scale), floor_y=float(floor_y))


def _lowfreq(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth noise in [-1, 1]: a coarse random grid upsampled, for stains, clouds, grass and plaster."""
    small = rng.uniform(-1, 1, (max(h // cells, 2), max(w // cells, 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _gradient(h: int, w: int, top: tuple, bottom: tuple) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to(np.float32(top) * (1 - t) + np.float32(bottom) * t, (h, w, 3)).copy()


def make_plate(rng: np.random.Generator, width: int, height: int, pad: int, persp: Perspective) -> np.ndarray:
    """A static background (H + 2·pad, W + 2·pad, 3) uint8: wall or sky, floor or ground, clutter, vignette."""
    H, W = height + 2 * pad, width + 2 * pad
    floor = round(persp.floor_y) + pad
    kind = str(rng.choice(BACKDROPS, p=[0.5, 0.3, 0.2]))
    img = np.empty((H, W, 3), np.float32)
    wall_c = np.float32(random_color(rng, sat=(10, 120), val=(90, 230)))
    floor_c = np.float32(random_color(rng, sat=(10, 140), val=(50, 190)))
    if kind == "outdoor":
        sky_top = np.float32(random_color(rng, sat=(40, 140), val=(170, 250)))
        sky_top[0] = max(sky_top[0], sky_top[2])  # bluish skies, greyish at worst
        img[:floor] = _gradient(floor, W, sky_top, sky_top * 0.6 + 255 * 0.4)
        img[:floor] += 18 * _lowfreq(rng, floor, W, 40)[..., None]
        # a ridge of hills and some tree crowns on the horizon
        xs = np.arange(W)
        ridge = floor - (0.06 * H * (1 + _lowfreq(rng, 1, W, 30)[0]) + 2)
        hill_c = np.float32(random_color(rng, sat=(60, 160), val=(60, 140)))
        rows = np.arange(floor)[:, None]
        img[:floor][rows >= ridge[None, :]] = hill_c
        for _ in range(int(rng.integers(0, 5))):
            cx, r = rng.uniform(0, W), rng.uniform(0.04, 0.1) * H
            cy = floor - r * rng.uniform(0.6, 1.4)
            c = tuple(float(v) for v in random_color(rng, sat=(80, 200), val=(40, 120)))
            cv2.line(img, (int(cx), int(cy)), (int(cx), floor), (40, 60, 80), max(int(r * 0.2), 1), cv2.LINE_AA)
            cv2.ellipse(img, (int(cx), int(cy)), (int(r), int(r * 1.2)), 0, 0, 360, c, -1, cv2.LINE_AA)
        ground_c = np.float32(random_color(rng, sat=(50, 170), val=(60, 160)))
        ground_c[1] = max(ground_c[1], ground_c[0])  # grass, sand or earth
        img[floor:] = _gradient(H - floor, W, ground_c * 0.8, ground_c * 1.1)
        img[floor:] *= (1 + 0.25 * _lowfreq(rng, H - floor, W, 6))[..., None]
    else:
        img[:floor] = _gradient(floor, W, wall_c * rng.uniform(0.75, 1.0), wall_c * rng.uniform(0.9, 1.15))
        style = str(rng.choice(["plaster", "stripes", "bricks", "tiles"])) if kind == "room" else "plaster"
        if style == "stripes":
            period = rng.uniform(0.03, 0.08) * W
            img[:floor] *= (1 + 0.08 * np.sign(np.sin(2 * np.pi * np.arange(W) / period)))[None, :, None]
        elif style in ("bricks", "tiles"):
            bh = rng.uniform(0.025, 0.06) * H if style == "bricks" else rng.uniform(0.06, 0.12) * H
            bw = bh * (2.5 if style == "bricks" else 1.0)
            mortar = wall_c * 0.75
            for row, y in enumerate(np.arange(0, floor, bh)):
                cv2.line(img, (0, int(y)), (W, int(y)), tuple(float(v) for v in mortar), 1, cv2.LINE_AA)
                shift = (row % 2) * bw / 2 if style == "bricks" else 0
                for x in np.arange(-shift, W, bw):
                    cv2.line(img, (int(x), int(y)), (int(x), int(min(y + bh, floor))), tuple(float(v) for v in mortar), 1, cv2.LINE_AA)
        img[:floor] *= (1 + 0.12 * _lowfreq(rng, floor, W, 12))[..., None]
        if kind == "room":
            for _ in range(int(rng.integers(0, 4))):  # windows, doors, posters
                w = rng.uniform(0.08, 0.25) * W
                h = rng.uniform(0.1, 0.6) * floor
                x = rng.uniform(0, W - w)
                y = rng.uniform(0, max(floor - h, 1))
                c = tuple(float(v) for v in random_color(rng))
                cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), c, -1, cv2.LINE_AA)
                frame_c = tuple(float(v) * 0.6 for v in c)
                cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), frame_c, max(int(0.01 * H), 1), cv2.LINE_AA)
        img[floor:] = _gradient(H - floor, W, floor_c * 0.8, floor_c * 1.15)
        fstyle = str(rng.choice(["plain", "tiles", "planks"]))
        if fstyle == "tiles":  # a perspective grid converging on the horizon
            vx = W / 2 + rng.uniform(-0.3, 0.3) * W
            hz = persp.horizon + pad
            line_c = tuple(float(v) * 0.7 for v in floor_c)
            n = int(rng.integers(6, 14))
            for x in np.linspace(-W, 2 * W, 3 * n):
                x_top = vx + (x - vx) * (floor - hz) / (H - hz)
                cv2.line(img, (int(x_top), floor), (int(x), H), line_c, 1, cv2.LINE_AA)
            for k in range(1, 12):
                y = hz + (floor - hz) * (1.35 ** k)
                if y >= H:
                    break
                cv2.line(img, (0, int(y)), (W, int(y)), line_c, 1, cv2.LINE_AA)
        elif fstyle == "planks":
            line_c = tuple(float(v) * 0.75 for v in floor_c)
            for k in range(1, 30):
                y = floor + (H - floor) * (k / 12) ** 1.3
                if y >= H:
                    break
                cv2.line(img, (0, int(y)), (W, int(y)), line_c, 1, cv2.LINE_AA)
        img[floor:] *= (1 + 0.12 * _lowfreq(rng, H - floor, W, 8))[..., None]
        skirting = tuple(float(v) for v in random_color(rng, sat=(0, 60), val=(40, 240)))
        cv2.line(img, (0, floor), (W, floor), skirting, max(int(0.012 * H), 1), cv2.LINE_AA)
    # static clutter against the back: boxes, plants and empty chairs, so a chair alone means nothing
    for _ in range(int(rng.integers(0, 3))):
        gy = floor + rng.uniform(0.0, 0.08) * H
        s = persp.person_height(gy - pad)
        x = rng.uniform(0.05, 0.95) * W
        what = rng.choice(["box", "plant", "chair"])
        if what == "box":
            w, h = s * rng.uniform(0.2, 0.45), s * rng.uniform(0.15, 0.4)
            c = tuple(float(v) for v in random_color(rng, sat=(20, 150), val=(60, 200)))
            cv2.rectangle(img, (int(x), int(gy - h)), (int(x + w), int(gy)), c, -1, cv2.LINE_AA)
        elif what == "plant":
            pot = tuple(float(v) for v in random_color(rng, sat=(60, 200), val=(60, 160)))
            cv2.rectangle(img, (int(x - s * 0.06), int(gy - s * 0.12)), (int(x + s * 0.06), int(gy)), pot, -1, cv2.LINE_AA)
            for _ in range(5):
                c = (float(rng.uniform(20, 70)), float(rng.uniform(90, 170)), float(rng.uniform(20, 80)))
                cv2.ellipse(img, (int(x + rng.uniform(-0.08, 0.08) * s), int(gy - s * rng.uniform(0.15, 0.35))),
                            (int(s * 0.07) + 1, int(s * 0.12) + 1), float(rng.uniform(0, 180)), 0, 360, c, -1, cv2.LINE_AA)
        else:
            facing = int(rng.choice([-1, 1]))
            chair = chair_for(rng, (x, gy - 0.26 * s), 0.25 * s, 0.045 * s, s, gy, facing, kind="chair")
            tmp = np.clip(img, 0, 255).astype(np.uint8)
            draw_chair(tmp, chair, (0.0, 0.0))
            img = tmp.astype(np.float32)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    r2 = ((xs - W / 2) / (W / 2)) ** 2 + ((ys - H / 2) / (H / 2)) ** 2
    img *= (1 - rng.uniform(0.05, 0.3) * 0.5 * r2)[..., None]  # vignette
    img += rng.normal(0, rng.uniform(1, 5), (H, W, 1)).astype(np.float32)  # fine grain of the surfaces
    return np.clip(img, 0, 255).astype(np.uint8)


def camera_path(rng: np.random.Generator, nframes: int, pad: int) -> np.ndarray:
    """(T, 2) integer crop offsets within ±pad: a tripod, a slow pan, or a hand-held shake."""
    style = rng.choice(["tripod", "drift", "shake"], p=[0.35, 0.3, 0.35])
    if style == "tripod" or pad == 0:
        path = np.zeros((nframes, 2))
    elif style == "drift":
        start, end = rng.uniform(-pad, pad, 2), rng.uniform(-pad, pad, 2)
        w = np.linspace(0, 1, nframes)[:, None]
        path = start * (1 - w) + end * w
    else:
        steps = rng.normal(0, rng.uniform(0.4, 1.2), (nframes + 8, 2))
        walk = np.cumsum(steps, axis=0)
        kernel = np.ones(5) / 5
        walk = np.stack([np.convolve(walk[:, i], kernel, mode="same") for i in range(2)], 1)[4:-4]
        walk -= walk.mean(0)
        path = np.clip(walk, -pad, pad)
    return np.round(path).astype(np.int64)


@dataclass(frozen=True)
class Imaging:
    """Per-video camera response: light over time, noise level, blur and JPEG quality."""

    gain_start: tuple[float, float, float]
    gain_end: tuple[float, float, float]
    flicker: float  # amplitude of a slow light oscillation
    flicker_period: float  # frames
    gamma: float
    noise_sigma: float
    blur_sigma: float
    jpeg_quality: int
    seed: int


def random_imaging(rng: np.random.Generator) -> Imaging:
    def gain() -> tuple[float, float, float]:
        g = rng.uniform(0.75, 1.2)
        tint = rng.uniform(-0.06, 0.06, 3)
        return tuple(float(g * (1 + t)) for t in tint)  # type: ignore[return-value]

    start = gain()
    end = gain() if rng.uniform() < 0.6 else start
    return Imaging(
        gain_start=start, gain_end=end,
        flicker=float(rng.uniform(0, 0.08) if rng.uniform() < 0.4 else 0.0),
        flicker_period=float(rng.uniform(15, 60)),
        gamma=float(rng.uniform(0.85, 1.15)),
        noise_sigma=float(rng.uniform(1.5, 7.0)),
        blur_sigma=float(rng.uniform(0.5, 1.0) if rng.uniform() < 0.3 else 0.0),
        jpeg_quality=int(rng.integers(50, 93)),
        seed=int(rng.integers(0, 2**31)),
    )


class Camera:
    """Turns a clean rendered frame into what a cheap camera records (everything but JPEG)."""

    def __init__(self, imaging: Imaging, nframes: int, height: int, width: int):
        self.im = imaging
        self.nframes = nframes
        rng = np.random.default_rng(imaging.seed)
        bank = rng.standard_normal((3, height + 8, width + 8, 3), dtype=np.float32) * imaging.noise_sigma
        self._bank = np.round(bank).astype(np.int16)
        self._picks = rng.integers(0, [3, 9, 9], size=(nframes, 3))
        self._h, self._w = height, width
        self._levels = (np.arange(256, dtype=np.float32) / 255.0) ** imaging.gamma

    def lut(self, t: int) -> np.ndarray:
        w = t / max(self.nframes - 1, 1)
        gain = np.float32(self.im.gain_start) * (1 - w) + np.float32(self.im.gain_end) * w
        gain = gain * (1 + self.im.flicker * np.sin(2 * np.pi * t / self.im.flicker_period))
        table = np.clip(self._levels[:, None] * gain[None, :] * 255 + 0.5, 0, 255).astype(np.uint8)
        return table.reshape(256, 1, 3)

    def __call__(self, frame: np.ndarray, t: int) -> np.ndarray:
        if self.im.blur_sigma > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), self.im.blur_sigma)
        frame = cv2.LUT(frame, self.lut(t))
        k, dy, dx = self._picks[t]
        noise = self._bank[k, dy:dy + self._h, dx:dx + self._w]
        return cv2.add(frame, noise, dtype=cv2.CV_8U)


def jpeg_roundtrip(frame: np.ndarray, quality: int) -> np.ndarray:
    """The frame as it reads back from a JPEG file of this quality."""
    return cv2.imdecode(encode_jpeg(frame, quality), cv2.IMREAD_COLOR)


def encode_jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf

