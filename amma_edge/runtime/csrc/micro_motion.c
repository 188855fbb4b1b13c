/* RGB-difference micro-motion (the model's MicroMotion("rgb_diff"), AMMA §3.2) for one normalised clip.
 *
 * The variant has no learned layer, so the runtime computes it here before the encoder runs instead of
 * shipping it inside the engine: 3x3 / stride 2 / pad 1 max-pool of every frame, per-pixel L2 norm over the
 * channels of f_t - f_i (eps under the root) for i = 1..t-1, bilinear upsampling (align_corners=False) back to
 * the frame size. All intermediates go to scratch memory, so out may even alias the clip.
 * Twin: reference.rgb_diff_motion; both are tested against the PyTorch module.
 */
#include "native.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* torch's max-pool rule: a NaN anywhere in the window wins. Bitwise `|` keeps it branch-free, so the loops
 * below vectorise. */
static inline float max_nan(float m, float v) { return ((v > m) | (v != v)) ? v : m; }

/* 3x3 / stride 2 / pad 1 max-pool of one (H, W) plane into (h, w); `colmax` holds W floats. Padding never
 * wins (it is -inf in torch), so each window is clipped to the plane instead. */
static void maxpool_plane(const float *src, Py_ssize_t H, Py_ssize_t W, float *dst, Py_ssize_t h, Py_ssize_t w,
                          float *colmax) {
    for (Py_ssize_t oy = 0; oy < h; oy++) {
        const Py_ssize_t r0 = oy > 0 ? 2 * oy - 1 : 0, r1 = 2 * oy + 1 < H ? 2 * oy + 1 : H - 1;
        memcpy(colmax, src + r0 * W, (size_t)W * sizeof(float));
        for (Py_ssize_t r = r0 + 1; r <= r1; r++) {
            const float *row = src + r * W;
            for (Py_ssize_t x = 0; x < W; x++) colmax[x] = max_nan(colmax[x], row[x]);
        }
        float *o = dst + oy * w;
        /* Column 0's window is [0, 1]; interior windows [2ox - 1, 2ox + 1]; the last may be cut at W - 1. */
        o[0] = W > 1 ? max_nan(colmax[0], colmax[1]) : colmax[0];
        const Py_ssize_t full = W / 2; /* ox < full: the whole window 2ox + 1 <= W - 1 is inside */
        for (Py_ssize_t ox = 1; ox < full; ox++)
            o[ox] = max_nan(max_nan(colmax[2 * ox - 1], colmax[2 * ox]), colmax[2 * ox + 1]);
        for (Py_ssize_t ox = full > 1 ? full : 1; ox < w; ox++) {
            float m = colmax[2 * ox - 1];
            for (Py_ssize_t c = 2 * ox; c < W; c++) m = max_nan(m, colmax[c]);
            o[ox] = m;
        }
    }
}

/* Bilinear (h, w) -> (H, W), horizontal pass first as torch does. Each of the h source rows is resampled
 * once into `hrows` (h, W), then every output row blends two of them. */
static void upsample_plane(const float *src, Py_ssize_t h, Py_ssize_t w, float *dst, Py_ssize_t H, Py_ssize_t W,
                           const Py_ssize_t *y0, const Py_ssize_t *y1, const float *wy0, const float *wy1,
                           const Py_ssize_t *x0, const Py_ssize_t *x1, const float *wx0, const float *wx1,
                           float *hrows) {
    for (Py_ssize_t y = 0; y < h; y++) {
        const float *r = src + y * w;
        float *o = hrows + y * W;
        for (Py_ssize_t x = 0; x < W; x++) o[x] = r[x0[x]] * wx0[x] + r[x1[x]] * wx1[x];
    }
    for (Py_ssize_t oy = 0; oy < H; oy++) {
        const float *a = hrows + y0[oy] * W, *b = hrows + y1[oy] * W;
        const float wa = wy0[oy], wb = wy1[oy];
        float *o = dst + oy * W;
        for (Py_ssize_t x = 0; x < W; x++) o[x] = a[x] * wa + b[x] * wb;
    }
}

