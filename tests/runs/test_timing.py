"""The live ETA from step times: known sequences of steps and evaluations."""

from __future__ import annotations

import pytest

from core.runs.timing import Prior, StepClock, expected_stop

PRIOR = Prior(step_s=1.0, eval_s=5.0, end_s=1.0)  # the tail: one evaluation's time + 1 s


def clock_after(times: list[float], evaluated_before: set[int] = frozenset(), window: int = 20):
    """A clock that saw step i end at times[i] (step 0 = the start), with an evaluation run
    between step i - 1 and step i for each i in `evaluated_before`."""
    clock = StepClock(PRIOR, window=window)
    for step, at in enumerate(times):
        if step in evaluated_before:
            clock.evaluated()
        clock.step(step, at)
    return clock


def test_before_any_step_the_prior_gives_the_time_left():
    clock = StepClock(PRIOR)
    # 10 steps at 1 s, 2 evaluations at 5 s, then the head (an evaluation's time) and saving.
    assert clock.time_left(0, 10, 2, now=0.0) == pytest.approx(10 + 10 + 6)


def test_the_baseline_measures_the_evaluations_until_one_is_timed():
    clock = StepClock(PRIOR)
    clock.baseline(8.0)  # the machine is slower than the prior said
    assert clock.time_left(0, 10, 2, now=0.0) == pytest.approx(10 + 16 + 9)


def test_steady_steps_give_their_own_pace():
    clock = clock_after([0.0, 2.0, 4.0, 6.0, 8.0])  # 2 s a step, the prior said 1 s
    assert clock.step_s == pytest.approx(2.0)
    assert clock.time_left(4, 10, 0, now=8.0) == pytest.approx(6 * 2 + 6)


def test_an_evaluation_is_timed_apart_and_not_counted_as_a_slow_step():
    # Steps of 2 s; between steps 3 and 4 an evaluation took 6 s more.
    clock = clock_after([0.0, 2.0, 4.0, 6.0, 14.0, 16.0], evaluated_before={4})
    assert clock.step_s == pytest.approx(2.0)
    assert clock.eval_s == pytest.approx(6.0)
    # 5 steps and 1 evaluation left, then the tail (the head takes as long as an evaluation).
    assert clock.time_left(5, 10, 1, now=16.0) == pytest.approx(5 * 2 + 6 + 6 + 1)


def test_the_window_follows_a_machine_that_got_slower():
    fast = [float(i) for i in range(11)]  # 10 steps of 1 s
    slow = [10.0 + 3 * i for i in range(1, 6)]  # then 5 steps of 3 s
    clock = clock_after(fast + slow, window=5)
    assert clock.step_s == pytest.approx(3.0)
    # The mean since the start (elapsed / steps) would say 25 s / 15 steps = 1.67 s.
    assert clock.time_left(15, 20, 0, now=25.0) == pytest.approx(5 * 3 + 6)


def test_time_since_the_last_step_counts_as_spent_and_never_goes_below_zero():
    clock = clock_after([0.0, 2.0, 4.0])
    assert clock.time_left(2, 10, 0, now=5.0) == pytest.approx(8 * 2 + 6 - 1)
    assert clock.time_left(10, 10, 0, now=100.0) == pytest.approx(6.0)  # the tail is left
    assert StepClock(Prior(1.0, 0.0, 0.0)).time_left(5, 5, 0, now=0.0) == 0.0


def test_an_expected_early_stop_shortens_the_time_left():
    clock = clock_after([0.0, 1.0, 2.0])
    assert clock.time_left(2, 20, 0, now=2.0, stop_at=10) == pytest.approx(8 + 6)
    # Never past the schedule, never before the current step.
    assert clock.time_left(2, 20, 0, now=2.0, stop_at=50) == pytest.approx(18 + 6)
    assert clock.time_left(2, 20, 0, now=2.0, stop_at=1) == pytest.approx(6)


# expected_stop: an evaluation every 10 steps, 80 steps, patience 3.


def test_a_finetune_still_gaining_runs_as_much_of_its_schedule_as_past_runs_did():
    assert expected_stop([0.5, 0.6], 10, 80, 3, steps_fraction=1.0, step=20) == 80
    assert expected_stop([0.5, 0.6], 10, 80, 3, steps_fraction=0.5, step=20) == 50
    # ... but no sooner than its best evaluation plus the patience.
    assert expected_stop([0.5, 0.6], 10, 80, 3, steps_fraction=0.1, step=20) == 50
    # Before any evaluation: the past runs' share alone (rounded up to an evaluation).
    assert expected_stop([], 10, 80, 3, steps_fraction=0.55) == 50


def test_a_finetune_that_has_levelled_off_is_expected_to_stop_when_its_patience_runs_out():
    # Best at evaluation 1, none gained since: stop at evaluation 1 + 3, whatever past runs did.
    assert expected_stop([0.8, 0.7], 10, 80, 3, steps_fraction=1.0, step=20) == 40
    # A tie is no gain: the first of equal scores is the best.
    assert expected_stop([0.8, 0.8, 0.8], 10, 80, 3, steps_fraction=1.0, step=30) == 40
    # A best score that cannot be beaten stops the run even on the evaluation that reached it.
    assert expected_stop([0.9, 1.0], 10, 80, 3, steps_fraction=1.0, step=20) == 50


def test_the_expected_stop_stays_between_the_step_reached_and_the_schedule():
    assert expected_stop([0.5, 0.4, 0.3, 0.2], 10, 80, 3, step=45) == 45
    assert expected_stop([0.1 * i for i in range(1, 8)], 10, 80, 3, step=70) == 80
    # Without early stopping the whole schedule runs.
    assert expected_stop([0.8, 0.7], 10, 80, 0, step=20) == 80
