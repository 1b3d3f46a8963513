"""``Problem`` on Pyro: the potential is built once per model structure.

The negative log joint is written the way ``pyro.infer.mcmc.util`` writes it (condition the model
on the constrained values, trace it, sum the scaled log-probabilities, add the Jacobians), then
recorded once with ``torch.jit.trace`` so that later calls run the recorded graph without
re-running Pyro's messengers. The recording is valid when the model's structure is static (no
Python control flow on latent values); it is checked against the eager potential at fresh points,
and on any disagreement the problem falls back to the eager potential with a warning.

Discrete sites marked ``infer={"enumerate": "parallel"}`` are summed out as Pyro's own
``initialize_model`` does for HMC: the model runs under ``poutine.enum`` (to the left of its
plates) and ``TraceEinsumEvaluator`` contracts the enumerated dimensions (each ``pyro.markov``
step has its own symbol, so a chain costs time linear in its length); their draws given the
continuous sites come from ``pyro.infer.infer_discrete``.

For the SG-MCMC samplers (``minibatch=True``), ``Problem.value_and_grad`` on a minibatch is one
recorded graph of value *and* gradient (``compiled.py``, mode ``"script"``): no autograd pass
per step, ~2.5x faster than the recorded potential plus autograd for a logistic regression
(``benchmarks/RESULTS.md``, "SG-MCMC at scale"), built in well under a second. ``compile=True``
compiles that graph with inductor instead. A model whose graph cannot be built or disagrees
with the eager gradient keeps the recorded potential and autograd, with one warning.
"""

from __future__ import annotations

import math
import time
import warnings

import pyro
import pyro.poutine as poutine
import torch
from pyro.distributions.transforms import biject_to
from pyro.infer import infer_discrete
from pyro.infer.mcmc.util import TraceEinsumEvaluator
from pyro.poutine.subsample_messenger import _Subsample

from ...core import plate_subsample_sizes
from ...errors import ModelError
from ..problem import (
    FlatLayout,
    Problem,
    enumerated_sites,
    integer_bounds,
    latent_sites,
    local_latent_sites,
    max_plate_nesting,
    observed_values,
)
from . import keys
from .compiled import compile_value_and_grad

#: relative tolerance of the check that the recorded potential matches the eager one
_TRACE_CHECK_RTOL = 1e-4


def _not_subsample(name, site) -> bool:
    return not isinstance(site["fn"], _Subsample)


def prototype_trace(model, args, kwargs):
    """One run of the model (seeded with 0) and the plates that draw minibatches."""
    with keys.global_seed(0):
        proto = poutine.trace(model).get_trace(*args, **kwargs)
    subsample_plates = {
        name: (site["fn"].size, site["fn"].subsample_size)
        for name, site in proto.nodes.items()
        if site["type"] == "sample"
        and isinstance(site["fn"], _Subsample)
        and site["fn"].subsample_size is not None
        and site["fn"].subsample_size < site["fn"].size
    }
    plates = {name for name, site in proto.nodes.items() if isinstance(site.get("fn"), _Subsample)}
    return proto, subsample_plates, plates


