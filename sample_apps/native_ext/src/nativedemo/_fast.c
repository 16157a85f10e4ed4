/* nativedemo._fast: a tiny C extension, so that installing this package needs a C compiler. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* fib(n): the n-th Fibonacci number (n <= 93 fits in 64 bits), computed in C. */
static PyObject *fib(PyObject *self, PyObject *args) {
    long n;
    if (!PyArg_ParseTuple(args, "l", &n)) return NULL;
    if (n < 0 || n > 93) {
        PyErr_SetString(PyExc_ValueError, "n must be between 0 and 93");
        return NULL;
    }
    unsigned long long a = 0, b = 1;
    for (long i = 0; i < n; i++) {
        unsigned long long t = a + b;
        a = b;
        b = t;
    }
    return PyLong_FromUnsignedLongLong(a);
}

static PyMethodDef methods[] = {
    {"fib", fib, METH_VARARGS, "fib(n) -> the n-th Fibonacci number, computed in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", "Compiled helpers for nativedemo.", -1, methods};

PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
