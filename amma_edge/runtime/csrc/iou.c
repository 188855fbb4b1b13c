/* The overlap kernels the online linker runs every step (and evaluation runs per frame): pairwise box IoU,
 * the mean IoU of tubelets over the frames they share, and greedy (tubelet) non-maximum suppression.
 *
 * In NumPy these are a handful of small array operations each, so a linker step with a few dozen tubelets
 * pays mostly call overhead; here each is one pass. The arithmetic is the twins' exactly, in float64: the
 * same operations in the same order (no FMA contraction in ISO C mode), NaN propagated through min and max as
 * NumPy's minimum and maximum do, and an empty or undefined union giving 0. Means over frames are sequential
 * sums divided by the count, which the twins spell out the same way.
 * Twins: reference.box_iou, reference.aligned_tubelet_iou, reference.nms_sorted.
 */
#include "native.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* np.maximum / np.minimum: a NaN in either argument is the result. */
static inline double max_nan(double a, double b) { return (a != a || a >= b) ? a : b; }
static inline double min_nan(double a, double b) { return (a != a || a <= b) ? a : b; }

/* boxes.paired_iou for one pair, with the same operation order. */
static inline double iou(const double *a, const double *b, double offset) {
    const double iw = max_nan(min_nan(a[2], b[2]) - max_nan(a[0], b[0]) + offset, 0.0);
    const double ih = max_nan(min_nan(a[3], b[3]) - max_nan(a[1], b[1]) + offset, 0.0);
    const double inter = iw * ih;
    const double area_a = max_nan(a[2] - a[0] + offset, 0.0) * max_nan(a[3] - a[1] + offset, 0.0);
    const double area_b = max_nan(b[2] - b[0] + offset, 0.0) * max_nan(b[3] - b[1] + offset, 0.0);
    const double uni = area_a + area_b - inter;
    return uni > 0.0 ? inter / uni : 0.0;
}

static int finite_offset(double offset) {
    if (!isfinite(offset)) {
        PyErr_SetString(PyExc_ValueError, "offset must be a finite number (0 or 1)");
        return -1;
    }
    return 0;
}

PyObject *amma_box_iou(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *a_obj, *b_obj, *out_obj;
    double offset;
    if (!PyArg_ParseTuple(args, "OOOd:box_iou", &a_obj, &b_obj, &out_obj, &offset)) return NULL;
    if (finite_offset(offset) < 0) return NULL;
    Py_buffer a, b, out;
    if (amma_get_buffer(a_obj, &a, "a", AMMA_FLOAT64, 0) < 0) return NULL;
    if (amma_get_buffer(b_obj, &b, "b", AMMA_FLOAT64, 0) < 0) goto fail_a;
    if (amma_get_buffer(out_obj, &out, "out", AMMA_FLOAT64, 1) < 0) goto fail_b;
    if (a.ndim != 2 || a.shape[1] != 4) {
        amma_shape_mismatch("a", "(N, 4)", &a);
        goto fail;
    }
    if (b.ndim != 2 || b.shape[1] != 4) {
        amma_shape_mismatch("b", "(M, 4)", &b);
        goto fail;
    }
    const Py_ssize_t n = a.shape[0], m = b.shape[0];
    if (out.ndim != 2 || out.shape[0] != n || out.shape[1] != m) {
        char expected[64];
        snprintf(expected, sizeof expected, "(%zd, %zd)", n, m);
        amma_shape_mismatch("out", expected, &out);
        goto fail;
    }
    if (amma_buffers_overlap(&out, &a) || amma_buffers_overlap(&out, &b)) {
        PyErr_SetString(PyExc_ValueError, "out must not overlap the boxes");
        goto fail;
    }
    const double *pa = (const double *)a.buf, *pb = (const double *)b.buf;
    double *po = (double *)out.buf;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++)
        for (Py_ssize_t j = 0; j < m; j++) po[i * m + j] = iou(pa + 4 * i, pb + 4 * j, offset);
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&out);
    PyBuffer_Release(&b);
    PyBuffer_Release(&a);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
fail_b:
    PyBuffer_Release(&b);
fail_a:
    PyBuffer_Release(&a);
    return NULL;
}

