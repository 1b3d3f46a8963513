"""``Problem`` from the same model source agrees across backends."""

import warnings

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import ModelError, ShapeError, UntrustedResultWarning
from tests.models_for_tests import CASES, logistic_data, logistic_regression


def _evaluate(name, case, z_np):
    model, args, kwargs = case
    with ppl.backend(name) as backend:
        problem = backend.problem(model, args(), kwargs())
        z = backend.asarray(z_np)
        value, grad = backend.value_and_grad(problem.potential)(z)
        values = {k: backend.to_numpy(v) for k, v in problem.constrain(z).items()}
        batch = problem.constrain(backend.asarray(np.stack([z_np] * 3).reshape(1, 3, -1)))
        return problem, float(value), backend.to_numpy(grad), values, batch


@pytest.mark.parametrize("precision,tol", [("float64", 1e-5), ("float32", 1e-4)])
@pytest.mark.parametrize("case", list(CASES))
def test_potential_constrain_and_gradient_agree_across_backends(case, precision, tol):
    before = ppl.get_precision()
    ppl.set_precision(precision)
    try:
        dim = (
            ppl.get_backend("numpyro")
            .problem(CASES[case][0], CASES[case][1](), CASES[case][2]())
            .dim
        )
        z = np.linspace(-1.0, 1.0, dim)
        ref, other = (_evaluate(b, CASES[case], z) for b in ("numpyro", "pyro"))
    finally:
        ppl.set_precision(before)
    assert ref[0].layout == other[0].layout
    assert other[1] == pytest.approx(ref[1], rel=tol, abs=tol)
    np.testing.assert_allclose(other[2], ref[2], rtol=tol, atol=tol)
    assert ref[3].keys() == other[3].keys()
    for name in ref[3]:
        np.testing.assert_allclose(other[3][name], ref[3][name], rtol=tol, atol=tol)
        assert (
            tuple(ref[4][name].shape) == tuple(other[4][name].shape) == (1, 3, *ref[3][name].shape)
        )


def test_prior_draws_have_the_site_shapes(backend):
    X, y = logistic_data(n=20, d=4)
    problem = backend.problem(logistic_regression, (X,), {"y": y})
    z = problem.init(backend.key(0))
    assert tuple(z.shape) == (5,)
    values = problem.constrain(z)
    assert tuple(values["w"].shape) == (4,) and tuple(values["b"].shape) == ()


def test_minibatch_potential_is_unbiased(backend, float64):
    # The N/B-scaled minibatch log-likelihood averages to the full one. 400 minibatches of 10
    # out of 60: the relative sd of the mean is ~1%, so 5% is a 5-sigma tolerance.
    X, y = logistic_data()
    full = backend.problem(logistic_regression, (X,), {"y": y})
    mini = backend.problem(logistic_regression, (X,), {"y": y, "subsample_size": 10})
    assert mini.num_data == 60 and full.num_data is None
    z = backend.asarray(np.linspace(-1.0, 1.0, full.dim))
    keys = backend.split(backend.key(0), 400)
    potential = backend.jit(mini.potential)
    estimates = [float(potential(z, keys[i])) for i in range(400)]
    assert float(mini.potential(z)) == pytest.approx(float(full.potential(z)), rel=1e-9)
    assert np.mean(estimates) == pytest.approx(float(full.potential(z)), rel=0.05)
    assert np.std(estimates) > 0


def test_init_values_override_named_sites(backend):
    X, y = logistic_data()
    problem = backend.problem(logistic_regression, (X,), {"y": y}, init_values={"b": 0.25})
    assert float(problem.constrain(problem.init(backend.key(0)))["b"]) == pytest.approx(0.25)


def test_wrongly_shaped_observation_names_the_site_and_shapes(backend):
    X, y = logistic_data()
    with pytest.raises(ShapeError, match=r"'y'.*\(60, 1\).*\(60,\)"):
        backend.problem(logistic_regression, (X,), {"y": y[:, None]})


def test_nan_model_names_the_site(backend):
    def model(x):
        loc = ppl.sample("loc", ppl.dist.Normal(0.0, 1.0))
        ppl.sample("x", ppl.dist.Normal(loc, 1.0), obs=x)

    with pytest.raises(ModelError, match="'x' has 1 NaN"):
        backend.problem(model, (np.array([0.0, np.nan]),))

    def nan_prior():
        ppl.sample("loc", ppl.dist.Normal(0.0, 1.0))
        ppl.factor("bad", ppl.ops.asarray(float("nan")))

    with pytest.raises(ModelError, match="(?i)nan|not finite"):
        backend.problem(nan_prior).init(backend.key(0))


