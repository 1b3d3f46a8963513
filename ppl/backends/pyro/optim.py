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

__all__ = ["OPTIMIZERS", "functional_optimizer"]

#: torch.optim's defaults
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
ADAGRAD_EPS = 1e-10


def _adam():
    """Adam (``torch.optim.Adam``'s rule)."""
    beta1, beta2 = ADAM_BETAS

    def moments(param):
        return {"m": torch.zeros_like(param), "v": torch.zeros_like(param)}

    def rule(param, grad, slot, t, rate):
        m = slot["m"] * beta1 + (1 - beta1) * grad
        v = slot["v"] * beta2 + (1 - beta2) * grad * grad
        correction1, correction2 = 1 - beta1**t, 1 - beta2**t
        denominator = v.sqrt() / math.sqrt(correction2) + ADAM_EPS
        return param - (rate / correction1) * m / denominator, {"m": m, "v": v}

    return moments, rule


def _sgd():
    def rule(param, grad, slot, t, rate):
        return param - rate * grad, slot

    return (lambda param: {}), rule


def _rmsprop():
    def rule(param, grad, slot, t, rate):
        v = slot["v"] * RMSPROP_ALPHA + (1 - RMSPROP_ALPHA) * grad * grad
        return param - rate * grad / (v.sqrt() + RMSPROP_EPS), {"v": v}

    return (lambda param: {"v": torch.zeros_like(param)}), rule


def _adagrad():
    def rule(param, grad, slot, t, rate):
        s = slot["s"] + grad * grad
        return param - rate * grad / (s.sqrt() + ADAGRAD_EPS), {"s": s}

    return (lambda param: {"s": torch.zeros_like(param)}), rule


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
        done = int(state["step"])
        rate = float(lr(done)) if callable(lr) else lr
        new_leaves, new_slots = [], []
        with torch.no_grad():
            for param, grad, slot in zip(
                leaves, pytree.tree_leaves(grads), state["slots"], strict=True
            ):
                param, slot = rule(param.detach(), grad.detach(), slot, done + 1, rate)
                new_leaves.append(param)
                new_slots.append(slot)
        state = {"step": state["step"] + 1, "slots": new_slots}
        return pytree.tree_unflatten(new_leaves, spec), state

    return Optimizer(init, update)
