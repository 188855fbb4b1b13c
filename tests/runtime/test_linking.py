import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.runtime.decode import Tubelets
from amma_edge.runtime.linking import (
    LinkerConfig,
    TubeEnded,
    TubeLinker,
    TubeStarted,
    TubeUpdated,
    interpolate_tube,
    link_video,
    trim_span,
)


def frames_of(step: int) -> np.ndarray:
    """K = 3 clips of 4 frames: clip ends 1, 5, 9 at step 0, then 5, 9, 13, …"""
    return np.array([1, 5, 9]) + 4 * step


def tubelets(*rows) -> Tubelets:
    """rows of (class, score, [box at each clip end])"""
    if not rows:
        return Tubelets.empty(3)
    return Tubelets(np.array([r[2] for r in rows], np.float32), np.array([r[1] for r in rows], np.float32),
                    np.array([r[0] for r in rows], np.int64))


def still(x: float, K: int = 3) -> list[list[float]]:
    return [[x, 0, x + 10, 10]] * K


def kinds(events) -> list[tuple[str, int]]:
    return [(e.kind, e.tube_id) for e in events]


def test_one_object_makes_one_tube_with_events_in_order():
    linker = TubeLinker()
    log = [linker.step(frames_of(s), tubelets((0, score, still(0)))) for s, score in enumerate([0.8, 0.6, 0.4])]
    log.append(linker.finish())
    assert [kinds(e) for e in log] == [[("started", 0)], [("updated", 0)], [("updated", 0)], [("ended", 0)]]
    assert log[1][0].score == pytest.approx(0.7)  # mean of 0.8 and 0.6
    ended = log[3][0]
    assert ended.accepted  # spans frames 1..17 = 17 ≥ 15, score 0.6 ≥ 0.01
    np.testing.assert_array_equal(ended.tube.frames, np.arange(1, 18))
    np.testing.assert_allclose(ended.tube.boxes, np.tile([0, 0, 10, 10], (17, 1)))
    assert ended.tube.score == pytest.approx(0.6) and ended.tube.num_tubelets == 3


def test_overlapping_tubelets_average_then_interpolate():
    linker = TubeLinker(LinkerConfig(min_length=1))
    step0 = [[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]]  # x1 = 0, 4, 8 at frames 1, 5, 9
    step1 = [[6, 0, 16, 10], [10, 0, 20, 10], [12, 0, 22, 10]]  # x1 = 6, 10, 12 at frames 5, 9, 13
    linker.step(frames_of(0), tubelets((0, 0.9, step0)))
    # shared frames 5 and 9: x1 4 vs 6 and 8 vs 10, each overlap 8·10 / (200 − 80) = 2/3 ≥ 0.5
    assert kinds(linker.step(frames_of(1), tubelets((0, 0.5, step1)))) == [("updated", 0)]
    (ended,) = linker.finish()
    x1 = ended.tube.boxes[:, 0]
    # clip ends: frame 1 → 0; 5 → (4 + 6)/2 = 5; 9 → (8 + 10)/2 = 9; 13 → 12
    # between: frame 3 → 2.5, frame 7 → 7, frame 11 → 10.5, frame 12 → 9 + 3/4·3 = 11.25
    np.testing.assert_allclose(x1[[0, 2, 4, 6, 8, 10, 11, 12]], [0, 2.5, 5, 7, 9, 10.5, 11.25, 12])
    np.testing.assert_array_equal(ended.tube.frames, np.arange(1, 14))


def test_a_tube_waits_while_it_overlaps_and_ends_when_it_no_longer_does():
    linker = TubeLinker()
    assert kinds(linker.step(frames_of(0), tubelets((1, 0.9, still(50))))) == [("started", 0)]
    assert linker.step(frames_of(1), tubelets()) == []  # frames 5, 9, 13 still meet the tube's 5, 9
    assert linker.step(frames_of(2), tubelets()) == []  # 9, 13, 17 meet it at 9
    (ended,) = linker.step(frames_of(3), tubelets())  # 13, 17, 21: no shared frame
    assert isinstance(ended, TubeEnded) and ended.tube_id == 0
    assert not ended.accepted  # frames 1..9: 9 < 15
    assert linker.num_active == 0 and linker.finish() == []


