"""The potential's value and gradient as one compiled torch function (``compile=True``).

``torch.compile`` of a Pyro model breaks its graph at every messenger and runs slower than the
eager model. Here the forward and backward passes are first traced to one graph of ATen
operations with ``make_fx`` (which runs the messengers once, in Python, and keeps only the tensor
operations they produce), and that graph is compiled. The graph is specialised to the model's
structure and the minibatch sizes, as the ``torch.jit.trace`` recording is; it is checked
against the eager gradient at fresh points, and on any failure or disagreement ``compile`` falls
back to the recorded path with a warning.
"""

from __future__ import annotations

import time
import warnings

import pyro
import pyro.poutine as poutine
import torch

from . import keys

#: relative tolerance of the check that the compiled gradient matches the eager one
_CHECK_RTOL = 1e-3


def compile_value_and_grad(neg_log_joint, z0, indices0, sizes):
    """``(f, seconds)``: ``f(z, *indices) -> (value, gradient)`` of ``neg_log_joint`` compiled
    for the shapes of ``z0`` and ``indices0``, and the seconds spent compiling; ``(None,
    seconds)`` with a warning when it cannot be compiled or disagrees with the eager function."""
    from torch.func import grad_and_value
    from torch.fx.experimental.proxy_tensor import make_fx

    start = time.perf_counter()

    def value_and_grad(z, *indices):
        grad, value = grad_and_value(neg_log_joint)(z, *indices)
        return value, grad

    try:
        with pyro.validation_enabled(False), poutine.block(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = make_fx(value_and_grad)(z0, *indices0)
            compiled = torch.compile(graph, dynamic=False)
            compiled(z0, *indices0)  # compile now, so that the time is counted here
        _check(compiled, neg_log_joint, z0, indices0, sizes)
    except Exception as err:  # any failure means: keep the recorded path
        warnings.warn(
            f"compile=True: the model's log density could not be compiled ({err}); ppl uses the "
            "recorded (uncompiled) potential instead.",
            stacklevel=4,
        )
        return None, time.perf_counter() - start
    return compiled, time.perf_counter() - start


def _check(compiled, neg_log_joint, z0, indices0, sizes):
    for z, indices in keys.check_points(z0, indices0, sizes, seed=54321):
        z = z.requires_grad_()
        value, grad = compiled(z.detach(), *indices)
        eager_value = neg_log_joint(z, *indices)
        (eager_grad,) = torch.autograd.grad(eager_value, z)
        scale = 1.0 + float(eager_grad.abs().max())
        if not (
            torch.isclose(value, eager_value.detach(), rtol=_CHECK_RTOL, atol=1e-5)
            and float((grad - eager_grad).abs().max()) <= _CHECK_RTOL * scale
        ):
            raise ValueError(
                f"compiled value {float(value)} vs eager {float(eager_value)}, gradients differ by "
                f"{float((grad - eager_grad).abs().max())}"
            )
