"""The contract every registered model meets, on every backend it declares."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ppl
from ppl.errors import ModelError
from ppl.models import ModelSpec

NAMES = ppl.models.names()
#: models with local latent sites (fitted by svi with their guide; no flat Problem)
AMORTIZED = ("vae_digits", "amortized_regression")
NEEDS = {"svgp_classification": "gpytorch"}
#: models with enumerated discrete sites: their contract is tests/models/test_enumeration.py
ENUMERATED = ("gaussian_mixture_enum", "gaussian_hmm")

#: the documented site shapes (constrained values, deterministic sites included)
SHAPES = {
    "eight_schools_centered": {"mu": (), "tau": (), "theta": (8,)},
    "eight_schools_noncentered": {"mu": (), "tau": (), "theta_tilde": (8,), "theta": (8,)},
    "linear_regression": {"w": (5,), "b": (), "sigma": ()},
    "logistic_regression": {"w": (5,), "b": ()},
    "hierarchical_logistic_regression": {
        "mu": (3,),
        "tau": (3,),
        "b": (5,),
        "w_raw": (5, 3),
        "w": (5, 3),
    },
    "gaussian_mixture": {"weights": (3,), "locs": (3,), "scales": (3,)},
    "bnn_regression": {"w1": (2, 10), "b1": (10,), "w2": (10,), "b2": (), "sigma": ()},
    "bnn_classification": {"w1": (2, 10), "b1": (10,), "w2": (10,), "b2": ()},
    "spike_and_slab_regression": {"sigma": (), "beta": (20,)},
    "horseshoe_regression": {
        "sigma": (),
        "tau": (),
        "lambda": (20,),
        "beta_raw": (20,),
        "beta": (20,),
    },
    "sparse_bandit_reward": {
        "sigma": (),
        "tau": (),
        "lambda": (20,),
        "beta_raw": (20,),
        "beta": (20,),
    },
    "gamma_poisson": {"lam": ()},
    "dirichlet_multinomial": {"probs": (4,)},
    "funnel": {"v": (), "x": (9,)},
    "gmm_ring_2d": {"x": (2,)},
    "gmm_40_modes": {"x": (2,)},
    "gmm_challenging_2d": {"x": (2,)},
    **{n: {"x": (2,)} for n in ("double_well", "banana")},
    **{f"rezende_u{i}": {"x": (2,)} for i in range(1, 5)},
    "gp_regression": {"lengthscale": (), "variance": (), "noise": ()},
    "svgp_classification": {"svgp.u": (16,), "svgp.f(x)": (100,)},
    "eight_schools-eight_schools_noncentered": {
        "theta_trans": (8,),
        "mu": (),
        "tau": (),
        "theta": (8,),
    },
    "kidiq-kidscore_momiq": {"beta": (2,), "sigma": ()},
    "sblrc-blr": {"beta": (5,), "sigma": ()},
    "earnings-logearn_height": {"beta": (2,), "sigma": ()},
    "nes2000-nes": {"beta": (9,), "sigma": ()},
    "arK-arK": {"alpha": (), "beta": (5,), "sigma": ()},
    "low_dim_gauss_mix-low_dim_gauss_mix": {"mu": (2,), "sigma": (2,), "theta": ()},
    # discrete latent sites (not enumerated): their Problem keeps them (discrete=True)
    "change_point": {"early_rate": (), "late_rate": (), "tau": ()},
    "zero_inflated_poisson": {"beta": (2,), "gate": (), "zero": (100,)},
}


def _spec(name) -> ModelSpec:
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    return ppl.models.get(name)


def test_every_model_has_a_shape_table_entry():
    continuous = [n for n in NAMES if n not in ENUMERATED and n not in AMORTIZED]
    assert sorted(SHAPES) == sorted(continuous)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ENUMERATED + AMORTIZED])
def test_model_contract_on_every_declared_backend(name, float64):
    """Builds a Problem on each declared backend; the potential is finite at ``init``; prior
    draws and constrained values have the documented shapes; and models declared on both
    backends give the same potential at the same point."""
    spec = _spec(name)
    assert not spec.enumerate
    assert spec.backends == (("pyro",) if name in NEEDS else ("numpyro", "pyro"))
    assert isinstance(spec.description, str) and spec.description and "\n" not in spec.description
    for site, moments in (spec.reference or {}).items():
        assert np.shape(moments["mean"]) == np.shape(moments["sd"]) == SHAPES[name][site]
        assert np.all(np.asarray(moments["sd"]) > 0)
    z_np, potentials, layouts = None, [], []
    for backend_name in spec.backends:
        with ppl.backend(backend_name) as backend, warnings.catch_warnings():
            # GPyTorch's pyro.module under the Problem's substitute warns about parameter names
            warnings.simplefilter("ignore", UserWarning)
            problem = backend.problem(
                spec.model, spec.args, spec.kwargs, discrete=bool(spec.discrete)
            )
            assert tuple(problem.discrete) == spec.discrete
            z = problem.init(backend.key(0))
            assert math.isfinite(float(problem.potential(z)))
            prior = problem.sample_prior(backend.key(1))
            assert {k: tuple(v.shape) for k, v in prior.items()} == {
                k: SHAPES[name][k] for k in problem.layout.names
            }
            assert {k: tuple(v.shape) for k, v in problem.constrain(z).items()} == SHAPES[name]
            if z_np is None:  # the first backend's init, shrunk: a sane point for every model
                z_np = 0.5 * backend.to_numpy(z)
            potentials.append(float(problem.potential(backend.asarray(z_np))))
            layouts.append(problem.layout)
    assert all(layout == layouts[0] for layout in layouts)
    assert math.isfinite(potentials[0])
    # float64 on both sides: only the order of summation differs (1e-6 relative, as asked)
    assert potentials[1:] == pytest.approx(potentials[:1] * (len(potentials) - 1), rel=1e-6)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ModelError, match="Did you mean 'banana'"):
        ppl.models.get("bananna")


def test_register_adds_a_model_and_refuses_duplicates(monkeypatch):
    import ppl.models as registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    name = "test_only_model"
    spec = ModelSpec(name=name, model=lambda: None, family="test", description="test")
    registry.register(name, lambda: spec)
    try:
        assert registry.get(name) is spec and name in registry.names()
        with pytest.raises(ModelError, match="already registered"):
            registry.register(name, lambda: spec)
    finally:
        registry.get.cache_clear()


def test_specs_are_frozen_and_cached():
    spec = ppl.models.get("funnel")
    assert ppl.models.get("funnel") is spec
    with pytest.raises(AttributeError):
        spec.name = "other"


def test_registry_is_lazy():
    # listing the registry and building a spec import neither torch nor jax
    code = (
        "import sys, ppl; ppl.models.names(); ppl.models.get('funnel'); "
        "ppl.models.get('banana'); ppl.models.get('kidiq-kidscore_momiq'); "
        "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_lists_the_models(capsys):
    from ppl.cli import main

    assert main(["models", "--names-only"]) == 0
    assert capsys.readouterr().out.split() == list(NAMES)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_cli_describes_the_models(capsys):  # builds every spec; GPyTorch's import warns
    from ppl.cli import main

    assert main(["models"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert list(lines) == list(NAMES)
    assert "posteriordb" in lines["arK-arK"] and "numpyro,pyro" in lines["arK-arK"]
    assert "Neal's funnel" in lines["funnel"]
