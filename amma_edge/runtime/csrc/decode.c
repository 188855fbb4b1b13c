/* Tubelet decoding (AMMA §3.3, CenterNet's decode) for one sample: per-class 3x3 peak test, top-N peaks by
 * score, and their K boxes gathered from the trajectory and box maps into original-frame pixels.
 *
 * The NumPy path (reference.decode) computes the peak mask of every cell and argsorts all peaks; here a cell
 * is tested only when it could still enter the top N (a bounded heap holds the N best so far), so a head with
 * a few strong peaks costs little more than one pass over the centre map. Ranking and arithmetic are the
 * twin's exactly: descending score, ties to the lower flat index of (class, y, x); every box coordinate is
 * computed with the same float32 operations in the same order, so the results are bit-identical.
 * Twin: reference.decode.
 */
#include "native.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* A kept peak: its score and flat index into (C, h, w). */
typedef struct {
    float value;
    Py_ssize_t index;
} peak;

/* a ranks after b: lower score, or the same score at a higher flat index. */
static inline int ranks_after(const peak *a, const peak *b) {
    return a->value < b->value || (a->value == b->value && a->index > b->index);
}

/* Min-heap on rank: heap[0] is the worst peak kept, the one a better newcomer replaces. */
static void sift_down(peak *heap, Py_ssize_t n, Py_ssize_t i) {
    for (;;) {
        Py_ssize_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && ranks_after(&heap[l], &heap[worst])) worst = l;
        if (r < n && ranks_after(&heap[r], &heap[worst])) worst = r;
        if (worst == i) return;
        peak tmp = heap[i];
        heap[i] = heap[worst];
        heap[worst] = tmp;
        i = worst;
    }
}

static void sift_up(peak *heap, Py_ssize_t i) {
    while (i > 0) {
        Py_ssize_t parent = (i - 1) / 2;
        if (!ranks_after(&heap[i], &heap[parent])) return;
        peak tmp = heap[i];
        heap[i] = heap[parent];
        heap[parent] = tmp;
        i = parent;
    }
}

/* Whether (y, x) equals the maximum of its 3x3 neighbourhood within the plane (CenterNet's max-pool test).
 * `!(v >= n)` also fails for a NaN centre or a NaN neighbour, as NumPy's NaN-propagating maximum does. */
static inline int is_peak(const float *plane, Py_ssize_t h, Py_ssize_t w, Py_ssize_t y, Py_ssize_t x) {
    const float v = plane[y * w + x];
    const Py_ssize_t y0 = y > 0 ? y - 1 : 0, y1 = y + 1 < h ? y + 1 : h - 1;
    const Py_ssize_t x0 = x > 0 ? x - 1 : 0, x1 = x + 1 < w ? x + 1 : w - 1;
    for (Py_ssize_t yy = y0; yy <= y1; yy++) {
        const float *row = plane + yy * w;
        for (Py_ssize_t xx = x0; xx <= x1; xx++)
            if (!(v >= row[xx])) return 0;
    }
    return 1;
}

/* The N best peaks of (C, h, w) into heap (capacity cap), sorted best first; returns how many. */
static Py_ssize_t top_peaks(const float *center, Py_ssize_t C, Py_ssize_t h, Py_ssize_t w, peak *heap,
                            Py_ssize_t cap) {
    Py_ssize_t n = 0;
    if (cap == 0) return 0;
    const Py_ssize_t plane = h * w;
    for (Py_ssize_t c = 0; c < C; c++) {
        const float *map = center + c * plane;
        for (Py_ssize_t y = 0; y < h; y++) {
            for (Py_ssize_t x = 0; x < w; x++) {
                const float v = map[y * w + x];
                /* Cells come in increasing flat index, so a newcomer only enters a full heap with a strictly
                 * higher score than the worst kept; skip the peak test otherwise. */
                if (n == cap && !(v > heap[0].value)) continue;
                if (!is_peak(map, h, w, y, x)) continue;
                peak p = {v, c * plane + y * w + x};
                if (n < cap) {
                    heap[n] = p;
                    sift_up(heap, n);
                    n++;
                } else {
                    heap[0] = p;
                    sift_down(heap, n, 0);
                }
            }
        }
    }
    /* Heap sort: move the worst to the end until the heap is empty, leaving best first. */
    for (Py_ssize_t end = n - 1; end > 0; end--) {
        peak tmp = heap[0];
        heap[0] = heap[end];
        heap[end] = tmp;
        sift_down(heap, end, 0);
    }
    return n;
}

