"""A pickle reader that runs nothing: the opcode stream interpreted by gentools, never by ``pickle``.

:func:`parse_pickle` implements the part of the pickle virtual machine
(protocols 2-5) that plain data needs: dicts, lists, tuples, numbers,
strings, bytes, and numpy arrays of the numeric dtypes in :data:`DTYPES`,
each built only with ``numpy.frombuffer`` over bytes from the file whose
length must equal the shape's size. numpy's pickled form is recognised by its
globals (``_reconstruct`` + ``BUILD`` for protocols 2-4, ``_frombuffer`` for
protocol 5, ``scalar`` for numpy scalars, ``_codecs.encode`` for protocol-2
bytes) and their argument shapes, and numpy's own reconstruction is never
called. Every other opcode or global, an object or structured dtype among
them, raises :class:`PickleRefused`. The memo, the stack, nesting depth and
total array bytes are bounded, so a small file cannot make a large object.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

# The dtypes an array may have: numeric, fixed size, either byte order.
DTYPES = frozenset(np.dtype(f"{order}{code}") for order in "<>" for code in ("f2", "f4", "f8", "i1", "i2", "i4",
                                                                              "i8", "u1", "u2", "u4", "u8")) | {
    np.dtype("|b1"), np.dtype("|u1"), np.dtype("|i1")}
MAX_MEMO = 100_000
MAX_STACK = 100_000
MAX_DEPTH = 64
MAX_INT_BYTES = 64
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_SCALAR = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}
_FROMBUFFER = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
_NDARRAY = {("numpy", "ndarray")}
_DTYPE = {("numpy", "dtype")}
_ENCODE = {("_codecs", "encode")}
ALLOWED = _RECONSTRUCT | _SCALAR | _FROMBUFFER | _NDARRAY | _DTYPE | _ENCODE


class PickleRefused(ValueError):
    """The opcode stream holds something this reader does not build."""


@dataclass(frozen=True)
class _Global:
    module: str
    name: str


@dataclass
class _DtypeSpec:
    """``numpy.dtype('f8', False, True)`` before its ``BUILD`` state (which carries the byte order)."""

    code: str
    dtype: "np.dtype | None" = None


@dataclass
class _EmptyArray:
    """``_reconstruct(ndarray, (0,), b'b')`` before its ``BUILD`` state ``(1, shape, dtype, fortran, raw)``."""

    array: "np.ndarray | None" = None


class _Mark:
    pass


_MARK = _Mark()


def _dtype_of(spec) -> np.dtype:
    dtype = spec.dtype if isinstance(spec, _DtypeSpec) else None
    if dtype is None or dtype not in DTYPES:
        raise PickleRefused(f"dtype {getattr(spec, 'code', type(spec).__name__)!r} is not a numeric dtype")
    return dtype


def _array(raw, dtype: np.dtype, shape, fortran: bool, budget: list) -> np.ndarray:
    """``numpy.frombuffer`` with the shape checked against the bytes given; ``budget`` = [bytes left]."""
    if not isinstance(raw, (bytes, bytearray)):
        raise PickleRefused(f"array data is a {type(raw).__name__}, not bytes")
    if not isinstance(shape, tuple) or len(shape) > 8 or not all(type(s) is int and s >= 0 for s in shape):
        raise PickleRefused("array shape is not a tuple of non-negative integers")
    count = 1
    for s in shape:
        count *= s
    if count * dtype.itemsize != len(raw):
        raise PickleRefused(f"array of shape {shape} and dtype {dtype.str} needs {count * dtype.itemsize} bytes, "
                            f"the file gives {len(raw)}")
    budget[0] -= len(raw)
    if budget[0] < 0:
        raise PickleRefused("arrays hold more bytes than the file")
    return np.frombuffer(bytes(raw), dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _reduce(func, args, budget: list):
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise PickleRefused("a call of something other than numpy's array functions")
    key = (func.module, func.name)
    if key in _RECONSTRUCT and len(args) == 3 and args[0] == _Global("numpy", "ndarray"):
        return _EmptyArray()
    if key in _DTYPE and len(args) == 3 and isinstance(args[0], str) and len(args[0]) <= 4:
        return _DtypeSpec(args[0])
    if key in _SCALAR and len(args) == 2:
        dtype = _dtype_of(args[0])
        return _array(args[1], dtype, (), False, budget)[()]
    if key in _FROMBUFFER and len(args) == 4 and args[3] in ("C", "F"):
        return _array(args[0], _dtype_of(args[1]), args[2], args[3] == "F", budget)
    if key in _ENCODE and len(args) == 2 and isinstance(args[0], str) and args[1] == "latin1":
        try:
            return args[0].encode("latin1")
        except UnicodeEncodeError:
            raise PickleRefused("protocol-2 bytes that are not latin-1") from None
    raise PickleRefused(f"call of {func.module}.{func.name} with these arguments")


def _build(obj, state, budget: list):
    if isinstance(obj, _DtypeSpec) and isinstance(state, tuple) and len(state) == 8:
        _, order, subarray, names, fields, _, _, flags = state
        if subarray is not None or names is not None or fields is not None or flags != 0 or order not in "<>|=":
            raise PickleRefused("a structured or object dtype")
        try:
            obj.dtype = np.dtype(obj.code).newbyteorder(order if order != "=" else "=")
        except TypeError:
            raise PickleRefused(f"dtype {obj.code!r}") from None
        return obj
    if isinstance(obj, _EmptyArray) and isinstance(state, tuple) and len(state) == 5 and obj.array is None:
        _, shape, dtype, fortran, raw = state
        obj.array = _array(raw, _dtype_of(dtype), shape, bool(fortran), budget)
        return obj.array
    raise PickleRefused(f"BUILD of a {type(obj).__name__}")


class _Machine:
    """The subset of the pickle virtual machine (protocols 2-5) that plain data and numpy arrays need."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0
        self.stack: list = []
        self.marks: list = []
        self.memo: dict = {}
        self.budget = [len(data)]

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PickleRefused("truncated (a length runs past the end of the file)")
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def push(self, value) -> None:
        if len(self.stack) >= MAX_STACK:
            raise PickleRefused("too many objects on the stack")
        self.stack.append(value)

    def pop(self):
        if not self.stack or self.stack[-1] is _MARK:
            raise PickleRefused("stack underflow")
        return self.stack.pop()

    def pop_mark(self) -> list:
        if not self.marks:
            raise PickleRefused("no MARK to pop to")
        start = self.marks.pop()
        if start > len(self.stack):
            raise PickleRefused("stack underflow")
        items = self.stack[start:]
        del self.stack[start:]
        if any(item is _MARK for item in items):
            raise PickleRefused("stray MARK")
        return items

    def top(self, kind):
        if not self.stack or not isinstance(self.stack[-1], kind):
            raise PickleRefused(f"expected a {kind.__name__} on the stack")
        return self.stack[-1]

    def memo_put(self, index: int) -> None:
        if not self.stack:
            raise PickleRefused("stack underflow")
        if index not in self.memo and len(self.memo) >= MAX_MEMO:
            raise PickleRefused("memo too large")
        self.memo[index] = self.stack[-1]

    def memo_get(self, index: int) -> None:
        if index not in self.memo:
            raise PickleRefused(f"memo entry {index} is not defined")
        self.push(self.memo[index])

    def text(self, n: int) -> str:
        return self.take(n).decode("utf-8")

    def run(self):
        while True:
            op = self.take(1)
            handler = _OPS.get(op)
            if handler is None:
                raise PickleRefused(f"opcode {op!r} at byte {self.pos - 1}")
            if handler(self) is _STOP:
                if len(self.stack) != 1 or self.marks:
                    raise PickleRefused("STOP with a malformed stack")
                return self.stack[0]


