"""Compiled functions of a ``Problem`` with its data as arguments, compiled once per process.

A function of a problem (a chunk of an algorithm's steps, the MAP search's value and gradient) is
compiled with the model's array arguments as inputs rather than constants, and kept in a
process-wide cache keyed by what fixes the compiled program: the model (its code, and the values
its closures and globals hold), the function's static description (algorithm, options), the
backend, the data's structure, shapes and dtypes, and the problem's layout. A second
``ppl.infer`` on new data of the same shapes therefore compiles nothing.

Only backends whose problems can be rebound to new data (``Problem.with_data``) share compiled
functions; elsewhere each call builds its own.

>>> import numpy as np, ppl
>>> from ppl import dist
>>> from ppl.inference.compiled import compiled
>>> def model(y):
...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
...     ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
>>> backend = ppl.get_backend("numpyro")
>>> first = compiled(backend.problem(model, (np.ones(3),)), "potential", lambda p: p.potential)
>>> second = compiled(backend.problem(model, (np.zeros(3),)), "potential", lambda p: p.potential)
>>> z = backend.asarray(np.zeros(1))
>>> round(float(first(z)) - float(second(z)), 3)  # the same program, each call's own data
1.5
>>> second.compile_seconds
0.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["compiled", "model_token", "clear"]

#: compiled programs kept (least recently used dropped first)
MAX_ENTRIES = 256
#: arrays larger than this many elements that a model closes over are identified by identity
#: (and kept alive while cached), smaller ones by their contents
HASH_LIMIT = 1_000_000
#: how deep closures, globals and attributes of a model are followed
MAX_DEPTH = 4
#: modules whose functions are library code (followed no further than their name)
LIBRARY_PREFIXES = ("jax", "numpyro", "torch", "pyro", "numpy", "scipy", "builtins", "functools")

_lock = threading.Lock()
_cache: OrderedDict[Any, dict] = OrderedDict()


def clear() -> None:
    """Forget every compiled function (tests; or to free memory)."""
    with _lock:
        _cache.clear()


class _Unhashable(Exception):
    pass


def model_token(fn, keep: list | None = None) -> Any:
    """A hashable token of ``fn`` that changes whenever what it computes may change: its code,
    the values its closure cells and the globals it reads hold (arrays by contents, or by
    identity when large, kept alive in ``keep``), followed through functions, partials and
    callable objects up to ``MAX_DEPTH``. ``None`` when some value cannot be identified."""
    keep = [] if keep is None else keep
    try:
        return _token(fn, keep, MAX_DEPTH, set())
    except _Unhashable:
        return None


def _token(obj, keep, depth, seen):
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return (type(obj).__name__, obj)
    if id(obj) in seen:
        return ("seen", id(obj))
    if isinstance(obj, (types.ModuleType, type)):
        return ("module", obj.__name__) if isinstance(obj, types.ModuleType) else (
            "type", obj.__module__, obj.__qualname__)  # fmt: skip
    if isinstance(getattr(obj, "shape", None), tuple) and hasattr(obj, "dtype"):
        return _array_token(obj, keep)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = dataclasses.fields(obj)
        return ("dataclass", _token(type(obj), keep, depth, seen)) + tuple(
            (f.name, _token(getattr(obj, f.name), keep, depth - 1, seen)) for f in fields
        )
    if depth <= 0:
        keep.append(obj)
        return ("id", id(obj))
    seen = seen | {id(obj)}
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__,) + tuple(_token(v, keep, depth - 1, seen) for v in obj)
    if isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda kv: repr(kv[0]))
        return ("dict",) + tuple((repr(k), _token(v, keep, depth - 1, seen)) for k, v in items)
    if isinstance(obj, types.MethodType):
        return ("method", _token(obj.__func__, keep, depth, seen), _token(obj.__self__, keep,
                depth - 1, seen))  # fmt: skip
    if isinstance(obj, types.FunctionType):
        return _function_token(obj, keep, depth, seen)
    func = getattr(obj, "func", None)
    if callable(func) and hasattr(obj, "args") and hasattr(obj, "keywords"):  # a partial
        return ("partial", _token(func, keep, depth, seen),
                _token(obj.args, keep, depth - 1, seen), _token(obj.keywords, keep, depth - 1,
                seen))  # fmt: skip
    if hasattr(obj, "__dict__"):  # an object (a callable one, a config): its class and fields
        return ("object", _token(type(obj), keep, depth, seen),
                _token(vars(obj), keep, depth - 1, seen))  # fmt: skip
    try:
        hash(obj)
    except TypeError as err:
        raise _Unhashable from err
    keep.append(obj)  # identified by identity: kept alive so that the identity is not reused
    return ("id", type(obj).__qualname__, id(obj))


def _function_token(fn, keep, depth, seen):
    code = fn.__code__
    library = (fn.__module__ or "").split(".")[0] in LIBRARY_PREFIXES
    if library:
        return ("function", fn.__module__, fn.__qualname__)
    cells = tuple(
        _token(cell.cell_contents, keep, depth - 1, seen) if _filled(cell) else ("empty",)
        for cell in fn.__closure__ or ()
    )
    names = _global_names(code)
    found = tuple(
        (name, _token(fn.__globals__[name], keep, depth - 1, seen))
        for name in names
        if name in fn.__globals__
    )
    defaults = _token(fn.__defaults__, keep, depth - 1, seen)
    keep.append(code)
    return ("function", fn.__module__, fn.__qualname__, id(code), cells, found, defaults)


def _global_names(code) -> tuple[str, ...]:
    names = set(code.co_names)
    for const in code.co_consts:  # nested functions and comprehensions
        if isinstance(const, types.CodeType):
            names.update(_global_names(const))
    return tuple(sorted(names))


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _array_token(array, keep):
    size = math.prod(array.shape)
    kind = (type(array).__qualname__, tuple(array.shape), str(array.dtype))
    if size > HASH_LIMIT:
        keep.append(array)
        return kind + ("id", id(array))
    try:
        data = np.ascontiguousarray(np.asarray(array))
    except Exception as err:  # noqa: BLE001 - an array that numpy cannot read (traced, say)
        raise _Unhashable from err
    return kind + (hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest(),)


def _split_data(problem):
    """The array leaves of the model's arguments, and a hashable signature of the rest (their
    structure, the arrays' shapes and dtypes, the other leaves by value)."""
    backend = problem.backend
    leaves, treedef = backend.tree_flatten((tuple(problem.args), dict(problem.kwargs)))
    arrays, signature = [], []
    for leaf in leaves:
        if backend.is_array(leaf):
            arrays.append(leaf)
            device = getattr(leaf, "device", None)
            signature.append(("array", tuple(leaf.shape), str(leaf.dtype), str(device)))
        else:
            signature.append(("value", leaf))
    hash(tuple(signature))  # a TypeError for a leaf that cannot be a key
    return arrays, treedef, tuple(signature)


