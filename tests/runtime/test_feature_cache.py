"""The feature cache: after any sequence of pushes, fills and resets, view() is the K newest features in order,
as a slice of the cache's own storage (no copy); the C copy and the NumPy one behave the same."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import InputShapeError
from amma_edge.runtime import native, reference

CLASSES = [pytest.param(reference.FeatureCache, id="numpy")]
WRITES = [pytest.param(reference.feature_cache_write, id="numpy")]
if native.NATIVE_AVAILABLE:
    from amma_edge.runtime import _native

    CLASSES.append(pytest.param(native.FeatureCache, id="c"))
    WRITES.append(pytest.param(_native.feature_cache_write, id="c"))
needs_c = pytest.mark.skipif(not native.NATIVE_AVAILABLE, reason=f"{native.native_unavailable_reason()}")

operations = st.lists(
    st.one_of(st.tuples(st.just("push"), st.integers(0, 2**31)), st.tuples(st.just("fill"), st.integers(0, 2**31)),
              st.tuples(st.just("reset"), st.just(0))),
    max_size=25,
)


def feature(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5), st.sampled_from([(2, 3, 4), (1, 1, 1), (5,), (3, 2, 1, 2)]), operations)
def test_view_is_the_k_newest_in_order_and_never_a_copy(cls, K, shape, ops):
    cache = cls(K, shape)
    held: list[np.ndarray] = []  # the model: what the cache should hold, oldest first
    for op, seed in ops:
        if op == "push":
            held = (held + [feature(shape, seed)])[-K:]
            cache.push(held[-1])
        elif op == "fill":
            held = [feature(shape, seed)] * K
            cache.fill_with(held[0])
        else:
            held = []
            cache.reset()
        assert cache.count == len(held) and cache.ready == (len(held) == K)
        if cache.ready:
            view = cache.view()
            assert view.shape == (K, *shape) and view.dtype == np.float32 and view.flags.c_contiguous
            np.testing.assert_array_equal(view, np.stack(held))
            assert np.shares_memory(view, cache.storage)
            assert not view.flags.writeable
        else:
            with pytest.raises(RuntimeError, match=f"holds {len(held)} of K={K}"):
                cache.view()


@pytest.mark.parametrize("cls", CLASSES)
def test_cold_start_pads_with_the_first_feature(cls):
    a, b, c = (feature((4, 3, 3), s) for s in range(3))
    cache = cls(3, (4, 3, 3))
    assert not cache.ready
    cache.fill_with(a)
    np.testing.assert_array_equal(cache.view(), np.stack([a, a, a]))
    cache.push(b)
    np.testing.assert_array_equal(cache.view(), np.stack([a, a, b]))
    cache.push(c)
    np.testing.assert_array_equal(cache.view(), np.stack([a, b, c]))


@pytest.mark.parametrize("cls", CLASSES)
def test_pushing_a_feature_read_from_the_cache(cls):
    """The head may hand back a feature that lives in the storage itself: the copy must not corrupt it."""
    cache = cls(3, (2, 2))
    features = [feature((2, 2), s) for s in range(3)]
    for f in features:
        cache.push(f)
    for index in (0, 2, 1, 0):
        held = [np.array(f) for f in cache.view()]
        cache.push(cache.view()[index])
        np.testing.assert_array_equal(cache.view(), np.stack(held[1:] + [held[index]]))
    cache.fill_with(cache.view()[1])
    np.testing.assert_array_equal(cache.view(), np.stack([cache.view()[0]] * 3))


@pytest.mark.parametrize("cls", CLASSES)
def test_the_storage_cannot_be_written_through_the_cache(cls):
    cache = cls(2, (3,))
    cache.fill_with(np.ones(3, np.float32))
    with pytest.raises(ValueError):
        cache.view()[0, 0] = 5
    with pytest.raises(ValueError):
        cache.storage[0, 0] = 5


@needs_c
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2**31), st.integers(0, 30))
def test_c_and_numpy_caches_hold_the_same(K, seed, pushes):
    shape = (3, 2, 5)
    caches = [reference.FeatureCache(K, shape), native.FeatureCache(K, shape)]
    for i in range(pushes):
        f = feature(shape, seed + i)
        for cache in caches:
            cache.push(f)
    np.testing.assert_array_equal(caches[0].storage, caches[1].storage)
    if caches[0].ready:
        np.testing.assert_array_equal(caches[0].view(), caches[1].view())


@needs_c
def test_native_cache_copies_with_the_c_kernel():
    assert native.FeatureCache._write is _native.feature_cache_write


# --- errors ------------------------------------------------------------------------------------------------------

SHAPE = (64, 36, 36)
strided = np.zeros((64, 36, 72), np.float32)[..., ::2]
PUSH_ERRORS = {
    "wrong shape": (np.zeros((64, 36, 35), np.float32), InputShapeError, ["feature", "(64, 36, 36)", "(64, 36, 35)"]),
    "missing axis": (np.zeros((64, 36), np.float32), InputShapeError, ["feature", "(64, 36, 36)", "(64, 36)"]),
    "batched": (np.zeros((1, 64, 36, 36), np.float32), InputShapeError, ["feature", "(1, 64, 36, 36)"]),
    "float64": (np.zeros(SHAPE), TypeError, ["feature", "float32", "'d'"]),
    "strided": (strided, InputShapeError, ["feature", "C-contiguous"]),
    "not an array": ([0.0] * 3, TypeError, ["feature", "buffer protocol", "list"]),
}


@pytest.mark.parametrize("case", list(PUSH_ERRORS))
@pytest.mark.parametrize("cls", CLASSES)
def test_bad_features_are_refused_and_leave_the_cache_as_it_was(cls, case):
    bad, error, words = PUSH_ERRORS[case]
    cache = cls(3, SHAPE)
    good = [feature(SHAPE, s) for s in range(3)]
    for f in good:
        cache.push(f)
    for call in (cache.push, cache.fill_with):
        with pytest.raises(error) as info:
            call(bad)
        for word in words:
            assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
        np.testing.assert_array_equal(cache.view(), np.stack(good))


@needs_c
@pytest.mark.parametrize("case", list(PUSH_ERRORS))
def test_c_and_numpy_say_the_same(case):
    bad, _, _ = PUSH_ERRORS[case]
    messages = []
    for cls in (reference.FeatureCache, native.FeatureCache):
        with pytest.raises(Exception) as info:
            cls(3, SHAPE).push(bad)
        messages.append((type(info.value), str(info.value)))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("K, shape, error", [(0, (2,), ValueError), (-1, (2,), ValueError), (2.5, (2,), ValueError),
                                             (True, (2,), ValueError), (2, (2, 0), InputShapeError),
                                             (2, (2, -1), InputShapeError)])
def test_bad_construction(cls, K, shape, error):
    with pytest.raises(error, match="K must be|shape must be"):
        cls(K, shape)


@pytest.mark.parametrize("write", WRITES)
def test_write_kernel_checks_its_storage_and_slot(write):
    storage = np.zeros((6, 2), np.float32)
    f = np.ones(2, np.float32)
    write(storage, 2, f)
    np.testing.assert_array_equal(storage[[2, 5]], [f, f])
    assert storage.sum() == 4
    for slot in (-1, 3):
        with pytest.raises(ValueError, match=rf"slot must be in \[0, 3\) for a cache of K=3, got {slot}"):
            write(storage, slot, f)
    with pytest.raises(InputShapeError, match=r"storage must have shape \(2K, ...\).*got \(5, 2\)"):
        write(np.zeros((5, 2), np.float32), 0, f)
    readonly = np.zeros((4, 2), np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="storage must be writable"):
        write(readonly, 0, f)