def test_observation_computed_from_latents_is_not_checked_as_data(backend):
    """Issue 24 item 6: ``obs`` computed from latents (an ARMA model's ``err = y - nu``) may
    overflow at the prototype's prior draw (here ``scale ~ HalfNormal(1e4)`` draws thousands,
    so ``exp(scale)`` is inf); that is no NaN in the data, and NUTS starts elsewhere."""
    y = np.linspace(-1.0, 1.0, 20)

    def model(y):
        scale = ppl.sample("scale", ppl.dist.HalfNormal(1e4))
        with ppl.plate("data", len(y)):
            ppl.sample("err", ppl.dist.Normal(0.0, 1.0), obs=y * ppl.ops.exp(scale))

    proto = backend.problem(model, (y,))  # used to raise "Observed site 'err' has 20 NaN"
    assert not np.isfinite(proto.observed["err"]).all()  # it did overflow at the prototype
    post = ppl.infer(
        model,
        "nuts",
        args=(y,),
        backend=backend.name,
        num_warmup=50,
        num_samples=20,
        progress=False,
    )
    assert np.isfinite(np.asarray(post.samples["scale"])).all()


def test_non_finite_data_closed_over_is_named_when_no_start_is_finite(backend):
    data = backend.asarray(np.array([0.0, np.nan]))  # not an argument: found by Problem.init

    def model():
        loc = ppl.sample("loc", ppl.dist.Normal(0.0, 1.0))
        ppl.sample("x", ppl.dist.Normal(loc, 1.0), obs=data)

    with pytest.raises(ModelError, match=r"'x' \(1 of 2\) hold NaN or inf.*obs_mask"):
        backend.problem(model).init(backend.key(0))


def test_discrete_latent_site_is_a_clear_error(backend):
    def model():
        ppl.sample("k", ppl.dist.Bernoulli(0.5))

    with pytest.raises(ModelError, match="'k' is discrete"):
        backend.problem(model)


def _check_uniform(draws, size, batch):
    """Every value equally likely at the last position and in the batch as a whole (expected
    count ``num * batch / size``, binomial variance; repeats counted); 5 binomial sds each."""
    num = len(draws)
    last, expected = np.bincount(draws[:, -1], minlength=size), num / size
    assert np.all(np.abs(last - expected) < 5 * np.sqrt(expected)), last
    p = 1 / size
    included = np.bincount(draws.ravel(), minlength=size)
    n = num * batch
    assert np.all(np.abs(included - n * p) < 5 * np.sqrt(n * p * (1 - p))), included


#: (size, batch): i.i.d. draws (4 batch <= size) and, for (7, 3), distinct ones
SIZES = [(10, 2), (7, 3), (40, 9), (10**6, 100)]


@pytest.mark.parametrize("size,batch", SIZES)
def test_pyro_minibatch_indices_are_uniform_and_one_randint(size, batch):
    # drawn as BlackJAX's users draw them: one randint with replacement, no sort or unique
    # (issue 25: the O(batch) without-replacement draw cost more than an SGLD step)
    torch = pytest.importorskip("torch")
    from ppl.backends.pyro.problem import minibatch_indices

    gen = torch.Generator().manual_seed(0)
    draws = [minibatch_indices(size, batch, gen) for _ in range(3000 if size < 100 else 20)]
    for idx in draws:
        assert len(idx) == batch and 0 <= int(idx.min()) and int(idx.max()) < size
    if 4 * batch > size:  # a large fraction of the data: distinct indices
        assert all(len(set(idx.tolist())) == batch for idx in draws)
    else:
        same = torch.randint(size, (batch,), generator=torch.Generator().manual_seed(1))
        got = minibatch_indices(size, batch, torch.Generator().manual_seed(1))
        assert torch.equal(got, same)
    if size < 100:
        _check_uniform(np.stack([idx.numpy() for idx in draws]), size, batch)


@pytest.mark.parametrize("size,batch", SIZES)
def test_numpyro_minibatch_indices_are_uniform_and_one_randint(size, batch):
    # one jax.random.randint, as BlackJAX's users draw minibatches (issue 25: the former
    # without-replacement draw sorted 2 batch + 16 values, ~30 us, 3x an SGLD step)
    import jax

    from ppl.backends.numpyro.problem import minibatch_indices

    num = 3000 if size < 100 else 20
    keys = jax.random.split(jax.random.PRNGKey(0), num)
    draws = np.asarray(jax.jit(jax.vmap(lambda k: minibatch_indices(size, batch, k)))(keys))
    assert draws.shape == (num, batch) and 0 <= draws.min() and draws.max() < size
    if 4 * batch > size:
        assert all(len(set(idx.tolist())) == batch for idx in draws)
    else:
        primitives = {
            eqn.primitive.name
            for eqn in jax.make_jaxpr(lambda k: minibatch_indices(size, batch, k))(
                keys[0]
            ).jaxpr.eqns
        }
        assert not primitives & {"sort", "cond", "scan", "while"}, primitives
        expected = jax.random.randint(keys[0], (batch,), 0, size, dtype=draws.dtype)
        np.testing.assert_array_equal(draws[0], np.asarray(expected))
    if size < 100:
        _check_uniform(draws, size, batch)