PyObject *amma_aligned_tubelet_iou(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objs[6];
    double offset;
    if (!PyArg_ParseTuple(args, "OOOOOOd:aligned_tubelet_iou", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4],
                          &objs[5], &offset))
        return NULL;
    if (finite_offset(offset) < 0) return NULL;
    const char *names[6] = {"a", "frames_a", "b", "frames_b", "out", "shared"};
    const amma_kind kinds[6] = {AMMA_FLOAT64, AMMA_INT64, AMMA_FLOAT64, AMMA_INT64, AMMA_FLOAT64, AMMA_INT64};
    Py_buffer bufs[6];
    int got = 0;
    for (; got < 6; got++)
        if (amma_get_buffer(objs[got], &bufs[got], names[got], kinds[got], got >= 4) < 0) goto fail;
    const Py_buffer *a = &bufs[0], *fa = &bufs[1], *b = &bufs[2], *fb = &bufs[3], *out = &bufs[4], *shared = &bufs[5];
    char expected[96];
    if (a->ndim != 3 || a->shape[2] != 4) {
        amma_shape_mismatch("a", "(Na, Ka, 4)", a);
        goto fail;
    }
    const Py_ssize_t na = a->shape[0], ka = a->shape[1];
    if (fa->ndim != 2 || fa->shape[0] != na || fa->shape[1] != ka) {
        snprintf(expected, sizeof expected, "(%zd, %zd) like a's first two axes", na, ka);
        amma_shape_mismatch("frames_a", expected, fa);
        goto fail;
    }
    if (b->ndim != 3 || b->shape[2] != 4) {
        amma_shape_mismatch("b", "(Nb, Kb, 4)", b);
        goto fail;
    }
    const Py_ssize_t nb = b->shape[0], kb = b->shape[1];
    if (fb->ndim != 1 || fb->shape[0] != kb) {
        snprintf(expected, sizeof expected, "(%zd,) for b's Kb", kb);
        amma_shape_mismatch("frames_b", expected, fb);
        goto fail;
    }
    if (out->ndim != 2 || out->shape[0] != na || out->shape[1] != nb) {
        snprintf(expected, sizeof expected, "(%zd, %zd)", na, nb);
        amma_shape_mismatch("out", expected, out);
        goto fail;
    }
    if (shared->ndim != 1 || shared->shape[0] != na) {
        snprintf(expected, sizeof expected, "(%zd,)", na);
        amma_shape_mismatch("shared", expected, shared);
        goto fail;
    }
    for (int o = 4; o < 6; o++) {
        for (int j = 0; j < 6; j++) {
            if (j != o && amma_buffers_overlap(&bufs[o], &bufs[j])) {
                PyErr_Format(PyExc_ValueError, "%s must not overlap %s", names[o], names[j]);
                goto fail;
            }
        }
    }
    const double *pa = (const double *)a->buf, *pb = (const double *)b->buf;
    const int64_t *pfa = (const int64_t *)fa->buf, *pfb = (const int64_t *)fb->buf;
    double *po = (double *)out->buf;
    int64_t *ps = (int64_t *)shared->buf;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t n = 0; n < na; n++) {
        const int64_t *frames = pfa + n * ka;
        int64_t count = 0;
        for (Py_ssize_t i = 0; i < ka; i++)
            for (Py_ssize_t j = 0; j < kb; j++) count += frames[i] == pfb[j];
        ps[n] = count;
        for (Py_ssize_t m = 0; m < nb; m++) {
            double total = 0.0;
            if (count > 0) {
                for (Py_ssize_t i = 0; i < ka; i++)
                    for (Py_ssize_t j = 0; j < kb; j++)
                        if (frames[i] == pfb[j]) total += iou(pa + (n * ka + i) * 4, pb + (m * kb + j) * 4, offset);
                total /= (double)count;
            }
            po[n * nb + m] = total;
        }
    }
    Py_END_ALLOW_THREADS;
    for (int i = 0; i < got; i++) PyBuffer_Release(&bufs[i]);
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&bufs[i]);
    return NULL;
}

/* Mean IoU over the K frames of two tubelets (K = 1 for plain boxes): a sequential sum, then / K. */
static inline double overlap(const double *a, const double *b, Py_ssize_t K, int mean, double offset) {
    double total = iou(a, b, offset);
    for (Py_ssize_t k = 1; k < K; k++) total += iou(a + 4 * k, b + 4 * k, offset);
    return mean ? total / (double)K : total;
}

