"""What svi's path compiles on NumPyro (issue 24, item 9: the README example's time is XLA
compilation): the warm start's MAP search and checks are a few compiled programs, not the
model run operation by operation (each operation an XLA compilation of its own); the steps
are one program of one chunk size; run-once programs give the same bits at their lighter
optimisation. Counted with JAX's compile-time hook; no wall-clock test."""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist, ops
from ppl.inference import compiled, optimize
from ppl.inference.warm_start import laplace_start

jax = pytest.importorskip("jax")
monitoring = pytest.importorskip("jax.monitoring")

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class _Compilations:
    """Counts XLA compilations while active (JAX's own hook; listeners cannot be removed, so
    one stays registered and counts only while a ``_Compilations`` is open)."""

    active: list = []

    def __enter__(self):
        self.count = 0
        _Compilations.active.append(self)
        return self

    def __exit__(self, *exc):
        _Compilations.active.remove(self)


def _listener(event, duration, **kwargs):
    if event == COMPILE_EVENT:
        for counter in _Compilations.active:
            counter.count += 1


monitoring.register_event_duration_secs_listener(_listener)


def logistic(X, y=None):  # the README's model
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X, w) + b), obs=y)


def scale_model(y):  # a constrained site: the starts' round trip through the support matters
    s = ppl.sample("s", dist.HalfNormal(1.0))
    m = ppl.sample("m", dist.Normal(0.0, 1.0))
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", dist.Normal(m, s), obs=y)


def _data(n=57, d=3):  # shapes no other test uses: no operation compiled before
    X = np.random.default_rng(0).normal(size=(n, d))
    return X, (X[:, 0] > 0).astype(float)


def _cold():
    compiled.clear()
    jax.clear_caches()  # the op-by-op programs too: counts do not depend on earlier tests


def test_warm_start_compiles_programs_not_operations():
    X, y = _data()
    backend = ppl.get_backend("numpyro")
    problem = backend.problem(logistic, (X,), {"y": y})
    _cold()
    with _Compilations() as seen:
        start = laplace_start(problem, backend.key(0))
    # the starts, value and gradient, Hessian, check's noise and check: 5 programs, and a few
    # conversions of numpy input; the MAP starts run op by op took ~50 more (before issue 24)
    assert seen.count <= 12, seen.count
    assert int(start.fallback) == 0


def test_svi_readme_example_compiles_each_program_once():
    X, y = _data(61, 3)
    _cold()
    with _Compilations() as seen:
        post = ppl.infer(
            logistic, "svi", args=(X,), kwargs={"y": y}, backend="numpyro", guide="mvn",
            progress=False,
        )  # fmt: skip
    programs = {
        key[0]: len(entry["programs"]) for key, entry in compiled._cache.items()
    }  # fmt: skip
    # one chunk size: the steps compile once however many chunks the stop rule checks
    assert programs.pop("driver-chunk") == 1
    assert post.sample_stats["loss"].shape[1] >= 2 * 250
    assert set(programs) == {
        "map-start", "value_and_grad", "hessian", "warm-check-noise", "warm-check", "svi-init",
        "driver-sample", "constrain",
    }  # fmt: skip
    assert all(n == 1 for n in programs.values()), programs
    # 63 on the README's data in a fresh process (118 before issue 24's item 9): the rest are
    # the prototype run of the model and NumPyro's validation, op by op
    assert seen.count <= 70, seen.count


@pytest.mark.parametrize("index", range(4))
def test_compiled_map_start_is_problem_init(index):
    backend = ppl.get_backend("numpyro")
    y = np.random.default_rng(2).normal(1.0, 2.0, size=9)
    problem = backend.problem(scale_model, (y,))
    key = backend.key(5)
    fun = optimize.potential_value
    start = optimize._start(problem, key, index, 4, lambda x: (fun(problem, x), None))
    expected = problem.init(backend.split(key, 4)[index], strategy="uniform")
    np.testing.assert_allclose(start, backend.to_numpy(expected), rtol=1e-6, atol=1e-7)


def test_map_start_falls_back_to_problem_init_where_not_finite(monkeypatch):
    backend = ppl.get_backend("numpyro")
    y = np.random.default_rng(2).normal(1.0, 2.0, size=9)
    problem = backend.problem(scale_model, (y,))
    key = backend.key(5)
    calls = []

    def init(self, start_key, strategy="prior", max_tries=100, value_and_grad=None):
        calls.append(strategy)
        assert value_and_grad is not None  # checked by the compiled program, not op by op
        return backend.asarray(np.full(problem.dim, 0.25))

    monkeypatch.setattr(type(problem), "init", init)
    start = optimize._start(problem, key, 1, 4, lambda x: (float("inf"), None))
    assert calls == ["uniform"]
    np.testing.assert_array_equal(start, np.full(problem.dim, 0.25))


def test_run_once_compilation_gives_the_same_bits():
    backend = ppl.get_backend("numpyro")
    loc, tril = backend.asarray(np.arange(4.0)), backend.asarray(np.tril(np.ones((4, 4))) / 3)

    def draws(key, loc, tril):
        z = backend.normal(key, (1000, 4))
        return loc + backend.xp.matmul(z, tril.T), backend.xp.exp(z).sum(0)

    args = (backend.key(3), loc, tril)
    default, _ = backend.precompile(draws, *args)
    once, _ = backend.precompile(draws, *args, once=True)
    for a, b in zip(default(*args), once(*args)):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))
