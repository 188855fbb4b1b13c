/* amma_edge.runtime._native: module init, method table and the argument checks every kernel shares.
 *
 * The Python face is amma_edge/runtime/native.py; call the kernels through it, not directly.
 */
#include "native.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

PyObject *amma_shape_error = NULL;

void amma_format_shape(const Py_ssize_t *shape, int ndim, char *out, size_t size) {
    size_t used = 0;
    used += (size_t)snprintf(out + used, size - used, "(");
    for (int i = 0; i < ndim && used < size; i++) {
        used += (size_t)snprintf(out + used, size - used, i ? ", %zd" : "%zd", shape[i]);
    }
    if (used < size) used += (size_t)snprintf(out + used, size - used, ndim == 1 ? ",)" : ")");
}

int amma_shape_mismatch(const char *name, const char *expected, const Py_buffer *actual) {
    char got[256];
    amma_format_shape(actual->shape, actual->ndim, got, sizeof got);
    PyErr_Format(amma_shape_error, "%s must have shape %s, got %s", name, expected, got);
    return -1;
}

/* The element format of `view` is `code`, allowing the byte-order prefixes that leave a native type. */
static int format_is(const Py_buffer *view, char code) {
    const char *f = view->format ? view->format : "B";
    if (f[0] == '@' || f[0] == '=') f++;
#if PY_LITTLE_ENDIAN
    else if (f[0] == '<') f++;
#else
    else if (f[0] == '>' || f[0] == '!') f++;
#endif
    else if (code == 'B' && (f[0] == '<' || f[0] == '>' || f[0] == '!')) f++; /* one byte: order is moot */
    if (f[0] == '\0' || f[1] != '\0') return 0;
    /* int64 is 'l' on LP64 platforms and 'q' elsewhere: accept either when the item really is 8 bytes. */
    if (code == 'q') return (f[0] == 'q' || f[0] == 'l') && view->itemsize == 8;
    return f[0] == code;
}

static const char *kind_name(amma_kind kind) {
    switch (kind) {
    case AMMA_UINT8: return "uint8";
    case AMMA_FLOAT32: return "float32";
    case AMMA_FLOAT64: return "float64";
    default: return "int64";
    }
}

static char kind_code(amma_kind kind) {
    switch (kind) {
    case AMMA_UINT8: return 'B';
    case AMMA_FLOAT32: return 'f';
    case AMMA_FLOAT64: return 'd';
    default: return 'q';
    }
}

int amma_get_buffer(PyObject *obj, Py_buffer *view, const char *name, amma_kind kind, int writable) {
    const char *dtype = kind_name(kind);
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a %s array (an object with the buffer protocol), got %s", name,
                     dtype, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_RECORDS_RO) < 0) {
        /* The exporter refused even a strided read-only view: say which argument, keep its reason. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(PyExc_TypeError, "%s could not be read as a %s buffer: %S", name, dtype,
                     value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    if (!format_is(view, kind_code(kind))) {
        PyErr_Format(PyExc_TypeError, "%s must be %s, got buffer format '%s'", name, dtype,
                     view->format ? view->format : "B");
        goto fail;
    }
    if (!PyBuffer_IsContiguous(view, 'C')) {
        char strides[256];
        amma_format_shape(view->strides, view->ndim, strides, sizeof strides);
        PyErr_Format(amma_shape_error, "%s must be C-contiguous (np.ascontiguousarray), got strides %s", name,
                     strides);
        goto fail;
    }
    if (writable && view->readonly) {
        PyErr_Format(PyExc_ValueError, "%s must be writable, got a read-only buffer", name);
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(view);
    return -1;
}

int amma_buffers_overlap(const Py_buffer *a, const Py_buffer *b) {
    const char *a0 = (const char *)a->buf, *b0 = (const char *)b->buf;
    return a->len > 0 && b->len > 0 && a0 < b0 + b->len && b0 < a0 + a->len;
}

int amma_parse_triple(PyObject *obj, const char *name, int positive, double out[3]) {
    PyObject *seq = PySequence_Fast(obj, "");
    if (seq == NULL || PySequence_Fast_GET_SIZE(seq) != 3) {
        Py_XDECREF(seq);
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a sequence of 3 numbers in RGB order, got %R", name, obj);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        out[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (out[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s must be a sequence of 3 numbers in RGB order, got %R", name, obj);
            return -1;
        }
        if (!isfinite(out[i]) || (positive && !(out[i] > 0.0))) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "%s must be 3 %sfinite numbers, got %R", name,
                         positive ? "positive " : "", obj);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static PyMethodDef methods[] = {
    {"preprocess", amma_preprocess, METH_VARARGS,
     "preprocess(frame, out, mean, std): uint8 (H, W, 3) BGR -> float32 (3, OH, OW) RGB in out, normalised."},
    {"preprocess_batch", amma_preprocess_batch, METH_VARARGS,
     "preprocess_batch(frames, out, mean, std): t frames (a (t, H, W, 3) buffer or a sequence of (H, W, 3) "
     "buffers) -> float32 (t, 3, OH, OW) in out."},
    {"rgb_diff_motion", amma_rgb_diff_motion, METH_VARARGS,
     "rgb_diff_motion(clip, out, eps): float32 (t, 3, H, W) clip -> float32 (t - 1, H, W) micro-motion in out."},
    {"feature_cache_write", amma_feature_cache_write, METH_VARARGS,
     "feature_cache_write(storage, slot, feature): copy feature into slots slot and slot + K of the (2K, ...) "
     "storage."},
    {"decode", amma_decode, METH_VARARGS,
     "decode(center, trajectory, box, boxes_out, scores_out, classes_out, stride, input_h, input_w, original_h, "
     "original_w) -> n: per-class 3x3 peaks, the top len(scores_out) by score, their K boxes; n written."},
    {"box_iou", amma_box_iou, METH_VARARGS,
     "box_iou(a, b, out, offset): float64 (N, 4) x (M, 4) boxes -> IoU (N, M) in out."},
    {"aligned_tubelet_iou", amma_aligned_tubelet_iou, METH_VARARGS,
     "aligned_tubelet_iou(a, frames_a, b, frames_b, out, shared, offset): mean IoU over shared frames (Na, Nb) "
     "and shared-frame counts (Na,)."},
    {"nms_sorted", amma_nms_sorted, METH_VARARGS,
     "nms_sorted(boxes, order, groups, threshold, top_k, offset, keep): greedy suppression along `order` "
     "(grouped, best first); keep[r] = 1 where rank r survives."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    "amma_edge.runtime._native",
    "C kernels of the device runtime; use amma_edge.runtime.native, which falls back to NumPy without them.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (amma_shape_error == NULL) {
        PyObject *errors = PyImport_ImportModule("amma_edge.errors");
        if (errors == NULL) return NULL;
        amma_shape_error = PyObject_GetAttrString(errors, "InputShapeError");
        Py_DECREF(errors);
        if (amma_shape_error == NULL) return NULL;
    }
    PyObject *module = PyModule_Create(&moduledef);
    if (module == NULL) return NULL;
    if (PyModule_AddIntConstant(module, "API_VERSION", AMMA_NATIVE_API_VERSION) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
