"""Optimisation on a ``Problem``, written once: the MAP point in unconstrained space.

>>> import ppl
>>> from ppl import dist
>>> from ppl.inference.optimize import find_map
>>> def model():
...     ppl.sample("x", dist.Normal(3.0, 1.0))
>>> backend = ppl.get_backend("numpyro")
>>> problem = backend.problem(model)
>>> round(float(find_map(problem, backend.key(0), num_steps=500, lr=0.1)[0]), 2)
3.0
"""

from __future__ import annotations

__all__ = ["find_map"]


def find_map(problem, key, num_steps: int = 2000, lr: float = 0.05):
    """The mode of the posterior in unconstrained space (Jacobians included), by Adam with a
    learning rate decaying to ``lr / 100``, from a prior draw."""
    backend = problem.backend
    decay = 0.01 ** (1.0 / max(num_steps, 1))
    opt = backend.optimizer("adam", lambda t: lr * decay**t)
    loss = backend.value_and_grad(problem.potential)

    def body(carry, _):
        z, state = carry
        value, grad = loss(z)
        z, state = opt.update(grad, state, z)
        return (z, state), value

    z = problem.init(key, strategy="uniform")
    run = backend.jit(lambda c: backend.scan(body, c, length=num_steps))
    (z, _), _ = run((z, opt.init(z)))
    return z