def test_the_best_tube_chooses_first_and_takes_the_highest_scoring_fit():
    cfg = LinkerConfig(nms_threshold=1.0, min_length=1)  # no suppression: all candidates reach the linker
    linker = TubeLinker(cfg)
    linker.step(frames_of(0), tubelets((0, 0.9, still(0)), (0, 0.5, still(2))))  # tubes 0 (0.9) and 1 (0.5)
    # Both tubes fit both candidates (IoU ≥ 0.5 on the shared frames). Tube 0, the better, takes the
    # higher-scoring candidate (0.7 at x = 3) although the 0.6 one at x = 0 overlaps it more; tube 1 gets the other.
    events = linker.step(frames_of(1), tubelets((0, 0.6, still(0)), (0, 0.7, still(3))))
    assert [(e.kind, e.tube_id, e.tubelet_score) for e in events] == [("updated", 0, pytest.approx(0.7)),
                                                                      ("updated", 1, pytest.approx(0.6))]
    np.testing.assert_allclose(events[0].boxes[0], [3, 0, 13, 10])


def test_tubes_choose_by_score_not_by_age():
    linker = TubeLinker(LinkerConfig(min_length=1))
    linker.step(frames_of(0), tubelets((0, 0.3, still(0))))  # tube 0, score 0.3
    # x = 5 against tube 0's x = 0: 5·10 / 150 = 1/3 < 0.5 → a new tube 1, score 0.95
    assert kinds(linker.step(frames_of(1), tubelets((0, 0.95, still(5))))) == [("started", 1)]
    # x = 2.5 fits both: 7.5·10 / 125 = 0.6 against x = 0 (frame 9) and against x = 5 (frames 9, 13);
    # the younger but better tube 1 chooses first
    assert kinds(linker.step(frames_of(2), tubelets((0, 0.6, still(2.5))))) == [("updated", 1)]


def test_a_candidate_that_fits_no_tube_starts_one_and_classes_never_mix():
    linker = TubeLinker(LinkerConfig(min_length=1))
    linker.step(frames_of(0), tubelets((0, 0.9, still(0))))
    events = linker.step(frames_of(1), tubelets((1, 0.8, still(0)), (0, 0.7, still(40))))
    # class 0: tube 0 does not fit x = 40 (IoU 0) → stays active, x = 40 starts tube 1; class 1 starts tube 2
    assert kinds(events) == [("started", 1), ("started", 2)]
    assert [e.label for e in events] == [0, 1]
    assert isinstance(events[0], TubeStarted)


def test_tubelet_nms_and_top_k_inside_the_linker():
    linker = TubeLinker()
    near = tubelets((0, 0.9, still(0)), (0, 0.8, still(1)))  # IoU 90/110 > 0.3: the second is suppressed
    assert kinds(linker.step(frames_of(0), near)) == [("started", 0)]
    linker.finish()
    many = tubelets(*[(0, 0.5 + i / 100, still(20 * i)) for i in range(12)])  # 12 disjoint tubelets
    started = linker.step(frames_of(0), many)
    assert len(started) == 10
    # the ten best: scores 0.61 down to 0.52, i.e. x = 220 down to 40
    assert [e.boxes[0, 0] for e in started] == [20.0 * i for i in range(11, 1, -1)]


def test_acceptance_limits():
    cfg = LinkerConfig(min_length=9, min_score=0.1, min_tubelets=2)
    linker = TubeLinker(cfg)
    linker.step(frames_of(0), tubelets((0, 0.05, still(0)), (1, 0.9, still(0)), (2, 0.9, still(0))))
    linker.step(frames_of(1), tubelets((0, 0.05, still(0)), (1, 0.9, still(0))))
    ended = {e.label: e for e in linker.finish()}
    assert not ended[0].accepted  # score 0.05 < 0.1
    assert ended[1].accepted  # frames 1..13, two tubelets, score 0.9
    assert not ended[2].accepted  # one tubelet only (frames 1..9 would pass min_length 9)