PyObject *amma_nms_sorted(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *boxes_obj, *order_obj, *groups_obj, *keep_obj;
    double threshold, offset;
    Py_ssize_t top_k;
    if (!PyArg_ParseTuple(args, "OOOdndO:nms_sorted", &boxes_obj, &order_obj, &groups_obj, &threshold, &top_k,
                          &offset, &keep_obj))
        return NULL;
    if (finite_offset(offset) < 0) return NULL;
    Py_buffer boxes, order, groups, keep;
    if (amma_get_buffer(boxes_obj, &boxes, "boxes", AMMA_FLOAT64, 0) < 0) return NULL;
    if (amma_get_buffer(order_obj, &order, "order", AMMA_INT64, 0) < 0) goto fail_boxes;
    if (amma_get_buffer(groups_obj, &groups, "groups", AMMA_INT64, 0) < 0) goto fail_order;
    if (amma_get_buffer(keep_obj, &keep, "keep", AMMA_UINT8, 1) < 0) goto fail_groups;
    if ((boxes.ndim != 2 && boxes.ndim != 3) || boxes.shape[boxes.ndim - 1] != 4) {
        amma_shape_mismatch("boxes", "(N, 4) or (N, K, 4)", &boxes);
        goto fail;
    }
    const Py_ssize_t n = boxes.shape[0], K = boxes.ndim == 3 ? boxes.shape[1] : 1;
    char expected[64];
    snprintf(expected, sizeof expected, "(%zd,) for %zd boxes", n, n);
    if (order.ndim != 1 || order.shape[0] != n) {
        amma_shape_mismatch("order", expected, &order);
        goto fail;
    }
    if (groups.ndim != 1 || groups.shape[0] != n) {
        amma_shape_mismatch("groups", expected, &groups);
        goto fail;
    }
    if (keep.ndim != 1 || keep.shape[0] != n) {
        amma_shape_mismatch("keep", expected, &keep);
        goto fail;
    }
    if (K < 1) {
        amma_shape_mismatch("boxes", "(N, K, 4) with K >= 1", &boxes);
        goto fail;
    }
    if (amma_buffers_overlap(&keep, &boxes) || amma_buffers_overlap(&keep, &order) ||
        amma_buffers_overlap(&keep, &groups)) {
        PyErr_SetString(PyExc_ValueError, "keep must not overlap the other arguments");
        goto fail;
    }
    const int64_t *ord = (const int64_t *)order.buf, *grp = (const int64_t *)groups.buf;
    for (Py_ssize_t r = 0; r < n; r++) {
        if (ord[r] < 0 || ord[r] >= n) {
            PyErr_Format(PyExc_ValueError, "order[%zd] = %lld is not an index into %zd boxes", r, (long long)ord[r],
                         n);
            goto fail;
        }
    }
    const double *pb = (const double *)boxes.buf;
    uint8_t *kp = (uint8_t *)keep.buf;
    const Py_ssize_t step = 4 * K;
    const int mean = boxes.ndim == 3;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t r = 0; r < n; r++) kp[r] = 1;
    for (Py_ssize_t start = 0, end; start < n; start = end) {
        const int64_t group = grp[ord[start]];
        for (end = start + 1; end < n && grp[ord[end]] == group; end++) {
        }
        Py_ssize_t kept = 0;
        for (Py_ssize_t i = start; i < end; i++) {
            if (!kp[i]) continue;
            if (top_k >= 0 && kept >= top_k) { /* the group is full: nothing after this rank survives */
                kp[i] = 0;
                continue;
            }
            kept++;
            const double *pivot = pb + ord[i] * step;
            for (Py_ssize_t j = i + 1; j < end; j++)
                if (kp[j] && overlap(pivot, pb + ord[j] * step, K, mean, offset) > threshold) kp[j] = 0;
        }
    }
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&keep);
    PyBuffer_Release(&groups);
    PyBuffer_Release(&order);
    PyBuffer_Release(&boxes);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&keep);
fail_groups:
    PyBuffer_Release(&groups);
fail_order:
    PyBuffer_Release(&order);
fail_boxes:
    PyBuffer_Release(&boxes);
    return NULL;
}
