"""Drawing people: skin, hair, clothes with simple textures, anti-aliased edges, depth order and shadows.

A detector should learn a person's shape and motion, not a colour, so every person gets their own skin
tone, hair, shirt (plain, striped, mottled or an open jacket), sleeves, trousers or shorts and shoes, and
the far-side limbs are drawn darker and behind the body as a camera would see them. Edges are drawn with
sub-pixel precision and anti-aliasing (cv2.LINE_AA, 4 fractional bits), so a limb moving by a fraction of
a pixel still changes the image: at small training sizes that is most of the motion there is.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from amma_edge.data.synth.skeleton import (
    CAPSULES,
    GROUP_OF,
    GROUPS,
    BodyParams,
    FigureGeometry,
)

SHIFT = 4
_ONE = 1 << SHIFT
PATTERNS = ("solid", "hstripes", "vstripes", "mottled", "jacket")

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Appearance:
    """What one person wears and looks like (BGR colours)."""

    skin: Color
    hair: Color
    shirt: Color
    shirt2: Color
    pattern: str
    stripes: float  # stripes per torso length
    long_sleeves: bool
    pants: Color
    long_pants: bool
    shoes: Color
    texture_seed: int


def _hsv(h: float, s: float, v: float) -> Color:
    px = np.uint8([[[int(h) % 180, int(np.clip(s, 0, 255)), int(np.clip(v, 0, 255))]]])
    b, g, r = cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def random_color(rng: np.random.Generator, *, sat: tuple[float, float] = (30, 220),
                 val: tuple[float, float] = (40, 235)) -> Color:
    return _hsv(rng.uniform(0, 180), rng.uniform(*sat), rng.uniform(*val))


def random_appearance(rng: np.random.Generator) -> Appearance:
    tone = rng.uniform(0, 1)  # dark .. light skin, along a realistic hue band
    skin = _hsv(rng.uniform(5, 17), 150 - 70 * tone + rng.uniform(-15, 15), 80 + 160 * tone + rng.uniform(-10, 10))
    hair = [_hsv(15, 120, 30), _hsv(14, 160, 70), _hsv(20, 140, 150), _hsv(22, 90, 200), _hsv(0, 0, 170)][
        int(rng.choice(5, p=[0.35, 0.3, 0.15, 0.1, 0.1]))
    ]
    shirt = random_color(rng)
    shirt2 = random_color(rng) if rng.uniform() < 0.6 else _hsv(0, 0, rng.uniform(200, 250))
    pants = random_color(rng, sat=(20, 160), val=(30, 180)) if rng.uniform() < 0.6 else _hsv(110, rng.uniform(60, 160), rng.uniform(60, 150))
    return Appearance(
        skin=skin, hair=hair, shirt=shirt, shirt2=shirt2,
        pattern=str(rng.choice(PATTERNS, p=[0.3, 0.2, 0.1, 0.2, 0.2])),
        stripes=float(rng.uniform(3, 7)),
        long_sleeves=bool(rng.uniform() < 0.5),
        pants=pants, long_pants=bool(rng.uniform() < 0.8),
        shoes=random_color(rng, sat=(0, 120), val=(20, 120)),
        texture_seed=int(rng.integers(0, 2**31)),
    )


def to_fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


def draw_capsule(img: np.ndarray, a: np.ndarray, b: np.ndarray, r: float, color: Color) -> None:
    """A segment with round ends, `r` pixels thick on each side, anti-aliased."""
    d = np.asarray(b, dtype=np.float64) - a
    length = float(np.hypot(d[0], d[1]))
    rr = max(round(r * _ONE), 1)
    if length > 1e-3:
        n = np.array([-d[1], d[0]]) / length * r
        quad = np.array([a + n, b + n, b - n, a - n])
        cv2.fillConvexPoly(img, to_fixed(quad), color, cv2.LINE_AA, SHIFT)
        cv2.circle(img, tuple(int(v) for v in to_fixed(b)), rr, color, -1, cv2.LINE_AA, SHIFT)
    cv2.circle(img, tuple(int(v) for v in to_fixed(a)), rr, color, -1, cv2.LINE_AA, SHIFT)


def shade(color: Color, factor: float) -> Color:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in color)  # type: ignore[return-value]


def _ellipse_points(center: np.ndarray, axes: tuple[float, float], angle_deg: float, start: float, end: float,
                    n: int = 24) -> np.ndarray:
    t = np.deg2rad(np.linspace(start, end, n))
    th = np.deg2rad(angle_deg)
    x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
    return np.stack([center[0] + x * np.cos(th) - y * np.sin(th), center[1] + x * np.sin(th) + y * np.cos(th)], -1)


class FigureRenderer:
    """Draws one person, frame by frame, from precomputed geometry (one instance per person and video)."""

    def __init__(self, body: BodyParams, appearance: Appearance, geometry: FigureGeometry):
        self.body = body
        self.app = appearance
        self.geom = geometry
        self._depths = geometry.group_depths()
        rng = np.random.default_rng(appearance.texture_seed)
        self._noise = (1.0 + 0.22 * rng.standard_normal((6, 5))).astype(np.float32)
        sleeve = appearance.shirt if appearance.long_sleeves else appearance.skin
        shin = appearance.pants if appearance.long_pants else appearance.skin
        self._colors = {
            "neck": appearance.skin, "hips": appearance.pants,
            "l_upper_arm": appearance.shirt, "r_upper_arm": appearance.shirt,
            "l_forearm": sleeve, "r_forearm": sleeve, "l_hand": appearance.skin, "r_hand": appearance.skin,
            "l_thigh": appearance.pants, "r_thigh": appearance.pants, "l_shin": shin, "r_shin": shin,
            "l_foot": appearance.shoes, "r_foot": appearance.shoes,
        }
        self._group_caps = {g: [(i, name) for i, name in enumerate(CAPSULES) if GROUP_OF[name] == g] for g in GROUPS}

    def draw(self, img: np.ndarray, t: int, origin: tuple[float, float]) -> None:
        """Draw frame `t` of this person with the pelvis at image point `origin`."""
        g = self.geom
        o = np.asarray(origin, dtype=np.float64)
        depths = self._depths[t]
        order = sorted(range(len(GROUPS)), key=lambda k: (-round(depths[k], 1), k))
        half = max(0.5 * self.body.shoulder_w, 1.0)
        for k in order:
            group = GROUPS[k]
            if group == "body":
                self._draw_body(img, t, o)
                continue
            # The far side of the body is in its own shadow: a depth cue a profile view otherwise lacks.
            factor = 1.0 - 0.25 * float(np.clip(depths[k] / half, 0.0, 1.0))
            for i, name in self._group_caps[group]:
                a, b = g.caps_a[t, i, :2] + o, g.caps_b[t, i, :2] + o
                draw_capsule(img, a, b, g.caps_r[i], shade(self._colors[name], factor))

    def _draw_body(self, img: np.ndarray, t: int, o: np.ndarray) -> None:
        g = self.geom
        for name in ("hips",):
            i = CAPSULES.index(name)
            draw_capsule(img, g.caps_a[t, i, :2] + o, g.caps_b[t, i, :2] + o, g.caps_r[i], self._colors[name])
        self._draw_torso(img, t, o)
        i = CAPSULES.index("neck")
        draw_capsule(img, g.caps_a[t, i, :2] + o, g.caps_b[t, i, :2] + o, g.caps_r[i], self.app.skin)
        self._draw_head(img, t, o)

    def _draw_torso(self, img: np.ndarray, t: int, o: np.ndarray) -> None:
        pts = self.geom.torso[t, :, :2] + o
        hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        h, w = img.shape[:2]
        x0, y0 = np.floor(hull.min(0)).astype(int) - 1
        x1, y1 = np.ceil(hull.max(0)).astype(int) + 2
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        pw, ph = cx1 - cx0, cy1 - cy0
        mask = np.zeros((ph, pw), np.uint8)
        cv2.fillConvexPoly(mask, to_fixed(hull - (cx0, cy0)), 255, cv2.LINE_AA, SHIFT)
        tex = self._torso_texture(t, o, cx0, cy0, pw, ph)
        m = (mask.astype(np.float32) * (1 / 255))[..., None]
        roi = img[cy0:cy1, cx0:cx1]
        roi[:] = (roi * (1 - m) + tex * m + 0.5).astype(np.uint8)

    def _torso_texture(self, t: int, o: np.ndarray, x0: int, y0: int, pw: int, ph: int) -> np.ndarray:
        """Shirt colour over the torso's bounding patch, laid out in the torso's own coordinates."""
        g, app = self.geom, self.app
        neck = g.caps_a[t, CAPSULES.index("neck"), :2] + o
        up = g.up[t, :2]
        n = float(np.hypot(*up))
        up = up / n if n > 1e-3 else np.array([0.0, -1.0])
        across = np.array([-up[1], up[0]])
        length = max(self.body.torso, 1.0)
        ys, xs = np.mgrid[y0:y0 + ph, x0:x0 + pw].astype(np.float32)
        dx, dy = xs - neck[0], ys - neck[1]
        along = -(dx * up[0] + dy * up[1]) / length  # 0 at the neck, 1 at the hips
        side = (dx * across[0] + dy * across[1]) / max(self.body.shoulder_w * 0.5, 1.0)
        base = np.array(app.shirt, np.float32)
        alt = np.array(app.shirt2, np.float32)
        if app.pattern == "hstripes":
            mix = np.clip(0.5 + 1.5 * np.sin(2 * np.pi * app.stripes * along), 0, 1)
        elif app.pattern == "vstripes":
            mix = np.clip(0.5 + 1.5 * np.sin(np.pi * app.stripes * 0.6 * side), 0, 1)
        elif app.pattern == "jacket":
            mix = np.clip(1.0 - 4.0 * (np.abs(side) - 0.22), 0, 1) * (np.abs(g.forward[t, 2]) > 0.4)
        else:
            mix = np.zeros_like(along)
        tex = base * (1 - mix[..., None]) + alt * mix[..., None]
        light = 1.0 + 0.12 * np.clip(side, -1.5, 1.5)  # light from one side
        if app.pattern == "mottled":
            light = light * cv2.resize(self._noise, (pw, ph), interpolation=cv2.INTER_LINEAR)
        return tex * light[..., None]

    def _draw_head(self, img: np.ndarray, t: int, o: np.ndarray) -> None:
        g, app = self.geom, self.app
        center = g.head[t, :2] + o
        axes = g.head_axes
        angle = float(g.head_angle[t])
        cv2.ellipse(img, tuple(int(v) for v in to_fixed(center)), tuple(max(int(v), 1) for v in to_fixed(axes)),
                    angle, 0, 360, app.skin, -1, cv2.LINE_AA, SHIFT)
        fx, fz = g.forward[t, 0], g.forward[t, 2]
        if fz > 0.55:  # seen from behind: all hair
            start, end = 0.0, 360.0
        else:
            mid = 270.0 - 55.0 * float(np.sign(fx)) * min(abs(fx) * 1.4, 1.0)
            start, end = mid - 105.0, mid + 105.0
        cv2.fillConvexPoly(img, to_fixed(_ellipse_points(center, axes, angle, start, end)), app.hair, cv2.LINE_AA, SHIFT)


def draw_shadow(img: np.ndarray, center: tuple[float, float], axes: tuple[float, float], strength: float) -> None:
    """Darken a soft ellipse on the floor: people and balls cast shadows, which ties them to the ground."""
    h, w = img.shape[:2]
    ax, ay = max(axes[0], 1.0), max(axes[1], 1.0)
    x0, x1 = int(center[0] - ax - 2), int(center[0] + ax + 3)
    y0, y1 = int(center[1] - ay - 2), int(center[1] + ay + 3)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx1 <= cx0 or cy1 <= cy0 or strength <= 0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.ellipse(mask, tuple(int(v) for v in to_fixed((center[0] - x0, center[1] - y0))),
                tuple(int(v) for v in to_fixed((ax, ay))), 0, 0, 360, 255, -1, cv2.LINE_AA, SHIFT)
    mask = cv2.GaussianBlur(mask, (0, 0), max(ay * 0.5, 0.8))[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    roi = img[cy0:cy1, cx0:cx1]
    roi[:] = (roi * (1 - strength * (mask.astype(np.float32) / 255))[..., None]).astype(np.uint8)
