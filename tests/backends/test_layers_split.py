"""A backend is two layers (ARCHITECTURE.md): an ``ArrayBackend`` that is complete and knows no
models, and a ``Runtime`` that holds it; ``Backend`` forwards the array layer's methods, and the
code written once (everything in ``ppl`` outside ``ppl/backends``) asks a backend only for names
one of the two layers declares."""

from __future__ import annotations

import ast
import inspect
import pathlib

import numpy as np
import pytest

import ppl
from ppl import dist, ops
from ppl.backends.array_base import ArrayBackend
from ppl.backends.base import Backend
from ppl.backends.runtime_base import Runtime

PPL = pathlib.Path(__file__).resolve().parents[2] / "ppl"


def _declared(cls) -> set[str]:
    """The public names ``cls`` declares: methods, properties, attributes and annotations."""
    names = set(getattr(cls, "__annotations__", {}))
    for klass in cls.__mro__:
        if klass is not object:
            names.update(vars(klass))
    return {name for name in names if not name.startswith("_")}


ARRAY_API = _declared(ArrayBackend)
RUNTIME_API = _declared(Runtime)
ARRAY_METHODS = sorted(n for n in ARRAY_API if inspect.isfunction(getattr(ArrayBackend, n, None)))


def _public(obj) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_the_two_layers_declare_disjoint_apis():
    # ``name`` is each layer's own: the array library ("jax") and the backend ("numpyro")
    assert ARRAY_API & RUNTIME_API == {"name"}
    assert {"xp", "value_and_grad", "scan", "vmap", "split", "optimizer"} <= ARRAY_API
    assert {"arrays", "problem", "handlers", "primitives", "dist", "svi"} <= RUNTIME_API


def test_the_array_layer_is_complete_and_knows_no_models(backend):
    arrays = backend.arrays
    assert isinstance(arrays, ArrayBackend) and not inspect.isabstract(type(arrays))
    assert not _public(arrays) & (RUNTIME_API - {"name"}), "the array layer has runtime names"
    # a method on one implementation alone is a method the algorithms cannot rely on
    assert _public(arrays) <= ARRAY_API, _public(arrays) - ARRAY_API
    assert arrays.name != backend.name  # the array library, not the backend


def test_the_runtime_declares_no_array_method_and_adds_none():
    assert not {name for name in vars(Runtime) if not name.startswith("_")} & (ARRAY_API - {"name"})


def test_the_backend_adds_nothing_undeclared(backend):
    extra = _public(backend) - ARRAY_API - RUNTIME_API
    assert not extra, f"declare these in ArrayBackend or Runtime, or drop them: {sorted(extra)}"


@pytest.mark.parametrize("name", ARRAY_METHODS + ["xp"])
def test_backend_forwards_each_array_method_to_its_arrays(backend, name):
    """Each forwarder hands every argument, in order, to the same-named method of ``arrays``;
    no concrete backend overrides one."""

    class Recorder:
        xp = object()

        def __getattr__(self, attr):
            return lambda *args, **kwargs: (attr, args, kwargs)

    cls = type(backend)
    assert name in vars(Backend), f"Backend does not forward {name!r} to its arrays"
    assert not any(name in vars(k) for k in cls.__mro__[: cls.__mro__.index(Backend)])
    runtime = cls(Recorder())
    if name == "xp":
        assert runtime.xp is Recorder.xp
        return
    args, kwargs = [], {}
    for param in list(inspect.signature(getattr(ArrayBackend, name)).parameters.values())[1:]:
        if param.kind is param.VAR_KEYWORD:
            kwargs["extra"] = object()
        elif param.kind is param.KEYWORD_ONLY:
            kwargs[param.name] = object()
        else:
            args.append(object())
    called, got_args, got_kwargs = getattr(runtime, name)(*args, **kwargs)
    assert called == name
    assert [*got_args, *got_kwargs.values()] == [*args, *kwargs.values()]


