"""The potential's value and gradient as one recorded graph of tensor operations.

Re-running a Pyro model's messengers at every gradient is slow, and ``torch.compile`` of a Pyro
model breaks its graph at every messenger and runs slower than the eager model. Here the forward
and backward passes are first traced to one graph of ATen operations with ``make_fx`` (which runs
the messengers once, in Python, and keeps only the tensor operations they produce, the backward
ones included), and that graph is then run in one of two ways:

- ``"script"`` (the default of the SG-MCMC samplers): traced without in-place operations
  (``functionalize``), simplified (``simplify``: what does not depend on the inputs computed
  once, identities such as ``x * 1`` or a ``view`` to the same shape dropped, repeated
  operations merged; 126 operations down to 65 for a logistic regression), then recorded with
  ``torch.jit.trace`` and frozen, so that a call runs the value-and-gradient graph in C++ with
  no Python per operation and no autograd tape; well under a second to build.
- ``"inductor"`` (``compile=True``): compiled by ``torch.compile``, which fuses the operations
  into a few kernels; per step ~10% faster than ``"script"`` on the logistic regression of
  ``benchmarks/sgmcmc_speed.py``, but its first compile on a machine takes seconds (13 s on a
  quiet 2-core VM, ``benchmarks/RESULTS.md``).

The graph is specialised to the model's structure, its dtype and the minibatch sizes, as the
``torch.jit.trace`` recording of the potential is; it is checked against the eager gradient at
fresh points, and on any failure or disagreement the caller falls back to the recorded potential
and autograd, with one warning.
"""

from __future__ import annotations

import time
import warnings

import pyro
import pyro.poutine as poutine
import torch

from . import keys
from .graph import simplify

#: relative tolerance of the check that the fused gradient matches the eager one
_CHECK_RTOL = 1e-3

#: how the fused graph runs: see the module docstring
MODES = ("script", "inductor")


def compile_value_and_grad(neg_log_joint, z0, indices0, sizes, mode="inductor"):
    """``(f, seconds)``: ``f(z, *indices) -> (value, gradient)`` of ``neg_log_joint`` as one
    graph for the shapes of ``z0`` and ``indices0``, run as ``mode`` says (``"script"`` or
    ``"inductor"``), and the seconds spent building it; ``(None, seconds)`` with one warning
    when it cannot be built or disagrees with the eager function."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: one of {MODES}")
    from torch.func import functionalize, grad_and_value
    from torch.fx.experimental.proxy_tensor import make_fx

    start = time.perf_counter()

    def value_and_grad(z, *indices):
        grad, value = grad_and_value(neg_log_joint)(z, *indices)
        return value, grad

    try:
        with pyro.validation_enabled(False), poutine.block(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if mode == "inductor":
                graph = make_fx(value_and_grad)(z0, *indices0)
                fused = torch.compile(graph, dynamic=False)
            else:
                graph = make_fx(functionalize(value_and_grad))(z0, *indices0)
                graph = simplify(graph, z0, *indices0)
                fused = torch.jit.freeze(
                    torch.jit.trace(graph, (z0, *indices0), check_trace=False).eval()
                )
            fused(z0, *indices0)  # compile now, so that the time is counted here
        _check(fused, neg_log_joint, z0, indices0, sizes)
    except Exception as err:  # any failure means: keep the recorded path
        first = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
        if mode == "inductor":
            message = (
                f"compile=True: the model's log density could not be compiled ({first}); ppl "
                "uses the recorded (uncompiled) potential instead."
            )
        else:
            message = (
                f"The model's value and gradient could not be recorded as one graph ({first}); "
                "ppl takes the gradient of the recorded potential with autograd instead, which "
                "is 2-3x slower per step. Avoid Python control flow on latent values to get the "
                "fast path."
            )
        warnings.warn(message, stacklevel=4)
        return None, time.perf_counter() - start
    return fused, time.perf_counter() - start


def _check(fused, neg_log_joint, z0, indices0, sizes):
    for z, indices in keys.check_points(z0, indices0, sizes, seed=54321):
        z = z.requires_grad_()
        value, grad = fused(z.detach(), *indices)
        eager_value = neg_log_joint(z, *indices)
        (eager_grad,) = torch.autograd.grad(eager_value, z)
        finite = eager_grad[torch.isfinite(eager_grad)]
        scale = 1.0 + (float(finite.abs().max()) if finite.numel() else 0.0)
        # where the density is not finite at a point, both must say so alike
        if not (
            torch.isclose(value, eager_value.detach(), rtol=_CHECK_RTOL, atol=1e-5, equal_nan=True)
            and torch.allclose(grad, eager_grad, rtol=0.0, atol=_CHECK_RTOL * scale, equal_nan=True)
        ):
            raise ValueError(
                f"fused value {float(value)} vs eager {float(eager_value)}, gradients differ by "
                f"{float((grad - eager_grad).abs().max())}"
            )


def record_mapped_value_and_grad(potential, zs):
    """``f(zs) -> (values, grads)``: ``potential`` and its gradient at each row of ``zs``
    (``torch.func.vmap`` of ``grad_and_value``) as one graph recorded as in ``"script"`` mode,
    for ``zs``'s shape, dtype and device (the batched NUTS kernel's leapfrog steps: ~0.5 ms for
    4 rows of a logistic regression against ~3 ms through vmap and autograd). Raises where it
    cannot be recorded; the caller checks it."""
    from torch.func import functionalize, grad_and_value, vmap
    from torch.fx.experimental.proxy_tensor import make_fx

    def value_and_grad(z):
        grad, value = vmap(grad_and_value(potential))(z)
        return value, grad

    with pyro.validation_enabled(False), poutine.block(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = make_fx(functionalize(value_and_grad))(zs)
        graph = simplify(graph, zs)
        return torch.jit.freeze(torch.jit.trace(graph, (zs,), check_trace=False).eval())
