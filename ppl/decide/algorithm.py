"""The registry entry of Thompson sampling (family ``decision``).

Thompson sampling is not a way to compute a posterior but a way to act on one, so
``ppl.infer(model, "thompson")`` refers the user to ``ppl.decide.ThompsonSampling``; the
options here are those of that class, listed by ``ppl.algorithms()``.

>>> import ppl
>>> spec = [s for s in ppl.algorithms() if s.name == "thompson"][0]
>>> spec.family, spec.defaults()["posterior"]
('decision', 'svi')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KIND", "Options", "USAGE"]

KIND = "decision"
USAGE = (
    "ppl.decide.ThompsonSampling(model, posterior='svi', ...) with act(context) and "
    "update(context, arm, reward) (see help(ppl.decide))"
)


@dataclass(frozen=True)
class Options:
    """Options of ``ppl.decide.ThompsonSampling``.

    posterior: the registered inference algorithm that computes each posterior.
    update_every: recompute the posterior every this many rounds. schedule: ``"every"`` (every
    ``update_every`` rounds) or ``"doubling"`` (after 1, 2, 4, ... times that many). warm_start:
    start each posterior computation at the previous posterior mean. backend, seed: where and
    with which seed the posteriors are computed.
    """

    posterior: str = "svi"
    update_every: int = 1
    schedule: str = "every"
    warm_start: bool = True
    backend: str | None = None
    seed: int = 0
