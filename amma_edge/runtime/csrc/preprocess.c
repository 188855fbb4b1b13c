/* Frame preprocessing: uint8 BGR (H, W, 3) -> bilinear resize -> normalised float32 RGB planes (3, OH, OW).
 *
 * The device loop resizes every captured frame to the engine's input: doing it here writes the normalised
 * planes straight into the caller's (engine input) buffer, with no per-frame allocation, no intermediate uint8
 * image and no Python-level passes for the colour swap and normalisation. The sampling is cv2's INTER_LINEAR
 * (half-pixel centres, edge replicated) computed in float32, so the result differs from cv2.resize + normalise
 * only by cv2's own uint8 rounding and 11-bit fixed-point weights (under one grey level).
 * Twin: reference.preprocess / reference.preprocess_batch.
 */
#include "native.h"

#include <stdint.h>
#include <string.h>

/* Everything that depends only on the sizes; built once per call and rebuilt only when a frame's size changes. */
typedef struct {
    Py_ssize_t in_h, in_w, out_h, out_w;
    Py_ssize_t *xo0, *xo1; /* byte offsets of the left and right tap in a source row (x * 3) */
    float *wx0, *wx1;
    Py_ssize_t *y0, *y1;
    float *wy0, *wy1;
    float *rows;          /* two horizontally resampled source rows, each 3 planes of out_w floats (B, G, R) */
    Py_ssize_t cached[2]; /* source row held by each half of `rows`, -1 for none */
    float *blend;         /* one vertically blended source row, max_in_w * 3 floats (when shrinking rows) */
    float scale[3], offset[3];
} plan;

static void plan_free(plan *p) {
    PyMem_RawFree(p->xo0);
    PyMem_RawFree(p->y0);
    PyMem_RawFree(p->rows);
    PyMem_RawFree(p->blend);
    memset(p, 0, sizeof *p);
}

/* Allocates the tables for an output size and frames up to max_in_w wide; called with the GIL held, so it can
 * raise MemoryError. */
static int plan_alloc(plan *p, Py_ssize_t out_h, Py_ssize_t out_w, Py_ssize_t max_in_w, const double mean[3],
                      const double std[3]) {
    memset(p, 0, sizeof *p);
    p->out_h = out_h;
    p->out_w = out_w;
    /* xo0 | xo1 | wx0 | wx1 in one block, and y0 | y1 | wy0 | wy1 in another */
    size_t xbytes = (size_t)out_w * 2 * (sizeof(Py_ssize_t) + sizeof(float));
    size_t ybytes = (size_t)out_h * 2 * (sizeof(Py_ssize_t) + sizeof(float));
    p->xo0 = PyMem_RawMalloc(xbytes);
    p->y0 = PyMem_RawMalloc(ybytes);
    p->rows = PyMem_RawMalloc((size_t)out_w * 6 * sizeof(float));
    p->blend = PyMem_RawMalloc((size_t)max_in_w * 3 * sizeof(float));
    if (!p->xo0 || !p->y0 || !p->rows || !p->blend) {
        plan_free(p);
        PyErr_NoMemory();
        return -1;
    }
    p->xo1 = p->xo0 + out_w;
    p->wx0 = (float *)(p->xo1 + out_w);
    p->wx1 = p->wx0 + out_w;
    p->y1 = p->y0 + out_h;
    p->wy0 = (float *)(p->y1 + out_h);
    p->wy1 = p->wy0 + out_h;
    for (int c = 0; c < 3; c++) {
        p->scale[c] = (float)(1.0 / (255.0 * std[c]));
        p->offset[c] = (float)(-mean[c] / std[c]);
    }
    return 0;
}

/* Points the plan at a source size (no allocation: safe without the GIL). */
static void plan_set_input(plan *p, Py_ssize_t in_h, Py_ssize_t in_w) {
    if (p->in_h != in_h) {
        amma_linear_taps(in_h, p->out_h, p->y0, p->y1, p->wy0, p->wy1);
        p->in_h = in_h;
    }
    if (p->in_w != in_w) {
        amma_linear_taps(in_w, p->out_w, p->xo0, p->xo1, p->wx0, p->wx1);
        for (Py_ssize_t x = 0; x < p->out_w; x++) {
            p->xo0[x] *= 3;
            p->xo1[x] *= 3;
        }
        p->in_w = in_w;
    }
    p->cached[0] = p->cached[1] = -1;
}

