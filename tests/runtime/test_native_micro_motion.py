"""RGB-difference micro-motion: the C kernel and its NumPy twin against the model's MicroMotion("rgb_diff").

Against torch: rtol = atol = 1e-5 on clips in the range of normalised frames (|x| up to ~3 with ImageNet
statistics). Both compute in float32 in the same order; what differs is the upsampling coordinates, which torch
rounds to float32 (and may fuse into FMAs, depending on its build) where the kernels use double. At sizes that
halve exactly (288 → 144 → 288) the weights are identical; at odd sizes they differ by ~1e-7, an error that
scales with the neighbouring values (~6e-7 at normalised-frame magnitudes, ~2e-6 × the largest value of the map
in general), so clips of any magnitude are held to 1e-5 × that largest value.
C against NumPy: 1e-6, the same float32 operations in the same order.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import InputShapeError
from amma_edge.models.amma.micro_motion import MICRO_MOTION_EPS, MicroMotion
from amma_edge.runtime import native, reference

IMPLS = [pytest.param(reference, id="numpy")]
if native.NATIVE_AVAILABLE:
    from amma_edge.runtime import _native

    IMPLS.append(pytest.param(_native, id="c"))
needs_c = pytest.mark.skipif(not native.NATIVE_AVAILABLE, reason=f"{native.native_unavailable_reason()}")
hsettings = settings(max_examples=200, deadline=None)
MODULE = MicroMotion("rgb_diff").eval()


def torch_motion(clip: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return MODULE(torch.from_numpy(clip)[None])[0].numpy()


def run(impl, clip: np.ndarray, eps: float = MICRO_MOTION_EPS) -> np.ndarray:
    out = np.full((clip.shape[0] - 1,) + clip.shape[2:], np.nan, dtype=np.float32)
    impl.rgb_diff_motion(clip, out, eps)
    return out


# (t, H, W, scale of the values, seed); normalised frames stay within about ±3
clips = st.tuples(st.integers(2, 5), st.integers(1, 40), st.integers(1, 40), st.floats(0.01, 3),
                  st.integers(0, 2**32 - 1))
any_magnitude = st.tuples(st.integers(2, 5), st.integers(1, 40), st.integers(1, 40), st.floats(0.01, 1e4),
                          st.integers(0, 2**32 - 1))


def random_clip(t: int, h: int, w: int, scale: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((t, 3, h, w)) * scale).astype(np.float32)


def test_eps_is_the_models():
    assert reference.MICRO_MOTION_EPS == MICRO_MOTION_EPS
    assert native.MICRO_MOTION_EPS == MICRO_MOTION_EPS


@pytest.mark.parametrize("impl", IMPLS)
@hsettings
@given(clips)
def test_matches_the_torch_module(impl, params):
    clip = random_clip(*params)
    np.testing.assert_allclose(run(impl, clip), torch_motion(clip), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
@hsettings
@given(any_magnitude)
def test_matches_the_torch_module_relative_to_the_largest_value(impl, params):
    clip = random_clip(*params)
    expected = torch_motion(clip)
    np.testing.assert_allclose(run(impl, clip), expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [(4, 288, 288), (2, 1, 1), (2, 2, 2), (3, 1, 9), (4, 7, 1), (5, 3, 4), (4, 36, 52)])
def test_matches_the_torch_module_at_edge_sizes(impl, shape):
    t, h, w = shape
    clip = random_clip(t, h, w, 1.5, seed=h * w + t)
    np.testing.assert_allclose(run(impl, clip), torch_motion(clip), rtol=1e-5, atol=1e-5)


@needs_c
@hsettings
@given(any_magnitude)
def test_c_matches_numpy_twin(params):
    clip = random_clip(*params)
    expected = run(reference, clip)
    np.testing.assert_allclose(run(_native, clip), expected, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("impl", IMPLS)
def test_still_clip_gives_the_eps_floor(impl):
    frame = np.random.default_rng(0).standard_normal((3, 10, 12)).astype(np.float32)
    clip = np.stack([frame] * 4)
    got = run(impl, clip)
    np.testing.assert_allclose(got, np.sqrt(np.float32(MICRO_MOTION_EPS)), rtol=1e-6)
    np.testing.assert_allclose(run(impl, clip, eps=0.0), 0.0, atol=0)


@pytest.mark.parametrize("impl", IMPLS)
def test_non_finite_values_propagate_like_torch(impl):
    clip = random_clip(3, 5, 6, 1.0, seed=1)
    clip[2, 1, 2, 3] = np.nan
    clip[0, 0, 0, 0] = np.inf
    got, expected = run(impl, clip), torch_motion(clip)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_out_may_alias_the_clip(impl):
    clip = random_clip(4, 16, 20, 1.0, seed=2)
    expected = run(impl, clip)
    aliased = clip.copy()
    out = aliased.reshape(-1)[: expected.size].reshape(expected.shape)
    impl.rgb_diff_motion(aliased, out, MICRO_MOTION_EPS)
    np.testing.assert_array_equal(out, expected)


def test_native_face_allocates_when_no_out():
    clip = random_clip(4, 12, 8, 1.0, seed=3)
    got = native.rgb_diff_motion(clip)
    assert got.shape == (3, 12, 8) and got.dtype == np.float32
    np.testing.assert_allclose(got, torch_motion(clip), rtol=1e-5, atol=1e-5)
    out = np.empty_like(got)
    assert native.rgb_diff_motion(clip, out) is out
    with pytest.raises(InputShapeError, match=r"clip must have shape .*got \(1, 3, 12, 8\)"):
        native.rgb_diff_motion(clip[:1])


def clip(t=4, c=3, h=12, w=8, dtype=np.float32):
    return np.zeros((t, c, h, w), dtype=dtype)


def out(t=3, h=12, w=8, dtype=np.float32):
    return np.zeros((t, h, w), dtype=dtype)


readonly = out()
readonly.flags.writeable = False

ERRORS = {
    "one frame": ((clip(t=1), out(t=0), MICRO_MOTION_EPS), InputShapeError,
                  ["clip", "(t, 3, H, W) with t >= 2", "(1, 3, 12, 8)"]),
    "four channels": ((clip(c=4), out(), MICRO_MOTION_EPS), InputShapeError, ["clip", "(4, 4, 12, 8)"]),
    "3-d clip": ((np.zeros((4, 3, 12), np.float32), out(), MICRO_MOTION_EPS), InputShapeError,
                 ["clip", "(4, 3, 12)"]),
    "empty frames": ((clip(h=0), out(h=0), MICRO_MOTION_EPS), InputShapeError, ["clip", "(4, 3, 0, 8)"]),
    "uint8 clip": ((clip(dtype=np.uint8), out(), MICRO_MOTION_EPS), TypeError, ["clip", "float32", "'B'"]),
    "strided clip": ((clip(w=16)[..., ::2], out(), MICRO_MOTION_EPS), InputShapeError, ["clip", "C-contiguous"]),
    "out has t frames": ((clip(), out(t=4), MICRO_MOTION_EPS), InputShapeError,
                         ["out", "(3, 12, 8) for a clip of 4 frames", "(4, 12, 8)"]),
    "out at half size": ((clip(), out(h=6, w=4), MICRO_MOTION_EPS), InputShapeError, ["out", "(3, 6, 4)"]),
    "out is float64": ((clip(), out(dtype=np.float64), MICRO_MOTION_EPS), TypeError, ["out", "float32"]),
    "out is read-only": ((clip(), readonly, MICRO_MOTION_EPS), ValueError, ["out", "writable"]),
    "out is a tuple": ((clip(), (1, 2), MICRO_MOTION_EPS), TypeError, ["out", "buffer protocol", "tuple"]),
    "negative eps": ((clip(), out(), -1.0), ValueError, ["eps"]),
    "nan eps": ((clip(), out(), float("nan")), ValueError, ["eps"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments_raise_named_errors(impl, case):
    args, error, words = ERRORS[case]
    with pytest.raises(error) as info:
        impl.rgb_diff_motion(*args)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


@needs_c
@pytest.mark.parametrize("case", list(ERRORS))
def test_c_and_numpy_say_the_same(case):
    args, _, _ = ERRORS[case]
    messages = []
    for impl in (_native, reference):
        with pytest.raises(Exception) as info:
            impl.rgb_diff_motion(*args)
        messages.append((type(info.value), str(info.value)))
    assert messages[0] == messages[1]
