/* What a cached method is in its class's dictionary: memo's optional C accelerator.

A function in a class is called as `obj.f(1)` without being bound: CPython sees
Py_TPFLAGS_METHOD_DESCRIPTOR on its type and calls `f(obj, 1)`. A Python class cannot set
that flag (nor, on 3.11, inherit vectorcall), so a cached method written in Python is bound
on every call: a `__get__` frame and a partial per call, about 250 ns of a 550 ns hit.
This type is that flag and no policy:
- called (`obj.f(1)`, or the object itself as a staticmethod's or property's function), it
  passes the arguments as they are to the free hit path, by vectorcall;
- read from an instance (`obj.f`, whose handles must know obj), it makes the bound method
  memo makes in Python, `method(free, obj)` (methods.py);
- chained by a classmethod as (class, class), it makes `method(free, class)` and keeps the
  last one made, as the Python binder does (a class lives as long as its methods, so holding
  it costs nothing; `K.f(1)` then makes no method object);
- read from its class, it asks the Python binder, which does what the pure-Python build does;
- every other attribute is the decorated object's (handles, `__wrapped__`, `__doc__`...),
  read and written through.
Built by hatch_build.py when a C compiler is there; methods.py falls back to Python. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

typedef struct {
    PyObject_HEAD
    PyObject *free;      /* the hit path without self: free(obj, *args) */
    PyObject *method;    /* the bound method's class: method(free, obj) */
    PyObject *binder;    /* the Python __get__: binder(decorated, instance, owner) */
    PyObject *decorated; /* the decorated object: every attribute is its */
    PyObject *held;      /* the last class a classmethod bound, and its method */
    PyObject *held_method;
    vectorcallfunc vectorcall;
    PyObject *weakrefs;
} MethodDescriptor;

static int
cleared(MethodDescriptor *self)
{
    /* tp_clear (the collector breaking a cycle) leaves the fields NULL: never followed. */
    if (self->decorated == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "memo: a cached method used after collection");
        return 1;
    }
    return 0;
}

static PyObject *
descriptor_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    /* The caller's arguments go on untouched: `obj.f(1)` arrives as (obj, 1). */
    MethodDescriptor *self = (MethodDescriptor *)op;
    if (cleared(self)) {
        return NULL;
    }
    return PyObject_Vectorcall(self->free, args, nargsf, kwnames);
}

static PyObject *
descriptor_get_class(MethodDescriptor *self, PyObject *owner)
{
    if (self->held == owner) {
        return Py_NewRef(self->held_method);
    }
    PyObject *stack[2] = {self->free, owner};
    PyObject *method = PyObject_Vectorcall(self->method, stack, 2, NULL);
    if (method == NULL) {
        return NULL;
    }
    PyObject *held = self->held, *held_method = self->held_method;
    self->held = Py_NewRef(owner); /* both set before either old one is released */
    self->held_method = Py_NewRef(method);
    Py_XDECREF(held);
    Py_XDECREF(held_method);
    return method;
}

static PyObject *
descriptor_get(PyObject *op, PyObject *instance, PyObject *owner)
{
    MethodDescriptor *self = (MethodDescriptor *)op;
    if (cleared(self)) {
        return NULL;
    }
    if (instance != NULL && instance == owner) {
        return descriptor_get_class(self, instance);
    }
    if (instance == NULL || instance == Py_None) {
        PyObject *stack[3] = {
            self->decorated, instance ? instance : Py_None, owner ? owner : Py_None};
        return PyObject_Vectorcall(self->binder, stack, 3, NULL);
    }
    PyObject *stack[2] = {self->free, instance};
    return PyObject_Vectorcall(self->method, stack, 2, NULL);
}

static PyObject *
descriptor_copy(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    /* A copy is the descriptor itself, as the decorated object's copies are (portable.py). */
    return Py_NewRef(op);
}

static PyObject *
descriptor_deepcopy(PyObject *op, PyObject *Py_UNUSED(memo))
{
    return Py_NewRef(op);
}