_STOP = object()


def _setitems(m: _Machine, items: list) -> None:
    target = m.top(dict)
    if len(items) % 2:
        raise PickleRefused("SETITEMS with an odd number of items")
    for key, value in zip(items[::2], items[1::2]):
        if not isinstance(key, (str, int, float, bytes, type(None))):
            raise PickleRefused(f"a dict key of type {type(key).__name__}")
        target[key] = value


def _mark(m: _Machine) -> None:
    if len(m.marks) >= MAX_DEPTH:
        raise PickleRefused(f"nested deeper than {MAX_DEPTH}")
    m.marks.append(len(m.stack))


def _global(m: _Machine, module: str, name: str) -> None:
    if (module, name) not in ALLOWED:
        raise PickleRefused(f"refused global {module}.{name}")
    m.push(_Global(module, name))


def _readline(m: _Machine) -> str:
    end = bytes(m.data[m.pos:m.pos + 256]).find(b"\n")
    if end < 0:
        raise PickleRefused("unterminated GLOBAL")
    return m.take(end + 1)[:-1].decode("ascii", "replace")


def _stack_global(m: _Machine) -> None:
    name, module = m.pop(), m.pop()
    if not isinstance(name, str) or not isinstance(module, str):
        raise PickleRefused("STACK_GLOBAL of non-strings")
    _global(m, module, name)


def _long(m: _Machine, n: int) -> None:
    if n > MAX_INT_BYTES:
        raise PickleRefused(f"an integer of {n} bytes")
    m.push(int.from_bytes(m.take(n), "little", signed=True))


def _tuple(m: _Machine, n: int) -> None:
    if len(m.stack) < n or any(item is _MARK for item in m.stack[len(m.stack) - n:]):
        raise PickleRefused("stack underflow")
    items = tuple(m.stack[len(m.stack) - n:])
    del m.stack[len(m.stack) - n:]
    m.push(items)


