"""Things that are not people: chairs to sit on, and moving distractors a detector must learn to ignore.

Distractors move the way limbs do (bouncing balls, a sliding box, a swinging lamp, a flapping bird, a
spinning fan), so "something moves" is never enough to call it an action. None of them is annotated.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from amma_edge.data.synth.render import (
    SHIFT,
    Color,
    draw_capsule,
    draw_shadow,
    random_color,
    shade,
    to_fixed,
)

DISTRACTOR_KINDS = ("ball", "box", "pendulum", "flyer", "spinner")


@dataclass(frozen=True)
class Chair:
    """A seat seen from the side, in world pixels; `facing` is where a sitter looks (+1 right, -1 left)."""

    kind: str  # chair, stool or box
    x: float  # seat centre
    seat_y: float  # top of the seat
    ground_y: float
    depth: float  # seat length
    back_height: float
    facing: int
    color: Color
    thickness: float


def chair_for(rng: np.random.Generator, pelvis: tuple[float, float], thigh: float, thigh_r: float, height: float,
              ground_y: float, facing: int, kind: str | None = None) -> Chair:
    """A seat under a seated pelvis: the thighs rest on its top, its back is behind the sitter."""
    kind = kind or str(rng.choice(["chair", "chair", "stool", "box"]))
    depth = thigh * rng.uniform(0.85, 1.05)
    return Chair(
        kind=kind, x=pelvis[0] + facing * 0.3 * depth, seat_y=pelvis[1] + 0.9 * thigh_r, ground_y=ground_y,
        depth=depth, back_height=height * rng.uniform(0.25, 0.33), facing=facing,
        color=random_color(rng, sat=(20, 160), val=(50, 170)), thickness=max(height * 0.028, 1.2),
    )


def draw_chair(img: np.ndarray, c: Chair, offset: tuple[float, float]) -> None:
    ox, oy = offset
    x0, x1 = c.x - c.depth / 2 + ox, c.x + c.depth / 2 + ox
    seat, ground = c.seat_y + oy, c.ground_y + oy
    back_x = x0 if c.facing > 0 else x1
    front_x = x1 if c.facing > 0 else x0
    dark = shade(c.color, 0.7)
    r = c.thickness / 2
    if c.kind == "box":
        quad = np.array([[x0, seat], [x1, seat], [x1, ground], [x0, ground]])
        cv2.fillConvexPoly(img, to_fixed(quad), dark, cv2.LINE_AA, SHIFT)
        top = np.array([[x0, seat], [x1, seat], [x1, seat + 2 * r], [x0, seat + 2 * r]])
        cv2.fillConvexPoly(img, to_fixed(top), c.color, cv2.LINE_AA, SHIFT)
        return
    inset = c.depth * 0.08 * (1 if c.facing > 0 else -1)
    for x in (back_x + inset, front_x - inset):
        draw_capsule(img, np.array([x, seat]), np.array([x, ground - r]), r * 0.8, dark)
    if c.kind == "chair":
        top = seat - c.back_height
        draw_capsule(img, np.array([back_x + inset * 0.5, seat]), np.array([back_x, top]), r * 0.8, dark)
        draw_capsule(img, np.array([back_x, top]), np.array([back_x, top + c.back_height * 0.45]), r * 1.6, c.color)
    draw_capsule(img, np.array([x0, seat + r]), np.array([x1, seat + r]), r, c.color)


@dataclass(frozen=True)
class Distractor:
    """A moving non-human object; `ground_y` is where it stands, which sets its size and draw order."""

    kind: str
    color: Color
    color2: Color
    size: float
    ground_y: float
    x0: float
    speed: float  # pixels per frame, or radians per frame for rotating kinds
    period: float  # frames
    phase: float
    amplitude: float


def random_distractor(rng: np.random.Generator, width: int, height: int, ground_y: float, scale: float) -> Distractor:
    """One distractor standing at `ground_y`, where a person would be `scale` pixels tall."""
    kind = str(rng.choice(DISTRACTOR_KINDS, p=[0.3, 0.2, 0.2, 0.15, 0.15]))
    size = {
        "ball": rng.uniform(0.05, 0.1), "box": rng.uniform(0.15, 0.28), "pendulum": rng.uniform(0.08, 0.14),
        "flyer": rng.uniform(0.05, 0.09), "spinner": rng.uniform(0.1, 0.16),
    }[kind] * scale
    return Distractor(
        kind=kind, color=random_color(rng, sat=(80, 255), val=(80, 255)), color2=random_color(rng),
        size=float(size), ground_y=float(ground_y), x0=float(rng.uniform(0.1, 0.9) * width),
        speed=float(rng.uniform(0.6, 3.5) * rng.choice([-1, 1])), period=float(rng.uniform(10, 30)),
        phase=float(rng.uniform(0, 2 * np.pi)), amplitude=float(rng.uniform(0.3, 0.8)),
    )


def _bounce_x(x0: float, v: float, t: int, lo: float, hi: float) -> float:
    """Back and forth between lo and hi at speed |v| (a triangle wave)."""
    span = max(hi - lo, 1.0)
    u = (x0 - lo + v * t) % (2 * span)
    return lo + (u if u < span else 2 * span - u)


def draw_distractor(img: np.ndarray, d: Distractor, t: int, offset: tuple[float, float], width: int, height: int) -> None:
    ox, oy = offset
    s = d.size
    if d.kind == "ball":
        x = _bounce_x(d.x0, d.speed, t, s, width - s)
        hop = abs(np.sin(np.pi * t / d.period + d.phase)) * d.amplitude * 4 * s
        y = d.ground_y - s - hop
        draw_shadow(img, (x + ox, d.ground_y + oy), (s * 1.1, s * 0.3), 0.35)
        c = np.array([x + ox, y + oy])
        cv2.circle(img, tuple(int(v) for v in to_fixed(c)), int(s * 16), d.color, -1, cv2.LINE_AA, SHIFT)
        ang = (x - d.x0) / max(s, 1.0)  # rolls as it moves
        e = np.array([np.cos(ang), np.sin(ang)]) * s * 0.9
        cv2.line(img, tuple(int(v) for v in to_fixed(c - e)), tuple(int(v) for v in to_fixed(c + e)), d.color2,
                 max(int(s * 0.3), 1), cv2.LINE_AA, SHIFT)
        hl = c + np.array([-0.35, -0.35]) * s
        cv2.circle(img, tuple(int(v) for v in to_fixed(hl)), int(s * 4), shade(d.color, 1.3), -1, cv2.LINE_AA, SHIFT)
    elif d.kind == "box":
        x = _bounce_x(d.x0, d.speed * 0.6, t, s, width - s)
        tip = 0.15 * np.sin(2 * np.pi * t / d.period + d.phase) * d.amplitude
        draw_shadow(img, (x + ox, d.ground_y + oy), (s * 0.7, s * 0.12), 0.3)
        w, h = s, s * 0.75
        pivot = np.array([x, d.ground_y])
        rot = np.array([[np.cos(tip), -np.sin(tip)], [np.sin(tip), np.cos(tip)]])
        corners = np.array([[-w / 2, 0], [w / 2, 0], [w / 2, -h], [-w / 2, -h]]) @ rot.T + pivot + (ox, oy)
        cv2.fillConvexPoly(img, to_fixed(corners), d.color, cv2.LINE_AA, SHIFT)
        lid = np.array([[-w / 2, -h], [w / 2, -h], [w / 2 - s * 0.15, -h - s * 0.18], [-w / 2 + s * 0.15, -h - s * 0.18]]) @ rot.T + pivot + (ox, oy)
        cv2.fillConvexPoly(img, to_fixed(lid), shade(d.color, 1.25), cv2.LINE_AA, SHIFT)
        band = np.array([[-w * 0.08, 0], [w * 0.08, 0], [w * 0.08, -h], [-w * 0.08, -h]]) @ rot.T + pivot + (ox, oy)
        cv2.fillConvexPoly(img, to_fixed(band), d.color2, cv2.LINE_AA, SHIFT)
    elif d.kind == "pendulum":
        pivot = np.array([d.x0 + ox, -2.0 + oy])
        length = d.ground_y * 0.45
        ang = d.amplitude * 0.8 * np.sin(2 * np.pi * t / (d.period * 1.5) + d.phase)
        bob = pivot + length * np.array([np.sin(ang), np.cos(ang)])
        cv2.line(img, tuple(int(v) for v in to_fixed(pivot)), tuple(int(v) for v in to_fixed(bob)), (40, 40, 40), 1, cv2.LINE_AA, SHIFT)
        lamp = np.array([[-s, s * 0.6], [s, s * 0.6], [s * 0.4, -s * 0.2], [-s * 0.4, -s * 0.2]])
        rot = np.array([[np.cos(-ang), -np.sin(-ang)], [np.sin(-ang), np.cos(-ang)]])
        cv2.fillConvexPoly(img, to_fixed(lamp @ rot.T + bob), d.color, cv2.LINE_AA, SHIFT)
        cv2.circle(img, tuple(int(v) for v in to_fixed(bob + rot @ np.array([0, s * 0.65]))), int(s * 5), (200, 240, 255), -1, cv2.LINE_AA, SHIFT)
    elif d.kind == "flyer":
        x = _bounce_x(d.x0, d.speed * 1.5, t, s, width - s)
        y = d.ground_y * 0.35 + d.amplitude * 8 * s * np.sin(2 * np.pi * t / (d.period * 2) + d.phase) * 0.3
        c = np.array([x + ox, y + oy])
        flap = np.sin(2 * np.pi * t / max(d.period * 0.4, 4) + d.phase)
        cv2.ellipse(img, tuple(int(v) for v in to_fixed(c)), tuple(int(v) for v in to_fixed((s * 0.8, s * 0.35))), 0, 0, 360, d.color, -1, cv2.LINE_AA, SHIFT)
        for side in (-1, 1):
            tipp = c + np.array([side * s * 1.6, -flap * s * 1.0])
            draw_capsule(img, c, tipp, max(s * 0.18, 0.6), shade(d.color, 0.8))
    else:  # spinner: a fan on a pole
        hub = np.array([d.x0 + ox, d.ground_y - 2.2 * s + oy])
        draw_capsule(img, hub, np.array([hub[0], d.ground_y + oy]), max(s * 0.08, 0.6), (70, 70, 70))
        ang = d.speed * 0.05 * t * 2 + d.phase
        for k in range(3):
            a = ang + 2 * np.pi * k / 3
            tipp = hub + s * np.array([np.cos(a), np.sin(a)])
            draw_capsule(img, hub, tipp, max(s * 0.17, 0.7), d.color)
        cv2.circle(img, tuple(int(v) for v in to_fixed(hub)), int(s * 3), d.color2, -1, cv2.LINE_AA, SHIFT)
