"""Pyro's own SVI (``pyro.infer.SVI`` with its autoguides and ELBOs) for a model.

With ``parallel`` (``devices=N``: ``N`` processes joined by ``torch.distributed``), process
``rank`` evaluates the ELBO of the ``rank``-th ``B / N`` indices of every subsampled plate's
minibatch (Pyro's own permutation, drawn whole from the same seed, then sliced; the plate
scales the slice by ``N`` times its ``size / B``) and divides it by ``N``, so the parts sum to
the one-process loss; one ``all_reduce`` sums the parts' losses and gradients before the
optimizer's update.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, NamedTuple

import pyro
import pyro.infer
import torch
from pyro import poutine
from pyro.distributions.transforms import block_autoregressive, iterated
from pyro.infer import Predictive, autoguide
from pyro.infer.autoguide.initialization import init_to_median, init_to_value
from pyro.poutine.messenger import Messenger
from pyro.poutine.subsample_messenger import _Subsample

from ...core import (
    GUIDE_CLASSES,
    SCALED_GUIDES,
    loss_function,
    objective_spec,
    plate_subsample_sizes,
)
from ...core.local_vi import LOCAL_OBJECTIVES
from ...errors import ModelError
from . import keys, objectives
from .local_objectives import LocalObjective
from .optim import functional_optimizer


class SVIInfo(NamedTuple):
    loss: Any


class SVIState(NamedTuple):
    """step: updates done (a tensor); params: ``{name: unconstrained tensor}``, every parameter
    of the guide and the model; optim_state: the functional optimizer's moments and count."""

    step: Any
    params: Any
    optim_state: Any


def objective(options, local=None):
    """The loss of ``options.objective``; ``local``: ``(plate, size)`` of local latent sites,
    whose ``iwae``, ``renyi`` and ``chi2`` are per-data-point (``local_objectives``)."""
    if local is not None and options.objective in LOCAL_OBJECTIVES:
        return LocalObjective(options, *local)
    if loss_function(options) is not None:
        return objectives.LogWeightObjective(options)
    name, kwargs = objective_spec(options)
    elbo = getattr(pyro.infer, name)
    # retain_graph: a model may cache tensors across its sample statements within one step
    # (GPyTorch's variational strategies do, as its Pyro examples show), so the ELBO's one
    # backward pass may meet a saved tensor twice; the graph is freed with the step's loss.
    # (Pyro's RenyiELBO has no such argument.)
    if "retain_graph" in inspect.signature(elbo).parameters:
        kwargs = {**kwargs, "retain_graph": True}
    return elbo(**kwargs)


def _guide(name, model, init_loc, init_scale):
    if name == "bnaf":  # Pyro has no AutoBNAFNormal: the same flow through AutoNormalizingFlow
        flow = functools.partial(iterated, 1, block_autoregressive)
        return autoguide.AutoNormalizingFlow(model, flow)
    extra = {"init_scale": init_scale} if name in SCALED_GUIDES else {}
    return getattr(autoguide, GUIDE_CLASSES[name])(model, init_loc_fn=init_loc, **extra)


def _optimizer(options):
    """Adam whose rate decays over the run, from ``lr`` to ``lr * lr_decay`` (``lr * lr_decay **
    (step / num_steps)``, NumPyro's ``optax.exponential_decay``); otherwise the named optimizer
    with ``lr``.

    The gradient is not clamped (Pyro's ``ClippedAdam`` clamps it to ``[-10, 10]``): a noisy,
    skewed gradient estimate (a score term, a Gamma site's reparameterized draw) clamped
    elementwise is biased, so the fit settles where the clamped gradient averages zero, not at
    the optimum (issue 24, item 2: a Gamma guide's sd ended 3x the posterior's on Pyro).
    """
    if options.optimizer == "adam" and options.lr_decay < 1:
        lr, decay, steps = options.lr, options.lr_decay, max(options.num_steps, 1)
        return functional_optimizer("adam", lambda step: lr * decay ** (step / steps))
    return functional_optimizer(options.optimizer, options.lr)


class _PartSubsample(_Subsample):
    """Pyro's minibatch of ``subsample_size * num_parts`` indices, its ``part``-th slice."""

    def __init__(self, whole: _Subsample, part: int, num_parts: int):
        super().__init__(whole.size, whole.subsample_size * num_parts, device=whole.device)
        self.part, self.share = part, whole.subsample_size

    def sample(self, sample_shape=()):
        start = self.part * self.share
        return super().sample(torch.Size(sample_shape))[start : start + self.share]


class _PartPlates(Messenger):
    """Each plate of ``names`` (asked for ``B / num_parts`` indices) draws Pyro's minibatch of
    ``B`` and keeps its ``part``-th slice."""

    def __init__(self, names, part, num_parts):
        super().__init__()
        self.names, self.part, self.num_parts = names, part, num_parts

    def _process_message(self, msg):
        if msg["name"] in self.names and isinstance(msg["fn"], _Subsample):
            msg["fn"] = _PartSubsample(msg["fn"], self.part, self.num_parts)