/* Horizontal pass of one source row into half `slot` of p->rows. */
static void hresize_row(plan *p, const uint8_t *src, int slot, Py_ssize_t y) {
    const Py_ssize_t ow = p->out_w;
    const uint8_t *row = src + y * p->in_w * 3;
    float *b = p->rows + (size_t)slot * 3 * ow, *g = b + ow, *r = g + ow;
    for (Py_ssize_t x = 0; x < ow; x++) {
        const uint8_t *l = row + p->xo0[x], *h = row + p->xo1[x];
        const float w0 = p->wx0[x], w1 = p->wx1[x];
        b[x] = (float)l[0] * w0 + (float)h[0] * w1;
        g[x] = (float)l[1] * w0 + (float)h[1] * w1;
        r[x] = (float)l[2] * w0 + (float)h[2] * w1;
    }
    p->cached[slot] = y;
}

/* One frame into out (3, out_h, out_w), horizontal pass first (cv2's order). Consecutive output rows often share
 * source rows (always when upscaling), so the two most recent horizontally resampled rows are kept. */
static void resize_horizontal_first(plan *p, const uint8_t *src, float *out) {
    const Py_ssize_t ow = p->out_w, plane = p->out_h * ow;
    for (Py_ssize_t oy = 0; oy < p->out_h; oy++) {
        const Py_ssize_t ya = p->y0[oy], yb = p->y1[oy];
        int sa = p->cached[0] == ya ? 0 : p->cached[1] == ya ? 1 : -1;
        int sb = p->cached[0] == yb ? 0 : p->cached[1] == yb ? 1 : -1;
        if (sa < 0) {
            sa = sb >= 0 ? 1 - sb : 0;
            hresize_row(p, src, sa, ya);
        }
        if (sb < 0) {
            if (yb == ya) {
                sb = sa;
            } else {
                sb = 1 - sa;
                hresize_row(p, src, sb, yb);
            }
        }
        const float wa = p->wy0[oy], wb = p->wy1[oy];
        for (int c = 0; c < 3; c++) { /* RGB plane c is BGR plane 2 - c */
            const float *a = p->rows + ((size_t)sa * 3 + (size_t)(2 - c)) * ow;
            const float *b = p->rows + ((size_t)sb * 3 + (size_t)(2 - c)) * ow;
            float *o = out + c * plane + oy * ow;
            const float s = p->scale[c], off = p->offset[c];
            for (Py_ssize_t x = 0; x < ow; x++) o[x] = (a[x] * wa + b[x] * wb) * s + off;
        }
    }
}

/* The same with the vertical pass first, for frames with more rows than the output: every output row then
 * blends its two source rows once (a vectorised pass) and resamples one row, where the horizontal-first order
 * resamples two rows that the next output row does not reuse. */
static void resize_vertical_first(plan *p, const uint8_t *src, float *out) {
    const Py_ssize_t ow = p->out_w, plane = p->out_h * ow, n = p->in_w * 3;
    float *v = p->blend, *r = out, *g = out + plane, *b = out + 2 * plane;
    const float sr = p->scale[0], sg = p->scale[1], sb = p->scale[2];
    const float or_ = p->offset[0], og = p->offset[1], ob = p->offset[2];
    for (Py_ssize_t oy = 0; oy < p->out_h; oy++) {
        const uint8_t *ra = src + p->y0[oy] * n, *rb = src + p->y1[oy] * n;
        const float wa = p->wy0[oy], wb = p->wy1[oy];
        for (Py_ssize_t i = 0; i < n; i++) v[i] = (float)ra[i] * wa + (float)rb[i] * wb;
        float *ro = r + oy * ow, *go = g + oy * ow, *bo = b + oy * ow;
        for (Py_ssize_t x = 0; x < ow; x++) {
            const float *l = v + p->xo0[x], *h = v + p->xo1[x];
            const float w0 = p->wx0[x], w1 = p->wx1[x];
            bo[x] = (l[0] * w0 + h[0] * w1) * sb + ob;
            go[x] = (l[1] * w0 + h[1] * w1) * sg + og;
            ro[x] = (l[2] * w0 + h[2] * w1) * sr + or_;
        }
    }
}

