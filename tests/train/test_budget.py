"""`--max-minutes`: a run held to a wall-clock budget ends, annealed, when the time is up, on any machine."""
import pytest

from amma_edge.train.budget import TimeBudget


def run_steps(budget, steps, pace, start_step=0, t0=0.0):
    budget.start(start_step, t0)
    t = t0
    for s in range(start_step + 1, start_step + steps + 1):
        t += pace
        budget.observe(s, t)
    return t


def test_the_plan_is_the_steps_left_at_the_measured_pace():
    budget = TimeBudget(1.0, min_steps=5)  # 60 s
    assert budget.planned_steps(0) is None  # no pace yet
    run_steps(budget, 4, 2.0)
    assert budget.planned_steps(4) is None  # 4 steps: under min_steps
    run_steps(budget, 10, 2.0)  # a fresh session: 10 steps of 2 s, 20 s used
    assert budget.seconds_per_step == pytest.approx(2.0)
    assert budget.planned_steps(10) == 10 + 20  # 40 s left at 2 s a step


def test_validation_time_is_used_but_not_pace():
    budget = TimeBudget(1.0, min_steps=5)
    t = run_steps(budget, 10, 1.0)  # 10 s
    budget.exclude(20.0, t + 20.0)  # a 20 s validation
    assert budget.used_seconds == pytest.approx(30.0)
    t = t + 20.0
    for s in range(11, 16):
        t += 1.0
        budget.observe(s, t)
    assert budget.seconds_per_step == pytest.approx(1.0)
    assert budget.planned_steps(15) == 15 + 25


def test_the_pace_follows_a_machine_that_slows_down():
    budget = TimeBudget(100.0, window=10, min_steps=5)
    t = run_steps(budget, 50, 1.0)
    for s in range(51, 71):
        t += 3.0
        budget.observe(s, t)
    assert budget.seconds_per_step == pytest.approx(3.0)


def test_a_spent_budget_plans_no_more_steps_and_used_time_survives_a_resume():
    budget = TimeBudget(0.5, min_steps=2)  # 30 s
    run_steps(budget, 40, 1.0)
    assert budget.spent and budget.planned_steps(40) == 40
    resumed = TimeBudget(1.0, budget.state_dict()["used_seconds"], min_steps=2)  # budget raised to 60 s
    run_steps(resumed, 5, 1.0, start_step=40, t0=500.0)
    assert resumed.used_seconds == pytest.approx(45.0)
    assert resumed.planned_steps(45) == 45 + 15


def test_minutes_must_be_positive():
    with pytest.raises(ValueError, match="positive number of minutes"):
        TimeBudget(0.0)
