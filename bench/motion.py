"""Motion programs for the procedural SimMotion-like set.

A clip's motion is data (frozen dataclasses), evaluated at normalised time ``t`` in [0, 1]. Every
component is written as an *offset from its start state that is zero at t = 0*, which is what
lets a hard negative keep the reference's first frame exactly while moving differently: the
negative reuses the start poses and swaps the programs (:func:`different_motion`).

Positions live in world units where the camera's default view is the unit square; trajectories
are folded back into the visible box by reflection, so any program stays on screen and fast
programs bounce off the walls instead of leaving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

TRAJECTORIES = ("linear", "circular", "zigzag", "bounce", "accelerate", "decelerate", "still")
ROTATIONS = ("none", "spin", "rock")
SCALINGS = ("none", "pulse", "grow")
ACTIONS = ("walk", "wave", "jump", "jacks")  # articulated figures only
CAMERAS = ("none", "pan", "zoom")
BOX = (0.12, 0.88)  # where object centres may be, in view units


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    angle: float  # radians, counter-clockwise on screen
    scale: float
    limbs: tuple[float, ...] = ()  # articulated joint angles (radians), empty for rigid sprites
    lift: float = 0.0  # vertical hop of a figure (world units, up is positive)


@dataclass(frozen=True)
class Trajectory:
    kind: str = "still"
    direction: float = 0.0  # radians
    distance: float = 0.0  # path length scale (world units)
    cycles: float = 1.0  # turns / zigzags / hops over the clip
    amplitude: float = 0.0  # radius (circular), lateral swing (zigzag), hop height (bounce)

    def offset(self, t: float) -> tuple[float, float]:
        """Displacement from the start at time ``t``; (0, 0) at t = 0 for every kind."""
        c, s = math.cos(self.direction), math.sin(self.direction)
        k = self.kind
        if k == "still":
            return 0.0, 0.0
        if k == "linear":
            d = self.distance * t
            return d * c, d * s
        if k == "accelerate":
            d = self.distance * t * t
            return d * c, d * s
        if k == "decelerate":
            d = self.distance * (1.0 - (1.0 - t) ** 2)
            return d * c, d * s
        if k == "circular":
            # Start on the circle at angle `direction`; sign of `distance` gives the turning sense.
            a = self.direction + math.copysign(2 * math.pi * self.cycles * t, self.distance or 1.0)
            r = self.amplitude
            return r * (math.cos(a) - c), r * (math.sin(a) - s)
        if k == "zigzag":
            phase = (self.cycles * t * 4.0 + 1.0) % 4.0  # triangle wave, zero at t = 0
            tri = abs(phase - 2.0) - 1.0
            along, across = self.distance * t, -self.amplitude * tri
            return along * c - across * s, along * s + across * c
        if k == "bounce":
            hop = self.amplitude * abs(math.sin(math.pi * self.cycles * t))
            return self.distance * t * c, -hop  # drift along x-ish, hops upwards (screen y down)
        raise ValueError(f"unknown trajectory {k!r}")


@dataclass(frozen=True)
class Rotation:
    kind: str = "none"
    amount: float = 0.0  # spin: turns over the clip (signed); rock: swing amplitude (radians)
    cycles: float = 1.0

    def angle(self, t: float) -> float:
        if self.kind == "none":
            return 0.0
        if self.kind == "spin":
            return 2 * math.pi * self.amount * t
        if self.kind == "rock":
            return self.amount * math.sin(2 * math.pi * self.cycles * t)
        raise ValueError(f"unknown rotation {self.kind!r}")


@dataclass(frozen=True)
class Scaling:
    kind: str = "none"
    amount: float = 0.0  # pulse: relative amplitude; grow: relative change over the clip (signed)
    cycles: float = 1.0

    def factor(self, t: float) -> float:
        if self.kind == "none":
            return 1.0
        if self.kind == "pulse":
            return 1.0 + self.amount * math.sin(2 * math.pi * self.cycles * t)
        if self.kind == "grow":
            return 1.0 + self.amount * t
        raise ValueError(f"unknown scaling {self.kind!r}")


def _limbs(action: str, cycles: float, t: float) -> tuple[tuple[float, ...], float]:
    """Joint angles (l_arm, r_arm, l_elbow, r_elbow, l_leg, r_leg, l_knee, r_knee) and hop.

    Angles are offsets from the rest pose and vanish at t = 0, so every action starts from the
    same standing figure.
    """
    w = 2 * math.pi * cycles * t
    z = [0.0] * 8
    lift = 0.0
    if action == "walk":
        s = math.sin(w)
        z = [0.6 * s, -0.6 * s, 0.3 * abs(s), 0.3 * abs(s), -0.55 * s, 0.55 * s, 0.5 * max(s, 0), 0.5 * max(-s, 0)]
    elif action == "wave":
        raise_ = min(1.0, 5.0 * t)  # arm goes up during the first fifth, then waves
        z[1] = 2.4 * raise_
        z[3] = 0.6 * raise_ * math.sin(w * 2)
    elif action == "jump":
        h = abs(math.sin(w / 2))
        crouch = math.sin(w) ** 2
        z = [-1.2 * h, 1.2 * h, 0.0, 0.0, -0.25 * crouch, 0.25 * crouch, 0.8 * crouch, -0.8 * crouch]
        lift = 0.18 * h
    elif action == "jacks":
        s = math.sin(w / 2) ** 2
        z = [-2.2 * s, 2.2 * s, 0.0, 0.0, -0.5 * s, 0.5 * s, 0.0, 0.0]
    elif action != "none":
        raise ValueError(f"unknown action {action!r}")
    return tuple(z), lift


def _fold(v: float, lo: float, hi: float) -> float:
    """Reflect ``v`` into [lo, hi] (a bounce off the walls)."""
    span = hi - lo
    u = (v - lo) % (2 * span)
    return lo + (u if u <= span else 2 * span - u)


@dataclass(frozen=True)
class ActorMotion:
    """How one actor moves: a start pose and four independent programs."""

    start: tuple[float, float]
    trajectory: Trajectory = Trajectory()
    rotation: Rotation = Rotation()
    scaling: Scaling = Scaling()
    action: str = "none"
    action_cycles: float = 2.0

    def pose(self, t: float) -> Pose:
        dx, dy = self.trajectory.offset(t)
        limbs, lift = _limbs(self.action, self.action_cycles, t)
        return Pose(
            x=_fold(self.start[0] + dx, *BOX),
            y=_fold(self.start[1] + dy, *BOX),
            angle=self.rotation.angle(t),
            scale=self.scaling.factor(t),
            limbs=limbs,
            lift=lift,
        )


@dataclass(frozen=True)
class CameraMotion:
    kind: str = "none"
    direction: float = 0.0
    amount: float = 0.0  # pan: distance (world units); zoom: relative zoom change (signed)

    def state(self, t: float) -> tuple[float, float, float]:
        """(centre x, centre y, zoom) of the camera; (0.5, 0.5, 1) at t = 0."""
        if self.kind == "none":
            return 0.5, 0.5, 1.0
        if self.kind == "pan":
            d = self.amount * t
            return 0.5 + d * math.cos(self.direction), 0.5 + d * math.sin(self.direction), 1.0
        if self.kind == "zoom":
            return 0.5, 0.5, 1.0 + self.amount * t
        raise ValueError(f"unknown camera motion {self.kind!r}")


@dataclass(frozen=True)
class ClipMotion:
    actors: tuple[ActorMotion, ...]
    camera: CameraMotion = CameraMotion()


def random_trajectory(rng: np.random.Generator, kind: str | None = None, exclude: str | None = None) -> Trajectory:
    kinds = [k for k in TRAJECTORIES if k != exclude]
    kind = kind or str(rng.choice(kinds, p=_trajectory_weights(kinds)))
    direction = float(rng.uniform(0, 2 * math.pi))
    cycles = float(rng.uniform(1.0, 3.0))
    if kind == "circular":
        return Trajectory(kind, direction, float(rng.choice([-1.0, 1.0])), cycles, float(rng.uniform(0.12, 0.25)))
    if kind == "zigzag":
        return Trajectory(
            kind, direction, float(rng.uniform(0.3, 0.7)), float(rng.uniform(2.0, 4.0)), float(rng.uniform(0.06, 0.14))
        )
    if kind == "bounce":
        return Trajectory(
            kind, float(rng.choice([0.0, math.pi])), float(rng.uniform(0.2, 0.6)), cycles, float(rng.uniform(0.2, 0.4))
        )
    return Trajectory(kind, direction, float(rng.uniform(0.4, 1.2)), cycles, 0.0)


def _trajectory_weights(kinds: list[str]) -> np.ndarray:
    w = np.array([0.3 if k == "still" else 1.0 for k in kinds])  # mostly moving things
    return w / w.sum()


def random_rotation(rng: np.random.Generator, exclude: str | None = None) -> Rotation:
    kind = str(rng.choice([k for k in ROTATIONS if k != exclude]))
    if kind == "spin":
        return Rotation(kind, float(rng.choice([-1, 1]) * rng.uniform(0.5, 2.0)))
    if kind == "rock":
        return Rotation(kind, float(rng.uniform(0.4, 0.9)), float(rng.uniform(1.0, 3.0)))
    return Rotation()


def random_scaling(rng: np.random.Generator, exclude: str | None = None) -> Scaling:
    kind = str(rng.choice([k for k in SCALINGS if k != exclude]))
    if kind == "pulse":
        return Scaling(kind, float(rng.uniform(0.25, 0.45)), float(rng.uniform(1.0, 3.0)))
    if kind == "grow":
        return Scaling(kind, float(rng.choice([-0.45, 0.8])))
    return Scaling()


def random_camera(rng: np.random.Generator, exclude: str | None = None) -> CameraMotion:
    kind = str(rng.choice([k for k in CAMERAS if k != exclude]))
    if kind == "pan":
        return CameraMotion(kind, float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.12, 0.22)))
    if kind == "zoom":
        return CameraMotion(kind, 0.0, float(rng.choice([-0.25, 0.35])))
    return CameraMotion()


def random_actor_motion(rng: np.random.Generator, articulated: bool) -> ActorMotion:
    start = (float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.3, 0.7)))
    if articulated:
        # Figures stay upright (they walk/wave/jump); their trajectory is gentler.
        return ActorMotion(
            start,
            random_trajectory(rng, kind=str(rng.choice(["linear", "still", "decelerate", "zigzag"]))),
            action=str(rng.choice(ACTIONS)),
            action_cycles=float(rng.uniform(1.5, 4.0)),
        )
    traj = random_trajectory(rng)
    # A sprite that neither travels nor turns would not move at all: make it spin or rock then.
    rotation = random_rotation(rng, exclude="none" if traj.kind == "still" else None)
    return ActorMotion(start, traj, rotation, random_scaling(rng))


def different_motion(motion: ClipMotion, rng: np.random.Generator) -> ClipMotion:
    """A clearly different motion with the same start state (the hard negative's motion).

    Every actor gets a trajectory of another kind (and, for figures, another action); rotation,
    scaling and camera programs are re-drawn to a different kind too, so nothing moves alike.
    """
    actors = []
    for a in motion.actors:
        traj = random_trajectory(rng, exclude=a.trajectory.kind)
        if a.action != "none":
            action = str(rng.choice([x for x in ACTIONS if x != a.action]))
            actors.append(replace(a, trajectory=traj, action=action, action_cycles=float(rng.uniform(1.5, 4.0))))
        else:
            actors.append(
                replace(
                    a,
                    trajectory=traj,
                    rotation=random_rotation(rng, exclude=a.rotation.kind),
                    scaling=random_scaling(rng, exclude=a.scaling.kind),
                )
            )
    camera = random_camera(rng, exclude=motion.camera.kind) if motion.camera.kind != "none" else motion.camera
    return ClipMotion(tuple(actors), camera)
