/* The write half of the feature cache (AMMA §3.4): the K newest clip features must be one contiguous (K, ...)
 * array the head reads without a copy. The cache keeps 2K slots and writes each feature into slot s and s + K,
 * so slots [oldest, oldest + K) always hold the K newest in order. The bookkeeping (which slot, whether K were
 * pushed) is a few integers and stays in Python (native.FeatureCache); this is the copy.
 * Twin: reference.FeatureCache._write.
 */
#include "native.h"

#include <stdio.h>
#include <string.h>

PyObject *amma_feature_cache_write(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *storage_obj, *feature_obj;
    Py_ssize_t slot;
    if (!PyArg_ParseTuple(args, "OnO:feature_cache_write", &storage_obj, &slot, &feature_obj)) return NULL;
    Py_buffer storage, feature;
    if (amma_get_buffer(storage_obj, &storage, "storage", AMMA_FLOAT32, 1) < 0) return NULL;
    if (storage.ndim < 1 || storage.shape[0] < 2 || storage.shape[0] % 2) {
        amma_shape_mismatch("storage", "(2K, ...) with K >= 1", &storage);
        PyBuffer_Release(&storage);
        return NULL;
    }
    const Py_ssize_t K = storage.shape[0] / 2;
    if (slot < 0 || slot >= K) {
        PyErr_Format(PyExc_ValueError, "slot must be in [0, %zd) for a cache of K=%zd, got %zd", K, K, slot);
        PyBuffer_Release(&storage);
        return NULL;
    }
    if (amma_get_buffer(feature_obj, &feature, "feature", AMMA_FLOAT32, 0) < 0) {
        PyBuffer_Release(&storage);
        return NULL;
    }
    int same = feature.ndim == storage.ndim - 1;
    for (int d = 0; same && d < feature.ndim; d++) same = feature.shape[d] == storage.shape[d + 1];
    if (!same) {
        char expected[256];
        amma_format_shape(storage.shape + 1, storage.ndim - 1, expected, sizeof expected);
        amma_shape_mismatch("feature", expected, &feature);
        PyBuffer_Release(&feature);
        PyBuffer_Release(&storage);
        return NULL;
    }
    const size_t n = (size_t)(storage.len / storage.shape[0]);
    char *first = (char *)storage.buf + (size_t)slot * n, *mirror = first + (size_t)K * n;
    Py_BEGIN_ALLOW_THREADS;
    /* The feature may be a view of the storage itself (re-pushing cache.view()[i]): memmove into the first
     * slot, then copy that slot, which no longer depends on where the feature lives. */
    memmove(first, feature.buf, n);
    memcpy(mirror, first, n);
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&feature);
    PyBuffer_Release(&storage);
    Py_RETURN_NONE;
}