def test_compiled_gradient_equals_the_recorded_one_on_every_minibatch():
    # compile=True (Pyro): one make_fx graph of value and gradient, torch.compile'd; same
    # minibatch per key as the uncompiled problem, same numbers up to float32 rounding
    backend = ppl.get_backend("pyro")
    X, y = logistic_data()
    kwargs = {"y": y, "subsample_size": 10}
    plain = backend.problem(logistic_regression, (X,), kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a fallback to the uncompiled path warns
        compiled = backend.problem(logistic_regression, (X,), kwargs, compile=True)
    assert compiled.compile_seconds > 0  # the plain one's counts its minibatch recording
    z = backend.asarray(np.linspace(-1.0, 1.0, plain.dim))
    for key in [*backend.split(backend.key(3), 3), None]:  # None: the whole data, not compiled
        (v1, g1), (v2, g2) = plain.value_and_grad(z, key), compiled.value_and_grad(z, key)
        np.testing.assert_allclose(float(v2), float(v1), rtol=1e-5)
        np.testing.assert_allclose(g2.numpy(), g1.numpy(), rtol=1e-4, atol=1e-4)


def _count_autograd(monkeypatch):
    """A list that gets one entry per ``torch.autograd.grad`` call from now on."""
    torch = pytest.importorskip("torch")
    calls, grad = [], torch.autograd.grad

    def counted(*args, **kwargs):
        calls.append(1)
        return grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counted)
    return calls


