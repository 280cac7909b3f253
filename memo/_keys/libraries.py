"""Built-in key encoders for the libraries apps pass as arguments: numpy, pandas, pydantic, attrs.

None of them is imported here. Each installer runs the first time the registry resolves a
class after its library is in `sys.modules` (imported by the app), and takes the classes
from the module object it finds there. Every encoder returns a value the canonical
encoding already knows; the registry puts the class names in front of it.

- numpy arrays: dtype (its `str`, byte order included, or `descr` for structured dtypes),
  shape and the xxh3-128 digest of the C-order bytes; object arrays: their elements, each
  encoded canonically. Bitwise, so `0.0` and `-0.0` differ, and so do NaN payloads.
- numpy scalars (`np.int64(1)`, `np.float32(0.5)`, ...): dtype and bytes. They never share a
  key with the Python number of equal value: `np.int64(1)`, `np.int32(1)` and `1` are
  three keys, as `1`, `1.0` and `True` are.
- pandas Series, Index, DataFrame: names, index, columns, and per column the dtype and its
  values (numpy-backed: the array; categorical: categories, order and codes; other
  extension dtypes: the dtype's name and the values as Python objects, missing as `None`).
- pydantic v2 models: field values by name (nested models keyed as themselves), plus extra
  fields; attrs classes: every attribute by name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import xxhash

from memo._keys.registry import REGISTRY, Encoder, Registry

__all__ = ["REGISTRY", "attrs_encoder"]


# --- numpy -------------------------------------------------------------------------------------


def _dtype(dtype: Any) -> object:
    """The dtype as text: `<i8`, `>f4`, `<M8[ns]`; field names and types when structured."""
    return dtype.str if dtype.names is None else dtype.descr


def ndarray_key(array: Any) -> object:
    """(dtype, shape, xxh3-128 of the C-order bytes), or the elements of an object array.

    The digest is taken over the array's own buffer (no copy when it is C-contiguous):
    a 1 MB argument costs one pass of xxh3, not two copies of its bytes.
    """
    if array.dtype.hasobject:  # the bytes would be addresses
        return (_dtype(array.dtype), array.shape, array.reshape(-1).tolist())
    numpy = sys.modules["numpy"]
    flat = numpy.ascontiguousarray(array).reshape(-1).view(numpy.uint8)
    return (_dtype(array.dtype), array.shape, xxhash.xxh3_128_digest(flat))


def masked_key(array: Any) -> object:
    """The data, the full mask and the fill value: the data alone hides what is masked."""
    numpy = sys.modules["numpy"]
    data = numpy.ma.getdata(array).view(numpy.ndarray)
    return (ndarray_key(data), numpy.ma.getmaskarray(array), array.fill_value)


def scalar_key(value: Any) -> object:
    """(dtype, bytes): typed like an array of one element."""
    return (_dtype(value.dtype), value.tobytes())


def _install_numpy(registry: Registry) -> bool:
    numpy = sys.modules["numpy"]
    ndarray, generic = getattr(numpy, "ndarray", None), getattr(numpy, "generic", None)
    if ndarray is None or generic is None:  # still being imported
        return False
    registry.builtin(ndarray, ndarray_key)
    registry.builtin(generic, scalar_key)
    return True


def _install_masked(registry: Registry) -> bool:
    masked = getattr(sys.modules["numpy.ma"], "MaskedArray", None)
    if masked is None:
        return False
    registry.builtin(masked, masked_key)
    return True


# --- pandas -------------------------------------------------------------------------------------


def _values(column: Any) -> object:
    """The values of a Series or an Index, with what their dtype adds to them."""
    dtype = column.dtype
    if type(dtype).__name__ == "CategoricalDtype":
        return ("category", dtype.categories, dtype.ordered, column.array.codes)
    if isinstance(dtype, sys.modules["numpy"].dtype):  # pandas imports numpy
        return column.to_numpy()
    return (str(dtype), column.to_numpy(dtype=object, na_value=None))


def series_key(series: Any) -> object:
    return (series.name, series.index, _values(series))


def index_key(index: Any) -> object:
    return (tuple(index.names), _values(index))


def frame_key(frame: Any) -> object:
    columns = tuple(_values(column) for _, column in frame.items())
    return (frame.columns, frame.index, columns)


def timestamp_key(value: Any) -> object:
    """The instant (numpy datetime64, with its unit) and the time zone's name."""
    return (value.asm8, None if value.tz is None else str(value.tz))


def timedelta_key(value: Any) -> object:
    return value.asm8


def missing_key(value: object) -> object:
    return None  # pd.NaT, pd.NA: the class name in front says which


def _install_pandas(registry: Registry) -> bool:
    pandas = sys.modules["pandas"]
    names: dict[str, Encoder] = {
        "Series": series_key,
        "Index": index_key,
        "DataFrame": frame_key,
        "Timestamp": timestamp_key,
        "Timedelta": timedelta_key,
    }
    classes: dict[str, type] = {n: getattr(pandas, n) for n in names if hasattr(pandas, n)}
    if len(classes) < len(names):  # still being imported
        return False
    for name, encoder in names.items():
        registry.builtin(classes[name], encoder)
    registry.builtin(type(pandas.NaT), missing_key)
    registry.builtin(type(pandas.NA), missing_key)
    return True


# --- pydantic, attrs ----------------------------------------------------------------------------


def pydantic_key(model: Any) -> object:
    """(fields by name, extra fields): the class is in the key already."""
    fields = {name: getattr(model, name) for name in type(model).model_fields}
    return (fields, model.__pydantic_extra__ or {})


def _install_pydantic(registry: Registry) -> bool:
    base = getattr(sys.modules["pydantic.main"], "BaseModel", None)
    if base is None:
        return False
    registry.builtin(base, pydantic_key)
    return True


def _attrs_key(value: Any) -> object:
    return {field.name: getattr(value, field.name) for field in type(value).__attrs_attrs__}


def attrs_encoder(cls: type) -> Encoder | None:
    """The attrs encoder for a class made by attrs (it carries `__attrs_attrs__`), else None."""
    return _attrs_key if getattr(cls, "__attrs_attrs__", None) is not None else None


PROVIDERS: dict[str, Callable[[Registry], bool]] = {
    "numpy": _install_numpy,
    "numpy.ma": _install_masked,
    "pandas": _install_pandas,
    "pydantic.main": _install_pydantic,
}
for _module, _install in PROVIDERS.items():
    REGISTRY.provide(_module, _install)
REGISTRY.fallback(attrs_encoder)