class Runner:
    """``init``/``step``/``sample`` of native SVI on ``model(*args, **kwargs)``, pure in the
    state: the parameters and the optimizer's state are tensors in ``SVIState``. Pyro's guides
    read their parameters from Pyro's global param store, so every call first copies the state's
    parameters into it (``init`` clears it, as Pyro scripts do), and nothing is read from it
    between calls. ``args`` given to a method replace the model's arguments for that call.
    ``parallel``: the ``DataParallel`` processes that share each step's minibatch gradient,
    whose subsampled plates are ``plates`` (``{name: (size, batch)}``)."""

    def __init__(
        self, model, args, kwargs, options, init_scale, local=None, parallel=None, plates=None
    ):
        self.model, self.args, self.kwargs = model, args, kwargs
        self.parallel, self.plates = parallel, dict(plates or {})
        self.options, self.init_scale = options, init_scale
        self.loss_class = objective(options, local)
        self.optimizer = _optimizer(options)

    def init(self, key, start, args=None):
        args = self.args if args is None else args
        pyro.clear_param_store()
        options = self.options
        if callable(options.guide):
            self.guide = options.guide
        else:
            init_loc = init_to_value(values=dict(start or {}), fallback=init_to_median)
            self.guide = _guide(options.guide, self.model, init_loc, self.init_scale)
        with keys.global_seed(key), torch.no_grad():  # creates the guide's and model's params
            guide_trace = poutine.trace(self.guide).get_trace(*args, **self.kwargs)
            poutine.replay(self.model, trace=guide_trace)(*args, **self.kwargs)
        if callable(options.guide) and start:  # a guide function's params named by the start
            store = pyro.get_param_store()
            for name, value in start.items():
                store[name] = torch.as_tensor(value).to(store[name])
        params = {
            name: leaf.detach().clone() for name, leaf in pyro.get_param_store().named_parameters()
        }
        return SVIState(torch.zeros((), dtype=torch.int64), params, self.optimizer.init(params))

    def step(self, state, key, args=None):
        if self.parallel is None:
            loss, grads = self.loss_and_grads(state, key, args)
        else:
            loss, grads = self.parallel.sum_parts(self._part_loss_and_grads, state, key, args)
        params, optim_state = self.optimizer.update(grads, state.optim_state, state.params)
        return SVIState(state.step + 1, params, optim_state), SVIInfo(loss)

    def _load(self, state) -> dict:
        """Copy the state's parameters into the param store's tensors (the ones the guide's
        modules hold), with no gradient; return those tensors by name."""
        live = dict(pyro.get_param_store().named_parameters())
        with torch.no_grad():
            for name, value in state.params.items():
                live[name].copy_(value)
                live[name].grad = None
        return {name: live[name] for name in state.params}

    def _part_loss_and_grads(self, part, state, key, args=None):
        """``loss_and_grads`` of this process's part of the minibatch, divided by the number
        of parts (so the parts sum to the whole)."""
        num_parts = self.parallel.num_parts
        shares = {name: batch // num_parts for name, (_, batch) in self.plates.items()}
        with plate_subsample_sizes(shares), _PartPlates(set(shares), part, num_parts):
            loss, grads = self.loss_and_grads(state, key, args)
        return loss / num_parts, {name: grad / num_parts for name, grad in grads.items()}

    def loss_and_grads(self, state, key, args=None):
        """The loss (negative ELBO estimate) at ``state`` with the noise of ``key``, and its
        gradient in each unconstrained parameter (what the optimizer is given)."""
        args = self.args if args is None else args
        leaves = self._load(state)
        with keys.global_seed(key), torch.enable_grad():
            if hasattr(self.loss_class, "loss_and_grads"):  # every Pyro ELBO
                loss = self.loss_class.loss_and_grads(self.model, self.guide, *args, **self.kwargs)
            else:  # a differentiable loss (the log-weight objectives)
                loss = self.loss_class(self.model, self.guide, *args, **self.kwargs)
                if getattr(loss, "requires_grad", False):
                    loss.backward()
                loss = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
        created = set(pyro.get_param_store().keys()) - set(leaves)
        if created:
            raise ModelError(
                f"svi: the parameters {sorted(created)} were created during a step, not when the "
                "guide and model were first run; create every ppl.param on every call (give "
                "each an initial value that does not depend on a random draw)."
            )
        grads = {
            name: torch.zeros_like(leaf) if leaf.grad is None else leaf.grad.detach().clone()
            for name, leaf in leaves.items()
        }
        for leaf in leaves.values():
            leaf.grad = None
        return torch.tensor(loss), grads

    def params(self, state, args=None) -> dict:
        """``{name: constrained value}`` of every parameter of the guide and the model."""
        self._load(state)
        store = pyro.get_param_store()
        return {name: store[name].detach().clone() for name in state.params}

    def sample(self, state, key, num_samples, args=None):
        """Guide draws ``{site: (num_samples, ...)}``. A named (Pyro auto) guide draws them all
        in one vectorized call; a guide function runs once per draw, since a function written
        for one draw may mix draws silently when vectorized (``z.sum()`` over a new batch
        dimension). The serial loop costs 50-100x as much (1,000 draws of a 2-site ``mvn``
        guide: ~9 s against 0.1 s)."""
        args = self.args if args is None else args
        self._load(state)
        parallel = not callable(self.options.guide)
        with keys.global_seed(key), torch.no_grad():
            predictive = Predictive(self.guide, num_samples=num_samples, parallel=parallel)
            return predictive(*args, **self.kwargs)

    def weighted_sample(self, state, key, num_samples, args=None):
        """Guide draws ``{site: (num_samples, ...)}`` and their importance log-weights."""
        args = self.args if args is None else args
        self._load(state)
        with keys.global_seed(key), torch.no_grad():
            lw, values, _ = objectives.log_weights(
                self.model, self.guide, args, self.kwargs, num_samples
            )
        return values, lw
