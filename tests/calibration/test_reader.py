"""The data-reader protocol and the clip cache behind it."""
import numpy as np
import pytest

from amma_edge.calibration.reader import ArrayReader, CalibrationDataReader, ClipCache, iterate
from amma_edge.errors import AmmaEdgeError


def test_the_reader_yields_every_sample_then_none_and_starts_over_on_rewind():
    samples = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    reader = ArrayReader(samples, "clip")
    assert isinstance(reader, CalibrationDataReader)
    feeds = []
    while (feed := reader.get_next()) is not None:
        feeds.append(feed)
    assert reader.get_next() is None
    assert [f["clip"].shape for f in feeds] == [(1, 2, 3)] * 5
    np.testing.assert_array_equal(np.concatenate([f["clip"] for f in feeds]), samples)
    reader.rewind()
    np.testing.assert_array_equal(reader.get_next()["clip"][0], samples[0])


def test_batches_wrap_around_so_every_feed_has_the_graphs_batch():
    samples = np.arange(5, dtype=np.float32).reshape(5, 1)
    feeds = list(iterate(ArrayReader(samples, "x", batch=2)))
    assert [f["x"][:, 0].tolist() for f in feeds] == [[0, 1], [2, 3], [4, 0]]
    assert len(ArrayReader(samples, "x", batch=2)) == 3
    assert ArrayReader(samples, "x", limit=2).sample_count == 2


def test_the_cache_stores_samples_and_says_what_they_were_made_from(tmp_path):
    cache = ClipCache(tmp_path / "clips", "encoder")
    assert not cache.exists() and not cache.matches({"a": 1})
    data = np.random.default_rng(0).normal(size=(3, 2, 4)).astype(np.float32)
    cache.write(list(data), {"model": "abc", "picks": [["v", [1, 2]]]}, "clip")
    assert cache.matches({"model": "abc", "picks": [["v", [1, 2]]]})
    assert not cache.matches({"model": "other", "picks": [["v", [1, 2]]]})
    loaded = cache.load()
    assert isinstance(loaded, np.memmap) and not loaded.flags.writeable
    np.testing.assert_array_equal(loaded, data)
    assert cache.info()["count"] == 3 and cache.info()["input"] == "clip"
    np.testing.assert_array_equal(next(iter(cache.reader()))["clip"][0], data[0])
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["encoder.json", "encoder.npy"]


def test_an_empty_reader_is_refused():
    with pytest.raises(AmmaEdgeError, match="no calibration samples"):
        ArrayReader(np.zeros((0, 3), np.float32), "x")
