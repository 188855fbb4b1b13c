"""A training run held to a wall-clock budget (`--max-minutes`): how many steps still fit, from the pace so far.

A fixed step count fits a time budget only on the machine it was chosen on: the same recipe has run at a median
0.33 to 0.47 s a step on machines of one kind, so a step count that takes 40 minutes on one takes 56 on another.
With a budget, the planned step count is re-estimated after every step from the pace of the recent steps, and
the cosine schedule anneals to zero at that plan, so the run ends annealed when the time is up, whatever the
machine. Time spent validating counts against the budget but not in the pace, which is of training steps.

The plan depends on the clock, so a budgeted run is not reproducible step for step; its log records the plan
at every step row and the steps it ran, and `--max-steps` with that count replays a schedule close to it.
"""
from __future__ import annotations

from collections import deque

# Pace from at most this many recent steps: long enough to smooth a slow batch, short enough to follow a
# machine whose speed drifts during the run.
PACE_WINDOW = 500
# No plan before this many steps of this session: the first ones hold the data loader's start-up.
MIN_PACE_STEPS = 20


class TimeBudget:
    """Seconds used so far (across resumed sessions) and the step count that fits the rest of `minutes`."""

    def __init__(self, minutes: float, used_seconds: float = 0.0, *, window: int = PACE_WINDOW,
                 min_steps: int = MIN_PACE_STEPS, pace_hint: float | None = None):
        if minutes <= 0:
            raise ValueError(f"a time budget is a positive number of minutes, got {minutes}")
        self.seconds = minutes * 60.0
        self.window = window
        self.min_steps = min_steps
        self._used_before = used_seconds
        self._pace_hint = pace_hint  # the pace a resumed run's last session measured, until this one has its own
        self._session_start: float | None = None
        self._now: float | None = None
        self._excluded = 0.0  # seconds of this session that were not training steps (validation, checkpoints)
        self._marks: deque[tuple[int, float]] = deque()  # (step, step-only clock) after recent steps

    def start(self, step: int, now: float) -> None:
        """The session begins (a fresh run or a resume) at `step`."""
        self._session_start = self._now = now
        self._marks.clear()
        self._marks.append((step, 0.0))
        self._excluded = 0.0

    def observe(self, step: int, now: float) -> None:
        """Step `step` has just ended at `now`."""
        self._require_started()
        self._now = now
        self._marks.append((step, now - self._session_start - self._excluded))  # type: ignore[operator]
        while len(self._marks) > 2 and self._marks[-1][0] - self._marks[0][0] > self.window:
            self._marks.popleft()

    def exclude(self, seconds: float, now: float) -> None:
        """`seconds`, ending at `now`, just spent outside training steps: used time, but not part of the pace."""
        self._require_started()
        self._excluded += seconds
        self._now = now

    @property
    def used_seconds(self) -> float:
        if self._session_start is None or self._now is None:
            return self._used_before
        return self._used_before + (self._now - self._session_start)

    @property
    def seconds_per_step(self) -> float | None:
        """The recent pace; until `min_steps` steps of this session are measured, the pace hint (None without)."""
        if len(self._marks) < 2:
            return self._pace_hint
        (first_step, first_t), (last_step, last_t) = self._marks[0], self._marks[-1]
        done = last_step - first_step
        if done < self.min_steps or last_t <= first_t:
            return self._pace_hint
        return (last_t - first_t) / done

    def planned_steps(self, step: int) -> int | None:
        """The total step count that ends when the budget does, counted from `step` steps done; None before
        the pace is known. Never below `step`: a spent budget plans no further step."""
        pace = self.seconds_per_step
        if pace is None:
            return None
        left = self.seconds - self.used_seconds
        return step + max(0, int(left // pace))

    @property
    def spent(self) -> bool:
        return self.used_seconds >= self.seconds

    def state_dict(self) -> dict[str, float | None]:
        """What a resume needs (the budget itself is the run's `max_minutes`)."""
        return {"used_seconds": self.used_seconds, "seconds_per_step": self.seconds_per_step}

    def _require_started(self) -> None:
        if self._session_start is None:
            raise RuntimeError("TimeBudget.start() must be called before steps are observed")
