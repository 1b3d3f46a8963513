"""What a user sees for each bad input we know of: runs each one and prints a markdown table.

python -m benchmarks.bad_inputs [--backend pyro]

``CASES`` is the catalogue: each bad input with the error (or warning) it must raise and a part
of the message that names the cause or the fix; ``tests/test_errors.py`` checks every one on
both backends.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import ppl
from ppl import dist, errors, ops

Y = np.array([0.3, 1.2, 0.8])
QUICK = {"num_warmup": 5, "num_samples": 5, "progress": False}


def model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def no_plate(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def observed_only(y):
    ppl.sample("y", dist.Normal(0.0, 1.0), obs=y)


def discrete(y):
    ppl.sample("k", dist.Bernoulli(0.5))
    model(y)


def log_of_x0(x):
    return ops.log(x[0])  # NaN wherever x[0] < 0


class Case(NamedTuple):
    call: Callable[[], Any]
    error: type
    says: str  # a part of the message: the cause or the fix


def _thompson_update(arm):
    from ppl.decide import ThompsonSampling, bernoulli_reward_model

    return ThompsonSampling(bernoulli_reward_model(2), "svi").update(None, arm, 1.0)


CASES = {
    "misspelt method": Case(
        lambda: ppl.infer(model, "nutz", args=(Y,)), errors.OptionError, "Did you mean 'nuts'"
    ),
    "misspelt option": Case(
        lambda: ppl.infer(model, "nuts", args=(Y,), num_warmpu=10),
        errors.OptionError,
        "Did you mean 'num_warmup'",
    ),
    "option of the wrong type": Case(
        lambda: ppl.infer(model, "nuts", args=(Y,), num_samples="100"),
        errors.OptionError,
        "num_samples must be an integer",
    ),
    "misspelt guide": Case(
        lambda: ppl.infer(model, "svi", args=(Y,), guide="mvm"),
        errors.OptionError,
        "Did you mean 'mvn'",
    ),
    "misspelt objective": Case(
        lambda: ppl.infer(model, "svi", args=(Y,), objective="elob"),
        errors.OptionError,
        "Did you mean 'elbo'",
    ),
    "chi2 with a point-mass guide": Case(
        lambda: ppl.infer(model, "svi", args=(Y,), objective="chi2", guide="delta"),
        errors.OptionError,
        "point mass",
    ),
    "misspelt backend": Case(
        lambda: ppl.infer(model, "nuts", args=(Y,), backend="numpyr"),
        errors.BackendError,
        "Did you mean 'numpyro'",
    ),
    "absent device": Case(  # no machine has a hundred GPUs: absent with or without CUDA
        lambda: ppl.infer(model, "nuts", args=(Y,), device="cuda:99"),
        errors.BackendError,
        "device='cpu'",
    ),
    "compile=True for an algorithm that takes no minibatch gradient": Case(
        lambda: ppl.infer(model, "nuts", args=(Y,), backend="pyro", compile=True),
        errors.OptionError,
        "Drop compile=True",
    ),
    "observation of the wrong shape": Case(
        lambda: ppl.infer(model, "nuts", args=(Y[:, None],)),
        errors.ShapeError,
        "has shape (3, 1) but its distribution has shape (3,)",
    ),
    "NaN in observed data": Case(
        lambda: ppl.infer(model, "nuts", args=(np.array([0.1, np.nan, 1]),)),
        errors.ModelError,
        "obs_mask=",
    ),
    "ragged list as data": Case(
        lambda: ppl.infer(model, "nuts", args=([[1.0, 2.0], [3.0]],)),
        errors.ModelError,
        "argument 0 could not be converted to an array",
    ),
    "model without latent sites": Case(
        lambda: ppl.infer(observed_only, "nuts", args=(Y,)),
        errors.ModelError,
        "needs at least one latent",
    ),
    "discrete latent site": Case(
        lambda: ppl.infer(discrete, "nuts", args=(Y,)),
        errors.ModelError,
        "not enumerated",
    ),
    "step size that diverges": Case(
        lambda: ppl.infer(model, "sgld", args=(Y,), step_size=1e6, **QUICK),
        errors.DivergenceError,
        "Lower the step size",
    ),
    "batch_size for a model without a plate": Case(
        lambda: ppl.infer(no_plate, "sgld", args=(Y,), batch_size=2, **QUICK),
        errors.OptionError,
        "Put the observations in ppl.plate",
    ),
    "structured group naming an unknown site": Case(
        lambda: ppl.infer(model, "structured_sgmcmc", args=(Y,), groups=[["mu"], ["sigma"]]),
        errors.OptionError,
        "'sigma', which is not a latent site",
    ),
    "log density that is not a scalar": Case(
        lambda: ppl.infer(lambda x: x**2, "ais", dim=2),
        errors.ShapeError,
        "it must return a scalar",
    ),
    "log density that is NaN where q0 starts": Case(
        lambda: ppl.infer(log_of_x0, "cmcd", dim=2),
        errors.ModelError,
        "log or sqrt of negative numbers",
    ),
    "Thompson update with an arm out of range": Case(
        lambda: _thompson_update(5), errors.OptionError, "out of range for 2 arms"
    ),
    "misspelt distribution": Case(
        lambda: dist.Normall, errors.UnknownDistributionError, "Did you mean 'Normal'"
    ),
    "unknown precision": Case(
        lambda: ppl.set_precision("float46"), errors.OptionError, "Did you mean 'float64'"
    ),
    "condition on a site the model lacks": Case(
        lambda: ppl.handlers.trace(
            ppl.handlers.seed(ppl.handlers.condition(model, data={"muu": 0.0}), rng_seed=0)
        ).get_trace(Y),
        errors.UnknownSiteWarning,
        "Did you mean 'mu'",
    ),
}


def outcome(case: Case) -> tuple[str, str]:
    """The name of what ``case.call()`` raised or warned, and its message."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case.call()
        except Exception as err:
            return type(err).__name__, str(err)
    if caught:
        return caught[0].category.__name__, "; ".join(str(w.message) for w in caught)
    return "-", "(no error)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpyro", choices=("numpyro", "pyro"))
    with ppl.backend(parser.parse_args().backend):
        print("| bad input | error | message |")
        print("|---|---|---|")
        for name, case in CASES.items():
            kind, message = outcome(case)
            first = (message.strip().splitlines() or [""])[0]
            print(f"| {name} | {kind} | {first[:220]} |")


if __name__ == "__main__":
    main()
