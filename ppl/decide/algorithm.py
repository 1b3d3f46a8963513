"""The decision algorithms of ``ppl.decide``, listed beside the inference registry.

Thompson sampling is not a way to compute a posterior but a way to act on one, so it is not in
the inference registry (``ppl.algorithms()``, what ``ppl.infer`` runs); ``ppl.decide.algorithms()``
lists it with the options of ``ppl.decide.ThompsonSampling``, and ``ppl algorithms`` (the command)
prints both lists.

>>> import ppl
>>> from ppl.decide import algorithms
>>> [(s.name, s.family) for s in algorithms()], algorithms()[0].defaults()["posterior"]
([('thompson', 'decision')], 'svi')
>>> "thompson" in {s.name for s in ppl.algorithms()}
False
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inference.registry import AlgorithmSpec

__all__ = ["Options", "USAGE", "DECISION_ALGORITHMS", "algorithms"]

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


#: the decision algorithms (their ``target`` module holds the ``Options`` they are listed with);
#: ``ppl.infer`` does not run them
DECISION_ALGORITHMS: tuple[AlgorithmSpec, ...] = (
    AlgorithmSpec("thompson", "decision", "ppl.decide.algorithm", "Thompson sampling (ppl.decide)"),
)


def algorithms() -> tuple[AlgorithmSpec, ...]:
    """The decision algorithms of ``ppl.decide`` (not inference methods: see ``USAGE``)."""
    return DECISION_ALGORITHMS
