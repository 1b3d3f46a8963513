"""The README's svi example written natively, timed in a fresh process as
``readme_svi_time.py`` times ``ppl.infer``: ``python benchmarks/readme_svi_native.py numpyro``
(or ``pyro``). The same 200 x 3 logistic regression, a multivariate normal autoguide, Adam at
svi's default learning rate, the 1,000 steps ``ppl``'s stop rule runs there, then 1,000 draws
of the fit and their means. The wall time counts importing the library, as ``ppl``'s does.

Run it next to ``readme_svi_time.py`` (interleaved, a fresh process each) to see what the
library itself costs cold: the floor under ``ppl.infer``'s time on the same machine.
"""

import sys
import time

STEPS, DRAWS, LR = 1000, 1000, 0.01


def numpyro_fit(X, y):
    import jax
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoMultivariateNormal

    def model(X, y=None):
        w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        b = numpyro.sample("b", dist.Normal(0.0, 1.0))
        with numpyro.plate("data", X.shape[0]):
            numpyro.sample("y", dist.Bernoulli(logits=X @ w + b), obs=y)

    guide = AutoMultivariateNormal(model)
    svi = SVI(model, guide, numpyro.optim.Adam(LR), Trace_ELBO())
    result = svi.run(jax.random.PRNGKey(0), STEPS, X, y=y, progress_bar=False)
    draws = guide.sample_posterior(jax.random.PRNGKey(1), result.params, sample_shape=(DRAWS,))
    return {name: float(abs(value).mean()) for name, value in draws.items()}


def pyro_fit(X, y):
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import SVI, Predictive, Trace_ELBO
    from pyro.infer.autoguide import AutoMultivariateNormal

    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)

    def model(X, y=None):
        w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        b = pyro.sample("b", dist.Normal(0.0, 1.0))
        with pyro.plate("data", X.shape[0]):
            pyro.sample("y", dist.Bernoulli(logits=X @ w + b), obs=y)

    pyro.set_rng_seed(0)
    guide = AutoMultivariateNormal(model)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": LR}), Trace_ELBO())
    for _ in range(STEPS):
        svi.step(X, y)
    draws = Predictive(guide, num_samples=DRAWS, parallel=True)(X)
    return {name: float(value.abs().mean()) for name, value in draws.items()}


if __name__ == "__main__":
    import numpy as np

    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(float)
    fit = {"numpyro": numpyro_fit, "pyro": pyro_fit}[sys.argv[1]]
    begin = time.perf_counter()
    means = fit(X, y)
    print(f"native {sys.argv[1]}: {time.perf_counter() - begin:.2f} s (import included)", means)
