"""pyro-api's ``optim`` for the alias ``ppl-numpyro``: Pyro's optimizer constructors (a dict of
options) over ``numpyro.optim``."""

from __future__ import annotations

from numpyro import optim

from ...errors import OptionError

__all__ = ["Adam", "ClippedAdam"]


def _take(options: dict, name: str, allowed: tuple[str, ...]) -> dict:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise OptionError(f"{name} on NumPyro has no option(s) {unknown}; it takes {allowed}.")
    return dict(options)


def Adam(options: dict):
    """``pyro.optim.Adam({"lr": ..., "betas": ..., "eps": ...})``."""
    o = _take(options, "Adam", ("lr", "betas", "eps"))
    b1, b2 = o.get("betas", (0.9, 0.999))
    return optim.Adam(step_size=o["lr"], b1=b1, b2=b2, eps=o.get("eps", 1e-8))


def ClippedAdam(options: dict):
    """``pyro.optim.ClippedAdam({"lr", "betas", "eps", "clip_norm", "lrd"})``: the learning
    rate decays as ``lr * lrd ** step``."""
    o = _take(options, "ClippedAdam", ("lr", "betas", "eps", "clip_norm", "lrd"))
    b1, b2 = o.get("betas", (0.9, 0.999))
    lr, lrd = o["lr"], o.get("lrd")
    step_size = lr if lrd is None else (lambda i: lr * lrd**i)
    return optim.ClippedAdam(
        step_size=step_size,
        b1=b1,
        b2=b2,
        eps=o.get("eps", 1e-8),
        clip_norm=o.get("clip_norm", 10.0),
    )