def _rebuild(backend, treedef, signature, arrays):
    """``(args, kwargs)`` from ``_split_data``'s parts."""
    arrays = iter(arrays)
    leaves = [next(arrays) if kind == "array" else value for kind, value in
              ((item[0], item[-1]) for item in signature)]  # fmt: skip
    return backend.tree_unflatten(treedef, leaves)


def _inputs_signature(backend, inputs):
    leaves, treedef = backend.tree_flatten(inputs)
    return treedef, tuple(
        (tuple(getattr(x, "shape", ())), str(getattr(x, "dtype", type(x).__name__))) for x in leaves
    )


class Compiled:
    """A compiled function of a problem, called with the inputs that are not the data;
    ``compile_seconds`` counts the compilation that calls through this handle paid."""

    def __init__(
        self, entry: dict | None, arrays, build_local: Callable | None, once: bool = False
    ):
        self._entry, self._arrays, self._local, self._once = entry, arrays, build_local, once
        self.compile_seconds = 0.0
        self._own: dict = {}

    def __call__(self, *inputs):
        if self._entry is None:  # not shareable: compiled for this problem alone
            return self._call_local(*inputs)
        entry = self._entry
        backend = entry["backend"]
        signature = _inputs_signature(backend, (self._arrays, inputs))
        with _lock:
            program = entry["programs"].get(signature)
        if program is None:
            program, seconds = backend.precompile(
                entry["function"], self._arrays, *inputs, once=self._once
            )
            self.compile_seconds += seconds
            with _lock:
                entry["programs"][signature] = program
        return program(self._arrays, *inputs)

    def _call_local(self, *inputs):
        backend, function = self._local
        signature = _inputs_signature(backend, inputs)
        if signature not in self._own:
            self._own[signature], seconds = backend.precompile(function, *inputs, once=self._once)
            self.compile_seconds += seconds
        return self._own[signature](*inputs)


def _key(problem, name, static, keep):
    """The cache key of ``build`` on ``problem``, or ``None`` where it cannot be shared."""
    if problem.rebind is None:
        return None
    token = model_token(problem.model, keep)
    if token is None:
        return None
    try:
        _, treedef, signature = _split_data(problem)
        plates = tuple(sorted(problem.subsample_plates.items()))
        parts = 1 if problem.parallel is None else problem.parallel.num_parts
        key = (name, static, token, problem.backend.name, treedef, signature, problem.layout,
               plates, parts)  # fmt: skip
        hash(key)
    except TypeError:
        return None
    return key


def compiled(
    problem, name: str, build: Callable, static: Any = (), share: bool = True, once: bool = False
) -> Compiled:
    """``build(problem)`` compiled with the problem's data as arguments, once per process for
    ``(name, static)``, the model and the data's shapes (see the module docstring).

    ``build(p)`` must depend on ``p`` (its functions, layout, plates) and on what ``name`` and
    ``static`` say only: ``static`` holds every option that changes the program, and must be
    hashable. Where ``share`` is false, the problem cannot be rebound, or the model or ``static``
    cannot be identified, the function is compiled for this problem alone (still once per
    handle and input shapes). ``once``: the program runs once or a few times, so its
    compilation is its cost (``Backend.precompile``)."""
    backend = problem.backend
    key = _key(problem, name, static, keep := []) if share else None
    if key is None:
        return Compiled(None, None, (backend, build(problem)), once)
    arrays, treedef, signature = _split_data(problem)
    with _lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
    if entry is None:
        template = problem

        def function(data, *inputs):
            args, kwargs = _rebuild(backend, treedef, signature, data)
            return build(template.with_data(args, kwargs))(*inputs)

        entry = {"backend": backend, "function": function, "programs": {}, "keep": keep}
        with _lock:
            entry = _cache.setdefault(key, entry)
            while len(_cache) > MAX_ENTRIES:
                _cache.popitem(last=False)
    return Compiled(entry, arrays, None, once)
