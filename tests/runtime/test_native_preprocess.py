"""Frame preprocessing: the C kernel against its NumPy twin, both against cv2.resize + normalise, and the errors.

Tolerance against cv2: one grey level (1/255 on the 0-1 scale, so 1/(255·std) after normalisation). The kernels
interpolate in float32; cv2.resize INTER_LINEAR rounds its result to uint8 (up to 0.5 level) and uses 11-bit
fixed-point weights with truncating shifts, which together measured up to 0.84 level over 400 random sizes.
C against NumPy: 1e-6, as both do the same float32 operations in the same order (they agree bit for bit here).
"""
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.data.dataset import normalise_frames
from amma_edge.errors import InputShapeError
from amma_edge.models.config import IMAGENET_MEAN, IMAGENET_STD
from amma_edge.runtime import native, reference

IMPLS = [pytest.param(reference, id="numpy")]
if native.NATIVE_AVAILABLE:
    from amma_edge.runtime import _native

    IMPLS.append(pytest.param(_native, id="c"))
needs_c = pytest.mark.skipif(not native.NATIVE_AVAILABLE, reason=f"{native.native_unavailable_reason()}")
MEAN, STD = IMAGENET_MEAN, IMAGENET_STD
LEVEL = 1.0 / (255.0 * np.asarray(STD, dtype=np.float64))[:, None, None]  # one grey level per RGB channel
hsettings = settings(max_examples=200, deadline=None)


def cv2_reference(frame: np.ndarray, out_h: int, out_w: int, mean=MEAN, std=STD) -> np.ndarray:
    """What the training side does: cv2.resize INTER_LINEAR to uint8, then (x/255 − mean)/std in RGB."""
    resized = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    rgb = resized[..., ::-1].transpose(2, 0, 1).astype(np.float64) / 255.0
    return (rgb - np.asarray(mean)[:, None, None]) / np.asarray(std)[:, None, None]


def run(impl, frame, out_shape, mean=MEAN, std=STD) -> np.ndarray:
    out = np.full(out_shape, np.nan, dtype=np.float32)
    impl.preprocess(frame, out, mean, std)
    return out


# (H, W, OH, OW, seed)
frames = st.tuples(*[st.integers(1, 48)] * 4, st.integers(0, 2**32 - 1))


def random_frame(h: int, w: int, seed: int, kind: str = "noise") -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "binary":  # the worst case for interpolation error: 0/255 edges everywhere
        return (rng.random((h, w, 3)) < 0.5).astype(np.uint8) * 255
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


# --- agreement ---------------------------------------------------------------------------------------------------


@needs_c
@hsettings
@given(frames, st.sampled_from(["noise", "binary"]),
       st.tuples(*[st.floats(-2, 2)] * 3), st.tuples(*[st.floats(0.01, 5)] * 3))