def test_trim_keeps_the_run_of_tubelets_that_stands_out_and_scores_the_tube_on_it():
    # A person followed before and after the action: low scores at both ends, the action in the middle.
    scores = [0.05, 0.1, 0.8, 0.9, 0.7, 0.1, 0.05]
    steps = [(frames_of(s), tubelets((0, score, still(0)))) for s, score in enumerate(scores)]
    (whole,) = link_video(steps)  # the papers' protocol: frames 1 .. 9 + 4·6 = 33
    assert (whole.frames[0], whole.frames[-1], whole.num_tubelets) == (1, 33, 7)
    assert whole.score == pytest.approx(np.mean(scores))
    (trimmed,) = link_video(steps, LinkerConfig(trim=0.5))  # keep scores above 0.45: tubelets 2, 3, 4
    assert (trimmed.frames[0], trimmed.frames[-1]) == (1 + 4 * 2, 9 + 4 * 4)
    assert (trimmed.first_tubelet, trimmed.num_tubelets) == (2, 3)
    assert trimmed.score == pytest.approx(0.8)
    np.testing.assert_allclose(trimmed.boxes, np.tile([0, 0, 10, 10], (len(trimmed.frames), 1)))


def test_a_trimmed_tube_faces_the_acceptance_limits_on_what_is_left():
    steps = [(frames_of(s), tubelets((0, score, still(0)))) for s, score in enumerate([0.02, 0.9, 0.02, 0.02])]
    assert len(link_video(steps)) == 1  # frames 1 .. 21
    assert link_video(steps, LinkerConfig(trim=0.5)) == []  # only tubelet 1 is left: frames 5 .. 13, 9 < 15


def test_trim_span_by_hand():
    assert trim_span([0.2, 0.4], 0.0) == (0, 2)  # 0 keeps everything
    assert trim_span([0.9], 0.9) == (0, 1)
    # gains above 0.45: −0.35, 0.45, −0.35, 0.15: the dip costs more than the last tubelet brings
    assert trim_span([0.1, 0.9, 0.1, 0.6], 0.5) == (1, 2)
    # −0.35, 0.45, −0.05, 0.35: a shallow dip is bridged (0.75 > 0.45)
    assert trim_span([0.1, 0.9, 0.4, 0.8], 0.5) == (1, 4)
    assert trim_span([0.9, 0.0, 0.0, 0.9], 0.5) == (0, 1)  # two equal runs: the earlier one
    with pytest.raises(InputShapeError):
        trim_span([], 0.5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12), st.floats(0.01, 0.99))
def test_trim_span_finds_the_best_run_of_every_run(scores, ratio):
    scores = np.float64(scores)
    gain = scores - ratio * scores.max()
    start, stop = trim_span(scores, ratio)
    best = max(gain[a:b].sum() for a in range(len(scores)) for b in range(a + 1, len(scores) + 1))
    assert 0 <= start < stop <= len(scores)
    assert gain[start:stop].sum() == pytest.approx(best, abs=1e-9)


def test_trim_must_be_a_fraction_below_one():
    with pytest.raises(AmmaEdgeError, match="trim must be in"):
        LinkerConfig(trim=1.0)
    with pytest.raises(AmmaEdgeError, match="trim must be in"):
        LinkerConfig(trim=-0.1)


def test_link_video_returns_accepted_tubes_only():
    steps = [(frames_of(s), tubelets((0, 0.9, still(0)), (1, 0.9, still(50)) if s == 0 else (0, 0.8, still(0))))
             for s in range(3)]
    tubes = link_video(steps)
    assert [(t.label, t.length) for t in tubes] == [(0, 17)]  # class 1's tube spans 1..9 only


def test_step_validation():
    linker = TubeLinker()
    with pytest.raises(InputShapeError):
        linker.step(np.array([1, 5]), tubelets((0, 0.9, still(0))))
    with pytest.raises(AmmaEdgeError):
        linker.step(np.array([1, 9, 5]), tubelets((0, 0.9, still(0))))
    with pytest.raises(AmmaEdgeError):
        linker.step(np.array([1.5, 5, 9]), tubelets((0, 0.9, still(0))))
    linker.step(frames_of(1), tubelets())
    with pytest.raises(AmmaEdgeError):
        linker.step(frames_of(0), tubelets())  # back in time
    with pytest.raises(InputShapeError):
        linker.step(np.array([20, 21, 22, 23]), Tubelets.empty(4))  # K changed mid-stream
    with pytest.raises(AmmaEdgeError):
        LinkerConfig(iou_threshold=1.5)
    with pytest.raises(AmmaEdgeError):
        LinkerConfig(top_k=0)


