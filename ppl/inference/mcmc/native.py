"""What NUTS and HMC share: options, and the ``Algorithm`` over the backend's own kernel."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from ...core import Algorithm, Capabilities
from ...errors import OptionError, did_you_mean
from ..option_types import check_at_least, check_field_types, check_positive

#: the step depends on the problem, the options and the state alone, so the driver compiles it
#: once per model and data shapes (``ppl.inference.compiled``)
CAPABILITIES = Capabilities(kind="mcmc", shares_compiled_steps=True)
INIT_STRATEGIES = ("uniform", "prior")
_NO_WARMUP = (
    "num_warmup=0: no warmup, so the step size and mass matrix are not adapted and every draw "
    "uses the initial step size (step_size={step_size}, refined once by a heuristic search), "
    "which can leave the chain stuck or slow. Pass num_warmup > 0 (e.g. 500), or a step_size "
    "you trust with adapt_step_size=False to silence this."
)


@dataclass(frozen=True)
class KernelOptions:
    """Options of the backends' HMC-family kernels.

    num_warmup: adaptation steps, discarded. num_samples: draws kept per chain.
    num_chains: independent chains (laid out by ``ppl.infer``'s ``chain_method``).
    thinning: keep every n-th draw.
    target_accept_prob: step-size adaptation target. dense_mass: full-rank mass matrix.
    step_size: initial step size. adapt_step_size / adapt_mass_matrix: adapt during warmup.
    init_strategy: "uniform" (uniform on (-2, 2) in unconstrained space, NumPyro's default) or
    "prior" (a prior draw).
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    num_chains: int = 1
    thinning: int = 1
    target_accept_prob: float = 0.8
    dense_mass: bool = False
    step_size: float = 1.0
    adapt_step_size: bool = True
    adapt_mass_matrix: bool = True
    init_strategy: str = "uniform"

    def __post_init__(self):
        check_field_types(self)
        if self.init_strategy not in INIT_STRATEGIES:
            raise OptionError(
                f"Unknown init_strategy {self.init_strategy!r}; use one of {INIT_STRATEGIES}."
                + did_you_mean(self.init_strategy, INIT_STRATEGIES)
            )
        check_at_least(self, num_warmup=0, num_samples=1, num_chains=1, thinning=1)
        check_positive(self, "step_size")
        if not 0 < self.target_accept_prob < 1:
            raise OptionError(
                f"target_accept_prob must lie in (0, 1), got {self.target_accept_prob}."
            )
        if self.num_warmup == 0 and self.adapt_step_size:
            warnings.warn(_NO_WARMUP.format(step_size=self.step_size), UserWarning, stacklevel=3)


class _LazyCheck:
    """``compiled_value_and_grad(problem)``, made at its first call: ``build`` also runs on
    problems bound to traced data (the driver's compiled chunk), which never start a chain."""

    def __init__(self, problem):
        self.problem, self.function = problem, None

    def __call__(self, z):
        if self.function is None:
            from ..optimize import compiled_value_and_grad

            self.function = compiled_value_and_grad(self.problem)
        return self.function(z)


def build_with(algo: str):
    """``build(problem, options) -> Algorithm`` of the backend's own ``algo`` kernel
    (``"NUTS"`` or ``"HMC"``), built once per problem and closed over."""

    def build(problem, options) -> Algorithm:
        if problem.dim == 0:
            raise OptionError(
                f"{algo} needs at least one latent (unobserved, continuous) sample site, and the "
                "model has none."
            )
        # the starts are checked by the compiled value and gradient (one program, shared with
        # the MAP search), not by the model run operation by operation
        check = _LazyCheck(problem)
        init, step = problem.backend.hmc_kernel(problem, algo, options, check)

        def vectorized() -> Algorithm:
            init, step = problem.backend.batched_hmc_kernel(problem, algo, options)
            return Algorithm(init=init, step=step, capabilities=CAPABILITIES)

        return Algorithm(init=init, step=step, capabilities=CAPABILITIES, vectorized=vectorized)

    return build
