"""Functional optimizers on torch tensors: ``(init, update)`` with the state a tree of tensors.

The update rules are ``torch.optim``'s with their default hyperparameters, written without
in-place updates, so an algorithm's state holds its optimizer's moments and step count as
tensors (checkpointable, and nothing lives in an object).
"""

from __future__ import annotations

import math

import torch
import torch.utils._pytree as pytree

from ..array_base import Optimizer
from .traced import tracing

__all__ = ["OPTIMIZERS", "functional_optimizer"]

#: torch.optim's defaults
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
ADAGRAD_EPS = 1e-10


def _adam():
    """Adam (``torch.optim.Adam``'s rule), over all leaves at once with ``torch._foreach_*``
    (one call per operation instead of one per operation and leaf; the same arithmetic on
    every element, so the same numbers as leaf by leaf)."""
    beta1, beta2 = ADAM_BETAS

    def moments(param):
        return {"m": torch.zeros_like(param), "v": torch.zeros_like(param)}

    def rule(params, grads, slots, t, rate):
        m = torch._foreach_add(
            torch._foreach_mul([s["m"] for s in slots], beta1), torch._foreach_mul(grads, 1 - beta1)
        )
        v = torch._foreach_add(
            torch._foreach_mul([s["v"] for s in slots], beta2),
            torch._foreach_mul(torch._foreach_mul(grads, 1 - beta2), grads),
        )
        if torch.is_tensor(t):  # a recorded step: the same float64 arithmetic, as tensors,
            t = t.to(torch.float64)  # then rounded to the leaves' dtype as a Python float is
            (dtype,) = {leaf.dtype for leaf in params}
            correction1, correction2 = 1 - torch.pow(beta1, t), 1 - torch.pow(beta2, t)
            root2, scale = torch.sqrt(correction2).to(dtype), (rate / correction1).to(dtype)
        else:
            correction1, correction2 = 1 - beta1**t, 1 - beta2**t
            root2, scale = math.sqrt(correction2), rate / correction1
        root_v = torch._foreach_sqrt(v)
        denominator = torch._foreach_add(torch._foreach_div(root_v, root2), ADAM_EPS)
        steps = torch._foreach_div(torch._foreach_mul(m, scale), denominator)
        new = torch._foreach_sub(params, steps)
        return new, [{"m": a, "v": b} for a, b in zip(m, v)]

    return moments, rule


def _leafwise(rule):
    """A rule of one leaf ``(param, grad, slot, t, rate)`` as a rule of all of them."""

    def rules(params, grads, slots, t, rate):
        pairs = [rule(p, g, s, t, rate) for p, g, s in zip(params, grads, slots, strict=True)]
        return [p for p, _ in pairs], [s for _, s in pairs]

    return rules


def _sgd():
    def rule(param, grad, slot, t, rate):
        return param - rate * grad, slot

    return (lambda param: {}), _leafwise(rule)


def _rmsprop():
    def rule(param, grad, slot, t, rate):
        v = slot["v"] * RMSPROP_ALPHA + (1 - RMSPROP_ALPHA) * grad * grad
        return param - rate * grad / (v.sqrt() + RMSPROP_EPS), {"v": v}

    return (lambda param: {"v": torch.zeros_like(param)}), _leafwise(rule)


def _adagrad():
    def rule(param, grad, slot, t, rate):
        s = slot["s"] + grad * grad
        return param - rate * grad / (s.sqrt() + ADAGRAD_EPS), {"s": s}

    return (lambda param: {"s": torch.zeros_like(param)}), _leafwise(rule)


OPTIMIZERS = {"adam": _adam, "sgd": _sgd, "rmsprop": _rmsprop, "adagrad": _adagrad}


def functional_optimizer(name, lr) -> Optimizer:
    """The optimizer ``name`` (a key of ``OPTIMIZERS``) with rate ``lr``, a number or a schedule
    ``step -> rate`` (step from 0). The state is ``{"step": tensor, "slots": [per leaf]}``."""
    slots_of, rule = OPTIMIZERS[name]()

    def init(params):
        leaves = pytree.tree_leaves(params)
        return {
            "step": torch.zeros((), dtype=torch.int64),
            "slots": [slots_of(leaf.detach()) for leaf in leaves],
        }

    def update(grads, state, params):
        leaves, spec = pytree.tree_flatten(params)
        # recording a step (``traced.py``), the count is a traced tensor: kept one
        done = state["step"] if tracing() else int(state["step"])
        rate = float(lr(done)) if callable(lr) else lr
        with torch.no_grad():
            new_leaves, new_slots = rule(
                [leaf.detach() for leaf in leaves],
                [grad.detach() for grad in pytree.tree_leaves(grads)],
                state["slots"],
                done + 1,
                rate,
            )
        state = {"step": state["step"] + 1, "slots": new_slots}
        return pytree.tree_unflatten(new_leaves, spec), state

    return Optimizer(init, update)
