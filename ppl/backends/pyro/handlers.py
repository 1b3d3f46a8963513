"""Pyro's half of ``ppl.handlers``: ``pyro.poutine`` messengers, plus the two Pyro lacks
(a keyed ``seed`` and a ``substitute`` of sample sites), and the conversion of Pyro's sites to
``ppl.Site``.

Every function returns a messenger that is entered as a context manager by the front end.
"""

from __future__ import annotations

import torch
from pyro import poutine
from pyro.infer.reparam.reparam import Reparam as PyroReparam
from pyro.poutine.block_messenger import BlockMessenger
from pyro.poutine.condition_messenger import ConditionMessenger
from pyro.poutine.messenger import Messenger
from pyro.poutine.reparam_messenger import ReparamMessenger
from pyro.poutine.runtime import _PYRO_STACK
from pyro.poutine.subsample_messenger import _Subsample
from pyro.poutine.trace_messenger import TraceMessenger
from pyro.poutine.util import site_is_subsample

from ...core import Reparam, ReparamMessage, Site
from ...errors import HandlerError
from . import keys

__all__ = [
    "trace",
    "replay",
    "condition",
    "substitute",
    "seed",
    "block",
    "scale",
    "mask",
    "do",
    "reparam",
    "site_type",
    "to_site",
    "site_log_prob",
    "native_reparam",
]


# ---- the site view -----------------------------------------------------------------------
def site_type(raw) -> str:
    if raw["type"] == "sample":
        if isinstance(raw.get("fn"), _Subsample) or site_is_subsample(raw):
            return "plate"
        if raw.get("infer", {}).get("_deterministic", False):
            return "deterministic"
    return raw["type"]


def to_site(raw) -> Site:
    kind = site_type(raw)
    is_sample = kind == "sample"
    frames = raw.get("cond_indep_stack", ()) or ()
    return Site(
        name=raw.get("name"),
        type=kind,
        value=raw.get("value"),
        fn=raw.get("fn") if is_sample else None,
        is_observed=bool(raw.get("is_observed", False)) and is_sample,
        infer=dict(raw.get("infer") or {}),
        plates=tuple(f.name for f in frames),
        scale=raw.get("scale"),
        mask=raw.get("mask"),
        backend="pyro",
        raw=raw,
        log_prob_fn=site_log_prob,
    )


def site_log_prob(raw):
    """As ``pyro.poutine.Trace.compute_log_prob``: ``log_prob`` scaled, then masked."""
    from pyro.distributions.util import scale_and_mask

    log_p = raw["fn"].log_prob(raw["value"], *raw.get("args", ()), **raw.get("kwargs", {}))
    return scale_and_mask(log_p, raw.get("scale", 1.0), raw.get("mask"))


# ---- trace -----------------------------------------------------------------------------
class _Trace(TraceMessenger):
    def trace_nodes(self):
        return self.trace.nodes

    def trace_object(self):
        return self.trace


def trace():
    return _Trace()


def replay(native_trace):
    return poutine.replay(trace=native_trace)


# ---- condition, substitute ---------------------------------------------------------------
class _Condition(ConditionMessenger):
    """``poutine.condition`` that remembers the sample sites it saw."""

    def __init__(self, data):
        super().__init__(data=data)
        self._seen: set[str] = set()

    def _pyro_sample(self, msg) -> None:
        if not site_is_subsample(msg):
            self._seen.add(msg["name"])
        super()._pyro_sample(msg)

    def seen_sites(self) -> set[str]:
        return self._seen


def condition(data):
    return _Condition(data)


class _Substitute(Messenger):
    """NumPyro's ``substitute``: sample and param sites take the given value (Pyro's own
    ``poutine.substitute`` only replaces params)."""

    def __init__(self, data=None, substitute_fn=None):
        super().__init__()
        self.data = data
        self.substitute_fn = substitute_fn

    def _value(self, msg):
        if self.data is not None:
            return self.data.get(msg["name"])
        return self.substitute_fn(msg)

    def _pyro_sample(self, msg) -> None:
        if site_is_subsample(msg):
            return
        value = self._value(msg)
        if value is not None:
            msg["value"] = value

    def _pyro_param(self, msg) -> None:
        value = self._value(msg)
        if value is not None:
            msg["value"] = value
            msg["done"] = True


def substitute(data=None, substitute_fn=None):
    return _Substitute(data, substitute_fn)