def test_a_runtime_builds_problems_over_any_array_layer_of_its_kind(backend):
    arrays = type(backend.arrays)()  # a second, independent array layer
    runtime = type(backend)(arrays)
    assert isinstance(runtime, Runtime) and runtime.arrays is arrays

    def model(y):
        loc = ppl.sample("loc", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.Normal(loc, 1.0), obs=y)

    (y,), _ = runtime.convert_args((np.array([0.5]),))
    assert arrays.is_array(y)
    problem = runtime.problem(model, (y,))
    assert problem.backend is runtime and problem.arrays is arrays
    # the negative log joint of loc=0 with y=0.5: log(2 pi) + 0.5**2 / 2
    value, grad = problem.value_and_grad(arrays.asarray([0.0]))
    assert float(value) == pytest.approx(np.log(2 * np.pi) + 0.125, rel=1e-6)
    np.testing.assert_allclose(arrays.to_numpy(grad), [-0.5], rtol=1e-6)


def test_array_ops_agree_through_a_standalone_array_layer_and_the_backend(backend):
    standalone = type(backend.arrays)()  # attached to no runtime

    def run(a):
        keys = a.split(a.key(3), 3)
        draws = a.normal(keys[0], (4,)), a.uniform(keys[1], (4,)), a.permutation(keys[2], 5)
        f = lambda p: ops.sum(p["w"] ** 2) + a.logsumexp(p["w"])
        params = {"w": a.asarray([1.0, -2.0])}
        value, grad = a.value_and_grad(f)(params)
        opt = a.optimizer("adam", 0.1)
        state = opt.init(params)
        for _ in range(3):
            params, state = opt.update(a.value_and_grad(f)(params)[1], state, params)
        carry, ys = a.scan(lambda c, x: (c + x, c * x), a.asarray(1.0), a.asarray([1.0, 2.0]))
        mapped = a.vmap(lambda x: x * 2.0)(a.asarray([[1.0], [2.0]]))
        out = [*draws, value, grad["w"], params["w"], carry, ys, mapped]
        return [a.to_numpy(v) for v in out]

    for x, y, z in zip(run(standalone), run(backend), run(backend.arrays)):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


# ---- the code written once asks only for declared names ----------------------------------


def _is_backend(node) -> bool:
    """``backend``, ``<anything>.backend`` or a ``get_backend(...)``/``load_backend(...)`` call."""
    if isinstance(node, ast.Name):
        return node.id == "backend"
    if isinstance(node, ast.Attribute):
        return node.attr == "backend"
    if isinstance(node, ast.Call):
        func = node.func
        return getattr(func, "id", getattr(func, "attr", None)) in ("get_backend", "load_backend")
    return False


def undeclared_uses(source: str) -> tuple[list[str], int]:
    """``"<expr>.<name>"`` for every attribute asked of a backend (or of an array layer,
    ``<expr>.arrays``) in ``source`` that its layers do not declare, and the number of
    attributes checked."""
    found, checked = [], 0
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr == "arrays":
            allowed = ARRAY_API
        elif _is_backend(value):
            allowed = ARRAY_API | RUNTIME_API
        else:
            continue
        checked += 1
        if node.attr not in allowed:
            found.append(f"{ast.unparse(value)}.{node.attr}")
    return found, checked


def test_the_source_check_catches_an_undeclared_name():
    source = (
        "def step(state, key, problem):\n"
        "    z = problem.backend.normal(key, (2,))\n"
        "    problem.backend.only_on_jax(z)\n"
        "    problem.arrays.problem(None)\n"
        "    get_backend().split(key)\n"
        "    self.backend.tree_magic(z)\n"
    )
    found, checked = undeclared_uses(source)
    assert sorted(found) == [
        "problem.arrays.problem",
        "problem.backend.only_on_jax",
        "self.backend.tree_magic",
    ]
    assert checked == 5


def test_code_written_once_uses_only_declared_backend_names():
    found, checked = [], 0
    for path in sorted(PPL.rglob("*.py")):
        if "backends" in path.relative_to(PPL).parts:
            continue
        bad, count = undeclared_uses(path.read_text())
        found += [f"{path.relative_to(PPL.parent)}: {use}" for use in bad]
        checked += count
    assert checked > 100  # the check sees the algorithms' backend calls
    assert not found, "names not declared by ArrayBackend or Runtime:\n" + "\n".join(found)
