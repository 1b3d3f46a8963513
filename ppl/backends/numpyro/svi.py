"""NumPyro's own SVI (``numpyro.infer.SVI`` with its autoguides and ELBOs) for a model.

With ``parallel`` (``devices=N``), a step is ``SVI.update`` with its gradient split over the
devices of a JAX mesh: device ``d`` evaluates the ELBO of the ``d``-th ``B / N`` indices of
every subsampled plate's minibatch (drawn whole by NumPyro's own subsample function from the
same key, then sliced; the plate scales the slice by ``N`` times its ``size / B``) and divides
it by ``N``, so the parts sum to the one-device loss; ``psum`` sums the parts' losses and
gradients before the optimizer's update.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import numpy as np
import numpyro.infer
import optax
from numpyro.infer import SVI, Predictive, autoguide
from numpyro.infer.initialization import init_to_median, init_to_value
from numpyro.infer.svi import SVIState
from numpyro.optim import optax_to_numpyro
from numpyro.primitives import Messenger

from ...core import GUIDE_CLASSES, SCALED_GUIDES, loss_function, objective_spec
from ...core.local_vi import LOCAL_OBJECTIVES
from ...errors import BackendError
from . import objectives
from .local_objectives import LocalObjective
from .optimizers import OPTIMIZERS


class SVIInfo(NamedTuple):
    loss: Any


def objective(options, local=None):
    """The loss of ``options.objective``; ``local``: ``(plate, size)`` of local latent sites,
    whose ``iwae``, ``renyi`` and ``chi2`` are per-data-point (``local_objectives``)."""
    if local is not None and options.objective in LOCAL_OBJECTIVES:
        return LocalObjective(options, *local)
    if loss_function(options) is not None:
        return objectives.LogWeightObjective(options)
    name, kwargs = objective_spec(options)
    return getattr(numpyro.infer, name)(**kwargs)


class _PartPlates(Messenger):
    """Each plate of ``names`` draws its minibatch of ``B`` indices as NumPyro would and keeps
    the ``part``-th of ``num_parts`` slices (``part`` may be traced: a device's index on a
    mesh), so the plate scales the slice by ``size / (B / num_parts)``."""

    def __init__(self, fn, names, part, num_parts):
        self.names, self.part, self.num_parts = names, part, num_parts
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "plate" or msg["name"] not in self.names:
            return
        size, batch = msg["args"]
        share = batch // self.num_parts
        part, draw = self.part, msg["fn"]

        def indices(size, share, rng_key=None):
            whole = draw(size, batch, rng_key=rng_key)
            return jax.lax.dynamic_slice_in_dim(whole, part * share, share)

        msg["fn"], msg["args"] = indices, (size, share)


def _is_array(leaf) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray))


class Runner:
    """``init``/``step``/``sample`` of native SVI on ``model(*args, **kwargs)``; ``args`` given
    to a method replace the model's arguments for that call. ``parallel``: the
    ``DataParallel`` devices that share each step's minibatch gradient, whose subsampled
    plates are ``plates`` (``{name: (size, batch)}``)."""

    def __init__(
        self, model, args, kwargs, options, init_scale, local=None, parallel=None, plates=None
    ):
        self.args, self.kwargs, self.start = args, kwargs, {}
        self.parallel, self.plates = parallel, tuple(plates or ())
        self._guide_function = callable(options.guide)
        if self._guide_function:
            self.guide = options.guide
        else:
            # init_to_value reads self.start, which init() fills with the starting point
            init_loc = functools.partial(init_to_value, values=self.start)
            extra = {"init_scale": init_scale} if options.guide in SCALED_GUIDES else {}
            guide_class = getattr(autoguide, GUIDE_CLASSES[options.guide])
            self.guide = guide_class(model, init_loc_fn=init_loc, **extra)
        lr = options.lr
        if options.optimizer == "adam" and options.lr_decay < 1:
            lr = optax.exponential_decay(lr, options.num_steps, options.lr_decay)
        optim = optax_to_numpyro(OPTIMIZERS[options.optimizer](lr))
        self.svi = SVI(model, self.guide, optim, objective(options, local))
        self._configured = False

    def init(self, key, start, args=None):
        """The SVI state from ``start``: the values of an autoguide's sites, or of a guide
        function's ``param`` sites (constrained)."""
        args = self.args if args is None else args
        self._configured = True
        if self._guide_function:
            return self.svi.init(key, *args, init_params=start, **self.kwargs)
        self.start.clear()
        if start:
            self.start.update(start)
        elif not callable(self.guide) and hasattr(self.guide, "init_loc_fn"):
            self.guide.init_loc_fn = init_to_median
        return self.svi.init(key, *args, **self.kwargs)

    def _configure(self, key, args):
        """NumPyro's ``update`` and its guides' ``sample_posterior`` read what ``init`` set
        (``constrain_fn``, the guide's prototype): a runner built inside a compiled function,
        for a state made elsewhere, runs ``init`` there (traced with it; its result is unused,
        so compiled away)."""
        if not self._configured:
            self.svi.init(key, *args, **self.kwargs)
            self._configured = True

    def step(self, state, key, args=None):
        args = self.args if args is None else args
        self._configure(key, args)
        if self.parallel is None:
            state, loss = self.svi.update(state, *args, **self.kwargs)
        else:
            state, loss = self._split_update(state, args)
        return state, SVIInfo(loss)

    def _split_update(self, state, args):
        """``SVI.update`` (the same key split, loss and optimizer) with the loss and its
        gradient summed over the parts of the minibatch, one per device."""
        svi, num_parts = self.svi, self.parallel.num_parts
        if state.mutable_state is not None:
            raise BackendError(
                "devices > 1 splits svi's gradient over devices, but this model or guide keeps "
                "mutable state (numpyro.mutable, a batch-norm's statistics), which each device "
                "would update apart. Drop devices, or the mutable state."
            )
        rng_key, rng_key_step = jax.random.split(state.rng_key)
        # the data go to each device as arguments (each reads its own copy in shard_map)
        leaves, treedef = jax.tree_util.tree_flatten((tuple(args), dict(self.kwargs)))
        data = [leaf for leaf in leaves if _is_array(leaf)]

        def part(index, params, key, data):
            given = iter(data)
            filled = [next(given) if _is_array(leaf) else leaf for leaf in leaves]
            args, kwargs = jax.tree_util.tree_unflatten(treedef, filled)
            model = _PartPlates(svi.model, self.plates, index, num_parts)
            guide = _PartPlates(svi.guide, self.plates, index, num_parts)

            def loss(params):
                constrained = svi.constrain_fn(params)
                value = svi.loss.loss(
                    key, constrained, model, guide, *args, **kwargs, **svi.static_kwargs
                )
                return value / num_parts

            return jax.value_and_grad(loss)(params)

        params = svi.optim.get_params(state.optim_state)
        loss, grads = self.parallel.sum_parts(part, params, rng_key_step, data)
        optim_state = svi.optim.update(grads, state.optim_state, value=loss)
        return SVIState(optim_state, None, rng_key), loss

    def loss_and_grads(self, state, key, args=None):
        """The loss (negative ELBO estimate) at ``state`` with the noise of ``key``, and its
        gradient in each unconstrained parameter (what the optimizer is given)."""
        args = self.args if args is None else args
        self._configure(key, args)
        unconstrained = self.svi.optim.get_params(state.optim_state)

        def loss(params):
            constrained = self.svi.constrain_fn(params)
            return self.svi.loss.loss(
                key, constrained, self.svi.model, self.svi.guide, *args, **self.kwargs
            )

        return jax.value_and_grad(loss)(unconstrained)

    def params(self, state, args=None) -> dict:
        """``{name: constrained value}`` of every parameter of the guide and the model.
        ``get_params`` reads what ``init`` sets: where this runner has not run it, it runs
        traced inside one compiled program (and compiled away), not op by op."""
        args = self.args if args is None else args
        if self._configured:
            return self.svi.get_params(state)

        def configured_params(state, args):
            self._configure(jax.random.PRNGKey(0), args)
            return self.svi.get_params(state)

        return jax.jit(configured_params)(state, args)

    def sample(self, state, key, num_samples, args=None):
        args = self.args if args is None else args
        self._configure(key, args)
        params = self.svi.get_params(state)
        if isinstance(self.guide, autoguide.AutoGuide):  # vectorised, nothing to compile
            return self.guide.sample_posterior(
                key, params, *args, sample_shape=(num_samples,), **self.kwargs
            )
        predictive = Predictive(self.guide, params=params, num_samples=num_samples)
        return predictive(key, *args, **self.kwargs)

    def weighted_sample(self, state, key, num_samples, args=None):
        """Guide draws ``{site: (num_samples, ...)}`` and their importance log-weights."""
        args = self.args if args is None else args
        self._configure(key, args)
        params = self.svi.get_params(state)
        model, guide, kwargs = self.svi.model, self.guide, self.kwargs
        lw, values, _ = objectives.log_weights(key, params, model, guide, args, kwargs, num_samples)
        return values, lw