/* np.clip(v, lo, hi): NaN stays NaN. */
static inline float clip(float v, float lo, float hi) {
    if (v != v) return v;
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

/* np.maximum(v, 0) for a size: NaN stays NaN. */
static inline float non_negative(float v) { return v < 0.0f ? 0.0f : v; }

typedef struct {
    float stride, half, scale_x, scale_y, limit_x, limit_y;
} geometry;

static void gather(const peak *peaks, Py_ssize_t n, const float *trajectory, const float *box, Py_ssize_t K,
                   Py_ssize_t h, Py_ssize_t w, const geometry *g, float *boxes_out, float *scores_out,
                   int64_t *classes_out) {
    const Py_ssize_t plane = h * w;
    for (Py_ssize_t i = 0; i < n; i++) {
        const Py_ssize_t cls = peaks[i].index / plane, cell = peaks[i].index % plane;
        const float cell_x = (float)(cell % w), cell_y = (float)(cell / w);
        float *out = boxes_out + i * K * 4;
        for (Py_ssize_t k = 0; k < K; k++) {
            const float cx = (cell_x + trajectory[(2 * k) * plane + cell]) * g->stride;
            const float cy = (cell_y + trajectory[(2 * k + 1) * plane + cell]) * g->stride;
            const float hw = non_negative(box[(2 * k) * plane + cell]) * g->half;
            const float hh = non_negative(box[(2 * k + 1) * plane + cell]) * g->half;
            out[4 * k + 0] = clip((cx - hw) * g->scale_x, 0.0f, g->limit_x);
            out[4 * k + 1] = clip((cy - hh) * g->scale_y, 0.0f, g->limit_y);
            out[4 * k + 2] = clip((cx + hw) * g->scale_x, 0.0f, g->limit_x);
            out[4 * k + 3] = clip((cy + hh) * g->scale_y, 0.0f, g->limit_y);
        }
        scores_out[i] = peaks[i].value;
        classes_out[i] = (int64_t)cls;
    }
}

static int positive_finite(double v, const char *name) {
    if (!(isfinite(v) && v > 0.0)) {
        char text[64];
        snprintf(text, sizeof text, "%g", v);
        PyErr_Format(PyExc_ValueError, "%s must be a positive number, got %s", name, text);
        return -1;
    }
    return 0;
}

PyObject *amma_decode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *center_obj, *traj_obj, *box_obj, *boxes_obj, *scores_obj, *classes_obj;
    Py_ssize_t stride;
    double in_h, in_w, orig_h, orig_w;
    if (!PyArg_ParseTuple(args, "OOOOOOndddd:decode", &center_obj, &traj_obj, &box_obj, &boxes_obj, &scores_obj,
                          &classes_obj, &stride, &in_h, &in_w, &orig_h, &orig_w))
        return NULL;
    if (stride < 1) {
        PyErr_Format(PyExc_ValueError, "stride must be a positive integer, got %zd", stride);
        return NULL;
    }
    if (positive_finite(in_h, "input height") < 0 || positive_finite(in_w, "input width") < 0 ||
        positive_finite(orig_h, "original height") < 0 || positive_finite(orig_w, "original width") < 0)
        return NULL;

    Py_buffer bufs[6];
    const char *names[6] = {"center", "trajectory", "box", "boxes_out", "scores_out", "classes_out"};
    PyObject *objs[6] = {center_obj, traj_obj, box_obj, boxes_obj, scores_obj, classes_obj};
    const amma_kind kinds[6] = {AMMA_FLOAT32, AMMA_FLOAT32, AMMA_FLOAT32, AMMA_FLOAT32, AMMA_FLOAT32, AMMA_INT64};
    int got = 0;
    for (; got < 6; got++)
        if (amma_get_buffer(objs[got], &bufs[got], names[got], kinds[got], got >= 3) < 0) goto fail;

    const Py_buffer *center = &bufs[0], *traj = &bufs[1], *box = &bufs[2];
    const Py_buffer *boxes_out = &bufs[3], *scores_out = &bufs[4], *classes_out = &bufs[5];
    if (center->ndim != 3 || center->shape[0] < 1 || center->shape[1] < 1 || center->shape[2] < 1) {
        amma_shape_mismatch("center", "(C, h, w) with C, h, w >= 1", center);
        goto fail;
    }
    const Py_ssize_t C = center->shape[0], h = center->shape[1], w = center->shape[2];
    char expected[128];
    if (traj->ndim != 3 || traj->shape[0] < 2 || traj->shape[0] % 2 || traj->shape[1] != h || traj->shape[2] != w) {
        snprintf(expected, sizeof expected, "(2K, %zd, %zd) with K >= 1", h, w);
        amma_shape_mismatch("trajectory", expected, traj);
        goto fail;
    }
    const Py_ssize_t K = traj->shape[0] / 2;
    if (box->ndim != 3 || box->shape[0] != 2 * K || box->shape[1] != h || box->shape[2] != w) {
        snprintf(expected, sizeof expected, "(%zd, %zd, %zd) like trajectory", 2 * K, h, w);
        amma_shape_mismatch("box", expected, box);
        goto fail;
    }
    if (scores_out->ndim != 1) {
        amma_shape_mismatch("scores_out", "(N,)", scores_out);
        goto fail;
    }
    const Py_ssize_t cap = scores_out->shape[0];
    if (boxes_out->ndim != 3 || boxes_out->shape[0] != cap || boxes_out->shape[1] != K || boxes_out->shape[2] != 4) {
        snprintf(expected, sizeof expected, "(%zd, %zd, 4) for N = %zd and K = %zd", cap, K, cap, K);
        amma_shape_mismatch("boxes_out", expected, boxes_out);
        goto fail;
    }
    if (classes_out->ndim != 1 || classes_out->shape[0] != cap) {
        snprintf(expected, sizeof expected, "(%zd,) like scores_out", cap);
        amma_shape_mismatch("classes_out", expected, classes_out);
        goto fail;
    }
    for (int o = 3; o < 6; o++) {
        for (int j = 0; j < 6; j++) {
            if (j != o && amma_buffers_overlap(&bufs[o], &bufs[j])) {
                PyErr_Format(PyExc_ValueError, "%s must not overlap %s", names[o], names[j]);
                goto fail;
            }
        }
    }

    /* At most C·h·w peaks exist: a larger N needs no more heap. */
    const Py_ssize_t heap_cap = cap < C * h * w ? cap : C * h * w;
    peak *heap = PyMem_RawMalloc((size_t)(heap_cap > 0 ? heap_cap : 1) * sizeof(peak));
    if (heap == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    geometry g;
    g.stride = (float)stride;
    g.half = (float)((double)stride / 2.0);
    g.scale_x = (float)(orig_w / in_w);
    g.scale_y = (float)(orig_h / in_h);
    g.limit_x = (float)orig_w;
    g.limit_y = (float)orig_h;
    Py_ssize_t n;
    Py_BEGIN_ALLOW_THREADS;
    n = top_peaks((const float *)center->buf, C, h, w, heap, heap_cap);
    gather(heap, n, (const float *)traj->buf, (const float *)box->buf, K, h, w, &g, (float *)boxes_out->buf,
           (float *)scores_out->buf, (int64_t *)classes_out->buf);
    Py_END_ALLOW_THREADS;
    PyMem_RawFree(heap);
    for (int i = 0; i < got; i++) PyBuffer_Release(&bufs[i]);
    return PyLong_FromSsize_t(n);
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&bufs[i]);
    return NULL;
}
