"""Joint angles over time for each action class, and the idle behaviour around it.

Every class is defined by how the body moves, not by how it looks in one frame: walk and run differ in
cadence, knee lift, lean and flight; wave moves one raised forearm side to side, clap brings both hands
together and apart; jump crouches, flies on an arc and lands; fall topples the whole body to the floor.
`stand_up` is `sit_down` played backwards: the same poses in the opposite order, so only the direction of
motion tells them apart, which is what makes a motion branch necessary.

A `Track` covers the whole video: the actor idles (a small sway) before and after the action, as in an
untrimmed video, and only the action frames are `active` (annotated).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from amma_edge.data.synth.skeleton import NPOSE, P

CLASSES = ("walk", "run", "jump", "wave", "clap", "sit_down", "stand_up", "fall")
POSTURES = ("stand", "akimbo", "seated")

# How the pelvis's horizontal position follows the pose at a frame (see placement.solve_root).
ANCHOR_PELVIS, ANCHOR_STANCE, ANCHOR_FEET = 0, 1, 2

# Natural length of each action in seconds (jump: per jump).
DURATION_S = {
    "walk": (1.8, 3.2), "run": (1.0, 1.8), "jump": (1.15, 1.45), "wave": (1.6, 3.2), "clap": (1.4, 3.0),
    "sit_down": (1.2, 2.0), "stand_up": (1.2, 2.0), "fall": (1.0, 1.5),
}
# Which way a performer faces the camera: profile for actions seen best from the side, front for the arms.
VIEW = {
    "walk": "side", "run": "side", "jump": "any", "wave": "front", "clap": "front",
    "sit_down": "side", "stand_up": "side", "fall": "side",
}


@dataclass(frozen=True)
class Motion:
    """How one person moves, and the choices an action leaves open."""

    tempo: float = 1.0  # multiplies every frequency
    amplitude: float = 1.0  # multiplies joint excursions
    phase: float = 0.0  # where in its cycle a cyclic action starts, 0..1
    side: int = 1  # +1 right, -1 left: the waving arm, the leading leg
    variant: int = 0  # jump: bit 0 = two jumps, bit 1 = broad jump; fall: 0 forward, 1 backward
    sway: tuple[float, float, float] = (0.0, 0.0, 0.0)  # phases of the idle sway
    posture: str = "stand"  # idle posture of a bystander


def random_motion(rng: np.random.Generator, posture: str = "stand") -> Motion:
    return Motion(
        tempo=float(rng.uniform(0.88, 1.12)),
        amplitude=float(rng.uniform(0.85, 1.12)),
        phase=float(rng.uniform(0, 1)),
        side=int(rng.choice([-1, 1])),
        variant=int(rng.integers(0, 4)),
        sway=tuple(float(x) for x in rng.uniform(0, 2 * np.pi, 3)),
        posture=posture,
    )


@dataclass
class Track:
    """One actor's joint angles and ground contact over a whole video.

    poses (T, NPOSE) radians; lift (T,) height above the ground in body heights; ballistic (T,) frames in
    flight, whose height follows `lift` alone; drift (T,) horizontal motion per frame in body heights, used
    where anchor is ANCHOR_PELVIS; anchor (T,) which point stays put on the ground; active (T,) the frames
    where the action happens, the annotated ones.
    """

    poses: np.ndarray
    lift: np.ndarray
    ballistic: np.ndarray
    drift: np.ndarray
    anchor: np.ndarray
    active: np.ndarray

    def reversed(self) -> Track:
        """The same motion played backwards (drift changes sign and moves to the other end of its step)."""
        drift = np.zeros_like(self.drift)
        drift[1:] = -self.drift[:0:-1]
        return Track(self.poses[::-1].copy(), self.lift[::-1].copy(), self.ballistic[::-1].copy(), drift,
                     self.anchor[::-1].copy(), self.active[::-1].copy())


@dataclass
class _Clip:
    poses: np.ndarray
    lift: np.ndarray
    ballistic: np.ndarray
    drift: np.ndarray
    anchor: np.ndarray


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def standing(posture: str = "stand") -> np.ndarray:
    """The rest pose of a posture: arms hanging (or hands on hips), or seated on a chair."""
    q = np.zeros(NPOSE)
    for s in ("l", "r"):
        q[P[f"{s}_sh_abd"]] = 0.1
        q[P[f"{s}_elbow"]] = 0.15
        q[P[f"{s}_hip_abd"]] = 0.04
        q[P[f"{s}_knee"]] = 0.04
    if posture == "akimbo":
        for s in ("l", "r"):
            q[P[f"{s}_sh_abd"]] = 0.75
            q[P[f"{s}_sh_flex"]] = -0.15
            q[P[f"{s}_el_abd"]] = -1.85
    elif posture == "seated":
        q[P["pitch"]] = 0.12
        for s, dx in (("l", 0.04), ("r", -0.04)):
            q[P[f"{s}_hip_flex"]] = 1.57 + dx
            q[P[f"{s}_knee"]] = 1.62 + dx
            q[P[f"{s}_sh_flex"]] = 0.45
            q[P[f"{s}_elbow"]] = 0.95
    elif posture != "stand":
        raise ValueError(f"unknown posture {posture!r}")
    return q


def _keyframes(u: np.ndarray, base: np.ndarray, keys: list[tuple[float, dict[str, float]]]) -> np.ndarray:
    """Poses at normalised times `u`, eased between key poses (each key overrides fields of `base`)."""
    times = np.array([t for t, _ in keys])
    table = np.tile(base, (len(keys), 1))
    for i, (_, fields) in enumerate(keys):
        for name, value in fields.items():
            if name.startswith("*_"):
                table[i, P["l_" + name[2:]]] = table[i, P["r_" + name[2:]]] = value
            else:
                table[i, P[name]] = value
    seg = np.clip(np.searchsorted(times, u, side="right") - 1, 0, len(keys) - 2)
    w = _smooth((u - times[seg]) / (times[seg + 1] - times[seg]))
    return table[seg] * (1 - w[:, None]) + table[seg + 1] * w[:, None]


def _envelope(n: int, fps: float, ramp_s: float) -> np.ndarray:
    """0 → 1 → 0 over `n` frames, easing in and out over `ramp_s` seconds: actions start from rest."""
    t = np.arange(n) / fps
    dur = (n - 1) / fps
    ramp = max(ramp_s, 1e-6)
    return _smooth(t / ramp) * _smooth((dur - t) / ramp)


def _zeros(n: int, anchor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n), np.full(n, anchor, dtype=np.int8)


def _gait(m: Motion, n: int, fps: float, *, run: bool) -> _Clip:
    t = np.arange(n) / fps
    env = _envelope(n, fps, 0.3 if run else 0.35)
    a = m.amplitude
    freq = (1.5 if run else 0.95) * m.tempo
    q = np.tile(standing(), (n, 1))
    for s, offset in (("l", 0.0), ("r", np.pi)):
        phi = 2 * np.pi * (freq * t + m.phase) + offset
        peak = ((1 + np.cos(phi + 0.35)) / 2) ** 3  # knee flexion peaks mid-swing
        if run:
            q[:, P[f"{s}_hip_flex"]] = env * (0.25 + 0.7 * a * np.sin(phi))
            q[:, P[f"{s}_knee"]] += env * (0.35 + 1.55 * a * peak)
            q[:, P[f"{s}_sh_flex"]] = env * (0.15 - 0.65 * a * np.sin(phi))
            q[:, P[f"{s}_elbow"]] += env * (1.25 + 0.2 * np.sin(phi))
        else:
            q[:, P[f"{s}_hip_flex"]] = env * (0.09 + 0.44 * a * np.sin(phi))
            q[:, P[f"{s}_knee"]] += env * (0.06 + 1.0 * a * peak)
            q[:, P[f"{s}_sh_flex"]] = env * (-0.38 * a * np.sin(phi))
            q[:, P[f"{s}_elbow"]] += env * 0.25 * (1 - np.sin(phi)) / 2
    q[:, P["pitch"]] = env * (0.22 if run else 0.06)
    q[:, P["neck"]] = -env * (0.15 if run else 0.04)
    lift, ballistic, drift, anchor = _zeros(n, ANCHOR_STANCE)
    if run:
        phi = 2 * np.pi * (freq * t + m.phase)
        lift = env * 0.04 * (1 - np.cos(2 * phi)) / 2
    return _Clip(q, lift, ballistic, drift, anchor)


def _walk(m: Motion, n: int, fps: float) -> _Clip:
    return _gait(m, n, fps, run=False)


def _run(m: Motion, n: int, fps: float) -> _Clip:
    return _gait(m, n, fps, run=True)


_JUMP_KEYS = [
    (0.0, {}),
    (0.22, {"pitch": 0.5, "*_hip_flex": 1.05, "*_knee": 1.35, "*_sh_flex": -0.85, "*_elbow": 0.3, "neck": -0.2}),
    (0.32, {"pitch": 0.05, "*_hip_flex": 0.0, "*_knee": 0.03, "*_sh_flex": 2.7, "*_elbow": 0.2, "*_sh_abd": 0.25}),
    (0.47, {"pitch": 0.1, "*_hip_flex": 0.55, "*_knee": 0.85, "*_sh_flex": 2.5, "*_elbow": 0.3, "*_sh_abd": 0.3}),
    (0.62, {"pitch": 0.05, "*_hip_flex": 0.12, "*_knee": 0.15, "*_sh_flex": 1.3, "*_elbow": 0.3}),
    (0.76, {"pitch": 0.45, "*_hip_flex": 0.9, "*_knee": 1.1, "*_sh_flex": 0.7, "*_elbow": 0.4, "neck": -0.15}),
    (1.0, {}),
]
_JUMP_TAKEOFF, _JUMP_TOUCHDOWN = 0.32, 0.62


def _jump_frames(m: Motion, fps: float) -> int:
    cycle = round(1.3 / m.tempo * fps)
    return cycle * (1 + (m.variant & 1))


def _jump(m: Motion, n: int, fps: float) -> _Clip:
    jumps = 1 + (m.variant & 1)
    u_all = np.arange(n) / max(n - 1, 1) * jumps
    u = np.where(u_all >= jumps, 1.0, u_all % 1.0)
    base = standing()
    q = _keyframes(u, base, _JUMP_KEYS)
    q = base + (q - base) * m.amplitude ** 0.5
    flight = (u > _JUMP_TAKEOFF) & (u < _JUMP_TOUCHDOWN)
    tau = np.clip((u - _JUMP_TAKEOFF) / (_JUMP_TOUCHDOWN - _JUMP_TAKEOFF), 0, 1)
    height = 0.27 * m.amplitude
    lift = np.where(flight, 4 * height * tau * (1 - tau), 0.0)
    drift = np.zeros(n)
    if m.variant & 2:  # a broad jump: half a body height forward in the air
        per_frame = 0.5 / max(flight.sum() / jumps, 1)
        drift = np.where(flight, per_frame, 0.0)
    anchor = np.where(flight, ANCHOR_PELVIS, ANCHOR_FEET).astype(np.int8)
    return _Clip(q, lift, flight, drift, anchor)


def _wave(m: Motion, n: int, fps: float) -> _Clip:
    t = np.arange(n) / fps
    env = _envelope(n, fps, 0.35)
    s = "r" if m.side > 0 else "l"
    q = np.tile(standing(), (n, 1))
    wave = np.sin(2 * np.pi * 2.2 * m.tempo * t + m.phase * 2 * np.pi)
    q[:, P[f"{s}_sh_abd"]] = 0.1 + env * 2.2
    q[:, P[f"{s}_sh_flex"]] = env * 0.3
    q[:, P[f"{s}_elbow"]] = 0.15 + env * 0.1
    q[:, P[f"{s}_el_abd"]] = env * (0.8 + 0.5 * m.amplitude * wave)
    q[:, P["lean"]] = -m.side * env * 0.05
    return _Clip(q, *_zeros(n, ANCHOR_FEET))


def _clap(m: Motion, n: int, fps: float) -> _Clip:
    t = np.arange(n) / fps
    env = _envelope(n, fps, 0.3)
    closure = ((1 + np.cos(2 * np.pi * 2.6 * m.tempo * t + m.phase * 2 * np.pi)) / 2) ** 1.5
    q = np.tile(standing(), (n, 1))
    for s in ("l", "r"):  # forearms forward at chest height; hands swing from outside the shoulders to meet
        q[:, P[f"{s}_sh_flex"]] = env * 0.9
        q[:, P[f"{s}_sh_abd"]] = 0.1 + env * 0.1
        q[:, P[f"{s}_elbow"]] = 0.15 + env * 0.75
        q[:, P[f"{s}_el_abd"]] = env * (0.35 - 1.2 * m.amplitude * closure)
    return _Clip(q, *_zeros(n, ANCHOR_FEET))


_SIT_KEYS = [
    (0.0, {}),
    (0.28, {"pitch": 0.5, "*_hip_flex": 0.55, "*_knee": 0.45, "*_sh_flex": 0.35, "*_elbow": 0.25, "neck": -0.15}),
    (0.62, {"pitch": 0.65, "*_hip_flex": 1.25, "*_knee": 1.45, "*_sh_flex": 0.6, "*_elbow": 0.35, "neck": -0.2}),
    (0.85, {"pitch": 0.3, "*_hip_flex": 1.55, "*_knee": 1.6, "*_sh_flex": 0.4, "*_elbow": 0.7}),
    (1.0, {}),  # seated, filled in below
]


def _sit_down(m: Motion, n: int, fps: float) -> _Clip:
    u = np.linspace(0.0, 1.0, n)
    keys = list(_SIT_KEYS)
    seated = standing("seated")
    keys[-1] = (1.0, {name: float(seated[i]) for name, i in P.items()})
    q = _keyframes(u, standing(), keys)
    return _Clip(q, *_zeros(n, ANCHOR_FEET))


_FALL_FORWARD = [
    (0.0, {}),
    (0.12, {"pitch": 0.25, "l_hip_flex": 0.5, "l_knee": 0.6, "l_sh_flex": 0.6, "r_sh_flex": 0.9, "*_elbow": 0.4, "*_sh_abd": 0.3}),
    (0.45, {"tilt": 0.55, "pitch": 0.3, "*_hip_flex": 0.4, "*_knee": 0.7, "*_sh_flex": 1.5, "*_elbow": 0.3, "*_sh_abd": 0.2}),
    (0.7, {"tilt": 1.3, "pitch": 0.15, "*_hip_flex": 0.2, "*_knee": 0.35, "*_sh_flex": 2.4, "*_elbow": 0.5, "neck": -0.2}),
    (0.8, {"tilt": 1.5, "pitch": 0.05, "*_hip_flex": 0.1, "*_knee": 0.2, "*_sh_flex": 2.7, "*_elbow": 0.9, "neck": -0.3}),
    (1.0, {"tilt": 1.5, "*_hip_flex": 0.05, "r_knee": 0.25, "l_knee": 0.6, "*_sh_flex": 2.6, "*_elbow": 1.3, "neck": -0.45}),
]
_FALL_BACKWARD = [
    (0.0, {}),
    (0.12, {"pitch": -0.15, "*_sh_flex": 0.8, "*_sh_abd": 0.5, "*_knee": 0.3, "*_hip_flex": 0.3}),
    (0.45, {"tilt": -0.4, "pitch": 0.3, "*_hip_flex": 1.1, "*_knee": 1.3, "*_sh_flex": 0.9, "*_sh_abd": 0.6}),
    (0.7, {"tilt": -1.0, "pitch": 0.1, "*_hip_flex": 1.0, "*_knee": 1.0, "*_sh_flex": 0.6, "*_sh_abd": 0.8}),
    (0.82, {"tilt": -1.45, "*_hip_flex": 0.6, "*_knee": 0.8, "*_sh_abd": 1.0, "*_sh_flex": 0.3}),
    (1.0, {"tilt": -1.5, "*_hip_flex": 0.45, "*_knee": 0.9, "*_sh_abd": 1.2, "*_sh_flex": 0.3, "neck": 0.4}),
]


def _fall(m: Motion, n: int, fps: float) -> _Clip:
    u = np.linspace(0.0, 1.0, n)
    forward = m.variant % 2 == 0
    q = _keyframes(u, standing(), _FALL_FORWARD if forward else _FALL_BACKWARD)
    lift, ballistic, drift, _ = _zeros(n, ANCHOR_FEET)
    # Feet stay planted while the body topples over them; once down, the body no longer pivots on them.
    anchor = np.where(u < (0.7 if forward else 0.6), ANCHOR_FEET, ANCHOR_PELVIS).astype(np.int8)
    return _Clip(q, lift, ballistic, drift, anchor)


_CLIPS: dict[str, Callable[[Motion, int, float], _Clip]] = {
    "walk": _walk, "run": _run, "jump": _jump, "wave": _wave, "clap": _clap, "sit_down": _sit_down, "fall": _fall,
}


def duration_range(label: str, motion: Motion, fps: float) -> tuple[int, int]:
    """Shortest and longest natural length of `label` in frames at `fps` (one value for jumps)."""
    if label == "jump":
        n = _jump_frames(motion, fps)
        return n, n
    lo, hi = DURATION_S[label]
    return round(lo * fps / motion.tempo), round(hi * fps / motion.tempo)


def _sway(m: Motion, nframes: int, fps: float) -> np.ndarray:
    """A person standing still is never still: small torso, head and weight shifts."""
    t = np.arange(nframes) / fps
    p0, p1, p2 = m.sway
    q = np.zeros((nframes, NPOSE))
    q[:, P["pitch"]] = 0.025 * np.sin(2 * np.pi * 0.31 * t + p0)
    q[:, P["lean"]] = 0.03 * np.sin(2 * np.pi * 0.23 * t + p1)
    q[:, P["neck"]] = 0.07 * np.sin(2 * np.pi * 0.17 * t + p2)
    q[:, P["l_sh_flex"]] = 0.04 * np.sin(2 * np.pi * 0.27 * t + p1)
    q[:, P["r_sh_flex"]] = 0.04 * np.sin(2 * np.pi * 0.29 * t + p0)
    return q


def action_track(label: str | None, motion: Motion, nframes: int, start: int = 0, duration: int = 0,
                 fps: float = 25.0) -> Track:
    """The actor's whole track: idle, then `label` over frames [start, start + duration), then idle.

    `label=None` is a bystander idling in `motion.posture` for the whole video. `stand_up` is built as
    `sit_down` over the mirrored frame range and reversed in time.
    """
    if label == "stand_up":
        return action_track("sit_down", motion, nframes, nframes - start - duration, duration, fps).reversed()
    if label is not None and label not in _CLIPS:
        raise ValueError(f"unknown action {label!r}; known: {', '.join(CLASSES)}")
    if label is not None and not (0 <= start and duration >= 2 and start + duration <= nframes):
        raise ValueError(f"action frames [{start}, {start + duration}) do not fit a video of {nframes} frames")
    active = np.zeros(nframes, dtype=bool)
    if label is None:
        poses = np.tile(standing(motion.posture), (nframes, 1))
        lift, ballistic, drift, anchor = _zeros(nframes, ANCHOR_FEET)
    else:
        clip = _CLIPS[label](motion, duration, fps)
        end = start + duration
        poses = np.empty((nframes, NPOSE))
        poses[:start], poses[start:end], poses[end:] = clip.poses[0], clip.poses, clip.poses[-1]
        lift, ballistic, drift, anchor = _zeros(nframes, ANCHOR_FEET)
        lift[start:end], ballistic[start:end], drift[start:end] = clip.lift, clip.ballistic, clip.drift
        anchor[start:end] = clip.anchor
        anchor[end:] = clip.anchor[-1] if label == "fall" else ANCHOR_FEET
        active[start:end] = True
    poses = poses + _sway(motion, nframes, fps)
    return Track(poses, lift, ballistic, drift, anchor, active)