def test_interpolate_tube_by_hand():
    frames = np.array([5, 1, 5, 9])
    boxes = np.array([[4, 0, 14, 10], [0, 0, 10, 10], [6, 0, 16, 10], [12, 2, 22, 12]], float)
    out_frames, out = interpolate_tube(frames, boxes)
    np.testing.assert_array_equal(out_frames, np.arange(1, 10))
    # frame 5 averages to (5, 0, 15, 10); frame 7 is halfway to (12, 2, 22, 12): (8.5, 1, 18.5, 11)
    np.testing.assert_allclose(out[[0, 4, 6, 8]], [[0, 0, 10, 10], [5, 0, 15, 10], [8.5, 1, 18.5, 11],
                                                   [12, 2, 22, 12]])
    one_frames, one = interpolate_tube(np.array([3, 3]), np.array([[0, 0, 2, 2], [2, 2, 4, 4]], float))
    np.testing.assert_array_equal(one_frames, [3])
    np.testing.assert_allclose(one, [[1, 1, 3, 3]])


def test_events_serialise_to_json():
    linker = TubeLinker(LinkerConfig(min_length=1))
    events = linker.step(frames_of(0), tubelets((0, 0.9, still(0))))
    events += linker.step(frames_of(1), tubelets((0, 0.7, still(0))))
    events += linker.finish()
    decoded = [json.loads(json.dumps(e.as_dict())) for e in events]
    assert [d["event"] for d in decoded] == ["started", "updated", "ended"]
    assert decoded[2]["tube"]["frames"] == list(range(1, 14)) and decoded[2]["accepted"] is True


def _random_video(seed: int, steps: int = 8):
    rng = np.random.default_rng(seed)
    out = []
    for s in range(steps):
        n = int(rng.integers(0, 6))
        x = rng.integers(0, 4, size=n) * 8.0  # few positions, so tubelets link, collide and get suppressed
        boxes = np.stack([np.stack([x, np.zeros(n), x + 10, np.full(n, 10.0)], 1)] * 3, 1) if n else np.zeros((0, 3, 4))
        boxes = boxes + rng.normal(scale=1.0, size=boxes.shape)
        out.append((frames_of(s), Tubelets(boxes.astype(np.float32), rng.random(n).astype(np.float32),
                                           rng.integers(0, 2, size=n))))
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 31 - 1))
def test_every_tube_starts_once_ends_once_and_holds_what_it_was_given(seed):
    linker = TubeLinker(LinkerConfig(min_length=1))
    events = [e for frames, t in _random_video(seed) for e in linker.step(frames, t)] + linker.finish()
    started = [e.tube_id for e in events if isinstance(e, TubeStarted)]
    ended = {e.tube_id: e for e in events if isinstance(e, TubeEnded)}
    assert len(started) == len(set(started)) and set(started) == set(ended)
    for tube_id, end in ended.items():
        updates = [e for e in events if isinstance(e, TubeUpdated) and e.tube_id == tube_id]
        assert end.tube.num_tubelets == 1 + len(updates)
        assert np.all(np.diff(end.tube.frames) == 1)
    # within a step, no tubelet goes to two tubes: the (step, box) pairs handed out are distinct
    given_out = [(int(e.frames[-1]), e.boxes.tobytes()) for e in events if isinstance(e, (TubeStarted, TubeUpdated))]
    assert len(given_out) == len(set(given_out))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.integers(0, 2 ** 31 - 1))
def test_a_reused_linker_links_the_next_video_like_a_fresh_one(seed_a, seed_b):
    def link(linker, video):
        return [e for f, t in video for e in linker.step(f, t)] + linker.finish()

    reused = TubeLinker()
    link(reused, _random_video(seed_a))
    second = link(reused, _random_video(seed_b))
    fresh = link(TubeLinker(), _random_video(seed_b))
    assert [(e.kind, e.label) for e in second] == [(e.kind, e.label) for e in fresh]
    for a, b in zip(second, fresh):
        if isinstance(a, TubeEnded):
            np.testing.assert_array_equal(a.tube.boxes, b.tube.boxes)
            assert a.accepted == b.accepted
