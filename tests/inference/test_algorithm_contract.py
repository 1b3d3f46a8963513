"""The typed algorithm contract (``ppl.core.algorithm``): every registered algorithm builds an
``Algorithm`` with the capabilities it declares, and the driver and ``ppl.infer`` read only the
contract (no probing of modules, no family names, no cache on the ``Problem``)."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import pytest

import ppl
from ppl.backends.problem import Problem
from ppl.core import Algorithm, Capabilities, RunConfig
from ppl.inference import driver, registry
from tests.inference.test_contract import Y, normal_normal

INFERENCE = pathlib.Path(ppl.__file__).parent / "inference"

_problems: dict[str, Problem] = {}


def _problem(name: str) -> Problem:
    if name not in _problems:
        _problems[name] = ppl.get_backend(name).problem(normal_normal, (Y,))
    return _problems[name]


def _cases():
    for spec in ppl.algorithms():
        for name in spec.backends:
            yield pytest.param(spec, name, id=f"{spec.name}-{name}")


@pytest.mark.parametrize("spec,backend_name", list(_cases()))
def test_build_returns_an_algorithm_with_the_declared_capabilities(spec, backend_name):
    module = spec.load()
    declared = module.CAPABILITIES
    assert isinstance(declared, Capabilities), spec.name
    with ppl.backend(backend_name):
        algorithm = module.build(_problem(backend_name), spec.options())
    assert isinstance(algorithm, Algorithm), spec.name
    assert algorithm.capabilities == declared, spec.name
    assert callable(algorithm.init) and callable(algorithm.step), spec.name
    # a "fit" draws from what it fitted; an "mcmc" chain's draws are its positions
    assert (algorithm.sample is not None) == (declared.kind == "fit"), spec.name
    assert (algorithm.converged is not None) == declared.stops_early, spec.name
    if declared.minibatch:  # the option that ppl.infer turns into plate subsample sizes
        assert "batch_size" in spec.defaults(), spec.name


def test_minibatching_is_the_declared_capability_of_the_sgmcmc_samplers_and_svi():
    minibatch = {spec.name for spec in ppl.algorithms() if spec.load().CAPABILITIES.minibatch}
    assert minibatch == {spec.name for spec in ppl.algorithms("sgmcmc")} | {"svi"}


def test_svi_with_tol_zero_runs_every_step():
    options = registry.get("svi").options(tol=0)
    with ppl.backend("numpyro"):
        algorithm = registry.get("svi").load().build(_problem("numpyro"), options)
    assert algorithm.capabilities.stops_early and algorithm.converged is None


@pytest.mark.parametrize("path", ["driver.py", "infer.py"])
def test_the_driver_and_infer_read_only_the_contract(path):
    source = (INFERENCE / path).read_text()
    for probe in ("hasattr(", "getattr(", ".family", "KIND", "SHARES_COMPILED_STEPS"):
        assert probe not in source, f"{path} uses {probe!r}; read the Algorithm contract instead"


def test_the_problem_holds_no_cache():
    names = {f.name for f in dataclasses.fields(Problem)}
    assert not {n for n in names if "cache" in n}, names
    assert not [n for n in dir(Problem) if "cache" in n]


def test_no_algorithm_module_keeps_the_old_module_contract():
    # ``init``/``step``/``KIND`` at module level were the old contract; a module keeping them
    # would be half-migrated (the driver no longer reads them)
    old = re.compile(r"^(KIND|SHARES_COMPILED_STEPS|init|step|sample)\s*=", re.MULTILINE)
    for spec in ppl.algorithms():
        source = pathlib.Path(spec.load().__file__).read_text()
        assert not old.search(source), spec.name


class _NotAnAlgorithm:
    """A module whose ``build`` returns a plain ``(init, step)`` pair (the old contract)."""

    CAPABILITIES = Capabilities(kind="fit")

    @staticmethod
    def build(problem, options):
        return (lambda key: None, lambda state, key: (state, None))


@dataclasses.dataclass(frozen=True)
class _Spec(registry.AlgorithmSpec):
    def load(self):
        return _NotAnAlgorithm


def test_the_driver_refuses_a_build_that_returns_no_algorithm():
    spec = _Spec("not_an_algorithm", "test", "tests.inference.nowhere")
    options = registry.get("realnvp").options(num_steps=1)
    config = RunConfig.for_options("fit", options, progress=False)
    with ppl.backend("numpyro"), pytest.raises(TypeError, match=r"nowhere\.build returned a tup"):
        driver.run(spec, _problem("numpyro"), options, config)


def test_run_config_counts_follow_the_kind():
    nuts = registry.get("nuts").options(num_warmup=7, num_samples=5, thinning=3, num_chains=2)
    config = RunConfig.for_options("mcmc", nuts, seed=4)
    assert (config.total_steps, config.num_warmup, config.num_chains) == (22, 7, 2)
    assert (config.thinning, config.num_samples, config.seed) == (3, 5, 4)
    fit = RunConfig.for_options("fit", registry.get("svi").options(num_steps=9, num_samples=4))
    assert (fit.total_steps, fit.num_samples, fit.num_warmup, fit.num_chains) == (9, 4, 0, 1)


def test_the_warm_start_of_vectorised_chains_is_read_from_the_first_chain():
    # the chains share one frame (step_size="auto"); stacked over 2 chains its cost is an
    # array of 2, which the driver once tried to turn into one float
    post = ppl.infer(
        normal_normal, "sgld", args=(Y,), backend="numpyro", num_chains=2, num_warmup=10,
        num_samples=10, progress=False,
    )  # fmt: skip
    assert post.samples["mu"].shape == (2, 10)
    assert isinstance(post.timings["warm_start_seconds"], float)
    assert post.diagnostics["warm_start"].startswith("Laplace")