def minibatch_indices(size: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` indices of ``range(size)`` for a minibatch: i.i.d. uniform draws (with
    replacement), one ``torch.randint``; the plate's ``size / batch`` scaling keeps the
    minibatch potential unbiased (``randperm(size)[:batch]`` costs O(size) per call, 11 ms at
    10^6). Large batches (over a quarter of the data), where repeats would add noticeable
    gradient noise, take a permutation (distinct indices)."""
    device = generator.device
    if 4 * batch > size:
        return torch.randperm(size, generator=generator, device=device)[:batch]
    return torch.randint(size, (batch,), generator=generator, device=device)


def _record(neg_log_joint, z0, indices0, sizes):
    """``neg_log_joint`` recorded by ``torch.jit.trace``, or ``None`` (with a warning) when the
    recording disagrees with the eager function at fresh points."""
    try:
        with pyro.validation_enabled(False), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recorded = torch.jit.trace(neg_log_joint, (z0, *indices0), check_trace=False)
        for z, indices in keys.check_points(z0, indices0, sizes, seed=12345):
            fast, slow = recorded(z, *indices), neg_log_joint(z, *indices)
            if not (
                math.isclose(float(fast), float(slow), rel_tol=_TRACE_CHECK_RTOL, abs_tol=1e-6)
                or not (math.isfinite(float(fast)) or math.isfinite(float(slow)))
            ):
                raise ValueError(f"recorded {float(fast)} vs eager {float(slow)}")
        return recorded
    except Exception as err:  # any failure to record means: use the eager path
        warnings.warn(
            "The model's structure is not static (its log density could not be recorded once: "
            f"{err}); ppl falls back to re-running the model at every potential evaluation, "
            "which is slower. Avoid Python control flow on latent values to get the fast path.",
            stacklevel=3,
        )
        return None


class _Discrete:
    """A discrete latent site kept in the layout: its dtype, shape and support's bounds."""

    def __init__(self, dtype, shape, support):
        self.dtype, self.shape = dtype, tuple(shape)
        self.bounds = integer_bounds(support, self.shape)
        if self.bounds is not None:
            self.low, self.high = (torch.as_tensor(b) for b in self.bounds)

    def value(self, u):
        """The site's value from its coordinates ``u``: rounded, held to the support."""
        if self.bounds is not None:
            low, high = self.low.to(u), self.high.to(u)
            u = torch.minimum(torch.maximum(torch.round(u), low), high)
        return u.to(self.dtype)


def build_problem(
    backend,
    model,
    args,
    kwargs,
    init_values,
    record=True,
    compile=False,
    minibatch=False,
    discrete=False,
    local_latents=False,
) -> Problem:
    proto, subsample_plates, plates = prototype_trace(model, args, kwargs)
    latent = latent_sites(
        proto.nodes,
        subsample_plates,
        skip=plates,
        data=(args, kwargs),
        discrete=discrete,
        allow_local=local_latents,
    )
    local = local_latent_sites(proto.nodes, subsample_plates) if local_latents else {}
    record = record and not local  # the potential is undefined with local latents
    continuous = [s for s in latent if not s["fn"].support.is_discrete]
    transforms = {site["name"]: biject_to(site["fn"].support) for site in continuous}
    discretes = {
        s["name"]: _Discrete(s["value"].dtype, s["value"].shape, s["fn"].support)
        for s in latent
        if s["fn"].support.is_discrete
    }
    layout = FlatLayout(
        tuple(transforms) + tuple(discretes),
        tuple(tuple(transforms[s["name"]].inverse_shape(s["value"].shape)) for s in continuous)
        + tuple(d.shape for d in discretes.values()),
    )
    enumerated = enumerated_sites(proto.nodes)
    first_enum_dim = -max_plate_nesting(proto.nodes) - 1
    plate_names = tuple(subsample_plates)
    sizes = [size for size, _ in subsample_plates.values()]
    full = {name: torch.arange(size) for name, (size, _) in subsample_plates.items()}
    xp = backend.xp

    def constrained(z):
        uncon = layout.unravel(z, xp)
        values, log_det = {}, torch.zeros((), dtype=z.dtype)
        for name, t in transforms.items():
            values[name] = t(uncon[name])
            log_det = log_det + t.log_abs_det_jacobian(uncon[name], values[name]).sum()
        values.update({name: d.value(uncon[name]) for name, d in discretes.items()})
        return values, log_det

    # a Problem holds pyro.param sites fixed at their current values
    params = {n: s["value"].detach() for n, s in proto.nodes.items() if s["type"] == "param"}
    fixed_model = poutine.substitute(model, data=params) if params else model

    def model_trace(values, indices=None, enum=False):
        indices = tuple(full.values()) if indices is None else indices
        values.update(zip(plate_names, indices))
        with plate_subsample_sizes({n: len(i) for n, i in zip(plate_names, indices)}):
            conditioned = poutine.condition(fixed_model, data=values)
            if enum:  # the enumerated sites take every value of their support, in parallel
                conditioned = poutine.enum(conditioned, first_available_dim=first_enum_dim)
            return poutine.trace(conditioned).get_trace(*args, **kwargs)

    evaluator = []  # the TraceEinsumEvaluator of an enumerated model, built at the prototype

    def neg_log_joint(z, *indices):
        values, log_det = constrained(z)
        if not evaluator:
            return -(model_trace(values, indices).log_prob_sum(_not_subsample) + log_det)
        return -(evaluator[0].log_prob(model_trace(values, indices, enum=True)) + log_det)

    def unconstrain(values, batch_ndim=0):
        parts = {name: t.inv(torch.as_tensor(values[name])) for name, t in transforms.items()}
        dtype = torch.get_default_dtype()
        parts.update({name: torch.as_tensor(values[name]).to(dtype) for name in discretes})
        return layout.ravel(parts, xp, batch_ndim)

    if layout.dim:  # the model at a point away from the prototype: have its supports moved?
        try:
            with poutine.block():
                away = model_trace(constrained(torch.linspace(-1.3, 1.7, layout.dim))[0])
        except Exception:  # noqa: BLE001 - a model that fails there fails, and is named, later
            away = None
        if away is not None:
            _check_fixed_supports(proto, away, tuple(transforms))

    def sample_prior(key):
        with keys.global_seed(key):
            tr = model_trace({})
        return {name: tr.nodes[name]["value"].detach() for name in layout.names}

    if enumerated:
        values, _ = constrained(unconstrain(sample_prior(keys.key(0))))
        evaluator.append(
            TraceEinsumEvaluator(model_trace(values, enum=True), True, -first_enum_dim - 1)
        )

    def sample_discrete(zs, key, temperature=1):
        """Each enumerated site drawn from its conditional at each row of ``zs``."""
        draws = {name: [] for name in enumerated}
        whole = {name: len(i) for name, i in full.items()}  # every plate over its whole data
        with keys.global_seed(key), poutine.block(), plate_subsample_sizes(whole):
            for z in zs.detach():
                values = dict(constrained(z)[0])
                values.update(zip(plate_names, full.values()))
                conditioned = poutine.condition(fixed_model, data=values)
                draw = infer_discrete(conditioned, first_enum_dim, temperature=temperature)
                tr = poutine.trace(draw).get_trace(*args, **kwargs)
                for name in enumerated:
                    draws[name].append(tr.nodes[name]["value"].reshape(shapes[name]))
        return {name: torch.stack(values) for name, values in draws.items()}

    shapes = {name: proto.nodes[name]["value"].shape for name in enumerated}
    recorded = {}  # minibatch sizes -> neg_log_joint recorded for them (the N/B scale is fixed)

    def evaluate(z, indices):
        if not (record and layout.dim):
            return neg_log_joint(z, *indices)
        signature = tuple(len(i) for i in indices)
        if signature not in recorded:
            if any(f is neg_log_joint for f in recorded.values()):  # not static: warned once
                recorded[signature] = neg_log_joint
            else:
                z0 = unconstrain(sample_prior(keys.key(0))).to(z.dtype)
                recorded[signature] = _record(neg_log_joint, z0, indices, sizes) or neg_log_joint
        return recorded[signature](z, *indices)

    def potential(z, key=None):
        with poutine.block():  # isolated: callers' handlers never see the model's sites
            return _potential(z, key)

    def _potential(z, key):
        return evaluate(z, draw_indices(key, z.device))

    def part_potential(z, key, part, num_parts):
        # the part-th slice of every plate's minibatch: its plate scale is num_parts * N / B,
        # and the division gives the slice its share and every other term 1/num_parts
        chunks = tuple(
            i[part * (len(i) // num_parts) : (part + 1) * (len(i) // num_parts)]
            for i in draw_indices(key, z.device)
        )
        with poutine.block():
            return evaluate(z, chunks) / num_parts

    def draw_indices(key, device):
        """The subsampled plates' indices for ``key`` (all of the data without one)."""
        if key is None or not plate_names:
            return tuple(full.values())
        plate_keys = keys.split(key, len(plate_names))
        return tuple(
            minibatch_indices(size, batch, keys.generator(k, device)).to(device)
            for k, (size, batch) in zip(plate_keys, subsample_plates.values())
        )

    def constrain_one(z):
        values, _ = constrained(z.detach())
        tr = model_trace(dict(values))
        out = {name: values[name] for name in layout.names}
        for name, site in tr.nodes.items():
            if site["type"] == "sample" and site["infer"].get("_deterministic", False):
                out[name] = site["value"].detach()
        return out

    deterministic = [
        n for n, site in proto.nodes.items() if site.get("infer", {}).get("_deterministic")
    ]

    def constrain_many(zs):  # without deterministic sites, the transforms alone, batched
        if deterministic:
            return backend.vmap(constrain_one)(zs)
        return constrained(zs.detach())[0]

    def site_log_probs(z):
        values, _ = constrained(z.detach())
        tr = model_trace(values)
        return {
            name: float(site["fn"].log_prob(site["value"]).sum())
            for name, site in tr.nodes.items()
            if site["type"] == "sample" and _not_subsample(name, site)
        }

    value_and_grad, start = None, time.perf_counter()
    static = False  # whether the log density was recorded (a fallback has had its warning)
    if record and layout.dim and _evaluates(neg_log_joint, sample_prior, unconstrain, full):
        # record now: a recording cannot start inside a vmap (a model that fails at the
        # prior's draw is recorded where it is first used, and its error named there)
        evaluate(unconstrain(sample_prior(keys.key(0))), tuple(full.values()))
        static = recorded[tuple(len(i) for i in full.values())] is not neg_log_joint
    compile_seconds = time.perf_counter() - start
    if layout.dim and (compile or (minibatch and static)):
        # the minibatch gradient that SG-MCMC takes at every step, as one fused graph of value
        # and gradient: compiled by inductor on request, else recorded (``compiled.py``); a
        # model whose structure is not static has had its one warning and keeps the eager path
        value_and_grad, seconds = _compiled_value_and_grad(
            backend,
            neg_log_joint,
            potential,
            draw_indices,
            unconstrain(sample_prior(keys.key(0))),
            sizes,
            mode="inductor" if compile else "script",
        )
        compile_seconds += seconds
    if value_and_grad is None and minibatch and record and plate_names and layout.dim:
        start = time.perf_counter()  # record the minibatch potential now, timed as a compile,
        z0 = unconstrain(sample_prior(keys.key(0)))  # not inside a run's first step
        evaluate(z0, draw_indices(keys.key(0), z0.device))
        compile_seconds += time.perf_counter() - start
    if any(not torch.is_tensor(v) for v in init_values.values()):
        init_values = {k: backend.asarray(v) for k, v in init_values.items()}
    return Problem(
        backend=backend,
        layout=layout,
        potential=potential,
        constrain_one=constrain_one,
        constrain_many=constrain_many,
        unconstrain=unconstrain,
        sample_prior=sample_prior,
        site_log_probs=site_log_probs,
        num_data=max(sizes) if sizes else None,
        subsample_plates=subsample_plates,
        model=model,
        args=args,
        kwargs=kwargs,
        observed=observed_values(proto.nodes, skip=plates),
        init_values=init_values,
        value_and_grad=value_and_grad,
        compile_seconds=compile_seconds,
        part_potential=part_potential,
        enumerated=enumerated,
        sample_discrete=sample_discrete if enumerated else None,
        discrete={name: d.bounds for name, d in discretes.items()},
        local_sites=local,
    )


def _compiled_value_and_grad(
    backend, neg_log_joint, potential, draw_indices, z0, sizes, mode="inductor"
):
    """``(value_and_grad(z, key=None), seconds)`` with the fused function (``mode``: see
    ``compiled.py``) for minibatches of the model's sizes (the whole data when it has no
    subsampled plate) and ``z`` of ``z0``'s dtype and device, and the eager gradient of
    ``potential`` for any other; ``(None, seconds)`` when the model cannot be fused."""
    indices0 = draw_indices(keys.key(0), z0.device)
    fused, seconds = compile_value_and_grad(neg_log_joint, z0, indices0, sizes, mode)
    if fused is None:
        return None, seconds
    eager = backend.value_and_grad(potential)
    shapes = [i.shape for i in indices0]
    dtype, device = z0.dtype, z0.device

    def value_and_grad(z, key=None):
        indices = draw_indices(key, z.device)
        if (
            z.requires_grad  # inside an outer differentiation: the gradient must nest
            or z.dtype != dtype
            or z.device != device
            or [i.shape for i in indices] != shapes
        ):
            return eager(z, key)
        return fused(z, *indices)

    return value_and_grad, seconds


__all__ = ["build_problem", "prototype_trace"]


def _evaluates(neg_log_joint, sample_prior, unconstrain, full) -> bool:
    """Whether the eager potential runs at the prior's draw for key 0 (without raising)."""
    try:
        with poutine.block():
            neg_log_joint(unconstrain(sample_prior(keys.key(0))), *full.values())
    except Exception:  # noqa: BLE001 - any failure: it is named later, where it is used
        return False
    return True


def _check_fixed_supports(proto, other, names) -> None:
    """Raise ``ModelError`` when a latent site's support moves with other latents
    (``x ~ Uniform(0, a)``): the transforms here, as in Pyro's own HMC, are fixed at the
    prototype trace, so such a model would be sampled on the wrong support."""
    for name in names:
        if name not in other.nodes:
            continue
        before = _constraint_numbers(proto.nodes[name]["fn"].support)
        after = _constraint_numbers(other.nodes[name]["fn"].support)
        same = before.keys() == after.keys() and all(
            before[k].shape == after[k].shape and torch.allclose(before[k], after[k])
            for k in before
        )
        if not same:
            raise ModelError(
                f"The support of site {name!r} depends on other latent sites, which the pyro "
                "backend cannot follow (its transforms are fixed at the first trace, as in "
                "Pyro's HMC). Use backend='numpyro', or reparameterize: for "
                "x ~ Uniform(0, a), sample u ~ Uniform(0, 1) and set x = a * u."
            )


def _constraint_numbers(constraint, prefix="") -> dict:
    """The numbers that parameterise a constraint, nested ones (``independent``, ``cat``,
    ``stack``) included, by their path."""
    out = {}
    for key, value in vars(constraint).items():
        path = f"{prefix}{key}"
        if isinstance(value, torch.distributions.constraints.Constraint):
            out.update(_constraint_numbers(value, path + "."))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, torch.distributions.constraints.Constraint):
                    out.update(_constraint_numbers(item, f"{path}[{i}]."))
        elif torch.is_tensor(value) or isinstance(value, float | int):
            out[path] = torch.as_tensor(value, dtype=torch.float64)
    return out
