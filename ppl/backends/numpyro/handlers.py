"""NumPyro's half of ``ppl.handlers``: ``numpyro.handlers`` messengers, and the conversion of
NumPyro's sites to ``ppl.Site``.

Every function returns a messenger that is entered as a context manager by the front end.
"""

from __future__ import annotations

import importlib

import jax
import numpy as np
from numpyro import handlers as nh
from numpyro.infer.reparam import Reparam as NumPyroReparam

from ...core import Reparam, ReparamMessage, Site
from ...errors import HandlerError

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
    return raw["type"]


def to_site(raw) -> Site:
    kind = raw["type"]
    is_sample = kind == "sample"
    frames = raw.get("cond_indep_stack", ()) or ()
    return Site(
        name=raw.get("name"),
        type=kind,
        value=raw.get("value"),
        fn=raw.get("fn") if is_sample else None,
        is_observed=bool(raw.get("is_observed", False)) and is_sample,
        infer=dict(raw.get("infer") or {}),
        plates=tuple(f.name for f in reversed(frames)),
        scale=raw.get("scale"),
        mask=None,
        backend="numpyro",
        raw=raw,
        log_prob_fn=site_log_prob,
    )


def site_log_prob(raw):
    """As ``numpyro.infer.util.log_density``: ``log_prob`` (masks live in ``fn``), scaled."""
    intermediates = raw.get("intermediates")
    if intermediates:
        log_p = raw["fn"].log_prob(raw["value"], intermediates)
    else:
        log_p = raw["fn"].log_prob(raw["value"])
    scale = raw.get("scale")
    return log_p if scale is None else scale * log_p


# ---- trace -----------------------------------------------------------------------------
class _Trace(nh.trace):
    def trace_nodes(self):
        return self.trace

    def trace_object(self):
        return self.trace


def trace():
    return _Trace()


def replay(native_trace):
    return nh.replay(trace=native_trace)


# ---- condition, substitute ---------------------------------------------------------------
class _Condition(nh.condition):
    """``numpyro.handlers.condition`` that remembers the sample sites it saw."""

    def __init__(self, data):
        super().__init__(data=data)
        self._seen: set[str] = set()

    def process_message(self, msg) -> None:
        if msg["type"] == "sample":
            self._seen.add(msg["name"])
        super().process_message(msg)

    def seen_sites(self) -> set[str]:
        return self._seen


def condition(data):
    return _Condition(data)


def substitute(data=None, substitute_fn=None):
    return nh.substitute(data=data, substitute_fn=substitute_fn)


# ---- seed --------------------------------------------------------------------------------
def seed(rng_seed):
    if rng_seed is not None and not isinstance(rng_seed, (int, jax.Array, np.ndarray)):
        raise HandlerError(
            f"seed on the 'numpyro' backend needs rng_seed to be an integer or a key "
            f"(backend.key(...)), not {rng_seed!r}."
        )
    return nh.seed(rng_seed=rng_seed)


# ---- block, scale, mask, do ----------------------------------------------------------------
def block(hide_fn):
    return nh.block(hide_fn=hide_fn)


def scale(value):
    return nh.scale(scale=value)


def mask(value):
    return nh.mask(mask=value)


def do(data):
    return nh.do(data=data)


# ---- reparam -------------------------------------------------------------------------------
class _PPLReparam(NumPyroReparam):
    """A ``ppl.reparam`` strategy seen as a NumPyro ``Reparam``."""

    def __init__(self, strategy: Reparam):
        self.strategy = strategy
        self.keep_latent = False

    def __call__(self, name, fn, obs):
        result = self.strategy.apply(
            ReparamMessage(name=name, fn=fn, value=obs, is_observed=obs is not None)
        )
        self.keep_latent = result["value"] is not None and not result["is_observed"]
        return result["fn"], result["value"]


def _native_strategy(strategy):
    return _PPLReparam(strategy) if isinstance(strategy, Reparam) else strategy


class _Reparam(nh.reparam):
    """``numpyro.handlers.reparam`` that keeps a site latent when a ``ppl`` strategy says so.

    NumPyro marks every site whose value a strategy returns as observed. A guide site that a
    strategy draws itself for its gradient (``AcceptReject``) must stay a latent sample, which
    ``replay`` hands to the model, as Pyro's ``reparam`` keeps it.
    """

    def __init__(self, config):
        def choose(msg):
            chosen = config.get(msg["name"]) if isinstance(config, dict) else config(msg)
            self._chosen[msg["name"]] = chosen
            return chosen

        self._chosen: dict = {}  # by site name: a strategy may sample sites of its own
        super().__init__(config=choose)

    def process_message(self, msg) -> None:
        super().process_message(msg)
        chosen = self._chosen.pop(msg.get("name"), None)
        if msg["type"] == "sample" and isinstance(chosen, _PPLReparam) and chosen.keep_latent:
            msg["is_observed"] = False


def reparam(config):
    if isinstance(config, dict):
        native = {name: _native_strategy(s) for name, s in config.items()}
    else:

        def native(msg):
            strategy = config(msg)
            return None if strategy is None else _native_strategy(strategy)

    return _Reparam(native)


_NATIVE_REPARAMS = {
    "LocScale": "numpyro.infer.reparam:LocScaleReparam",
    "Transform": "numpyro.infer.reparam:TransformReparam",
}


def native_reparam(kind: str, msg: ReparamMessage, **options):
    """Apply NumPyro's own reparameterizer ``kind`` (``"LocScale"``, ``"Transform"``) to
    ``msg``. NumPyro returns ``fn=None`` for a site that becomes deterministic."""
    module, _, attr = _NATIVE_REPARAMS[kind].partition(":")
    strategy = getattr(importlib.import_module(module), attr)(**options)
    fn, value = strategy(msg["name"], msg["fn"], msg["value"])
    return {"fn": fn, "value": value, "is_observed": value is not None or msg["is_observed"]}
