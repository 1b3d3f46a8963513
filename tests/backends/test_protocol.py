"""The Backend protocol means the same thing on both backends."""

import numpy as np
import pytest

import ppl
from ppl import dist, ops
from ppl.errors import ModelError, OptionError


def test_keys_are_reproducible_and_split_into_distinct_streams(backend):
    a = backend.to_numpy(backend.normal(backend.key(0), (5,)))
    b = backend.to_numpy(backend.normal(backend.key(0), (5,)))
    np.testing.assert_array_equal(a, b)
    k1, k2 = backend.split(backend.key(0))
    x1 = backend.to_numpy(backend.normal(k1, (5,)))
    x2 = backend.to_numpy(backend.normal(k2, (5,)))
    assert not np.allclose(x1, x2) and not np.allclose(x1, a)


def test_random_draws_have_the_stated_distribution(backend):
    # 20,000 draws: the sample mean's sd is 0.007 (normal) and 0.002 (uniform); 5 sd tolerances.
    key_n, key_u, key_c = backend.split(backend.key(1), 3)
    n = backend.to_numpy(backend.normal(key_n, (20_000,)))
    u = backend.to_numpy(backend.uniform(key_u, (20_000,)))
    assert abs(n.mean()) < 0.035 and abs(n.std() - 1) < 0.035
    assert abs(u.mean() - 0.5) < 0.01 and u.min() >= 0 and u.max() < 1
    logits = backend.asarray(np.log([0.2, 0.3, 0.5]))
    c = backend.to_numpy(backend.categorical(key_c, logits, (20_000,)))
    np.testing.assert_allclose(np.bincount(c, minlength=3) / 20_000, [0.2, 0.3, 0.5], atol=0.02)
    perm = backend.to_numpy(backend.permutation(backend.key(2), 10))
    assert sorted(perm.tolist()) == list(range(10))


def test_value_and_grad_on_a_tree(backend):
    f = lambda p: ops.sum(p["a"] ** 2) + 3.0 * p["b"]
    params = {"a": backend.asarray([1.0, 2.0]), "b": backend.asarray(0.5)}
    value, grad = backend.value_and_grad(f)(params)
    assert float(value) == pytest.approx(6.5)
    np.testing.assert_allclose(backend.to_numpy(grad["a"]), [2.0, 4.0])
    assert float(grad["b"]) == pytest.approx(3.0)


def test_scan_carries_and_stacks(backend):
    def step(carry, x):
        return carry + x, carry * 2

    carry, ys = backend.scan(step, backend.asarray(0.0), backend.asarray([1.0, 2.0, 3.0]))
    assert float(carry) == 6.0
    np.testing.assert_allclose(backend.to_numpy(ys), [0.0, 2.0, 6.0])


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop"])
def test_optimizer_minimises_a_quadratic(backend, name):
    opt = backend.optimizer(name, 0.1)
    params = {"x": backend.asarray([3.0, -2.0])}
    state = opt.init(params)
    loss = backend.value_and_grad(lambda p: ops.sum((p["x"] - 1.0) ** 2))
    for _ in range(300):
        _, grads = loss(params)
        params, state = opt.update(grads, state, params)
    np.testing.assert_allclose(backend.to_numpy(params["x"]), [1.0, 1.0], atol=1e-2)


def test_unknown_optimizer_suggests_the_closest(backend):
    with pytest.raises(OptionError, match="Did you mean 'adam'"):
        backend.optimizer("adma", 0.1)


def test_precision_float64_reaches_both_libraries(backend, float64):
    assert str(ops.asarray([1.0]).dtype).endswith("float64")
    assert str(backend.normal(backend.key(0), (2,)).dtype).endswith("float64")


def test_arguments_are_converted_or_rejected_clearly(backend):
    args, kwargs = backend.convert_args((np.ones(3), [1.0, 2.0], 5, "name"), {"t": (np.zeros(2),)})
    assert backend.is_array(args[0]) and backend.is_array(args[1])
    assert args[2] == 5 and args[3] == "name" and backend.is_array(kwargs["t"][0])
    with pytest.raises(ModelError, match="argument 0"):
        backend.convert_args(([[1.0, 2.0], [3.0]],))


def test_arrays_of_the_other_backend_are_converted(backend):
    other = [b for b in ppl.backends() if b != backend.name][0]
    foreign = ppl.get_backend(other).asarray(np.arange(3.0))
    (converted,), _ = backend.convert_args((foreign,))
    assert backend.is_array(converted)
    np.testing.assert_array_equal(backend.to_numpy(converted), [0.0, 1.0, 2.0])


def test_dist_and_ops_follow_the_active_backend(backend):
    assert type(dist.Normal(0.0, 1.0)).__module__.startswith(backend.name)
    assert backend.is_array(ops.zeros(3))
    with pytest.raises(ModelError, match="Did you mean 'Normal'"):
        dist.Normall  # noqa: B018
