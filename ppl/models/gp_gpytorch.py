"""A sparse variational GP classifier in GPyTorch, wired into Pyro (extra ``gp``).

It follows GPyTorch's documented Pyro integration: a ``gpytorch.models.ApproximateGP`` with
inducing points, whose ``pyro_model`` / ``pyro_guide`` contribute the inducing values ``u`` and the
function values ``f(x)``; the model registers the GP's hyperparameters with ``pyro.module`` and
the spec carries the matching ``guide``. It exists on the Pyro backend only
(``backends=("pyro",)``). Its ``kwargs["gp"]`` is the ``nn.Module`` that SVI trains: the spec is
cached by ``ppl.models.get``, so build a fresh one with :func:`make_svgp` for an independent fit.

>>> from ppl.models.gp_gpytorch import svgp_data
>>> X, y = svgp_data(N=10)
>>> X.shape, sorted(set(y.tolist()))
((10, 1), [0.0, 1.0])
"""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist

from ..errors import ModelError
from .spec import ModelSpec

__all__ = ["make_svgp", "svgp_classifier", "svgp_guide", "svgp_data", "svgp_predict"]


def make_svgp(inducing_points, name_prefix: str = "svgp"):
    """A fresh GPyTorch ``ApproximateGP`` (RBF kernel, constant mean, Cholesky variational
    distribution) with the given inducing points (numpy array ``(M, D)``)."""
    try:
        import gpytorch  # backend-specific: GPyTorch is a torch library, used on the Pyro backend
        import torch  # backend-specific: GPyTorch modules take torch tensors
    except ImportError as err:
        raise ModelError(
            f"The GPyTorch models need the extra 'gp' ({err}): pip install 'ppl[gp]'."
        ) from err

    class SVGP(gpytorch.models.ApproximateGP):
        def __init__(self, inducing):
            variational = gpytorch.variational.CholeskyVariationalDistribution(inducing.shape[0])
            strategy = gpytorch.variational.VariationalStrategy(
                self, inducing, variational, learn_inducing_locations=True
            )
            super().__init__(strategy)
            self.name_prefix = name_prefix
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())

        def forward(self, x):
            mean, covar = self.mean_module(x), self.covar_module(x)
            return gpytorch.distributions.MultivariateNormal(mean, covar)

    inducing = torch.as_tensor(np.asarray(inducing_points), dtype=torch.get_default_dtype())
    return SVGP(inducing)


def svgp_classifier(X, y=None, gp=None):
    """``f ~ GP`` (through the inducing values), ``y ~ Bernoulli(logits=f(X))``."""
    import pyro  # backend-specific: GPyTorch's Pyro integration registers its module in Pyro

    prefix = gp.name_prefix
    pyro.module(prefix + ".gp", gp)
    function_dist = gp.pyro_model(X, name_prefix=prefix)
    with ppl.plate(prefix + ".data_plate", X.shape[0], dim=-1):
        f = ppl.sample(prefix + ".f(x)", function_dist)
        ppl.sample("y", dist.Bernoulli(logits=f), obs=y)


def svgp_guide(X, y=None, gp=None):
    """The variational family: ``q(u)`` and the implied ``q(f(X))``."""
    prefix = gp.name_prefix
    function_dist = gp.pyro_guide(X, name_prefix=prefix)
    with ppl.plate(prefix + ".data_plate", X.shape[0], dim=-1):
        ppl.sample(prefix + ".f(x)", function_dist)


def svgp_predict(gp, X):
    """The variational posterior of the latent function at new inputs ``X`` (numpy ``(N, D)``):
    ``(mean, sd)`` of ``q(f(x))`` at each point, numpy arrays ``(N,)``, from the module's current
    parameters (those SVI left in it). ``sigmoid(f)`` is the class-1 probability."""
    import torch  # backend-specific: GPyTorch modules take torch tensors

    x = torch.as_tensor(np.asarray(X), dtype=torch.get_default_dtype())
    with torch.no_grad():
        q = gp(x, prior=False)
        return q.mean.numpy().copy(), q.stddev.numpy().copy()


def svgp_data(N: int = 100, seed: int = 0):
    """``(X, y)``: ``X`` uniform on ``[-3, 3]`` (``(N, 1)``), ``y = 1[sin(2 x) + 0.3 eps > 0]``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3.0, 3.0, size=(N, 1))
    return X, (np.sin(2.0 * X[:, 0]) + 0.3 * rng.normal(size=N) > 0).astype(float)


def svgp_spec(num_inducing: int = 16) -> ModelSpec:
    X, y = svgp_data()
    return ModelSpec(
        name="svgp_classification",
        model=svgp_classifier,
        guide=svgp_guide,
        family="gp",
        description="Sparse variational GP classifier in GPyTorch (16 inducing points, N=100)",
        args=(X,),
        kwargs={"y": y, "gp": make_svgp(np.linspace(-3.0, 3.0, num_inducing)[:, None])},
        backends=("pyro",),
    )