def test_pyro_minibatch_gradient_is_one_fused_graph_by_default(monkeypatch):
    # issue 25: SG-MCMC's minibatch gradient on Pyro runs one recorded graph of value and
    # gradient (no autograd pass per call, 2-3x faster than the recorded potential plus
    # autograd); same minibatch per key and the same numbers as that path up to rounding
    backend = ppl.get_backend("pyro")
    X, y = logistic_data()
    kwargs = {"y": y, "subsample_size": 10}
    plain = backend.problem(logistic_regression, (X,), kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a fallback to the slow path warns
        fused = backend.problem(logistic_regression, (X,), kwargs, minibatch=True)
    assert fused.compile_seconds > 0
    z = backend.asarray(np.linspace(-1.0, 1.0, plain.dim))
    keys = backend.split(backend.key(3), 3)
    expected = [plain.value_and_grad(z, key) for key in keys]
    calls = _count_autograd(monkeypatch)
    got = [fused.value_and_grad(z, key) for key in keys]
    assert not calls, "the default minibatch gradient fell back to autograd"
    for (v1, g1), (v2, g2) in zip(expected, got):
        np.testing.assert_allclose(float(v2), float(v1), rtol=1e-5)
        np.testing.assert_allclose(g2.numpy(), g1.numpy(), rtol=1e-4, atol=1e-4)
    # a point that needs a gradient through the gradient takes the eager path, which nests
    z_outer = z.clone().requires_grad_(True)
    _, g_outer = fused.value_and_grad(z_outer, keys[0])
    assert g_outer.requires_grad and calls


def test_pyro_default_sgld_takes_no_autograd_pass_per_step(monkeypatch):
    calls = _count_autograd(monkeypatch)
    X, y = logistic_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a fallback to the slow path warns
        warnings.simplefilter("ignore", UntrustedResultWarning)  # 200 draws from the start
        post = ppl.infer(
            logistic_regression, "sgld", args=(X,), kwargs={"y": y}, backend="pyro",
            batch_size=10, step_size=1e-3, num_warmup=0, num_samples=200, progress=False,
        )  # fmt: skip
    assert post.samples["w"].shape[:2] == (1, 200)
    # a few outside the steps: the warm start's, and the start's gradient check (Problem.init,
    # one full-data pass); a fallback of the steps would take 200
    assert len(calls) <= 5, f"{len(calls)} autograd passes: the fused gradient fell back"


def branching_on_a_latent(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    scale = 1.0 + abs(float(mu))  # a Python number from a latent: a recording would freeze it
    with ppl.plate("data", y.shape[0], subsample_size=5) as idx:
        ppl.sample("y", dist.Normal(mu, scale), obs=y[idx])


def test_pyro_model_that_cannot_be_fused_falls_back_with_one_warning():
    backend = ppl.get_backend("pyro")
    y = np.linspace(-1.0, 1.0, 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problem = backend.problem(branching_on_a_latent, (y,), minibatch=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1 and "not static" in messages[0], messages
    value, grad = problem.value_and_grad(backend.asarray(np.array([0.5])), backend.key(0))
    assert np.isfinite(float(value)) and np.isfinite(grad.numpy()).all()


def test_compile_is_accepted_and_ignored_on_numpyro():
    backend = ppl.get_backend("numpyro")
    X, y = logistic_data()
    problem = backend.problem(logistic_regression, (X,), {"y": y}, compile=True)
    assert problem.compile_seconds == 0


def bounded_by_a_latent():
    a = ppl.sample("a", ppl.dist.Exponential(1.0))
    ppl.sample("x", ppl.dist.Uniform(0.0, a))


def test_a_support_that_moves_with_another_latent():
    # NumPyro follows the support at every point: x = a * sigmoid(u), batched as one by one
    z = np.array([[2.0, 3.0], [-1.0, 3.0]], dtype=np.float32)
    with ppl.backend("numpyro") as backend:
        values = backend.problem(bounded_by_a_latent).constrain(backend.asarray(z))
    a = np.exp(z[:, 0])
    np.testing.assert_allclose(np.asarray(values["x"]), a / (1 + np.exp(-z[:, 1])), rtol=1e-5)
    # and samples it: no data, so the prior: E a = 1 (sd 1), E x = 1/2 (sd 0.65); with 2,000
    # draws (ESS >= 200, measured ~ 500) 0.25 and 0.15 are each over 3 standard errors
    post = ppl.infer(
        bounded_by_a_latent, "nuts", backend="numpyro", num_warmup=500, num_samples=2000,
        progress=False,
    )  # fmt: skip
    a, x = post.samples["a"], post.samples["x"]
    assert np.all(x <= a) and abs(a.mean() - 1) < 0.25 and abs(x.mean() - 0.5) < 0.15
    # Pyro's transforms are fixed at the first trace: refused, naming the site and the fix,
    # also where the bound hides inside an independent (to_event) constraint
    for model in (bounded_by_a_latent, bounded_vector):
        with ppl.backend("pyro") as backend:
            with pytest.raises(ModelError, match="'x'.*reparameterize"):
                backend.problem(model)


def bounded_vector():
    a = ppl.sample("a", ppl.dist.Exponential(1.0))
    ppl.sample("x", ppl.dist.Uniform(0.0, a).expand([3]).to_event(1))


def nan_gradient_where_positive():
    """A finite density everywhere whose gradient is NaN where ``x > 0``: the branch that
    ``where`` leaves out is NaN there, and its zero cotangent times NaN is NaN (as a float32
    enumerated chain's contraction loses its gradient at some points)."""
    x = ppl.sample("x", dist.Normal(0.0, 1.0))
    ppl.factor("f", ppl.ops.where(x > 0, 0.0 * x, ppl.ops.sqrt(-x)))


def test_init_skips_starts_whose_gradient_is_not_finite(backend):
    problem = backend.problem(nan_gradient_where_positive)
    keys = [backend.key(seed) for seed in range(4)]
    # without the gradient check the first try is kept: a uniform draw on (-2, 2) that is
    # positive for some of these keys (so this test fails if the check is dropped)
    first = [float(backend.uniform(backend.split(k, 100)[0], (1,), -2.0, 2.0)[0]) for k in keys]
    assert any(x > 0 for x in first)
    for key in keys:
        z = problem.init(key, "uniform")
        value, grad = problem.value_and_grad(z)
        assert float(z[0]) < 0 and np.isfinite(float(value)) and problem.finite_gradient(grad)


def test_init_names_a_gradient_that_is_never_finite(backend):
    def model():
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
        ppl.factor("f", ppl.ops.where(x == x, 0.0 * x, ppl.ops.sqrt(-1.0 - x * x)))

    with pytest.raises(ModelError, match=r"gradient is not.*float64.*init_values"):
        backend.problem(model).init(backend.key(0), max_tries=5)


@pytest.mark.filterwarnings("ignore:nuts. split R-hat")  # 40 draws a chain: R-hat is not the point
def test_nuts_chains_start_where_the_gradient_is_finite(backend):
    # a chain started at x > 0 (finite potential, NaN gradient) has every transition divergent
    # and repeats its start; from x < 0 NUTS rejects the trajectories that reach x > 0
    post = ppl.infer(nan_gradient_where_positive, "nuts", num_warmup=30, num_samples=40,
                     num_chains=4, chain_method="sequential", progress=False, seed=0)  # fmt: skip
    x = np.asarray(post.samples["x"])
    assert (x < 0).all()
    assert all(len(np.unique(chain)) > 10 for chain in x), [len(np.unique(c)) for c in x]