/* Which order is cheaper depends only on the row counts; reference._resize_into makes the same choice. */
static void resize_frame(plan *p, const uint8_t *src, float *out) {
    if (p->in_h > p->out_h)
        resize_vertical_first(p, src, out);
    else
        resize_horizontal_first(p, src, out);
}

/* frame: (H, W, 3) uint8 with H, W >= 1. */
static int check_frame(const Py_buffer *v, const char *name) {
    if (v->ndim != 3 || v->shape[2] != 3 || v->shape[0] < 1 || v->shape[1] < 1)
        return amma_shape_mismatch(name, "(H, W, 3) with H, W >= 1", v);
    return 0;
}

PyObject *amma_preprocess(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *frame_obj, *out_obj, *mean_obj, *std_obj;
    double mean[3], std[3];
    if (!PyArg_ParseTuple(args, "OOOO:preprocess", &frame_obj, &out_obj, &mean_obj, &std_obj)) return NULL;
    if (amma_parse_triple(mean_obj, "mean", 0, mean) < 0 || amma_parse_triple(std_obj, "std", 1, std) < 0)
        return NULL;
    Py_buffer frame, out;
    if (amma_get_buffer(frame_obj, &frame, "frame", AMMA_UINT8, 0) < 0) return NULL;
    if (check_frame(&frame, "frame") < 0) goto fail_frame;
    if (amma_get_buffer(out_obj, &out, "out", AMMA_FLOAT32, 1) < 0) goto fail_frame;
    if (out.ndim != 3 || out.shape[0] != 3 || out.shape[1] < 1 || out.shape[2] < 1) {
        amma_shape_mismatch("out", "(3, OH, OW) with OH, OW >= 1", &out);
        goto fail;
    }
    if (amma_buffers_overlap(&frame, &out)) {
        PyErr_SetString(PyExc_ValueError, "out must not overlap frame");
        goto fail;
    }
    plan p;
    if (plan_alloc(&p, out.shape[1], out.shape[2], frame.shape[1], mean, std) < 0) goto fail;
    Py_BEGIN_ALLOW_THREADS;
    plan_set_input(&p, frame.shape[0], frame.shape[1]);
    resize_frame(&p, (const uint8_t *)frame.buf, (float *)out.buf);
    Py_END_ALLOW_THREADS;
    plan_free(&p);
    PyBuffer_Release(&out);
    PyBuffer_Release(&frame);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
fail_frame:
    PyBuffer_Release(&frame);
    return NULL;
}

/* The frames of a batch: t views, either slices of one (t, H, W, 3) buffer or one buffer per sequence item. */
typedef struct {
    Py_ssize_t t;
    Py_buffer stacked; /* used when frames is one buffer */
    int is_stacked;
    Py_buffer *items; /* t views otherwise */
    Py_ssize_t acquired;
} frame_set;

static void frame_set_release(frame_set *fs) {
    if (fs->is_stacked) {
        PyBuffer_Release(&fs->stacked);
    } else if (fs->items) {
        for (Py_ssize_t i = 0; i < fs->acquired; i++) PyBuffer_Release(&fs->items[i]);
        PyMem_Free(fs->items);
    }
    fs->is_stacked = 0;
    fs->items = NULL;
    fs->acquired = 0;
}

