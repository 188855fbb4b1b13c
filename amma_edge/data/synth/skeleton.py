"""The body model: proportions, joint angles and forward kinematics into drawable parts.

Poses are joint angles, never joint positions, so every frame is a body a person could hold: limb lengths
never change, elbows and knees bend one way, and a sequence of poses is motion a body could make. The
kinematics is a small 3-D chain (torso, head, two-segment arms and legs) viewed by an orthographic camera
from any yaw, so one action can be shown in profile, from the front or three-quarter on, and the near limbs
hide the far ones as they would in a photograph.

Frames are vectorised: every function takes poses of shape (T, NPOSE) and returns arrays over T, because
the ground-contact solver and the box computation need the whole track at once.

Coordinates: image x to the right, y down, z away from the camera; lengths in pixels; the origin is the
pelvis. Body frame: x to the body's right, y down, z forward.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Joint angles in radians. Flexion moves a limb forward (elbows fold the forearm forward, knees fold the
# shin back); abduction moves it out to its own side. Forearm and shin angles add to those of the upper
# segment. pitch/lean bend the upper body forward/sideways at the hips; tilt turns the whole body forward
# about the pelvis (a fall); neck nods the head forward.
POSE_FIELDS = (
    "pitch", "lean", "tilt", "neck",
    "l_sh_flex", "l_sh_abd", "l_elbow", "l_el_abd",
    "r_sh_flex", "r_sh_abd", "r_elbow", "r_el_abd",
    "l_hip_flex", "l_hip_abd", "l_knee",
    "r_hip_flex", "r_hip_abd", "r_knee",
)
P = {name: i for i, name in enumerate(POSE_FIELDS)}
NPOSE = len(POSE_FIELDS)

# Capsules (segments with round ends) in the order their arrays are stored, and the draw group each is in.
CAPSULES = (
    "neck", "hips",
    "l_upper_arm", "l_forearm", "l_hand", "r_upper_arm", "r_forearm", "r_hand",
    "l_thigh", "l_shin", "l_foot", "r_thigh", "r_shin", "r_foot",
)
C = {name: i for i, name in enumerate(CAPSULES)}
# Draw groups; ties in depth are broken in this order (legs behind the torso, arms in front of it).
GROUPS = ("l_leg", "r_leg", "body", "l_arm", "r_arm")
GROUP_OF = {
    "neck": "body", "hips": "body",
    "l_upper_arm": "l_arm", "l_forearm": "l_arm", "l_hand": "l_arm",
    "r_upper_arm": "r_arm", "r_forearm": "r_arm", "r_hand": "r_arm",
    "l_thigh": "l_leg", "l_shin": "l_leg", "l_foot": "l_leg",
    "r_thigh": "r_leg", "r_shin": "r_leg", "r_foot": "r_leg",
}


@dataclass(frozen=True)
class BodyParams:
    """Segment lengths and radii of one person, in pixels (at this person's distance from the camera)."""

    height: float
    head_r: float
    head_aspect: float
    neck: float
    torso: float
    shoulder_w: float
    hip_w: float
    torso_depth: float
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shin: float
    foot: float
    r_neck: float
    r_upper_arm: float
    r_forearm: float
    r_hand: float
    r_thigh: float
    r_shin: float
    r_foot: float

    def radius(self, capsule: str) -> float:
        return {
            "neck": self.r_neck, "hips": self.r_thigh,
            "l_upper_arm": self.r_upper_arm, "r_upper_arm": self.r_upper_arm,
            "l_forearm": self.r_forearm, "r_forearm": self.r_forearm,
            "l_hand": self.r_hand, "r_hand": self.r_hand,
            "l_thigh": self.r_thigh, "r_thigh": self.r_thigh,
            "l_shin": self.r_shin, "r_shin": self.r_shin,
            "l_foot": self.r_foot, "r_foot": self.r_foot,
        }[capsule]


def random_body(rng: np.random.Generator, height: float) -> BodyParams:
    """A person `height` pixels tall with proportions and build drawn around adult averages.

    Limbs are drawn a little thicker than anatomy says: at a 128-pixel training size a person 40 pixels tall
    would otherwise have arms under a pixel wide, and the detector could not see them move.
    """
    u = lambda lo, hi: float(rng.uniform(lo, hi))
    build = u(0.85, 1.25)  # slim .. heavy: scales widths only
    legs = u(0.95, 1.05)  # long- or short-legged, the rest of the height rescaled to fit
    head_r = 0.066 * u(0.93, 1.1)
    shin, thigh = 0.235 * legs, 0.245 * legs
    ankle = 0.028
    torso = 1.0 - ankle - shin - thigh - 2 * head_r - 0.035
    h = height
    return BodyParams(
        height=h,
        head_r=head_r * h,
        head_aspect=u(0.78, 0.88),
        neck=0.035 * h,
        torso=torso * h,
        shoulder_w=0.235 * build ** 0.5 * u(0.93, 1.07) * h,
        hip_w=0.16 * build ** 0.5 * u(0.93, 1.07) * h,
        torso_depth=0.12 * build * h,
        upper_arm=0.17 * u(0.96, 1.04) * h,
        forearm=0.145 * u(0.96, 1.04) * h,
        hand=0.055 * h,
        thigh=thigh * h,
        shin=shin * h,
        foot=0.075 * h,
        r_neck=0.026 * build * h,
        r_upper_arm=0.031 * build * h,
        r_forearm=0.026 * build * h,
        r_hand=0.025 * h,
        r_thigh=0.047 * build * h,
        r_shin=0.035 * build * h,
        r_foot=0.024 * h,
    )


@dataclass
class FigureGeometry:
    """Everything that gets drawn for one person over T frames, relative to the pelvis.

    caps_a/caps_b (T, len(CAPSULES), 3) are capsule end points, caps_r their radii; head (T, 3) the centre
    of the head ellipse with semi-axes head_axes and in-image rotation head_angle (T,) in degrees; torso
    (T, 8, 3) the corners of the torso box, whose 2-D convex hull is the drawn torso; up (T, 3) the
    torso's up direction and forward (T, 3) the body's facing, used to lay out textures and hair.
    """

    caps_a: np.ndarray
    caps_b: np.ndarray
    caps_r: np.ndarray
    head: np.ndarray
    head_axes: tuple[float, float]
    head_angle: np.ndarray
    torso: np.ndarray
    up: np.ndarray
    forward: np.ndarray

    @property
    def nframes(self) -> int:
        return len(self.head)

    def extents(self) -> np.ndarray:
        """Tight (T, 4) boxes (x1, y1, x2, y2) around every drawn part, relative to the pelvis."""
        r = self.caps_r[None, :]
        xs_lo = np.minimum(self.caps_a[..., 0], self.caps_b[..., 0]) - r
        xs_hi = np.maximum(self.caps_a[..., 0], self.caps_b[..., 0]) + r
        ys_lo = np.minimum(self.caps_a[..., 1], self.caps_b[..., 1]) - r
        ys_hi = np.maximum(self.caps_a[..., 1], self.caps_b[..., 1]) + r
        a, b = self.head_axes
        th = np.deg2rad(self.head_angle)
        hw = np.sqrt((a * np.cos(th)) ** 2 + (b * np.sin(th)) ** 2)
        hh = np.sqrt((a * np.sin(th)) ** 2 + (b * np.cos(th)) ** 2)
        x1 = np.minimum.reduce([xs_lo.min(1), self.torso[..., 0].min(1), self.head[:, 0] - hw])
        x2 = np.maximum.reduce([xs_hi.max(1), self.torso[..., 0].max(1), self.head[:, 0] + hw])
        y1 = np.minimum.reduce([ys_lo.min(1), self.torso[..., 1].min(1), self.head[:, 1] - hh])
        y2 = np.maximum.reduce([ys_hi.max(1), self.torso[..., 1].max(1), self.head[:, 1] + hh])
        return np.stack([x1, y1, x2, y2], axis=1)

    def group_depths(self) -> np.ndarray:
        """(T, len(GROUPS)) mean camera depth of each draw group; larger is farther, drawn first."""
        depths = np.zeros((self.nframes, len(GROUPS)))
        for g, group in enumerate(GROUPS):
            idx = [C[name] for name in CAPSULES if GROUP_OF[name] == group]
            depths[:, g] = 0.5 * (self.caps_a[:, idx, 2] + self.caps_b[:, idx, 2]).mean(1)
        depths[:, GROUPS.index("body")] = self.torso[..., 2].mean(1)
        return depths


def _rot_x(angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about the body's x axis; positive turns its top forward."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, s], -1), np.stack([z, -s, c], -1)], -2)


def _rot_z(angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about the body's forward axis; positive leans its top to the body's right."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def yaw_basis(yaw: float) -> np.ndarray:
    """(3, 3) matrix whose columns are the body's right, down and forward axes in camera coordinates.

    yaw 0 faces image-right (profile, the right side toward the camera), pi faces left, -pi/2 faces the
    camera, pi/2 faces away.
    """
    fx, fz = np.cos(yaw), np.sin(yaw)
    return np.array([[fz, 0.0, fx], [0.0, 1.0, 0.0], [-fx, 0.0, fz]])


def _direction(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """(T, 3) unit vectors in the body frame of a limb hanging down, flexed forward and abducted outward."""
    cb = np.cos(abd)
    return np.stack([side * np.sin(abd), cb * np.cos(flex), cb * np.sin(flex)], -1)


def _apply(rot: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("tij,tj->ti", rot, v)


def forward_kinematics(body: BodyParams, poses: np.ndarray, yaw: float) -> FigureGeometry:
    """Drawable geometry (T frames) of `body` holding `poses` (T, NPOSE), seen from yaw `yaw`."""
    poses = np.asarray(poses, dtype=np.float64)
    T = len(poses)
    q = {name: poses[:, i] for name, i in P.items()}
    basis = np.broadcast_to(yaw_basis(yaw), (T, 3, 3))
    r_lower = basis @ _rot_x(q["tilt"])
    r_upper = r_lower @ _rot_x(q["pitch"]) @ _rot_z(q["lean"])
    r_head = r_upper @ _rot_x(q["neck"])
    const = lambda *v: np.broadcast_to(np.array(v, dtype=np.float64), (T, 3))

    neck_base = _apply(r_upper, const(0.0, -body.torso, 0.0))
    head = neck_base + _apply(r_head, const(0.0, -(body.neck + body.head_r), 0.0))
    neck_top = neck_base + _apply(r_head, const(0.0, -body.neck - 0.4 * body.head_r, 0.0))
    up = _apply(r_upper, const(0.0, -1.0, 0.0))
    forward = _apply(r_lower, const(0.0, 0.0, 1.0))

    a = np.zeros((T, len(CAPSULES), 3))
    b = np.zeros((T, len(CAPSULES), 3))
    a[:, C["neck"]], b[:, C["neck"]] = neck_base, neck_top

    for side_name, side in (("l", -1.0), ("r", 1.0)):
        shoulder = neck_base + _apply(r_upper, const(side * 0.5 * (body.shoulder_w - body.r_upper_arm * 1.6), 0.1 * body.torso, 0.0))
        d_upper = _apply(r_upper, _direction(q[f"{side_name}_sh_flex"], q[f"{side_name}_sh_abd"], side))
        d_fore = _apply(r_upper, _direction(q[f"{side_name}_sh_flex"] + q[f"{side_name}_elbow"],
                                            q[f"{side_name}_sh_abd"] + q[f"{side_name}_el_abd"], side))
        elbow = shoulder + body.upper_arm * d_upper
        wrist = elbow + body.forearm * d_fore
        a[:, C[f"{side_name}_upper_arm"]], b[:, C[f"{side_name}_upper_arm"]] = shoulder, elbow
        a[:, C[f"{side_name}_forearm"]], b[:, C[f"{side_name}_forearm"]] = elbow, wrist
        a[:, C[f"{side_name}_hand"]], b[:, C[f"{side_name}_hand"]] = wrist, wrist + body.hand * d_fore

        hip = _apply(r_lower, const(side * 0.5 * (body.hip_w - body.r_thigh), 0.0, 0.0))
        flex, abd, knee = q[f"{side_name}_hip_flex"], q[f"{side_name}_hip_abd"], q[f"{side_name}_knee"]
        knee_p = hip + body.thigh * _apply(r_lower, _direction(flex, abd, side))
        ankle = knee_p + body.shin * _apply(r_lower, _direction(flex - knee, abd, side))
        heel = ankle + 0.3 * body.r_foot * _apply(r_lower, _direction(flex - knee, abd, side))
        toe = heel + body.foot * _apply(r_lower, _direction(flex - knee + np.pi / 2, abd * 0.5, side))
        a[:, C[f"{side_name}_thigh"]], b[:, C[f"{side_name}_thigh"]] = hip, knee_p
        a[:, C[f"{side_name}_shin"]], b[:, C[f"{side_name}_shin"]] = knee_p, ankle
        a[:, C[f"{side_name}_foot"]], b[:, C[f"{side_name}_foot"]] = heel, toe
        if side_name == "l":
            a[:, C["hips"]] = hip
        else:
            b[:, C["hips"]] = hip

    # The torso is a box from the shoulders to the pelvis; its top turns with the chest, its bottom with the
    # pelvis, so bending forward folds it at the hips rather than swinging the hips back.
    torso = np.empty((T, 8, 3))
    k = 0
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            depth = sz * body.torso_depth * 0.5
            torso[:, k] = neck_base + _apply(r_upper, const(sx * body.shoulder_w * 0.5, 0.08 * body.torso, depth))
            torso[:, k + 4] = _apply(r_lower, const(sx * (body.hip_w * 0.5 + 0.2 * body.r_thigh), 0.3 * body.r_thigh, depth))
            k += 1

    head_up = _apply(r_head, const(0.0, -1.0, 0.0))
    head_angle = np.degrees(np.arctan2(head_up[:, 0], -head_up[:, 1]))
    caps_r = np.array([body.radius(name) for name in CAPSULES])
    return FigureGeometry(
        caps_a=a, caps_b=b, caps_r=caps_r, head=head,
        head_axes=(body.head_r * body.head_aspect, body.head_r), head_angle=head_angle,
        torso=torso, up=up, forward=forward,
    )