# ---- seed --------------------------------------------------------------------------------
class _Seed(Messenger):
    """Explicit keys on torch: every sample site drawn inside gets its own key, split from this
    handler's key, and torch's global generator is seeded from that key just before the draw.

    The global generator is forked for the block (``keys.global_seed``), so the caller's random
    state is untouched. Only the innermost ``_Seed`` on the stack seeds a site. A ``_Seed`` made
    without a key takes one split from the enclosing ``_Seed`` when entered.
    """

    def __init__(self, key):
        super().__init__()
        self._initial = key
        self.key = key
        self._forks: list = []

    def next_key(self) -> torch.Tensor:
        self.key, sub = keys.split(self.key)
        return sub

    def __enter__(self):
        if self._initial is None:
            outer = _innermost_seed()
            if outer is None:
                raise HandlerError(
                    "seed(rng_seed=None) draws its keys from an enclosing seed handler, and "
                    "there is none: give rng_seed=an integer or a key."
                )
            self.key = outer.next_key()
        else:
            self.key = self._initial
        fork = keys.global_seed(self.key)
        fork.__enter__()
        self._forks.append(fork)
        return super().__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        try:
            return super().__exit__(exc_type, exc_value, traceback)
        finally:
            self._forks.pop().__exit__(exc_type, exc_value, traceback)

    def _pyro_sample(self, msg) -> None:
        if msg["is_observed"] or msg["value"] is not None or _innermost_seed() is not self:
            return
        keys.seed_global(self.next_key())


def _innermost_seed() -> _Seed | None:
    for messenger in reversed(_PYRO_STACK):
        if isinstance(messenger, _Seed):
            return messenger
    return None


def _as_key(rng_seed):
    if rng_seed is None:
        return None
    if isinstance(rng_seed, int):
        return keys.key(rng_seed)
    if torch.is_tensor(rng_seed) and rng_seed.dtype == torch.int64 and rng_seed.dim() == 0:
        return rng_seed
    raise HandlerError(
        f"seed on the 'pyro' backend needs rng_seed to be an integer or a key "
        f"(backend.key(...), a 0-d int64 tensor), not {rng_seed!r}."
    )


def seed(rng_seed):
    return _Seed(_as_key(rng_seed))


# ---- block, scale, mask, do ----------------------------------------------------------------
def block(hide_fn):
    return BlockMessenger(hide_fn=hide_fn)


def scale(value):
    return poutine.scale(scale=value)


def mask(value):
    return poutine.mask(mask=value)


def do(data):
    return poutine.do(data=data)


# ---- reparam -------------------------------------------------------------------------------
class _PPLReparam(PyroReparam):
    """A ``ppl.reparam`` strategy seen as a Pyro ``Reparam``."""

    def __init__(self, strategy: Reparam):
        self.strategy = strategy

    def apply(self, msg):
        result = self.strategy.apply(
            ReparamMessage(
                name=msg["name"], fn=msg["fn"], value=msg["value"], is_observed=msg["is_observed"]
            )
        )
        return {"fn": result["fn"], "value": result["value"], "is_observed": result["is_observed"]}


def _native_strategy(strategy):
    return _PPLReparam(strategy) if isinstance(strategy, Reparam) else strategy


def reparam(config):
    if isinstance(config, dict):
        native = {name: _native_strategy(s) for name, s in config.items()}
    else:

        def native(msg):
            if site_is_subsample(msg):
                return None
            strategy = config(msg)
            return None if strategy is None else _native_strategy(strategy)

    return _ReparamMessenger(config=native)


class _ReparamMessenger(ReparamMessenger):
    """Pyro's ``ReparamMessenger``, with a latent site that its strategy turns into an observed
    ``Delta`` (``LocScale``, ``Transform``) marked deterministic, as NumPyro records it: its value
    then reaches ``Posterior.samples`` and the trace's site type on both backends."""

    def _pyro_sample(self, msg) -> None:
        latent = not msg["is_observed"]
        super()._pyro_sample(msg)
        if latent and msg["is_observed"]:
            msg["infer"] = {**(msg["infer"] or {}), "_deterministic": True}


_NATIVE_REPARAMS = {
    "LocScale": "pyro.infer.reparam:LocScaleReparam",
    "Transform": "pyro.infer.reparam:TransformReparam",
}


def native_reparam(kind: str, msg: ReparamMessage, **options):
    """Apply Pyro's own reparameterizer ``kind`` (``"LocScale"``, ``"Transform"``) to ``msg``."""
    import importlib

    module, _, attr = _NATIVE_REPARAMS[kind].partition(":")
    if kind == "LocScale" and not options.get("shape_params"):
        options["shape_params"] = None
    strategy = getattr(importlib.import_module(module), attr)(**options)
    result = strategy.apply(dict(msg))
    return {"fn": result["fn"], "value": result["value"], "is_observed": result["is_observed"]}