static PyMethodDef descriptor_methods[] = {
    {"__copy__", descriptor_copy, METH_NOARGS, NULL},
    {"__deepcopy__", descriptor_deepcopy, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyObject *
descriptor_getattro(PyObject *op, PyObject *name)
{
    /* The copies are the descriptor's own (the decorated object's would answer itself);
       everything else, `__doc__` and `__class__` included, is the decorated object's. */
    if (PyUnicode_Check(name) && (PyUnicode_CompareWithASCIIString(name, "__copy__") == 0
                                  || PyUnicode_CompareWithASCIIString(name, "__deepcopy__") == 0)) {
        return PyObject_GenericGetAttr(op, name);
    }
    if (cleared((MethodDescriptor *)op)) {
        return NULL;
    }
    return PyObject_GetAttr(((MethodDescriptor *)op)->decorated, name);
}

static int
descriptor_setattro(PyObject *op, PyObject *name, PyObject *value)
{
    if (cleared((MethodDescriptor *)op)) {
        return -1;
    }
    return PyObject_SetAttr(((MethodDescriptor *)op)->decorated, name, value);
}

static PyObject *
descriptor_repr(PyObject *op)
{
    if (((MethodDescriptor *)op)->decorated == NULL) {
        return PyUnicode_FromString("<memo cached method (collected)>");
    }
    return PyObject_Repr(((MethodDescriptor *)op)->decorated);
}

static int
descriptor_traverse(PyObject *op, visitproc visit, void *arg)
{
    MethodDescriptor *self = (MethodDescriptor *)op;
    Py_VISIT(self->free);
    Py_VISIT(self->method);
    Py_VISIT(self->binder);
    Py_VISIT(self->decorated);
    Py_VISIT(self->held);
    Py_VISIT(self->held_method);
    return 0;
}

static int
descriptor_clear(PyObject *op)
{
    MethodDescriptor *self = (MethodDescriptor *)op;
    Py_CLEAR(self->free);
    Py_CLEAR(self->method);
    Py_CLEAR(self->binder);
    Py_CLEAR(self->decorated);
    Py_CLEAR(self->held);
    Py_CLEAR(self->held_method);
    return 0;
}

static void
descriptor_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    if (((MethodDescriptor *)op)->weakrefs != NULL) {
        PyObject_ClearWeakRefs(op);
    }
    descriptor_clear(op);
    Py_TYPE(op)->tp_free(op);
}

static PyObject *
descriptor_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"free", "method", "binder", "decorated", NULL};
    PyObject *free, *method, *binder, *decorated;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "OOOO:MethodDescriptor", names, &free, &method, &binder, &decorated)) {
        return NULL;
    }
    if (!PyCallable_Check(free) || !PyCallable_Check(method) || !PyCallable_Check(binder)) {
        PyErr_SetString(PyExc_TypeError, "MethodDescriptor: free, method and binder are called");
        return NULL;
    }
    MethodDescriptor *self = PyObject_GC_New(MethodDescriptor, type);
    if (self == NULL) {
        return NULL;
    }
    self->free = Py_NewRef(free);
    self->method = Py_NewRef(method);
    self->binder = Py_NewRef(binder);
    self->decorated = Py_NewRef(decorated);
    self->held = NULL;
    self->held_method = NULL;
    self->vectorcall = descriptor_call;
    self->weakrefs = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyTypeObject MethodDescriptorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memo._runtime._descriptor.MethodDescriptor",
    .tp_doc = "A cached method in its class: called like a function, bound when read.",
    .tp_basicsize = sizeof(MethodDescriptor),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_METHOD_DESCRIPTOR
        | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(MethodDescriptor, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_descr_get = descriptor_get,
    .tp_methods = descriptor_methods,
    .tp_getattro = descriptor_getattro,
    .tp_setattro = descriptor_setattro,
    .tp_repr = descriptor_repr,
    .tp_traverse = descriptor_traverse,
    .tp_clear = descriptor_clear,
    .tp_dealloc = descriptor_dealloc,
    .tp_new = descriptor_new,
    .tp_weaklistoffset = offsetof(MethodDescriptor, weakrefs),
};

static struct PyModuleDef descriptor_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "memo._runtime._descriptor",
    .m_doc = "memo's method descriptor (optional C accelerator; see methods.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__descriptor(void)
{
    if (PyType_Ready(&MethodDescriptorType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&descriptor_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&MethodDescriptorType);
    if (PyModule_AddObject(module, "MethodDescriptor", (PyObject *)&MethodDescriptorType) < 0) {
        Py_DECREF(&MethodDescriptorType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
