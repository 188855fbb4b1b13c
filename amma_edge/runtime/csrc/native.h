/* Shared by every kernel of amma_edge.runtime._native: buffer checks, error helpers, linear-interpolation taps.
 *
 * The kernels take plain buffer-protocol objects (numpy arrays, memoryviews of ring slots) so the extension
 * needs no numpy headers and works on whatever the capture thread hands over. Every argument is checked
 * here before a kernel touches memory: a wrong shape, dtype or layout becomes a Python exception that names
 * the argument, never a crash. The NumPy twins in reference.py apply the same checks with the same words.
 */
#ifndef AMMA_NATIVE_H
#define AMMA_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Bumped whenever a kernel's signature or semantics change, so native.py can refuse a stale build. */
#define AMMA_NATIVE_API_VERSION 2

/* amma_edge.errors.InputShapeError (a ValueError), looked up once at module init. */
extern PyObject *amma_shape_error;

/* Element kinds a kernel accepts. */
typedef enum { AMMA_UINT8, AMMA_FLOAT32, AMMA_FLOAT64, AMMA_INT64 } amma_kind;

/* Get a C-contiguous buffer of `kind` from `obj`, writable if asked. On failure sets TypeError (not a buffer,
 * wrong dtype), InputShapeError (not C-contiguous) or ValueError (read-only) naming `name`, and returns -1 with
 * nothing to release. On success returns 0 and the caller must PyBuffer_Release. Shapes are the kernel's job. */
int amma_get_buffer(PyObject *obj, Py_buffer *view, const char *name, amma_kind kind, int writable);

/* Writes "(a, b, c)" for view->shape into out (size bytes). */
void amma_format_shape(const Py_ssize_t *shape, int ndim, char *out, size_t size);

/* Raises InputShapeError "<name> must have shape <expected>, got <actual>" and returns -1. */
int amma_shape_mismatch(const char *name, const char *expected, const Py_buffer *actual);

/* Whether the byte ranges of two buffers overlap (an in-place call the kernel cannot do). */
int amma_buffers_overlap(const Py_buffer *a, const Py_buffer *b);

/* Parses a 3-sequence of floats (mean or std) into out; std must be finite and positive. */
int amma_parse_triple(PyObject *obj, const char *name, int positive, double out[3]);

/* Bilinear taps with half-pixel centres (cv2.resize INTER_LINEAR, torch align_corners=False):
 * destination index d samples src = (d + 0.5) * n_in / n_out − 0.5, clamped at 0, between i0 and i1 with
 * weights w0 and w1. At the far edge (i0 = n_in − 1) w1 is 0, so the edge pixel is copied exactly.
 * reference.linear_taps computes the same numbers. */
static inline void amma_linear_taps(Py_ssize_t n_in, Py_ssize_t n_out, Py_ssize_t *i0, Py_ssize_t *i1, float *w0,
                                    float *w1) {
    const double scale = (double)n_in / (double)n_out;
    for (Py_ssize_t d = 0; d < n_out; d++) {
        double src = ((double)d + 0.5) * scale - 0.5;
        if (src < 0.0) src = 0.0;
        Py_ssize_t lo = (Py_ssize_t)src; /* src >= 0, so truncation is floor */
        if (lo > n_in - 1) lo = n_in - 1;
        float frac = (float)(src - (double)lo);
        if (lo >= n_in - 1) frac = 0.0f;
        i0[d] = lo;
        i1[d] = lo + 1 < n_in ? lo + 1 : n_in - 1;
        w1[d] = frac;
        w0[d] = 1.0f - frac;
    }
}

/* Kernels (one file each), registered in native.c. */
PyObject *amma_preprocess(PyObject *self, PyObject *args);
PyObject *amma_preprocess_batch(PyObject *self, PyObject *args);
PyObject *amma_rgb_diff_motion(PyObject *self, PyObject *args);
PyObject *amma_feature_cache_write(PyObject *self, PyObject *args);
PyObject *amma_decode(PyObject *self, PyObject *args);
PyObject *amma_box_iou(PyObject *self, PyObject *args);
PyObject *amma_aligned_tubelet_iou(PyObject *self, PyObject *args);
PyObject *amma_nms_sorted(PyObject *self, PyObject *args);

#endif