def test_c_matches_numpy_twin(sizes, kind, mean, std):
    h, w, oh, ow, seed = sizes
    frame = random_frame(h, w, seed, kind)
    np.testing.assert_allclose(run(_native, frame, (3, oh, ow), mean, std),
                               run(reference, frame, (3, oh, ow), mean, std), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size", [(240, 320), (480, 640), (576, 576), (100, 50), (7, 5), (1, 1), (2, 3), (288, 288)])
@pytest.mark.parametrize("kind", ["noise", "binary"])
def test_within_one_grey_level_of_cv2_resize(impl, size, kind):
    frame = random_frame(*size, seed=sum(size), kind=kind)
    got = run(impl, frame, (3, 288, 288))
    error = np.abs(got - cv2_reference(frame, 288, 288))
    assert np.all(error <= LEVEL), f"max error {(error / LEVEL).max():.3f} grey levels"


@pytest.mark.parametrize("impl", IMPLS)
@hsettings
@given(frames, st.sampled_from(["noise", "binary"]))
def test_within_one_grey_level_of_cv2_resize_any_size(impl, sizes, kind):
    h, w, oh, ow, seed = sizes
    frame = random_frame(h, w, seed, kind)
    error = np.abs(run(impl, frame, (3, oh, ow)) - cv2_reference(frame, oh, ow))
    assert np.all(error <= LEVEL), f"max error {(error / LEVEL).max():.3f} grey levels"


@pytest.mark.parametrize("impl", IMPLS)
def test_same_size_is_the_training_normalisation(impl):
    frame = random_frame(36, 52, seed=3)
    expected = normalise_frames(frame[None], MEAN, STD)[0]
    np.testing.assert_allclose(run(impl, frame, (3, 36, 52)), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("value", [0, 1, 128, 255])
def test_constant_frame_stays_constant(impl, value):
    bgr = np.array([value, (value * 7) % 256, 255 - value], dtype=np.uint8)
    frame = np.broadcast_to(bgr, (13, 17, 3)).copy()
    expected = (bgr[::-1] / 255.0 - np.asarray(MEAN)) / np.asarray(STD)
    got = run(impl, frame, (3, 29, 8))
    np.testing.assert_allclose(got, np.broadcast_to(expected[:, None, None], got.shape), rtol=1e-5, atol=1e-5)


def test_taps_weights_sum_to_one_and_stay_in_range():
    for n_in, n_out in [(1, 1), (1, 9), (9, 1), (320, 288), (288, 320), (7, 288), (640, 288)]:
        i0, i1, w0, w1 = reference.linear_taps(n_in, n_out)
        assert i0.min() >= 0 and i1.max() <= n_in - 1 and np.all(i1 - i0 <= 1)
        assert np.all((w0 >= 0) & (w1 >= 0)) and np.allclose(w0 + w1, 1, atol=1e-7)
    # Half-pixel centres: an exact 2x downscale samples between pixel pairs.
    i0, i1, w0, w1 = reference.linear_taps(8, 4)
    assert i0.tolist() == [0, 2, 4, 6] and np.all(w1 == 0.5)


# --- batch -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_batch_equals_frame_by_frame(impl):
    stack = np.stack([random_frame(30, 40, seed=s) for s in range(4)])
    expected = np.stack([run(impl, f, (3, 24, 32)) for f in stack])
    for frames in (stack, list(stack), tuple(memoryview(f) for f in stack)):
        out = np.full((4, 3, 24, 32), np.nan, dtype=np.float32)
        impl.preprocess_batch(frames, out, MEAN, STD)
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("impl", IMPLS)
def test_batch_frames_may_differ_in_size(impl):
    frames = [random_frame(30, 40, seed=1), random_frame(9, 11, seed=2), random_frame(30, 40, seed=3)]
    out = np.empty((3, 3, 16, 16), dtype=np.float32)
    impl.preprocess_batch(frames, out, MEAN, STD)
    for f, plane in zip(frames, out):
        np.testing.assert_array_equal(plane, run(impl, f, (3, 16, 16)))


@pytest.mark.parametrize("impl", IMPLS)
def test_reads_a_ring_slot_memoryview(impl):
    ring = bytearray(2 * 12 * 10 * 3)
    slot = memoryview(ring)[12 * 10 * 3 :]
    frame = random_frame(12, 10, seed=5)
    slot[:] = frame.tobytes()
    got = run(impl, slot.cast("B", (12, 10, 3)), (3, 8, 8))
    np.testing.assert_array_equal(got, run(impl, frame, (3, 8, 8)))


@needs_c
def test_concurrent_calls_do_not_share_state():
    frames = [random_frame(60 + 7 * i, 80 - 5 * i, seed=i) for i in range(4)]
    expected = [run(_native, f, (3, 33, 47)) for f in frames]
    results: dict[int, list[np.ndarray]] = {i: [] for i in range(4)}

    def work(i: int) -> None:
        for _ in range(30):
            results[i].append(run(_native, frames[i], (3, 33, 47)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        for got in results[i]:
            np.testing.assert_array_equal(got, expected[i])


# --- the Python face ---------------------------------------------------------------------------------------------


def test_native_face_writes_into_out_or_allocates():
    frame = random_frame(20, 30, seed=0)
    out = np.empty((3, 16, 24), dtype=np.float32)
    assert native.preprocess(frame, out, mean=MEAN, std=STD) is out
    np.testing.assert_array_equal(native.preprocess(frame, mean=MEAN, std=STD, size=(16, 24)), out)
    batch = native.preprocess_batch([frame, frame], mean=MEAN, std=STD, size=(16, 24))
    assert batch.shape == (2, 3, 16, 24)
    np.testing.assert_array_equal(batch[1], out)
    with pytest.raises(TypeError, match="out .* or size"):
        native.preprocess(frame, mean=MEAN, std=STD)
    with pytest.raises(TypeError, match="not both"):
        native.preprocess(frame, out, mean=MEAN, std=STD, size=(16, 24))
    with pytest.raises(ValueError, match="size must be"):
        native.preprocess(frame, mean=MEAN, std=STD, size=(16, 0))


FALLBACK = """
import sys, types
import numpy as np
{block}
from amma_edge.runtime import native, reference
assert not native.NATIVE_AVAILABLE
print(native.native_unavailable_reason())
assert native.FeatureCache._write is reference.feature_cache_write
frame = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
out = native.preprocess(frame, mean=(0.5,) * 3, std=(0.25,) * 3, size=(8, 8))
expected = np.empty_like(out)
reference.preprocess(frame, expected, (0.5,) * 3, (0.25,) * 3)
assert np.array_equal(out, expected)
"""


@pytest.mark.parametrize("block, reason", [
    ("sys.modules['amma_edge.runtime._native'] = None", "cannot be imported"),
    ("sys.modules['amma_edge.runtime._native'] = types.SimpleNamespace(API_VERSION=0)", "stale"),
])
def test_falls_back_to_numpy_without_a_usable_extension(block, reason):
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", FALLBACK.format(block=block)], cwd=root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert reason in done.stdout and "build_ext --inplace" in done.stdout


def test_a_built_extension_is_used():
    """A .so beside the sources that does not load (stale, broken) must not silently leave the NumPy path on."""
    built = list((Path(native.__file__).parent).glob("_native*.so")) + list(
        (Path(native.__file__).parent).glob("_native*.pyd"))
    if not built:
        pytest.skip("the C extension is not built here")
    assert native.NATIVE_AVAILABLE, native.native_unavailable_reason()
    assert native.native_unavailable_reason() is None


# --- errors ------------------------------------------------------------------------------------------------------


def good_frame():
    return random_frame(24, 32, seed=0)


def good_out():
    return np.empty((3, 16, 16), dtype=np.float32)


def overlapping():
    out = np.zeros((3, 8, 8), dtype=np.float32)
    return out.view(np.uint8).reshape(16, 16, 3), out


readonly_out = good_out()
readonly_out.flags.writeable = False

ERRORS = {
    # case: ((frame, out, mean, std), exception, words the message must contain)
    "frame has 4 channels": ((np.zeros((24, 32, 4), np.uint8), good_out(), MEAN, STD), InputShapeError,
                             ["frame", "(H, W, 3)", "(24, 32, 4)"]),
    "frame is 2-d": ((np.zeros((24, 32), np.uint8), good_out(), MEAN, STD), InputShapeError, ["frame", "(24, 32)"]),
    "frame is empty": ((np.zeros((0, 32, 3), np.uint8), good_out(), MEAN, STD), InputShapeError,
                       ["frame", "(0, 32, 3)"]),
    "frame is float": ((good_frame().astype(np.float32), good_out(), MEAN, STD), TypeError,
                       ["frame", "uint8", "'f'"]),
    "frame is a list": (([[1, 2, 3]], good_out(), MEAN, STD), TypeError, ["frame", "buffer protocol", "list"]),
    "frame is strided": ((good_frame()[:, ::2], good_out(), MEAN, STD), InputShapeError, ["frame", "C-contiguous"]),
    "out is 2-d": ((good_frame(), np.empty((16, 16), np.float32), MEAN, STD), InputShapeError,
                   ["out", "(3, OH, OW)", "(16, 16)"]),
    "out has 4 planes": ((good_frame(), np.empty((4, 16, 16), np.float32), MEAN, STD), InputShapeError,
                         ["out", "(4, 16, 16)"]),
    "out is float64": ((good_frame(), np.empty((3, 16, 16)), MEAN, STD), TypeError, ["out", "float32", "'d'"]),
    "out is big-endian": ((good_frame(), np.empty((3, 16, 16), ">f4"), MEAN, STD), TypeError, ["out", "'>f'"]),
    "out is read-only": ((good_frame(), readonly_out, MEAN, STD), ValueError, ["out", "writable"]),
    "out is strided": ((good_frame(), np.empty((3, 16, 32), np.float32)[..., ::2], MEAN, STD), InputShapeError,
                       ["out", "C-contiguous"]),
    "out overlaps frame": ((*overlapping(), MEAN, STD), ValueError, ["overlap"]),
    "mean has 2 values": ((good_frame(), good_out(), (0.5, 0.5), STD), TypeError, ["mean", "3 numbers"]),
    "mean is a string": ((good_frame(), good_out(), "abc", STD), TypeError, ["mean", "3 numbers"]),
    "std has a zero": ((good_frame(), good_out(), MEAN, (0.2, 0.0, 0.2)), ValueError, ["std", "positive"]),
    "std is nan": ((good_frame(), good_out(), MEAN, (0.2, float("nan"), 0.2)), ValueError, ["std"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments_raise_named_errors(impl, case):
    args, error, words = ERRORS[case]
    with pytest.raises(error) as info:
        impl.preprocess(*args)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


BATCH_ERRORS = {
    "empty sequence": (([], np.empty((1, 3, 8, 8), np.float32)), InputShapeError, ["frames", "at least one"]),
    "not frames": ((5, np.empty((1, 3, 8, 8), np.float32)), TypeError, ["frames", "int"]),
    "stack is 3-d": ((np.zeros((24, 32, 3), np.uint8), np.empty((1, 3, 8, 8), np.float32)), InputShapeError,
                     ["frames", "(t, H, W, 3)", "(24, 32, 3)"]),
    "second frame bad": (([good_frame(), np.zeros((5, 5, 1), np.uint8)], np.empty((2, 3, 8, 8), np.float32)),
                         InputShapeError, ["frames[1]", "(5, 5, 1)"]),
    "second frame float": (([good_frame(), np.zeros((5, 5, 3), np.float32)], np.empty((2, 3, 8, 8), np.float32)),
                           TypeError, ["frames[1]", "uint8"]),
    "out has the wrong t": (([good_frame()] * 3, np.empty((2, 3, 8, 8), np.float32)), InputShapeError,
                            ["out", "(3, 3, OH, OW)", "(2, 3, 8, 8)"]),
}


@pytest.mark.parametrize("case", list(BATCH_ERRORS))
@pytest.mark.parametrize("impl", IMPLS)
def test_bad_batch_arguments_raise_named_errors(impl, case):
    (frames, out), error, words = BATCH_ERRORS[case]
    with pytest.raises(error) as info:
        impl.preprocess_batch(frames, out, MEAN, STD)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


@needs_c
@pytest.mark.parametrize("case", list(ERRORS))
def test_c_and_numpy_say_the_same(case):
    args, _, _ = ERRORS[case]
    messages = []
    for impl in (_native, reference):
        with pytest.raises(Exception) as info:
            impl.preprocess(*args)
        messages.append((type(info.value), str(info.value)))
    assert messages[0] == messages[1]