def _reduce_op(m: _Machine) -> None:
    args, func = m.pop(), m.pop()
    m.push(_reduce(func, args, m.budget))


def _build_op(m: _Machine) -> None:
    state, obj = m.pop(), m.pop()
    m.push(_build(obj, state, m.budget))


def _appends(m: _Machine) -> None:
    items = m.pop_mark()
    m.top(list).extend(items)


_OPS = {
    b"\x80": lambda m: m.take(1),                                     # PROTO
    b"\x95": lambda m: m.take(8),                                     # FRAME (framing is transparent)
    b".": lambda m: _STOP,                                            # STOP
    b"(": _mark,                                                      # MARK
    b"0": lambda m: m.pop(),                                          # POP
    b"1": lambda m: m.pop_mark(),                                     # POP_MARK
    b"2": lambda m: _dup(m),                                          # DUP
    b"N": lambda m: m.push(None),
    b"\x88": lambda m: m.push(True),
    b"\x89": lambda m: m.push(False),
    b"J": lambda m: m.push(m.unpack("<i")),                           # BININT
    b"K": lambda m: m.push(m.unpack("<B")),                           # BININT1
    b"M": lambda m: m.push(m.unpack("<H")),                           # BININT2
    b"\x8a": lambda m: _long(m, m.unpack("<B")),                      # LONG1
    b"\x8b": lambda m: _long(m, m.unpack("<i")),                      # LONG4
    b"G": lambda m: m.push(m.unpack(">d")),                           # BINFLOAT
    b"X": lambda m: m.push(m.text(m.unpack("<I"))),                   # BINUNICODE
    b"\x8c": lambda m: m.push(m.text(m.unpack("<B"))),                # SHORT_BINUNICODE
    b"\x8d": lambda m: m.push(m.text(m.unpack("<Q"))),                # BINUNICODE8
    b"B": lambda m: m.push(m.take(m.unpack("<I"))),                   # BINBYTES
    b"C": lambda m: m.push(m.take(m.unpack("<B"))),                   # SHORT_BINBYTES
    b"\x8e": lambda m: m.push(m.take(m.unpack("<Q"))),                # BINBYTES8
    b"\x96": lambda m: m.push(bytearray(m.take(m.unpack("<Q")))),     # BYTEARRAY8
    b")": lambda m: m.push(()),                                       # EMPTY_TUPLE
    b"t": lambda m: m.push(tuple(m.pop_mark())),                      # TUPLE
    b"\x85": lambda m: _tuple(m, 1),
    b"\x86": lambda m: _tuple(m, 2),
    b"\x87": lambda m: _tuple(m, 3),
    b"]": lambda m: m.push([]),                                       # EMPTY_LIST
    b"l": lambda m: m.push(m.pop_mark()),                             # LIST
    b"a": lambda m: _append(m),                                       # APPEND
    b"e": _appends,                                                   # APPENDS
    b"}": lambda m: m.push({}),                                       # EMPTY_DICT
    b"d": lambda m: _dict(m),                                         # DICT
    b"s": lambda m: _setitem(m),                                      # SETITEM
    b"u": lambda m: _setitems(m, m.pop_mark()),                       # SETITEMS
    b"c": lambda m: _global(m, _readline(m), _readline(m)),           # GLOBAL
    b"\x93": _stack_global,                                           # STACK_GLOBAL
    b"R": _reduce_op,                                                 # REDUCE
    b"b": _build_op,                                                  # BUILD
    b"q": lambda m: m.memo_put(m.unpack("<B")),                       # BINPUT
    b"r": lambda m: m.memo_put(m.unpack("<I")),                       # LONG_BINPUT
    b"\x94": lambda m: m.memo_put(len(m.memo)),                       # MEMOIZE
    b"h": lambda m: m.memo_get(m.unpack("<B")),                       # BINGET
    b"j": lambda m: m.memo_get(m.unpack("<I")),                       # LONG_BINGET
}


def _dup(m: _Machine) -> None:
    value = m.pop()
    m.push(value)
    m.push(value)


def _append(m: _Machine) -> None:
    value = m.pop()
    m.top(list).append(value)


def _dict(m: _Machine) -> None:
    items = m.pop_mark()
    m.push({})
    _setitems(m, items)


def _setitem(m: _Machine) -> None:
    value, key = m.pop(), m.pop()
    _setitems(m, [key, value])


def parse_pickle(data: bytes):
    """The plain object a pickle of dicts, lists, tuples, numbers, strings and numeric numpy arrays stands for,
    built without running anything in it; :class:`PickleRefused` for anything else."""
    result = _Machine(data).run()
    if isinstance(result, (_Global, _DtypeSpec, _EmptyArray)):
        raise PickleRefused(f"a bare {type(result).__name__.strip('_')}")
    return result