PyObject *amma_rgb_diff_motion(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *clip_obj, *out_obj;
    double eps_d;
    if (!PyArg_ParseTuple(args, "OOd:rgb_diff_motion", &clip_obj, &out_obj, &eps_d)) return NULL;
    if (!(eps_d >= 0.0) || !isfinite(eps_d)) {
        PyErr_Format(PyExc_ValueError, "eps must be a finite number >= 0, got %R", PyTuple_GET_ITEM(args, 2));
        return NULL;
    }
    Py_buffer clip, out;
    if (amma_get_buffer(clip_obj, &clip, "clip", AMMA_FLOAT32, 0) < 0) return NULL;
    if (clip.ndim != 4 || clip.shape[0] < 2 || clip.shape[1] != 3 || clip.shape[2] < 1 || clip.shape[3] < 1) {
        amma_shape_mismatch("clip", "(t, 3, H, W) with t >= 2, H, W >= 1", &clip);
        PyBuffer_Release(&clip);
        return NULL;
    }
    const Py_ssize_t t = clip.shape[0], H = clip.shape[2], W = clip.shape[3];
    const Py_ssize_t h = (H + 1) / 2, w = (W + 1) / 2; /* floor((H + 2 - 3) / 2) + 1 */
    if (amma_get_buffer(out_obj, &out, "out", AMMA_FLOAT32, 1) < 0) {
        PyBuffer_Release(&clip);
        return NULL;
    }
    if (out.ndim != 3 || out.shape[0] != t - 1 || out.shape[1] != H || out.shape[2] != W) {
        char expected[160];
        snprintf(expected, sizeof expected, "(%zd, %zd, %zd) for a clip of %zd frames", t - 1, H, W, t);
        amma_shape_mismatch("out", expected, &out);
        goto fail;
    }
    /* pooled (t, 3, h, w) | motion (t-1, h, w) | hrows (h, W) | colmax W | wx0 wx1 W each | wy0 wy1 H each,
     * then x0 x1 (W each) and y0 y1 (H each) as Py_ssize_t. */
    const size_t nfloat = (size_t)t * 3 * h * w + (size_t)(t - 1) * h * w + (size_t)h * W + 3 * (size_t)W +
                          2 * (size_t)H;
    const size_t nidx = 2 * (size_t)W + 2 * (size_t)H;
    Py_ssize_t *idx = PyMem_RawMalloc(nidx * sizeof(Py_ssize_t));
    float *scratch = PyMem_RawMalloc(nfloat * sizeof(float));
    if (!idx || !scratch) {
        PyMem_RawFree(idx);
        PyMem_RawFree(scratch);
        PyErr_NoMemory();
        goto fail;
    }
    const float eps = (float)eps_d;
    Py_BEGIN_ALLOW_THREADS;
    float *pooled = scratch, *motion = pooled + (size_t)t * 3 * h * w, *hrows = motion + (size_t)(t - 1) * h * w;
    float *colmax = hrows + (size_t)h * W, *wx0 = colmax + W, *wx1 = wx0 + W, *wy0 = wx1 + W, *wy1 = wy0 + H;
    Py_ssize_t *x0 = idx, *x1 = x0 + W, *y0 = x1 + W, *y1 = y0 + H;
    const float *src = (const float *)clip.buf;
    const Py_ssize_t plane = H * W, small = h * w;

    for (Py_ssize_t p = 0; p < t * 3; p++) maxpool_plane(src + p * plane, H, W, pooled + p * small, h, w, colmax);

    const float *last = pooled + (t - 1) * 3 * small;
    for (Py_ssize_t i = 0; i < t - 1; i++) {
        const float *f = pooled + i * 3 * small;
        float *m = motion + i * small;
        for (Py_ssize_t k = 0; k < small; k++) {
            const float d0 = last[k] - f[k], d1 = last[small + k] - f[small + k];
            const float d2 = last[2 * small + k] - f[2 * small + k];
            float acc = d0 * d0;
            acc += d1 * d1;
            acc += d2 * d2;
            m[k] = sqrtf(acc + eps);
        }
    }

    amma_linear_taps(h, H, y0, y1, wy0, wy1);
    amma_linear_taps(w, W, x0, x1, wx0, wx1);
    float *dst = (float *)out.buf;
    for (Py_ssize_t i = 0; i < t - 1; i++)
        upsample_plane(motion + i * small, h, w, dst + i * plane, H, W, y0, y1, wy0, wy1, x0, x1, wx0, wx1, hrows);
    Py_END_ALLOW_THREADS;
    PyMem_RawFree(idx);
    PyMem_RawFree(scratch);
    PyBuffer_Release(&out);
    PyBuffer_Release(&clip);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
    PyBuffer_Release(&clip);
    return NULL;
}
