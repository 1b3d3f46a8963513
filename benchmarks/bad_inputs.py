"""What a user sees for each bad input we know of: runs each one and prints a markdown table.

python -m benchmarks.bad_inputs
"""

from __future__ import annotations

import warnings

import numpy as np

import ppl
from ppl import dist

Y = np.array([0.3, 1.2, 0.8])


def model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def observed_only(y):
    ppl.sample("y", dist.Normal(0.0, 1.0), obs=y)


def discrete(y):
    ppl.sample("k", dist.Bernoulli(0.5))


CASES = {
    "misspelt method": lambda: ppl.infer(model, "nutz", args=(Y,)),
    "misspelt option": lambda: ppl.infer(model, "nuts", args=(Y,), num_warmpu=10),
    "misspelt guide": lambda: ppl.infer(model, "svi", args=(Y,), guide="mvm"),
    "misspelt backend": lambda: ppl.infer(model, "nuts", args=(Y,), backend="numpyr"),
    "absent device": lambda: ppl.infer(model, "nuts", args=(Y,), device="cuda"),
    "observation of the wrong shape": lambda: ppl.infer(model, "nuts", args=(Y[:, None],)),
    "NaN in observed data": lambda: ppl.infer(model, "nuts", args=(np.array([0.1, np.nan, 1]),)),
    "ragged list as data": lambda: ppl.infer(model, "nuts", args=([[1.0, 2.0], [3.0]],)),
    "model without latent sites": lambda: ppl.infer(observed_only, "nuts", args=(Y,)),
    "discrete latent site": lambda: ppl.infer(discrete, "nuts", args=(Y,)),
    "step size that diverges": lambda: ppl.infer(
        model, "sgld", args=(Y,), step_size=1e6, num_warmup=5, num_samples=5, progress=False
    ),
    "misspelt distribution": lambda: dist.Normall,
    "unknown precision": lambda: ppl.set_precision("float46"),
    "condition on a site the model lacks": lambda: ppl.handlers.trace(
        ppl.handlers.seed(ppl.handlers.condition(model, data={"muu": 0.0}), rng_seed=0)
    ).get_trace(Y),
}


def main():
    print("| bad input | error | message |")
    print("|---|---|---|")
    for name, case in CASES.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                case()
                message = "; ".join(str(w.message) for w in caught) or "(no error)"
                kind = caught[0].category.__name__ if caught else "-"
            except Exception as err:
                kind, message = type(err).__name__, str(err)
        first = (message.strip().splitlines() or [""])[0]
        print(f"| {name} | {kind} | {first[:220]} |")


if __name__ == "__main__":
    main()