static int frame_set_get(PyObject *obj, frame_set *fs) {
    memset(fs, 0, sizeof *fs);
    if (PyObject_CheckBuffer(obj)) {
        if (amma_get_buffer(obj, &fs->stacked, "frames", AMMA_UINT8, 0) < 0) return -1;
        fs->is_stacked = 1;
        const Py_buffer *v = &fs->stacked;
        if (v->ndim != 4 || v->shape[3] != 3 || v->shape[0] < 1 || v->shape[1] < 1 || v->shape[2] < 1) {
            amma_shape_mismatch("frames", "(t, H, W, 3) with t, H, W >= 1", v);
            frame_set_release(fs);
            return -1;
        }
        fs->t = v->shape[0];
        return 0;
    }
    PyObject *seq = PySequence_Fast(obj, "");
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "frames must be a uint8 (t, H, W, 3) array or a sequence of (H, W, 3) arrays, got %s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    fs->t = PySequence_Fast_GET_SIZE(seq);
    if (fs->t < 1) {
        Py_DECREF(seq);
        PyErr_SetString(amma_shape_error, "frames must hold at least one frame, got an empty sequence");
        return -1;
    }
    fs->items = PyMem_Calloc((size_t)fs->t, sizeof(Py_buffer));
    if (fs->items == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    char name[48];
    for (Py_ssize_t i = 0; i < fs->t; i++) {
        snprintf(name, sizeof name, "frames[%zd]", i);
        if (amma_get_buffer(PySequence_Fast_GET_ITEM(seq, i), &fs->items[i], name, AMMA_UINT8, 0) < 0) break;
        fs->acquired++;
        if (check_frame(&fs->items[i], name) < 0) break;
    }
    Py_DECREF(seq);
    if (PyErr_Occurred()) {
        frame_set_release(fs);
        return -1;
    }
    return 0;
}

PyObject *amma_preprocess_batch(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *frames_obj, *out_obj, *mean_obj, *std_obj;
    double mean[3], std[3];
    if (!PyArg_ParseTuple(args, "OOOO:preprocess_batch", &frames_obj, &out_obj, &mean_obj, &std_obj)) return NULL;
    if (amma_parse_triple(mean_obj, "mean", 0, mean) < 0 || amma_parse_triple(std_obj, "std", 1, std) < 0)
        return NULL;
    frame_set fs;
    Py_buffer out;
    if (frame_set_get(frames_obj, &fs) < 0) return NULL;
    if (amma_get_buffer(out_obj, &out, "out", AMMA_FLOAT32, 1) < 0) {
        frame_set_release(&fs);
        return NULL;
    }
    if (out.ndim != 4 || out.shape[0] != fs.t || out.shape[1] != 3 || out.shape[2] < 1 || out.shape[3] < 1) {
        char expected[96];
        snprintf(expected, sizeof expected, "(%zd, 3, OH, OW) with OH, OW >= 1 for %zd frames", fs.t, fs.t);
        amma_shape_mismatch("out", expected, &out);
        goto fail;
    }
    for (Py_ssize_t i = 0; i < fs.t; i++) {
        if (amma_buffers_overlap(fs.is_stacked ? &fs.stacked : &fs.items[i], &out)) {
            PyErr_SetString(PyExc_ValueError, "out must not overlap frames");
            goto fail;
        }
    }
    Py_ssize_t max_in_w = 1;
    for (Py_ssize_t i = 0; i < fs.t; i++) {
        const Py_buffer *v = fs.is_stacked ? &fs.stacked : &fs.items[i];
        if (v->shape[v->ndim - 2] > max_in_w) max_in_w = v->shape[v->ndim - 2];
    }
    plan p;
    if (plan_alloc(&p, out.shape[2], out.shape[3], max_in_w, mean, std) < 0) goto fail;
    const Py_ssize_t out_step = 3 * out.shape[2] * out.shape[3];
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < fs.t; i++) {
        const Py_buffer *v = fs.is_stacked ? &fs.stacked : &fs.items[i];
        const Py_ssize_t h = v->shape[v->ndim - 3], w = v->shape[v->ndim - 2];
        const uint8_t *src = (const uint8_t *)v->buf + (fs.is_stacked ? i * h * w * 3 : 0);
        plan_set_input(&p, h, w);
        resize_frame(&p, src, (float *)out.buf + i * out_step);
    }
    Py_END_ALLOW_THREADS;
    plan_free(&p);
    PyBuffer_Release(&out);
    frame_set_release(&fs);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
    frame_set_release(&fs);
    return NULL;
}
